"""The payments app's timed jobs (beat, portal/beat.py): the daily plan steps, promise reminders
and expired offers, per agency. Each is safe to run any number of times, by two schedulers at
once, or again after a worker died mid-run (acks_late + reject_on_worker_lost): every message is
recorded under its exactly-once key before it goes out."""
from celery import shared_task

from payments.offers.services import offers_expire
from payments.reminders.services import plan_steps_run, promise_reminders_run
from portal.tenancy import each_agency

REDELIVER_SAFE = {"acks_late": True, "reject_on_worker_lost": True}


def _add(total: dict, counts: dict) -> None:
    for name, value in counts.items():
        total[name] = total.get(name, 0) + value


@shared_task(name="payments.tasks.plans_daily", **REDELIVER_SAFE)
def plans_daily():
    """Per agency: reminders, due-today and late notices for installments (the debtor's day),
    missed installments (the account returns to the queues), broken plans; and offers whose
    links all expired are marked expired. Returns {step: count} over all agencies."""
    total = {"missed": 0, "expired": 0}
    for agency_id in each_agency():
        _add(total, plan_steps_run(agency_id=agency_id))
        total["expired"] += offers_expire()
    return total


@shared_task(name="payments.tasks.promise_reminders", **REDELIVER_SAFE)
def promise_reminders():
    """Per agency: a reminder the day before each open promise to pay is due."""
    total = {}
    for agency_id in each_agency():
        _add(total, promise_reminders_run(agency_id=agency_id))
    return total
