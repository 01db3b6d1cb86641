"""Sign-in: MFA required for agency staff by agency setting, lockout after repeated failures,
and an audit trail of sign-ins and failures."""
from allauth.mfa.models import Authenticator

from accounts.models import Agency
from portal.models import AuditEvent
from tests.factories import TEST_PASSWORD
from tests.totp import secret_from_activation_page, totp as totp_code


def sign_in(client, user, password=TEST_PASSWORD):
    return client.post("/accounts/login/", {"login": user.email, "password": password})


def require_mfa(agency, required=True):
    Agency.objects.filter(pk=agency.pk).update(mfa_required_for_staff=required)


def activate_totp(client):
    page = client.get("/accounts/2fa/totp/activate/").content.decode()
    secret = secret_from_activation_page(page)
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


def test_staff_must_set_up_totp_when_the_agency_requires_it(world, client):
    require_mfa(world.alpha.agency)
    assert sign_in(client, world.alpha.collector).status_code == 302
    response = client.get("/agency/")
    assert response.status_code == 302 and response.url.startswith("/accounts/2fa/totp/activate/")
    activate_totp(client)
    assert client.get("/agency/").status_code == 200
    assert Authenticator.objects.filter(user=world.alpha.collector, type="totp").exists()


def test_client_users_and_agencies_without_the_requirement_are_not_forced(world, client):
    require_mfa(world.alpha.agency)
    sign_in(client, world.alpha.clients[0].user)
    assert client.get("/client/").status_code == 200
    client.logout()
    require_mfa(world.bravo.agency, required=False)
    sign_in(client, world.bravo.admin)
    assert client.get("/agency/").status_code == 200


def test_with_totp_the_password_alone_does_not_sign_in(world, client):
    require_mfa(world.alpha.agency)
    sign_in(client, world.alpha.admin)
    secret = activate_totp(client)
    client.logout()
    response = sign_in(client, world.alpha.admin)
    assert response.status_code == 302 and response.url.startswith("/accounts/2fa/authenticate/")
    assert client.get("/agency/").status_code == 302  # not signed in yet
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    right = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert right.status_code == 302
    assert client.get("/agency/").status_code == 200


def test_recovery_codes_are_made_at_totp_setup_and_shown_right_after_it_without_a_password_prompt(
        transactional_db, world, client, settings):
    # transactional_db: allauth sends authenticator_added on commit, which must happen within the
    # request (as it does in production) for the fresh authentication to reach the session.
    require_mfa(world.alpha.agency)
    sign_in(client, world.alpha.admin)
    activate_totp(client)
    codes = Authenticator.objects.get(user=world.alpha.admin, type="recovery_codes").wrap().get_unused_codes()
    assert len(codes) >= 8
    # The valid code typed at set-up counts as a fresh authentication: the codes show straight away.
    shown = client.get("/accounts/2fa/recovery-codes/")
    assert shown.status_code == 200 and codes[0] in shown.content.decode()
    # Once the re-authentication window has passed, seeing them again needs the password.
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    gate = client.get("/accounts/2fa/recovery-codes/")
    assert gate.status_code == 302 and gate.url.startswith("/accounts/reauthenticate/")
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
    client.post(gate.url, {"password": TEST_PASSWORD})
    assert codes[0] in client.get("/accounts/2fa/recovery-codes/").content.decode()


def test_repeated_failures_lock_the_address_out_even_with_the_right_password(world, client):
    user = world.alpha.manager
    for _ in range(5):
        response = sign_in(client, user, password="wrong-password")
        assert response.status_code == 200 and "not correct" in response.content.decode()
    locked = sign_in(client, user)
    assert locked.status_code == 200 and "Too many failed login attempts" in locked.content.decode()
    assert client.get("/agency/").status_code == 302  # still signed out


def test_sign_ins_and_failures_are_audited_with_the_ip(world, client, all_tenants):
    sign_in(client, world.alpha.manager, password="wrong-password")
    sign_in(client, world.alpha.manager)
    with all_tenants():
        failed = AuditEvent.objects.get(action="auth.sign_in_failed")
        succeeded = AuditEvent.objects.get(action="auth.signed_in")
    assert failed.agency == world.alpha.agency and failed.actor_email == world.alpha.manager.email
    assert succeeded.actor == world.alpha.manager and succeeded.ip_address == "127.0.0.1"


def test_agency_admin_switches_the_mfa_requirement_and_it_is_audited(world, signed_in, all_tenants):
    browser = signed_in(world.alpha.admin)
    response = browser.post("/agency/settings/", {"name": "Alpha Recovery", "mfa_required_for_staff": "on",
                                                  "time_zone": "America/Chicago"})
    assert response.status_code == 302
    world.alpha.agency.refresh_from_db()
    assert world.alpha.agency.mfa_required_for_staff and world.alpha.agency.time_zone == "America/Chicago"
    with all_tenants():
        event = AuditEvent.objects.get(action="agency.settings_changed")
    assert event.before["mfa_required_for_staff"] is False and event.after["mfa_required_for_staff"] is True


def test_reauthentication_by_emailed_code_works_only_for_the_signed_in_user(world, client, django_capture_on_commit_callbacks):
    """allauth 65.22's reauthentication-by-code routes: the code goes to the signed-in user's own
    address, a wrong code is refused, and the right one lets a sensitive page (change password) open."""
    import re

    from django.core import mail

    user = world.alpha.clients[0].admin
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        foreign = client.post("/accounts/reauthenticate/code/", {"recipient": world.bravo.admin.email})
        asked = client.post("/accounts/reauthenticate/code/", {"recipient": user.email})
    assert foreign.status_code == 200  # another person's address is not a choice
    assert asked.status_code == 302 and asked.url.startswith("/accounts/reauthenticate/code/confirm/")
    assert [message.to for message in mail.outbox] == [[user.email]]
    code = re.search(r"^\s*([A-Z0-9]{4}-?[A-Z0-9]{4})\s*$", mail.outbox[0].body, re.M).group(1)
    wrong = client.post(asked.url, {"code": "WRONG1"})
    assert wrong.status_code == 200 and "code" in wrong.content.decode().lower()
    right = client.post(asked.url, {"code": code})
    assert right.status_code == 302
