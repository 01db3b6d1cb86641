"""The worklist's timed jobs (beat) and the re-score after a placement.

Task names are explicit and kept from before the package layout, so queued messages and the
beat schedule find them. The re-scores are bulk jobs (the "bulk" queue, portal/settings.py):
each run scores at most RESCORE_TASK_CHUNK accounts and queues the next chunk itself, so no run
is long, other bulk jobs get their turn between chunks, and a restart loses at most one chunk."""
from celery import shared_task
from django.db import OperationalError

from collections_work.debtor_accounts import actions
from collections_work.models import DebtorAccount
from collections_work.worklist import claim, services
from portal.tenancy import each_agency, tenant_scope


RESCORE_TASK_CHUNK = 20_000
# On SQLite (the embedded mode) a placement's transaction can hold the database's one write lock
# for longer than a bulk job waits for it: the chunk is tried again later, not lost.
BULK_RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 15, "max_retries": 8}


@shared_task(name="collections_work.tasks.worklist_rescore_batch", **BULK_RETRY)
def worklist_rescore_batch(batch_id: int, agency_id: int, after_id: int = 0):
    """Score the accounts a placement just created or updated, and put them in the worklist
    (a chunk at a time, from after `after_id`). Placements no longer queue it (they score their
    accounts themselves: placements.intake.commit); kept for messages queued before that."""
    with tenant_scope(agency_id):
        placed = DebtorAccount.objects.filter(placement_batch_id=batch_id)
        if not after_id:
            claim.worklist_accounts_placed(agency_id, placed)
        changed, last_id = actions.accounts_rescore_part(placed, after_id=after_id, limit=RESCORE_TASK_CHUNK)
    if last_id is not None:
        worklist_rescore_batch.delay(batch_id, agency_id, last_id)
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


@shared_task(name="collections_work.tasks.worklist_rescore_all", **BULK_RETRY)
def worklist_rescore_all(agency_id: int | None = None, after_id: int = 0):
    """Time moves every score (age, last contact): re-score the open accounts. Called with no
    agency (beat), it queues one job per agency; each job scores a chunk and queues the next."""
    if agency_id is None:
        for each in each_agency():
            worklist_rescore_all.delay(each, 0)
        return 0
    with tenant_scope(agency_id):
        changed, last_id = actions.accounts_rescore_part(
            DebtorAccount.objects.filter(status__in=actions.IN_QUEUE_STATUSES), after_id=after_id,
            limit=RESCORE_TASK_CHUNK)
    if last_id is not None:
        worklist_rescore_all.delay(agency_id, last_id)
    return changed
