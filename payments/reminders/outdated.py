"""Whether a held plan or promise message is still true when the worker may finally send it
(registered with collections_work's contact-policy gate in PaymentsConfig.ready): a reminder or
"due today" for an installment paid meanwhile, of a plan no longer current, or whose due date
has gone by in the debtor's day is cancelled, with the reason, instead of going out late
(12 CFR 1006.18: no false or misleading statement). A late notice still holds while unpaid.
So is a plan statement whose month is over, a declined-card notice whose installment was paid,
and any of these whose secure link has expired while it waited (a dispute, an opt-out...)."""
from calendar import monthrange
from datetime import timedelta

from accounts.models import Agency
from collections_work.debtor_accounts.local_day import debtor_today
from collections_work.models import Promise
from payments.models import DebtorStatement, Installment, PaymentPlan
from payments.reminders.services import DUE, LATE, PROMISE, REMINDER
from portal.text import date_text


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
    """{email.pk: reason} for the plan messages of `emails` that are no longer true at `now` (UTC),
    or whose secure link has expired."""
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
            found[email.pk] = f"Installment #{installment.number} was due {date_text(installment.due_date)}: " \
                              "the message would be out of date."
    return _link_expired(emails, now) | found


def promise_reminders_outdated(emails, now) -> dict:
    """{email.pk: reason} for promise reminders whose promise is kept, broken or cancelled, or due
    already, or whose secure link has expired."""
    found = {}
    for email, promise in _about(emails, "promise", Promise.objects.select_related("account")):
        if promise is None:
            found[email.pk] = "The promise to pay no longer exists."
        elif promise.status != Promise.Status.OPEN:
            found[email.pk] = f"The promise to pay is {promise.get_status_display().lower()}."
        elif debtor_today(promise.account.debtor_time_zone, now) >= promise.due_date:
            found[email.pk] = f"The promise to pay was due {date_text(promise.due_date)}: the reminder would be late."
    return _link_expired(emails, now) | found


def _link_expired(emails, now) -> dict:
    """{email.pk: reason} for messages whose secure link (made with the message, valid for the
    agency's link lifetime) has expired: sent now, it would open on "this link has expired"."""
    agencies = Agency.objects.in_bulk({email.agency_id for email in emails})
    return {email.pk: "The secure link in it has expired: the debtor could not open it."
            for email in emails
            if email.agency_id in agencies
            and email.created_at + timedelta(days=agencies[email.agency_id].debtor_link_days) <= now}


def debtor_statements_outdated(emails, now) -> dict:
    """{email.pk: reason} for plan statements (key "debtor-statement:<id>") whose month is over in
    the debtor's day (next month's statement replaces it) or whose link has expired."""
    found = _link_expired(emails, now)
    ids = {email.pk: email.idempotency_key.rsplit(":", 1)[-1] for email in emails}
    statements = DebtorStatement.objects.select_related("account").in_bulk(
        {int(pk) for pk in ids.values() if pk.isdigit()})
    for email in emails:
        statement = statements.get(int(ids[email.pk])) if ids[email.pk].isdigit() else None
        if statement is None or email.pk in found:
            continue
        month_end = statement.period.replace(day=monthrange(statement.period.year, statement.period.month)[1])
        if debtor_today(statement.account.debtor_time_zone, now) > month_end:
            found[email.pk] = f"The statement for {statement.period:%B %Y} is out of date: next month's replaces it."
    return found


def autopay_notices_outdated(emails, now) -> dict:
    """{email.pk: reason} for declined-card notices (key "autopay-declined:<installment>:<try>")
    whose installment was paid or whose plan ended meanwhile, or whose link has expired."""
    found = _link_expired(emails, now)
    ids = {email.pk: email.idempotency_key.split(":")[1] for email in emails if email.idempotency_key.count(":") >= 2}
    installments = Installment.objects.select_related("plan").in_bulk({int(pk) for pk in ids.values() if pk.isdigit()})
    for email in emails:
        installment = installments.get(int(ids[email.pk])) if ids.get(email.pk, "").isdigit() else None
        if installment is None or email.pk in found:
            continue
        if installment.paid_amount >= installment.amount:
            found[email.pk] = f"Installment #{installment.number} was paid."
        elif installment.plan.status != PaymentPlan.Status.CURRENT:
            found[email.pk] = f"The plan is {installment.plan.get_status_display().lower()}."
    return found


def register() -> None:
    from collections_work.outbox.gate import outdated_check_register

    outdated_check_register((REMINDER, DUE, LATE), installment_messages_outdated)
    outdated_check_register((PROMISE,), promise_reminders_outdated)
    outdated_check_register(("debtor_statement",), debtor_statements_outdated)
    outdated_check_register(("autopay_declined",), autopay_notices_outdated)
