"""The outbox: agency staff see every email and letter with its state (scheduled, deferred with
why and until when, sent, failed with the error), filter them, and resend a failed email, which
then goes out over SMTP; the opt-out link in a debtor's email works."""
import re
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from collections_work.models import Contact, ContactPolicy, Letter
from portal.models import AuditEvent, OutboundEmail
from portal.tenancy import tenant_scope, unscoped
from tests.factories import DebtorAccountFactory

UTC = dt_timezone.utc


@pytest.fixture
def outbox_rows(world):
    with unscoped():
        yield _outbox_rows(world)


def _outbox_rows(world):
    alpha = world.alpha
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="OB-7", contacts=["email"],
                                   debt_purpose="commercial")
    common = {"agency": alpha.agency, "client": alpha.clients[0].client, "account_id": account.pk, "body_text": "Hi"}
    rows = {
        "failed": OutboundEmail.objects.create(idempotency_key="t:failed", to="ob-7@debtor.test", subject="Late notice",
                                               status="failed", attempts=5, last_error="550 5.1.1 mailbox unavailable",
                                               **common),
        "deferred": OutboundEmail.objects.create(
            idempotency_key="t:deferred", to="ob-7@debtor.test", subject="Payment reminder", status="deferred",
            hold_reason="Outside the contact hours 08:00–21:00 in the debtor's local time (06:00 in America/New_York).",
            next_attempt_at=datetime(2026, 12, 7, 13, tzinfo=UTC), **common),
        "sent": OutboundEmail.objects.create(idempotency_key="t:sent", to="ob-7@debtor.test", subject="Due today",
                                             status="sent", sent_at=timezone.now(), **common),
    }
    Letter.objects.create(agency=alpha.agency, client=alpha.clients[0].client, account=account, kind="validation",
                          key="validation-notice", pdf="letters/v.pdf", status="queued")
    other = DebtorAccountFactory(client=world.bravo.clients[0].client, client_reference="BRAVO-OB")
    OutboundEmail.objects.create(agency=world.bravo.agency, idempotency_key="t:bravo", to="x@bravo.test",
                                 subject="Bravo's reminder", status="failed", account_id=other.pk, body_text="Hi")
    return account, rows


def test_staff_see_each_state_with_its_reason_and_filter(world, outbox_rows, client):
    _account, _rows = outbox_rows
    client.force_login(world.alpha.collector)
    page = client.get(reverse("outbox")).content.decode()
    for text in ("Late notice", "550 5.1.1 mailbox unavailable", "Payment reminder", "Outside the contact hours",
                 "Until Dec 7", "Due today", "Resend"):
        assert text in page
    assert "Bravo&#x27;s reminder" not in page and "Bravo's reminder" not in page
    assert "Validation notice" in page and "Debtor OB-7" in page  # a letter queued for print
    failed = client.get(reverse("outbox"), {"state": "failed"}).content.decode()
    assert "Late notice" in failed and "Payment reminder" not in failed
    found = client.get(reverse("outbox"), {"q": "OB-7", "channel": "email"}).content.decode()
    assert "Late notice" in found
    letters = client.get(reverse("outbox"), {"channel": "letter"}).content.decode()
    assert "Late notice" not in letters and "Validation notice" in letters


def test_client_users_have_no_outbox(world, client):
    client.force_login(world.alpha.clients[0].admin)
    assert client.get(reverse("outbox")).status_code == 404


def test_a_failed_email_is_resent_and_goes_out(world, outbox_rows, client, django_capture_on_commit_callbacks):
    account, rows = outbox_rows
    with tenant_scope(world.alpha.agency):
        ContactPolicy.objects.create(agency=world.alpha.agency, earliest_hour=0, latest_hour=24)
    client.force_login(world.alpha.collector)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("outbox_email_resend", args=[rows["failed"].pk]), {"next": "/outbox/?state=failed"})
    assert response.status_code == 302 and response.url == "/outbox/?state=failed"
    with unscoped():
        rows["failed"].refresh_from_db()
        assert AuditEvent.objects.filter(action="email.resent").exists()
    assert rows["failed"].status == "sent" and [m.subject for m in mail.outbox] == ["Late notice"]
    # A sent one cannot be resent
    again = client.post(reverse("outbox_email_resend", args=[rows["sent"].pk]), follow=True)
    assert "only a failed email is resent" in again.content.decode()


def test_the_opt_out_link_of_a_reminder_works_and_the_next_message_is_cancelled(
        world, client, django_capture_on_commit_callbacks):
    """The link in a plan reminder (plain text and HTML) opts the address out; the next scheduled
    message to it is cancelled with the reason, not sent."""
    from payments.reminders.services import _send, Step

    alpha = world.alpha
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="OPT-1", contacts=["email"],
                                   debt_purpose="commercial")
    with tenant_scope(alpha.agency):
        ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=0, latest_hour=24)
        alpha.agency.postal_address = "1 Main St, Springfield, IL 62701"
        alpha.agency.save()
        account.refresh_from_db()

        class Target:  # what _send needs: an object with .account and a pk for the key
            def __init__(self, n):
                self.account, self.pk, self.n = account, n, n

        for n in (1, 2):
            counts = {"promise_reminder": 0, "no_email": 0}
            with django_capture_on_commit_callbacks(execute=True):
                _send([(Target(n), Step("promise_reminder", f"Reminder {n}", ("Line",)), f"t:opt:{n}")],
                      timezone.now(), counts)
            if n == 1:
                message = mail.outbox[0]
                assert "1 Main St, Springfield, IL 62701" in message.body
                assert "1 Main St, Springfield, IL 62701" in message.alternatives[0][0]
                link = re.search(r"https?://\S+/opt-out/\S+/", message.body).group(0)
                path = link.split("testserver", 1)[1]
                assert client.get(path).status_code == 200  # a GET (a mail scanner) changes nothing
                assert Contact.objects.get(debtor=account.debtor, kind="email").opted_out_at is None
                client.post(path)
                assert Contact.objects.get(debtor=account.debtor, kind="email").opted_out_at is not None
    assert len(mail.outbox) == 1
    # The second message found no address that has not opted out: not recorded at all
    with unscoped():
        assert not OutboundEmail.objects.filter(idempotency_key="t:opt:2").exists()
