"""Each queued letter asks the contact policy again when the day's print batch is made: a debtor
who asked us to stop, or an account the agency no longer collects, gets no letter (cancelled, with
the reason on the timeline); an open dispute holds the letter until it is resolved (one timeline
entry, not one a day); the calling hours never hold a letter. The Letters page says why."""
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.urls import reverse

from collections_work.compliance import contact_decision
from collections_work.debtor_accounts.services import account_set_status
from collections_work.letters.services import print_batch_make, validation_notice_ensure
from collections_work.models import Activity, Letter, PrintBatch
from collections_work.worklist.services import cease_record, dispute_record, dispute_resolve
from portal.tenancy import tenant_scope
from tests.collections_work.letters.test_validation_notice import alpha, consumer, pdf_text  # noqa: F401 - fixture

REYKJAVIK = ZoneInfo("Atlantic/Reykjavik")  # the debtors' zone (UTC all year)
DAY_ONE = datetime(2026, 3, 2, 20, 0, tzinfo=REYKJAVIK)


def queued(alpha, reference, now=DAY_ONE - timedelta(hours=8)):  # noqa: F811
    account = consumer(alpha, reference)
    letter = validation_notice_ensure(account, now=now)
    assert letter.status == Letter.Status.QUEUED
    return account, letter


def batch_on(alpha, moment):  # noqa: F811
    return print_batch_make(agency_id=alpha.agency.pk, day=moment.date(), actor=alpha.collector, now=moment)


def timeline(account, text):
    return list(Activity.objects.filter(account=account, summary__contains=text).values_list("summary", flat=True))


def test_a_letter_whose_debtor_asked_us_to_stop_is_cancelled_at_print_time_and_not_printed(alpha):  # noqa: F811
    ceased, ceased_letter = queued(alpha, "CEASE-1")
    recalled, recalled_letter = queued(alpha, "RECALL-1")
    kept, kept_letter = queued(alpha, "KEEP-1")
    cease_record(agency=alpha.agency, actor=alpha.collector, account=ceased, note="letter from the debtor",
                 now=DAY_ONE - timedelta(hours=2))
    account_set_status(agency=alpha.agency, actor=alpha.clients[0].admin, account=recalled, status="recalled",
                       reason="paid us directly")

    batch = batch_on(alpha, DAY_ONE)

    assert batch.letter_count == 1
    text, pages = pdf_text(batch.pdf)
    assert pages == 1 and "Jo KEEP-1" in text and "CEASE-1" not in text and "RECALL-1" not in text
    for letter in (ceased_letter, recalled_letter, kept_letter):
        letter.refresh_from_db()
    assert kept_letter.status == Letter.Status.PRINTING and kept_letter.print_batch == batch
    assert ceased_letter.status == Letter.Status.CANCELLED and ceased_letter.print_batch is None
    assert ceased_letter.cancel_reason == "The debtor asked us to stop contacting them on Mar 2, 2026."
    assert timeline(ceased, "cancelled before printing") == [
        "Validation notice cancelled before printing: The debtor asked us to stop contacting them on Mar 2, 2026."]
    assert recalled_letter.status == Letter.Status.CANCELLED
    assert recalled_letter.cancel_reason == "The account is recalled: the agency no longer collects it."
    assert len(timeline(recalled, "cancelled before printing")) == 1

    # A cancelled letter never comes back: the next day's batch has nothing to print.
    assert batch_on(alpha, DAY_ONE + timedelta(days=1)) is None
    assert PrintBatch.objects.count() == 1 and len(timeline(ceased, "cancelled before printing")) == 1


