"""The payments app's timed jobs (beat, portal/beat.py), per agency: the daily plan steps, promise
reminders, expired offers, automatic payments, remittance and debtor statements. Each is safe to
run any number of times, by two schedulers at once: what it sends, charges or issues is recorded
under a unique key first (a message's kind, object and period; an installment's try; a client's
statement for a month), so a task delivered twice or re-run after a killed worker finds the work
done. `SCHEDULED` tasks are acknowledged after they finish and given back to the broker when their
worker dies."""
from calendar import monthrange
from collections import Counter
from datetime import date, datetime, time

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from payments.offers.services import offers_expire
from payments.reminders.services import plan_steps_run, promise_reminders_run
from portal.tenancy import each_agency, tenant_scope

SCHEDULED = {"acks_late": True, "reject_on_worker_lost": True}


def _add(total: dict, counts: dict) -> None:
    for name, value in counts.items():
        total[name] = total.get(name, 0) + value


@shared_task(name="payments.tasks.plans_daily", **SCHEDULED)
def plans_daily():
    """Per agency: reminders, due-today and late notices for installments (the debtor's day),
    missed installments (the account returns to the queues), broken plans; and offers whose
    links all expired are marked expired. Returns {step: count} over all agencies."""
    total = {"missed": 0, "expired": 0}
    for agency_id in each_agency():
        _add(total, plan_steps_run(agency_id=agency_id))
        total["expired"] += offers_expire()
    return total


@shared_task(name="payments.tasks.promise_reminders", **SCHEDULED)
def promise_reminders():
    """Per agency: a reminder the day before each open promise to pay is due."""
    total = {}
    for agency_id in each_agency():
        _add(total, promise_reminders_run(agency_id=agency_id))
    return total


@shared_task(name="payments.tasks.autopay_due", **SCHEDULED)
def autopay_due():
    """Charge saved cards for installments whose try is due (payments.online.autopay: the due
    date's morning in the debtor's zone, retries per the agency's settings); notify declines."""
    from payments.online.autopay import autopay_run

    totals = Counter()
    for _agency_id in each_agency():
        totals.update(autopay_run())
    return {what: count for what, count in totals.items() if count}


def _agency_zone(agency_id):
    from accounts.models import Agency

    return Agency.objects.get(pk=agency_id).zone()  # UTC for a zone name Python does not know


def _agency_today(agency_id) -> date:
    return timezone.localdate(timezone=_agency_zone(agency_id))


@shared_task(name="payments.tasks.statements_monthly", **SCHEDULED)
def statements_monthly():
    """Every client whose remittance day has come this month (the agency's date) and whose
    statement for last month is not issued yet gets one `statement_issue_one` task. Run hourly:
    a client whose task was lost (a killed worker) is handed out again by the next run."""
    from payments.statements.services import clients_due, previous_month

    queued = 0
    for agency_id in each_agency():
        today = _agency_today(agency_id)
        start, _end = previous_month(today)
        for client_id in clients_due(today).values_list("pk", flat=True):
            statement_issue_one.delay(client_id, agency_id, start.isoformat())
            queued += 1
    return queued


@shared_task(name="payments.tasks.statement_issue_one", **SCHEDULED)
def statement_issue_one(client_id: int, agency_id: int, period_start: str):
    """Issue one client's remittance statement for the month starting `period_start` (ISO date),
    unless it was issued: rendered, stored, emailed to the client's admins, once."""
    from accounts.models import Client
    from payments.statements.services import statement_issue

    start = date.fromisoformat(period_start)
    end = start.replace(day=monthrange(start.year, start.month)[1])
    # The client's row is held while its statement is made: a second delivery of this task (two
    # beats, a redelivery after a lost worker) skips it instead of rendering it a second time.
    with tenant_scope(agency_id), transaction.atomic():
        client = Client.objects.select_for_update(skip_locked=True).filter(pk=client_id).first()
        if client is None:
            return "busy or gone"
        statement, created = statement_issue(client=client, period_start=start, period_end=end)
        return "issued" if created else "already issued"


@shared_task(name="payments.tasks.debtor_statements_monthly", **SCHEDULED)
def debtor_statements_monthly():
    """Every debtor on a plan accepted before this month (the agency's date) gets this month's
    statement once: paid so far, what remains, the schedule, a link; emailed or printed. Run
    daily: the first run of a month issues them, later runs catch up what a lost run missed."""
    from payments.statements.debtor import debtor_statement_issue, plans_due_a_statement

    issued = 0
    for agency_id in each_agency():
        period = _agency_today(agency_id).replace(day=1)
        # Accepted before the month began on the agency's clock (a UTC date would put an evening
        # in Los Angeles on the 30th into the next month, a morning in Tokyo on the 1st into this one).
        month_began = datetime.combine(period, time.min, tzinfo=_agency_zone(agency_id))
        plans = (plans_due_a_statement(period).filter(accepted_at__lt=month_began)
                 .select_related("account__agency", "account__client", "account__debtor").order_by("id"))
        for plan in plans.iterator(chunk_size=200):
            _statement, created = debtor_statement_issue(plan=plan, period=period)
            issued += created
    return issued
