"""The send log: each email is recorded under a unique key and sent exactly once; a failed try
is recorded (count, the server's answer, the next try), and the email ends failed."""
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from portal.emails import email_schedule
from portal.models import OutboundEmail
from portal.tasks import deliver_email, deliver_pending_emails
from portal.tenancy import unscoped


def schedule(world):
    return email_schedule(key="welcome:1", to="someone@example.test", subject="Hello", template="invitation",
                          agency=world.alpha.agency,
                          context={"agency": world.alpha.agency, "link": "http://x/invitations/abc/",
                                   "invitation": None, "inviter": world.alpha.admin, "client": None})


def test_an_email_is_sent_once_even_if_scheduled_and_delivered_twice(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = schedule(world)
        second = schedule(world)
    assert first.pk == second.pk
    assert deliver_email.delay(first.pk, world.alpha.agency.pk).get() == "skipped"  # a retry after success
    assert len(mail.outbox) == 1 and "http://x/invitations/abc/" in mail.outbox[0].body
    with unscoped():
        assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT


def test_pending_emails_whose_hand_off_was_lost_are_re_offered(world, django_capture_on_commit_callbacks):
    email = schedule(world)  # no on_commit: as if the worker never heard of it
    with unscoped():
        OutboundEmail.objects.filter(pk=email.pk).update(created_at=email.created_at.replace(year=2020))
    assert deliver_pending_emails.delay().get() == 1
    assert len(mail.outbox) == 1
    assert deliver_pending_emails.delay().get() == 0


def test_an_unreachable_broker_does_not_fail_the_action_and_the_email_stays_pending(
        world, django_capture_on_commit_callbacks, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(deliver_email, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        email = schedule(world)  # would have raised after commit, after the caller's changes were saved
    with unscoped():
        assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.PENDING
    assert not mail.outbox  # beat's deliver_pending_emails sends it later


def test_link_secrets_are_sent_but_not_kept_in_the_send_log(world, django_capture_on_commit_callbacks):
    """An invitation's token is a credential: the email carries it, the send log never stores it
    in the bodies, and the copy kept to send it is gone once it is sent."""
    from accounts import services
    from accounts.models import Role
    from portal.tenancy import tenant_scope

    with django_capture_on_commit_callbacks(execute=False) as callbacks, tenant_scope(world.alpha.agency):
        invitation, token = services.invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                                       email="new-person@example.test", role=Role.COLLECTOR)
    with unscoped():
        pending = OutboundEmail.objects.get(to="new-person@example.test")
    assert token not in pending.body_text and token not in pending.body_html
    assert "[secret link: not kept in the send log]" in pending.body_text
    for callback in callbacks:
        callback()
    sent = mail.outbox[0]
    assert f"/invitations/{token}/" in sent.body and f"/invitations/{token}/" in sent.alternatives[0][0]
    with unscoped():
        stored = OutboundEmail.objects.get(pk=pending.pk)
    assert stored.status == OutboundEmail.Status.SENT and stored.secret_values == {}
    assert token not in stored.body_text + stored.body_html


# --- Failures: every try is recorded, and the email ends failed (issue 13, item 16) --------------

class RefusingServer:
    """A real SMTP server on loopback that answers RCPT TO with `reply` (e.g. 550 or 451)."""

    def __init__(self, reply):
        self.reply = reply
        self.tries = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.tries += 1
        return self.reply


@pytest.fixture
def refusing_smtp(settings):
    from aiosmtpd.controller import Controller

    from tests.portal.test_embedded_run import free_port

    servers = []

    def start(reply):
        handler = RefusingServer(reply)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        servers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", controller.port, False
        return handler

    yield start
    for controller in servers:
        controller.stop()


def reloaded(email):
    with unscoped():
        return OutboundEmail.objects.get(pk=email.pk)


def test_a_permanent_refusal_is_recorded_and_fails_the_email_at_once(world, refusing_smtp,
                                                                     django_capture_on_commit_callbacks):
    server = refusing_smtp("550 5.1.1 <someone@example.test>: mailbox unavailable")
    with django_capture_on_commit_callbacks(execute=True):
        email = schedule(world)  # hands it to the (eager) worker after commit
    email = reloaded(email)
    assert server.tries == 1
    assert email.status == OutboundEmail.Status.FAILED and email.attempts == 1
    assert "550" in email.last_error and "mailbox unavailable" in email.last_error
    assert email.next_attempt_at is None
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert deliver_pending_emails.delay().get() == 0  # never offered again
    assert server.tries == 1


def test_temporary_failures_are_each_recorded_and_retried_with_backoff_until_the_last_try(
        world, refusing_smtp, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_MAX_ATTEMPTS, settings.EMAIL_RETRY_SECONDS = 3, 60
    server = refusing_smtp("451 4.3.0 Try again later")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            email = schedule(world)
        first = reloaded(email)
    # The try's count and error survive: they were not rolled back with the retry.
    assert (first.status, first.attempts, server.tries) == (OutboundEmail.Status.PENDING, 1, 1)
    assert "451" in first.last_error
    assert first.next_attempt_at == start + timedelta(seconds=60)
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert deliver_email.delay(email.pk, world.alpha.agency.pk).get() == "not yet"  # the backoff holds
    assert server.tries == 1
    # A queued retry that got lost is re-offered by beat once overdue; the wait doubles.
    with time_machine.travel(start + timedelta(minutes=3, seconds=1), tick=False):
        assert deliver_pending_emails.delay().get() == 1
        second = reloaded(email)
    assert (second.status, second.attempts, server.tries) == (OutboundEmail.Status.PENDING, 2, 2)
    assert second.next_attempt_at == start + timedelta(minutes=3, seconds=1) + timedelta(seconds=120)
    with time_machine.travel(second.next_attempt_at, tick=False):
        assert deliver_email.delay(email.pk, world.alpha.agency.pk).get() == "failed"
        last = reloaded(email)
    assert (last.status, last.attempts, server.tries) == (OutboundEmail.Status.FAILED, 3, 3)
    assert "451" in last.last_error and last.next_attempt_at is None
    with time_machine.travel(start + timedelta(days=1), tick=False):
        assert deliver_pending_emails.delay().get() == 0
    assert server.tries == 3


def test_a_failed_email_to_the_debtor_shows_on_the_workspace_timeline(world, client, refusing_smtp,
                                                                      django_capture_on_commit_callbacks):
    from collections_work.models import EmailTemplate
    from collections_work.worklist import services as work_services
    from portal.tenancy import tenant_scope
    from tests.factories import DebtorAccountFactory

    refusing_smtp("550 5.1.1 mailbox unavailable")
    alpha = world.alpha
    with tenant_scope(alpha.agency):
        account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="MAIL-1",
                                       contacts=["email"], debt_purpose="commercial")
        template = EmailTemplate.objects.create(agency=alpha.agency, name="Reminder", subject="About {reference}",
                                                body="Please pay {balance}.")
        contact = account.debtor.contacts.get()
        noon_new_york = timezone.now().replace(hour=17, minute=0)
        with django_capture_on_commit_callbacks(execute=True):
            work_services.email_send(agency=alpha.agency, actor=alpha.collector, account=account,
                                     template_id=template.pk, contact_id=contact.pk, now=noon_new_york)
    client.force_login(alpha.collector)
    page = client.get(f"/debtor-accounts/{account.pk}/work/").content.decode()
    assert "Not delivered" in page and "550 5.1.1 mailbox unavailable" in page


def test_an_email_left_sending_by_a_dead_worker_is_never_sent_again_by_itself(world, refusing_smtp):
    """A worker killed after claiming an email (the mail server may have taken it) leaves it
    "sending": another task skips it, and after ten minutes it shows as failed, with why, for
    staff to check and resend from the outbox."""
    from portal.tasks import STUCK_ERROR

    server = refusing_smtp("250 OK")
    with unscoped():
        email = OutboundEmail.objects.create(agency=world.alpha.agency, idempotency_key="stuck:1", to="a@example.test",
                                             subject="Stuck", body_text="Hi", status="sending", attempts=1,
                                             claimed_at=timezone.now())
    assert deliver_email.delay(email.pk, world.alpha.agency.pk).get() == "skipped"
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        deliver_pending_emails.delay().get()
    email = reloaded(email)
    assert email.status == OutboundEmail.Status.FAILED and email.last_error == STUCK_ERROR
    assert server.tries == 0


@pytest.mark.parametrize("address", ["josé@exämple.com", "a,b@example.com", "john@example.com;", "john@@example.com",
                                     "john smith@example.com"])
def test_an_address_mail_cannot_be_sent_to_fails_at_once_saying_so(address, world, django_capture_on_commit_callbacks):
    """A non-ASCII name before the @ went out with an encoded word as the envelope address and was
    recorded as sent; the others failed inside the mail library and were retried for 15 minutes."""
    with django_capture_on_commit_callbacks(execute=True):
        email = email_schedule(key="welcome:bad", to=address, subject="Hello", template="invitation",
                               agency=world.alpha.agency,
                               context={"agency": world.alpha.agency, "link": "http://x/invitations/abc/",
                                        "invitation": None, "inviter": world.alpha.admin, "client": None})
    email = reloaded(email)
    assert email.status == OutboundEmail.Status.FAILED and email.attempts == 1 and email.next_attempt_at is None
    assert f"“{address}” is not an email address mail can be sent to" in email.last_error
    assert mail.outbox == []


def test_an_international_domain_is_sent_to(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = email_schedule(key="welcome:idn", to="jose@exämple.com", subject="Hello", template="invitation",
                               agency=world.alpha.agency,
                               context={"agency": world.alpha.agency, "link": "http://x/invitations/abc/",
                                        "invitation": None, "inviter": world.alpha.admin, "client": None})
    assert reloaded(email).status == OutboundEmail.Status.SENT and len(mail.outbox) == 1
