"""Every way in goes through the one sign-in (allauth: password, two-factor, lockout).

Issue 11, case 1: POST /admin/login/ with a superuser's email and password opened the admin
without a TOTP code, and 30 wrong passwords there were never locked out. These tests walk every
route of the URL resolver whose name or path looks like a way in (login, signin, auth, password)
instead of naming the admin's, so a sign-in route added later (or by a new allauth release) is
held to the same rules without anyone remembering to add it here.
"""
import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.models import User
from tests.factories import TEST_PASSWORD
from tests.security.test_isolation_sweep import walk_routes
from tests.totp import fresh_totp, secret_from_activation_page

LOGIN_LIKE = re.compile(r"log_?in|sign_?-?in|auth|password", re.IGNORECASE)


def login_like_routes():
    """[(key, url)] for every login-like route, parameters filled with harmless values."""
    routes = []
    for key, pattern in walk_routes():
        if not (LOGIN_LIKE.search(key) or LOGIN_LIKE.search(str(pattern.pattern))):
            continue
        if pattern.name is None:  # unnamed (the admin's redirects): fill the route's <converters>
            routes.append((key, "/" + re.sub(r"<[^>]+>", "1", key).replace("^", "").replace("$", "")))
            continue
        params = pattern.pattern.regex.groupindex
        routes.append((key, reverse(key, kwargs={name: ("accounts" if name == "app_label" else "1-x")
                                                 for name in params})))
    return routes


ROUTES = login_like_routes()


def test_the_walk_finds_the_known_ways_in():
    """The regular expression is what the other tests rely on: it must catch the admin's login
    and allauth's, or the walk would prove nothing."""
    keys = {key for key, _ in ROUTES}
    assert {"admin:login", "account_login", "mfa_authenticate", "account_reauthenticate",
            "account_reset_password", "signin_unlock"} <= keys


def credentials(user, password):
    """Every field name a sign-in form might read the address and password from."""
    return {"login": user.email, "username": user.email, "email": user.email, "password": password,
            "password1": password, "password2": password, "oldpassword": password, "code": "000000"}


def signed_in_as(client):
    return client.session.get("_auth_user_id")


@pytest.fixture
def root_with_totp(db, client):
    """A superuser who turned TOTP on through the portal's own pages."""
    root = User.objects.create_superuser(email="root@portal.test", password=TEST_PASSWORD)
    EmailAddress.objects.create(user=root, email=root.email, verified=True, primary=True)
    client.force_login(root)
    secret = secret_from_activation_page(client.get("/accounts/2fa/totp/activate/").content.decode())
    assert client.post("/accounts/2fa/totp/activate/", {"code": fresh_totp(secret)}).status_code == 302
    client.logout()
    return root, secret


def test_admin_login_sends_to_the_one_sign_in_and_the_admin_needs_the_code(root_with_totp, client):
    root, secret = root_with_totp
    page = client.get("/admin/login/?next=/admin/accounts/apikey/")
    assert page.status_code == 302
    assert page.url == reverse("account_login") + "?next=%2Fadmin%2Faccounts%2Fapikey%2F"
    # The old attack: the admin's form with the email and password. Nothing signs in.
    posted = client.post("/admin/login/", {"username": root.email, "password": TEST_PASSWORD})
    assert posted.status_code == 302 and posted.url.startswith(reverse("account_login"))
    assert signed_in_as(client) is None
    assert client.get("/admin/accounts/apikey/").status_code == 302
    # The one sign-in: the password leads to the code, and only the code opens the admin.
    step = client.post(page.url, {"login": root.email, "password": TEST_PASSWORD})
    assert step.status_code == 302 and step.url.startswith(reverse("mfa_authenticate"))
    assert client.get("/admin/accounts/apikey/").status_code == 302
    done = client.post(reverse("mfa_authenticate"), {"code": fresh_totp(secret)})
    assert done.status_code == 302 and done.url == "/admin/accounts/apikey/"
    assert client.get("/admin/accounts/apikey/").status_code == 200


def test_admin_login_refuses_to_send_anyone_off_site(db, client):
    page = client.get("/admin/login/?next=https://evil.example/")
    assert page.url == reverse("account_login") + "?next=%2Fadmin%2F"


@pytest.mark.parametrize("key, url", ROUTES, ids=[key for key, _ in ROUTES])
def test_no_login_like_route_signs_in_with_the_password_alone_when_totp_is_on(key, url, root_with_totp, client):
    root, _secret = root_with_totp
    for method in ("get", "post"):
        getattr(client, method)(url, credentials(root, TEST_PASSWORD))
        assert signed_in_as(client) is None, f"{method.upper()} {url} signed in without the TOTP code"
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize("key, url", ROUTES, ids=[key for key, _ in ROUTES])
def test_no_login_like_route_escapes_the_lockout(key, url, db, client, settings):
    """A superuser without two-factor (the password alone would open every page, the admin's
    included), locked out after wrong passwords: the right password gets in through no route
    until the lock passes or is unlocked."""
    user = User.objects.create_superuser(email="root@portal.test", password=TEST_PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    for _ in range(settings.LOGIN_LOCKOUT_ATTEMPTS):
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password-1"})
    locked = client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD})
    assert "Too many failed login attempts" in locked.content.decode()
    for method in ("get", "post"):
        getattr(client, method)(url, credentials(user, TEST_PASSWORD))
        assert signed_in_as(client) is None, f"{method.upper()} {url} signed a locked-out user in"


def test_wrong_passwords_at_the_admin_login_never_reach_a_password_check(root_with_totp, client):
    """30 wrong passwords at /admin/login/ used to be counted nowhere; now the page has no form:
    every POST is sent to the one sign-in, where attempts are counted."""
    root, _ = root_with_totp
    for _ in range(30):
        response = client.post("/admin/login/", {"username": root.email, "password": "wrong-password-1"})
        assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    assert signed_in_as(client) is None
