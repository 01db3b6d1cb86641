"""The targeted lockout (issue 11, case 6): an attacker cannot lock a chosen user out.

Wrong passwords lock an address for the IP they came from only; an address attacked from many
IPs is slowed down, not blocked; the owner can unlock it with an emailed single-use link; the
audit log records lockouts and unlocks. The client IP behind a trusted proxy is the one the
proxy names, never one a client wrote itself.
"""
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import lockout
from accounts.models import SignInFailure
from portal.models import AuditEvent, OutboundEmail
from tests.factories import TEST_PASSWORD

LOCKED = "Too many failed login attempts"


def attempt(client, user, password=TEST_PASSWORD, ip="198.51.100.1", **extra):
    return client.post(reverse("account_login"), {"login": user.email, "password": password},
                       REMOTE_ADDR=ip, **extra)


def signed_in(client):
    return client.session.get("_auth_user_id") is not None


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run on-commit hand-offs (the unlock email) as they would run in production."""
    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)
    return run


def test_failures_from_one_ip_lock_that_ip_only_not_the_user_everywhere(world, client):
    user = world.alpha.manager
    for _ in range(5):
        assert LOCKED not in attempt(client, user, "wrong-password", ip="203.0.113.66").content.decode()
    # The attacker's IP is locked for this address, even with the right password ...
    assert LOCKED in attempt(client, user, ip="203.0.113.66").content.decode()
    assert not signed_in(client)
    # ... but the real user, from their own IP, signs in as usual.
    response = attempt(client, user, ip="198.51.100.7")
    assert response.status_code == 302 and signed_in(client)


def test_others_sharing_the_attackers_ip_are_not_locked_out(world, client):
    for _ in range(5):
        attempt(client, world.alpha.manager, "wrong-password", ip="203.0.113.66")
    response = attempt(client, world.alpha.collector, ip="203.0.113.66")
    assert response.status_code == 302 and signed_in(client)


def test_one_ip_guessing_many_addresses_is_locked(world, client, settings, all_tenants):
    settings.LOGIN_IP_LOCKOUT_ATTEMPTS = 8
    for number in range(8):
        attempt(client, type("U", (), {"email": f"nobody{number}@example.test"}), "guess", ip="203.0.113.9")
    response = attempt(client, world.alpha.collector, ip="203.0.113.9")
    assert response.status_code == 200 and "from your network" in response.content.decode()
    assert attempt(client, world.alpha.collector, ip="198.51.100.7").status_code == 302
    with all_tenants():
        assert AuditEvent.objects.filter(action="auth.ip_locked_out").count() == 1


def test_an_address_attacked_from_many_ips_is_slowed_down_not_blocked(world, client, settings):
    settings.LOGIN_SLOWDOWN_AFTER, settings.LOGIN_SLOWDOWN_MAX_SECONDS = 10, 60
    user = world.alpha.manager
    for number in range(10):  # ten IPs, one wrong password each: no IP reaches its own lock
        attempt(client, user, "wrong-password", ip=f"203.0.113.{number + 1}")
    waiting = attempt(client, user, ip="198.51.100.7")  # right away, even the right password waits
    assert waiting.status_code == 200 and not signed_in(client)
    assert re.search(r"Wait \d+ seconds? and try again", waiting.content.decode())
    # Once the short wait has passed, the right password works: the address was never blocked.
    SignInFailure.objects.update(created_at=timezone.now() - timedelta(seconds=5))
    assert attempt(client, user, ip="198.51.100.7").status_code == 302 and signed_in(client)


def test_the_slowdown_grows_with_each_failure_up_to_its_cap(world, settings):
    settings.LOGIN_SLOWDOWN_AFTER, settings.LOGIN_SLOWDOWN_MAX_SECONDS = 3, 20
    now = timezone.now()
    waits = []
    for number in range(9):
        lockout.signin_failure_record(email="target@example.test", ip=f"203.0.113.{number}", now=now)
        refusal = lockout.signin_check(email="target@example.test", ip="198.51.100.1", now=now)
        waits.append(refusal.wait_seconds if refusal else 0)
    assert waits == [0, 0, 1, 2, 4, 8, 16, 20, 20]


def test_lockout_and_unlock_by_the_emailed_link_are_audited(world, client, deliver, all_tenants):
    user = world.alpha.manager
    for _ in range(5):
        deliver(attempt, client, user, "wrong-password", ip="198.51.100.7")
    assert LOCKED in attempt(client, user, ip="198.51.100.7").content.decode()
    assert [message.to for message in mail.outbox] == [[user.email]]
    link = re.search(r"http://testserver(/sign-in/unlock/\S+/)", mail.outbox[0].body).group(1)
    with all_tenants():
        locked = AuditEvent.objects.get(action="auth.locked_out")
        # The send log keeps the message without the link's secret.
        stored = OutboundEmail.objects.get(to=user.email)
    assert locked.agency == world.alpha.agency and locked.actor_email == user.email
    assert locked.after["ip"] == "198.51.100.7"
    assert link not in stored.body_text and link not in stored.body_html and not stored.secret_values

    page = client.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "Unlock sign-in" in page.content.decode()
    assert SignInFailure.objects.filter(email=user.email).count() == 5
    unlocked = client.post(link)
    assert unlocked.status_code == 302 and unlocked.url == reverse("account_login")
    assert attempt(client, user, ip="198.51.100.7").status_code == 302 and signed_in(client)
    with all_tenants():
        event = AuditEvent.objects.get(action="auth.unlocked")
    assert event.actor_email == user.email and event.agency == world.alpha.agency

    client.logout()
    again = client.post(link)  # single use
    assert again.status_code == 410 and "used already" in again.content.decode()


def test_the_unlock_link_expires_and_cannot_be_forged(world, client, settings):
    failure = None
    for _ in range(5):
        failure = lockout.signin_failure_record(email=world.alpha.manager.email, ip="198.51.100.7")
    token = lockout.unlock_token(failure=failure)
    settings.LOGIN_UNLOCK_LINK_MINUTES = -1  # every link is past its time
    expired = client.post(reverse("signin_unlock", args=[token]))
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    settings.LOGIN_UNLOCK_LINK_MINUTES = 60
    forged = client.post(reverse("signin_unlock", args=[token[:-3] + "abc"]))
    assert forged.status_code == 410 and "not valid" in forged.content.decode()
    assert SignInFailure.objects.count() == 5


def test_the_unlock_email_goes_out_once_per_window_and_never_for_unknown_addresses(world, client, deliver):
    for _ in range(12):
        deliver(attempt, client, world.alpha.manager, "wrong-password", ip="198.51.100.7")
    for _ in range(6):
        deliver(attempt, client, type("U", (), {"email": "nobody@example.test"}), "guess", ip="198.51.100.8")
    assert [message.to for message in mail.outbox] == [[world.alpha.manager.email]]


def test_a_password_reset_clears_the_lock(world, client):
    from allauth.account.signals import password_reset

    for _ in range(5):
        attempt(client, world.alpha.manager, "wrong-password")
    password_reset.send(sender=type(world.alpha.manager), request=None, user=world.alpha.manager)
    assert attempt(client, world.alpha.manager).status_code == 302


def test_behind_a_trusted_proxy_the_lock_is_per_real_client_not_per_proxy(world, client, settings, all_tenants):
    """Every request arrives from the proxy (10.0.0.2); the proxy names the client. Five failures
    from one client lock that client only, and the audit log records the client's address."""
    settings.TRUSTED_PROXIES = 1
    user = world.alpha.manager
    for _ in range(5):
        attempt(client, user, "wrong-password", ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert LOCKED in attempt(client, user, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.66").content.decode()
    assert attempt(client, user, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302
    with all_tenants():
        assert set(AuditEvent.objects.filter(action="auth.sign_in_failed").values_list("ip_address", flat=True)) == {
            "203.0.113.66"}
        assert AuditEvent.objects.get(action="auth.signed_in").ip_address == "198.51.100.7"


def test_without_a_trusted_proxy_a_forged_forwarded_for_is_ignored(world, client, all_tenants):
    """An attacker rotating X-Forwarded-For values does not get a fresh five tries each time."""
    user = world.alpha.manager
    for number in range(5):
        attempt(client, user, "wrong-password", ip="203.0.113.66", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
    assert LOCKED in attempt(client, user, ip="203.0.113.66", HTTP_X_FORWARDED_FOR="192.0.2.99").content.decode()
    with all_tenants():
        assert set(AuditEvent.objects.filter(action="auth.sign_in_failed").values_list("ip_address", flat=True)) == {
            "203.0.113.66"}


def test_old_failures_are_pruned(world):
    old = lockout.signin_failure_record(email="x@example.test", ip="198.51.100.1",
                                        now=timezone.now() - timedelta(days=2))
    recent = lockout.signin_failure_record(email="x@example.test", ip="198.51.100.1")
    assert lockout.signin_failures_prune() == 1
    assert list(SignInFailure.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk
