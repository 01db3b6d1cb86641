"""The worklist's timed jobs (beat) and the re-score after a placement.

Task names are explicit and kept from before the package layout, so queued messages and the
beat schedule find them."""
from celery import shared_task

from collections_work.debtor_accounts import actions
from collections_work.models import DebtorAccount
from collections_work.worklist import claim, services
from portal.tenancy import each_agency, tenant_scope


@shared_task(name="collections_work.tasks.worklist_rescore_batch")
def worklist_rescore_batch(batch_id: int, agency_id: int):
    """Score the accounts a placement just created or updated, and put them in the worklist."""
    with tenant_scope(agency_id):
        placed = DebtorAccount.objects.filter(placement_batch_id=batch_id)
        changed = actions.accounts_rescore(placed)
        claim.worklist_accounts_placed(agency_id, placed)
        return changed


@shared_task(name="collections_work.tasks.worklist_wake_due")
def worklist_wake_due():
    """Accounts whose callback, promise date or pause has come: back into their queues."""
    woken = 0
    for _agency_id in each_agency():
        woken += services.accounts_wake_due()
    return woken


@shared_task(name="collections_work.tasks.promises_mark_broken")
def promises_mark_broken():
    broken = 0
    for _agency_id in each_agency():
        broken += len(services.promises_mark_broken())
    return broken


@shared_task(name="collections_work.tasks.worklist_rescore_all")
def worklist_rescore_all():
    """Time moves every score (age, last contact): re-score the open accounts."""
    changed = 0
    for _agency_id in each_agency():
        changed += actions.accounts_rescore(DebtorAccount.objects.filter(status__in=actions.IN_QUEUE_STATUSES))
    return changed
