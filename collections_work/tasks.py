"""Worker tasks: the placement passes (preview, commit) and the worklist jobs (scores, due
callbacks and promises)."""
import logging
from pathlib import Path

from celery import shared_task
from django.core.files.storage import default_storage
from django.utils import timezone

from collections_work.intake import pipeline
from collections_work.intake.files import IntakeError
from collections_work import scoring, work_services, worklist
from collections_work.models import DebtorAccount, PlacementBatch
from portal.audit import audit_record
from portal.tenancy import tenant_scope, unscoped

log = logging.getLogger(__name__)


def _rejected_path(batch) -> tuple[str, Path]:
    name = str(Path(batch.source_file.name).parent / "rejected-rows.csv")
    return name, Path(default_storage.path(name))


def _fail(batch, message):
    PlacementBatch.objects.filter(pk=batch.pk).update(status=PlacementBatch.Status.FAILED, error_message=message)


@shared_task
def placement_preview(batch_id: int, agency_id: int):
    with tenant_scope(agency_id):
        batch = PlacementBatch.objects.get(pk=batch_id)
        if batch.status != PlacementBatch.Status.VALIDATING:
            return "skipped"
        name, path = _rejected_path(batch)
        try:
            result = pipeline.preview(batch, path)
        except IntakeError as error:
            _fail(batch, error.message)
            return "failed"
        PlacementBatch.objects.filter(pk=batch.pk, status=PlacementBatch.Status.VALIDATING).update(
            status=PlacementBatch.Status.PREVIEWED, total_rows=result.total, valid_rows=result.valid,
            invalid_rows=result.invalid, errors_sample=result.errors_sample, rejected_file=name, progress=100,
            error_message="")
        pipeline.set_progress(batch.pk, "checked", 100)
        return "previewed"


@shared_task
def placement_commit(batch_id: int, agency_id: int):
    with tenant_scope(agency_id):
        batch = PlacementBatch.objects.get(pk=batch_id)
        if batch.status != PlacementBatch.Status.COMMITTING:
            return "skipped"  # a retry after success, or a cancelled batch
        name, path = _rejected_path(batch)
        try:
            result, counts = pipeline.commit(batch, path)
        except IntakeError as error:
            _fail(batch, error.message)
            return "failed"
        except Exception:
            log.exception("Placement %s failed", batch_id)
            _fail(batch, "Something went wrong while placing the accounts; nothing was placed. Try again.")
            raise
        PlacementBatch.objects.filter(pk=batch.pk).update(
            status=PlacementBatch.Status.COMPLETED, total_rows=result.total, valid_rows=result.valid,
            invalid_rows=result.invalid, created_count=counts.created, updated_count=counts.updated,
            skipped_count=counts.skipped, rejected_file=name, progress=100, completed_at=timezone.now())
        pipeline.set_progress(batch.pk, "done", 100)
        worklist_rescore_batch.delay(batch.pk, agency_id)
        batch.refresh_from_db()
        audit_record(action="placement.completed", actor=batch.created_by, agency=batch.agency, client=batch.client,
                     obj=batch, after={"created": counts.created, "updated": counts.updated, "skipped": counts.skipped,
                                       "rejected": result.invalid})
        return "completed"


# --- The worklist ----------------------------------------------------------------------------

def _each_agency():
    """Run a job agency by agency, each in its own tenant scope."""
    from accounts.models import Agency

    with unscoped():
        agency_ids = list(Agency.objects.values_list("pk", flat=True))
    for agency_id in agency_ids:
        with tenant_scope(agency_id):
            yield agency_id


@shared_task
def worklist_rescore_batch(batch_id: int, agency_id: int):
    """Score the accounts a placement just created or updated, and put them in the worklist."""
    with tenant_scope(agency_id):
        placed = DebtorAccount.objects.filter(placement_batch_id=batch_id)
        changed = scoring.accounts_rescore(placed)
        worklist.worklist_accounts_placed(agency_id, placed)
        return changed


@shared_task
def worklist_wake_due():
    """Accounts whose callback, promise date or pause has come: back into their queues."""
    woken = 0
    for _agency_id in _each_agency():
        woken += work_services.accounts_wake_due()
    return woken


@shared_task
def promises_mark_broken():
    broken = 0
    for _agency_id in _each_agency():
        broken += len(work_services.promises_mark_broken())
    return broken


@shared_task
def worklist_rescore_all():
    """Time moves every score (age, last contact): re-score the open accounts."""
    changed = 0
    for _agency_id in _each_agency():
        changed += scoring.accounts_rescore(DebtorAccount.objects.filter(status__in=worklist.OPEN_STATUSES))
    return changed
