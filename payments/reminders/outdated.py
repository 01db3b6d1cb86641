"""Whether a held plan or promise message is still true when the worker may finally send it
(registered with collections_work's contact-policy gate in PaymentsConfig.ready): a reminder or
"due today" for an installment paid meanwhile, of a plan no longer current, or whose due date
has gone by in the debtor's day is cancelled, with the reason, instead of going out late
(12 CFR 1006.18: no false or misleading statement). A late notice still holds while unpaid."""
from collections_work.debtor_accounts.local_day import debtor_today
from collections_work.models import Promise
from payments.models import Installment, PaymentPlan
from payments.reminders.services import DUE, LATE, PROMISE, REMINDER


def _object_id(email, object_type: str) -> int | None:
    """The installment's or promise's id in the message's key ("<kind>:<object type>:<id>:<date>",
    payments.reminders.services via portal.emails.send_key); None for a key of another shape."""
    parts = email.idempotency_key.split(":")
    return int(parts[2]) if len(parts) >= 3 and parts[1] == object_type and parts[2].isdigit() else None


def _about(emails, object_type: str, objects):
    """(email, the object its key names or None) for each email whose key names an `object_type`,
    the objects read in one query from the queryset `objects`."""
    ids = {email.pk: _object_id(email, object_type) for email in emails}
    found = objects.in_bulk({pk for pk in ids.values() if pk})
    return [(email, found.get(ids[email.pk])) for email in emails if ids[email.pk] is not None]


def installment_messages_outdated(emails, now) -> dict:
    """{email.pk: reason} for the plan messages of `emails` that are no longer true at `now` (UTC)."""
    found = {}
    for email, installment in _about(emails, "installment", Installment.objects.select_related("plan__account")):
        if installment is None:
            found[email.pk] = "The installment no longer exists."
        elif installment.paid_amount >= installment.amount:
            found[email.pk] = f"Installment #{installment.number} was paid."
        elif installment.plan.status != PaymentPlan.Status.CURRENT:
            found[email.pk] = f"The plan is {installment.plan.get_status_display().lower()}."
        elif email.kind in (REMINDER, DUE) and debtor_today(
                installment.plan.account.debtor_time_zone, now) > installment.due_date:
            found[email.pk] = f"Installment #{installment.number} was due {installment.due_date:%b %d, %Y}: " \
                              "the message would be out of date."
    return found


def promise_reminders_outdated(emails, now) -> dict:
    """{email.pk: reason} for promise reminders whose promise is kept, broken or cancelled, or due already."""
    found = {}
    for email, promise in _about(emails, "promise", Promise.objects.select_related("account")):
        if promise is None:
            found[email.pk] = "The promise to pay no longer exists."
        elif promise.status != Promise.Status.OPEN:
            found[email.pk] = f"The promise to pay is {promise.get_status_display().lower()}."
        elif debtor_today(promise.account.debtor_time_zone, now) >= promise.due_date:
            found[email.pk] = f"The promise to pay was due {promise.due_date:%b %d, %Y}: the reminder would be late."
    return found


def register() -> None:
    from collections_work.outbox.gate import outdated_check_register

    outdated_check_register((REMINDER, DUE, LATE), installment_messages_outdated)
    outdated_check_register((PROMISE,), promise_reminders_outdated)
