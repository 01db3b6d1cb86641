"""Scheduled messages to a debtor ask the contact policy when they go, not only when they are
made (12 CFR 1006.6(b)(1)(i), 1006.14): a message made in the debtor's night waits for their
morning instead of being dropped or printed, and one the debtor has since opted out of is
cancelled with the reason on the timeline."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import time_machine
from django.core import mail

from collections_work.models import Activity, Contact, DebtorAccount, Debtor, Letter
from payments.models import AutopayAttempt, Installment, PaymentPlan
from payments.online.autopay import autopay_decline_notify
from payments.statements.debtor import debtor_statement_issue
from portal.models import OutboundEmail
from portal.tasks import deliver_email

# 17:15 UTC, when the monthly debtor statements run: 07:15 in Honolulu (before 08:00).
RUN = datetime(2026, 12, 1, 17, 15, tzinfo=dt_timezone.utc)
HONOLULU_NINE = datetime(2026, 12, 1, 19, 0, tzinfo=dt_timezone.utc)


def living_in_honolulu(account, purpose="consumer"):
    """The legal hours hold for a consumer debt (8:00-21:00 where the debtor is)."""
    DebtorAccount.objects.filter(pk=account.pk).update(debt_purpose=purpose, debtor_time_zone="Pacific/Honolulu")
    Debtor.objects.filter(pk=account.debtor_id).update(time_zone="Pacific/Honolulu")
    Contact.objects.filter(debtor_id=account.debtor_id).update(time_zone="Pacific/Honolulu")


def deliver_at(moment, email):
    with time_machine.travel(moment, tick=False):
        return deliver_email(email.pk, email.agency_id)


def test_a_statement_made_before_the_debtors_morning_is_emailed_in_it_not_printed(on_plan):
    account, _path = on_plan
    living_in_honolulu(account)
    plan = PaymentPlan.objects.get(account=account)
    mail.outbox.clear()
    with time_machine.travel(RUN, tick=False):
        debtor_statement_issue(plan=plan, period=RUN.date().replace(day=1), now=RUN)
    assert not Letter.objects.filter(account=account).exists()
    email = OutboundEmail.objects.get(idempotency_key__startswith="debtor-statement:")
    assert email.account_id == account.pk and email.kind == "debtor_statement"
    assert deliver_at(RUN, email) == "deferred" and mail.outbox == []
    assert deliver_at(HONOLULU_NINE, email) == "sent" and len(mail.outbox) == 1


def statement_in_the_night(on_plan):
    """This month's plan statement made at RUN (Honolulu's night): (account, its email)."""
    account, _path = on_plan
    living_in_honolulu(account)
    plan = PaymentPlan.objects.get(account=account)
    with time_machine.travel(RUN, tick=False):
        debtor_statement_issue(plan=plan, period=RUN.date().replace(day=1), now=RUN)
    return account, OutboundEmail.objects.get(idempotency_key__startswith="debtor-statement:")


def test_a_statement_the_debtor_opted_out_of_before_it_went_is_cancelled(on_plan):
    account, email = statement_in_the_night(on_plan)
    Contact.objects.filter(debtor_id=account.debtor_id, kind="email").update(opted_out_at=RUN)
    mail.outbox.clear()
    assert deliver_at(HONOLULU_NINE, email) == "cancelled" and mail.outbox == []
    assert Activity.objects.filter(account=account, summary__contains="cancelled").exists()


def declined_in_the_night(on_plan):
    """The first installment's card declined at RUN (Honolulu's night): (account, installment, its notice)."""
    account, _path = on_plan
    living_in_honolulu(account)
    installment = Installment.objects.filter(plan__account=account).order_by("number").first()
    attempt = AutopayAttempt.objects.create(agency_id=account.agency_id, client_id=account.client_id,
                                            installment=installment, try_number=1, amount=installment.amount,
                                            status=AutopayAttempt.Status.FAILED, error="Your card was declined.")
    with time_machine.travel(RUN, tick=False):
        autopay_decline_notify(attempt, now=RUN)
    return account, installment, OutboundEmail.objects.get(idempotency_key=f"autopay-declined:{installment.pk}:1")


def test_a_declined_card_notice_made_in_the_debtors_night_waits_for_the_morning(on_plan):
    account, installment, email = declined_in_the_night(on_plan)
    assert email.account_id == account.pk
    mail.outbox.clear()
    assert deliver_at(RUN, email) == "deferred"
    assert deliver_at(HONOLULU_NINE, email) == "sent" and "did not go through" in mail.outbox[0].subject


def test_a_batch_asks_the_contact_policy_as_a_single_send_does_for_zones_that_name_no_place(on_plan):
    """A zone stored as "EST" (imported data) names no place: both checks treat the debtor as
    anywhere in the US, so 21:30 in New York holds the message in a batch too."""
    from collections_work.outbox.gate import ContactPolicyGate

    account, _path = on_plan
    DebtorAccount.objects.filter(pk=account.pk).update(debt_purpose="consumer", debtor_time_zone="EST")
    Debtor.objects.filter(pk=account.debtor_id).update(time_zone="EST")
    Contact.objects.filter(debtor_id=account.debtor_id).update(time_zone="Mars/Olympus_Mons")
    email = OutboundEmail.objects.create(agency_id=account.agency_id, client_id=account.client_id, account_id=account.pk,
                                         idempotency_key="probe:est", to="pl-1@debtor.test", subject="Reminder",
                                         body_text="x")
    evening = datetime(2026, 7, 7, 1, 30, tzinfo=dt_timezone.utc)  # 21:30 in New York, 20:30 "EST"
    gate = ContactPolicyGate()
    single, batch = gate.decide(email, evening), gate.decide_many([email], evening)[email.pk]
    assert single.action == batch.action == "defer" and single.until == batch.until


def plan_message(account, installment, kind):
    """A plan message as the daily steps record it (its key names the installment)."""
    return OutboundEmail.objects.create(
        agency_id=account.agency_id, client_id=account.client_id, account_id=account.pk, kind=kind,
        idempotency_key=f"{kind.replace('_', '-')}:installment:{installment.pk}:{installment.due_date.isoformat()}",
        to="pl-1@debtor.test", subject=f"About installment #{installment.number}", body_text="x")


def test_a_held_plan_message_that_is_no_longer_true_is_cancelled_not_sent(on_plan):
    from collections_work.outbox.gate import ContactPolicyGate

    account, _path = on_plan
    first, second = Installment.objects.filter(plan__account=account).order_by("number")[:2]
    due_today, reminder = plan_message(account, first, "installment_due"), plan_message(account, second, "installment_reminder")
    gate, before_due = ContactPolicyGate(), datetime.combine(first.due_date, datetime.min.time(), tzinfo=dt_timezone.utc)
    assert gate.decide(due_today, before_due).action == "send"  # unpaid, on a current plan: true
    Installment.objects.filter(pk=first.pk).update(paid_amount=first.amount)  # the debtor paid meanwhile
    assert gate.decide(due_today, before_due) == gate.decide_many([due_today], before_due)[due_today.pk]
    assert gate.decide(due_today, before_due).reason == "Installment #1 was paid."
    mail.outbox.clear()
    assert deliver_at(before_due, due_today) == "cancelled" and mail.outbox == []
    assert Activity.objects.filter(account=account, summary__contains="Installment #1 was paid").exists()
    # Held until after its due date (say by a dispute): the reminder of that date would be false.
    weeks_later = datetime.combine(second.due_date, datetime.min.time(), tzinfo=dt_timezone.utc) + timedelta(days=16)
    verdict = gate.decide_many([reminder], weeks_later)[reminder.pk]
    assert verdict.action == "cancel" and "the message would be out of date" in verdict.reason
    PaymentPlan.objects.filter(account=account).update(status=PaymentPlan.Status.BROKEN)
    assert gate.decide(reminder, before_due).reason == "The plan is broken."


def test_a_message_to_a_recalled_account_is_cancelled_and_one_on_hold_waits(on_plan):
    from collections_work.outbox.gate import ContactPolicyGate
    from portal.send_gate import SendVerdict

    account, _path = on_plan
    installment = Installment.objects.filter(plan__account=account).order_by("number").first()
    email = plan_message(account, installment, "installment_late")
    gate, now = ContactPolicyGate(), datetime(2026, 12, 2, 17, 0, tzinfo=dt_timezone.utc)
    DebtorAccount.objects.filter(pk=account.pk).update(status="on_hold", hold_reason="client reviewing")
    held = gate.decide(email, now)
    assert (held.action, held.reason) == ("defer", "The account is on hold (client reviewing).") and held.until > now
    assert gate.decide_many([email], now)[email.pk] == held
    DebtorAccount.objects.filter(pk=account.pk).update(status="recalled")
    assert gate.decide(email, now) == gate.decide_many([email], now)[email.pk] == SendVerdict(
        "cancel", "The account is recalled: the agency no longer collects it.")


def test_a_held_promise_reminder_is_cancelled_once_the_promise_is_kept_or_due(alpha, account):
    from datetime import date

    from collections_work.models import Promise
    from collections_work.outbox.gate import ContactPolicyGate

    promise = Promise.objects.create(agency_id=account.agency_id, client_id=account.client_id, account=account,
                                     amount="50.00", due_date=date(2026, 12, 10), created_at=RUN)
    email = OutboundEmail.objects.create(
        agency_id=account.agency_id, client_id=account.client_id, account_id=account.pk, kind="promise_reminder",
        idempotency_key=f"promise-reminder:promise:{promise.pk}:2026-12-10", to="pl-1@debtor.test",
        subject="Reminder: your payment is due tomorrow", body_text="x")
    gate, day_before = ContactPolicyGate(), datetime(2026, 12, 9, 18, 0, tzinfo=dt_timezone.utc)
    assert gate.decide(email, day_before).action == "send"
    assert gate.decide(email, datetime(2026, 12, 10, 18, 0, tzinfo=dt_timezone.utc)).reason == (
        "The promise to pay was due Dec 10, 2026: the reminder would be late.")
    Promise.objects.filter(pk=promise.pk).update(status="kept")
    assert gate.decide_many([email], day_before)[email.pk].reason == "The promise to pay is kept."


def test_a_held_statement_whose_link_or_month_ran_out_is_cancelled_not_sent(on_plan):
    """Held past its link's lifetime (a dispute, say), it went out with a link that answered
    "expired" and the figures of weeks before; next month's statement replaces it anyway."""
    from collections_work.outbox.gate import ContactPolicyGate

    account, email = statement_in_the_night(on_plan)
    gate, lifetime = ContactPolicyGate(), timedelta(days=account.agency.debtor_link_days)
    assert gate.decide(email, HONOLULU_NINE).action == "send"
    expired = gate.decide_many([email], RUN + lifetime + timedelta(hours=2))[email.pk]
    assert expired.action == "cancel" and expired.reason == "The secure link in it has expired: the debtor could not open it."
    mail.outbox.clear()
    assert deliver_at(RUN + lifetime + timedelta(hours=2), email) == "cancelled" and mail.outbox == []
    # With links that outlive the month, the month's end alone makes it out of date.
    type(account.agency).objects.filter(pk=account.agency_id).update(debtor_link_days=60)
    verdict = gate.decide(email, datetime(2027, 1, 1, 19, 0, tzinfo=dt_timezone.utc))
    assert verdict.action == "cancel" and verdict.reason == "The statement for December 2026 is out of date: " \
                                                            "next month's replaces it."


def test_a_held_declined_card_notice_is_cancelled_once_the_installment_is_paid(on_plan):
    account, installment, email = declined_in_the_night(on_plan)
    assert deliver_at(RUN, email) == "deferred"
    Installment.objects.filter(pk=installment.pk).update(paid_amount=installment.amount)  # paid by another card
    mail.outbox.clear()
    assert deliver_at(HONOLULU_NINE, email) == "cancelled" and mail.outbox == []
    email.refresh_from_db()
    assert email.hold_reason == "Installment #1 was paid."