def test_a_disputed_letter_is_held_then_printed_in_a_later_batch_once_the_dispute_is_resolved(alpha):  # noqa: F811
    account, letter = queued(alpha, "DISP-1")
    dispute = dispute_record(agency=alpha.agency, actor=alpha.collector, account=account, reason="Not my debt",
                             now=DAY_ONE - timedelta(hours=3))

    # Every letter held: no empty batch, the letter stays queued with the reason.
    assert batch_on(alpha, DAY_ONE) is None
    assert batch_on(alpha, DAY_ONE + timedelta(days=1)) is None  # asked again the next day: still held
    assert not PrintBatch.objects.exists()
    letter.refresh_from_db()
    assert letter.status == Letter.Status.QUEUED
    assert letter.hold_reason == "A dispute is open on this account: no contact until it is resolved."
    assert timeline(account, "held out of") == ["Validation notice held out of the Mar 2 print batch: "
                                                "A dispute is open on this account: no contact until it is resolved."]

    dispute_resolve(agency=alpha.agency, actor=alpha.collector, dispute=dispute, resolution="Verified and mailed",
                    now=DAY_ONE + timedelta(days=2, hours=-5))
    later = DAY_ONE + timedelta(days=2)
    batch = batch_on(alpha, later)

    assert batch.letter_count == 1 and batch.day == later.date()
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PRINTING and letter.hold_reason == ""
    text, _pages = pdf_text(batch.pdf)
    # Dated for the day it is printed, so the validation period it states is not already short.
    # Received, as Reg F lets us assume, on the fifth weekday after Wednesday March 4: March 11.
    assert "Jo DISP-1" in text and "March 4, 2026" in text and "April 10, 2026" in text
    assert letter.content["sent_on"] == "2026-03-04" and letter.content["validation_ends"] == "2026-04-10"
    assert len(timeline(account, "held out of")) == 1
    assert timeline(account, "dated again") == ["Validation notice dated again for printing on March 4, 2026; "
                                                "the validation period now ends April 10, 2026"]


def test_calling_hours_never_hold_a_letter(alpha):  # noqa: F811
    account, letter = queued(alpha, "NIGHT-1")
    three_am = datetime(2026, 3, 3, 3, 0, tzinfo=REYKJAVIK)
    assert not contact_decision(account=account, channel="call", at=three_am)  # no call at 03:00 ...
    assert contact_decision(account=account, channel="letter", at=three_am)  # ... but a letter has no time of day

    batch = batch_on(alpha, three_am)

    assert batch.letter_count == 1
    letter.refresh_from_db()
    assert letter.status == Letter.Status.PRINTING and letter.hold_reason == ""
    assert not timeline(account, "held out of")


def test_the_letters_page_shows_held_and_cancelled_letters_with_the_reason(alpha, client):  # noqa: F811
    ceased, _letter = queued(alpha, "CEASE-2")
    disputed, _other = queued(alpha, "DISP-2")
    cease_record(agency=alpha.agency, actor=alpha.collector, account=ceased, now=DAY_ONE - timedelta(hours=2))
    dispute_record(agency=alpha.agency, actor=alpha.collector, account=disputed, reason="Already paid",
                   now=DAY_ONE - timedelta(hours=2))
    assert batch_on(alpha, DAY_ONE) is None

    client.force_login(alpha.collector)
    page = client.get(reverse("print_batch_list")).content.decode()

    assert "Kept out of print by the contact policy" in page
    assert "1 held by the contact policy" in page and "No letters are waiting for print." in page
    assert "CEASE-2" in page and "The debtor asked us to stop contacting them on Mar 2, 2026." in page
    assert "DISP-2" in page and "A dispute is open on this account: no contact until it is resolved." in page
    assert "Make today&#x27;s batch now" in page or "Make today's batch now" in page
    made = client.post(reverse("print_batch_now"), follow=True).content.decode()
    assert "No letter may go to print now: 1 held by the contact policy" in made

    # The outbox lists the held letter as deferred and the other as cancelled, each with its reason.
    deferred = client.get(reverse("outbox"), {"channel": "letter", "state": "deferred"}).content.decode()
    assert "DISP-2" in deferred and "A dispute is open on this account" in deferred and "CEASE-2" not in deferred
    cancelled = client.get(reverse("outbox"), {"channel": "letter", "state": "cancelled"}).content.decode()
    assert "CEASE-2" in cancelled and "The debtor asked us to stop" in cancelled and "DISP-2" not in cancelled


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises writers)")
@pytest.mark.django_db(transaction=True)
def test_four_makers_at_once_make_one_batch_and_tell_each_timeline_once(alpha):  # noqa: F811
    ceased, _letter = queued(alpha, "RACE-C")
    disputed, _other = queued(alpha, "RACE-D")
    queued(alpha, "RACE-K")
    cease_record(agency=alpha.agency, actor=alpha.collector, account=ceased, now=DAY_ONE - timedelta(hours=2))
    dispute_record(agency=alpha.agency, actor=alpha.collector, account=disputed, reason="Not mine",
                   now=DAY_ONE - timedelta(hours=2))
    results, errors = [], []
    start = threading.Barrier(4)

    def maker():
        try:
            start.wait()
            with tenant_scope(alpha.agency):
                results.append(batch_on(alpha, DAY_ONE))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=maker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    batch = PrintBatch.objects.get()
    assert {result.pk for result in results} == {batch.pk} and batch.letter_count == 1
    assert len(timeline(ceased, "cancelled before printing")) == 1
    assert len(timeline(disputed, "held out of")) == 1
