"""The payments app's timed jobs (beat): missed installments and expired offers, per agency."""
from celery import shared_task

from payments.offers.services import offers_expire
from payments.plans.services import plans_mark_missed
from portal.tenancy import each_agency


@shared_task(name="payments.tasks.plans_daily")
def plans_daily():
    """Installments missed (the debtor's local day over) return their accounts to the queues;
    offers whose links all expired are marked expired. Safe to run any number of times."""
    missed = expired = 0
    for _agency_id in each_agency():
        missed += plans_mark_missed()
        expired += offers_expire()
    return {"missed": missed, "expired": expired}
