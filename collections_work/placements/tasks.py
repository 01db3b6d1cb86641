"""Worker tasks for placements: the check (preview) and commit passes over an uploaded file.

Task names are explicit and kept from before the package layout, so queued messages and
schedules find them."""
import logging
from pathlib import Path

from celery import shared_task
from django.core.files.storage import default_storage
from django.utils import timezone

from collections_work.models import PlacementBatch
from collections_work.placements.intake import pipeline
from collections_work.placements.intake.files import IntakeError
from collections_work.worklist.tasks import worklist_rescore_batch
from portal.audit import audit_record
from portal.tenancy import tenant_scope

log = logging.getLogger(__name__)


def _rejected_path(batch) -> tuple[str, Path]:
    name = str(Path(batch.source_file.name).parent / "rejected-rows.csv")
    return name, Path(default_storage.path(name))


def _fail(batch, message):
    PlacementBatch.objects.filter(pk=batch.pk).update(status=PlacementBatch.Status.FAILED, error_message=message)


@shared_task(name="collections_work.tasks.placement_preview")
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


@shared_task(name="collections_work.tasks.placement_commit")
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
