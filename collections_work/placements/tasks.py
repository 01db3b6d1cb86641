"""Worker tasks for placements: reading, checking (preview) and placing an uploaded file, and
the recovery of stalled steps.

Task names are explicit and kept from before the package layout, so queued messages and
schedules find them."""
import logging
from pathlib import Path

from celery import shared_task
from django.core.files.storage import default_storage
from django.utils import timezone

from collections_work.models import PlacementBatch
from collections_work.placements.intake import jobs, kinds, pipeline
from collections_work.placements.intake.files import IntakeError
from portal.audit import audit_record
from portal.tenancy import tenant_scope

log = logging.getLogger(__name__)


def _rejected_path(batch) -> tuple[str, Path]:
    name = str(Path(batch.source_file.name).parent / "rejected-rows.csv")
    return name, Path(default_storage.path(name))


def _fail(run, message):
    """Fail the batch of `run`, unless it has moved on (cancelled, or taken over by a later run)."""
    PlacementBatch.objects.filter(pk=run.batch.pk, status=run.status, attempts=run.attempt).update(
        status=PlacementBatch.Status.FAILED, error_message=message, heartbeat_at=None)


@shared_task(name="collections_work.tasks.placement_inspect")
def placement_inspect(batch_id: int, agency_id: int):
    """Read an upload in the sandbox (sheets, header row, columns, first rows) and guess its
    mapping; a file past a limit is refused with a message that names the limit."""
    with tenant_scope(agency_id), jobs.job_run(batch_id, PlacementBatch.Status.READING) as run:
        if run is None:
            return "skipped"
        from collections_work.placements import services  # services hand batches to these tasks

        try:
            info = pipeline.inspect(run.batch, sheet=run.batch.options.get("read_sheet", ""), on_progress=run.beat)
        except IntakeError as error:
            services.placement_read_failed(batch=run.batch, attempt=run.attempt, message=error.message)
            return "refused"
        services.placement_read(batch=run.batch, attempt=run.attempt, info=info)
        return "read"


@shared_task(name="collections_work.tasks.placement_preview")
def placement_preview(batch_id: int, agency_id: int):
    """Check every row (in the sandbox); the page then shows the counts and the row errors."""
    with tenant_scope(agency_id), jobs.job_run(batch_id, PlacementBatch.Status.VALIDATING) as run:
        if run is None:
            return "skipped"
        batch = run.batch
        name, path = _rejected_path(batch)
        try:
            result = pipeline.preview(batch, path, on_progress=run.beat)
        except IntakeError as error:
            _fail(run, error.message)
            return "failed"
        summary = result.summary | pipeline.matched_on_file(batch, path)
        PlacementBatch.objects.filter(pk=batch.pk, status=PlacementBatch.Status.VALIDATING, attempts=run.attempt).update(
            status=PlacementBatch.Status.PREVIEWED, total_rows=result.total, valid_rows=result.valid,
            invalid_rows=result.invalid, errors_sample=result.errors_sample, rejected_file=name, progress=100,
            error_message="", heartbeat_at=None, check_summary=summary,
            # a batch kind's own figures for its preview (payments: already posted, the total to post)
            **({"options": batch.options | {"preview": result.extra}} if result.extra else {}))
        pipeline.set_progress(batch.pk, "checked", 100)
        return "previewed"


class _Superseded(Exception):
    """The batch was cancelled (or taken over) while this run placed it: roll back."""


@shared_task(name="collections_work.tasks.placement_commit")
def placement_commit(batch_id: int, agency_id: int):
    """Place the valid rows: the accounts and the batch's completion commit together or not at
    all, so a run that dies leaves nothing half-saved and can simply be run again."""
    with tenant_scope(agency_id), jobs.job_run(batch_id, PlacementBatch.Status.COMMITTING) as run:
        if run is None:
            return "skipped"  # a retry after success, a cancelled batch, or a run still alive
        batch = run.batch
        name, path = _rejected_path(batch)

        def finish(result, counts):  # inside the placement's transaction
            done = PlacementBatch.objects.filter(
                pk=batch.pk, status=PlacementBatch.Status.COMMITTING, attempts=run.attempt).update(
                status=PlacementBatch.Status.COMPLETED, total_rows=result.total, valid_rows=result.valid,
                invalid_rows=result.invalid, created_count=counts.created, updated_count=counts.updated,
                skipped_count=counts.skipped, rejected_file=name, progress=100, completed_at=timezone.now(),
                heartbeat_at=None, **({"options": batch.options | {"result": result.extra}} if result.extra else {}))
            if not done:
                raise _Superseded()
            audit_record(action=kinds.audit_action(batch.kind, "completed"), actor=batch.created_by, agency=batch.agency,
                         client=batch.client, obj=batch,
                         after={"created": counts.created, "updated": counts.updated, "skipped": counts.skipped,
                                "rejected": result.invalid, "attempt": run.attempt})

        try:
            pipeline.commit(batch, path, finish=finish, on_progress=run.beat)
        except _Superseded:
            log.warning("Placement %s was cancelled or taken over while placing; rolled back.", batch_id)
            return "superseded"
        except IntakeError as error:
            _fail(run, error.message)
            return "failed"
        except Exception:
            log.exception("Placement %s failed", batch_id)
            kind = pipeline.batch_kind(batch)
            _fail(run, kind.words.get("crashed", "Something went wrong; nothing was written.") if kind else
                  "Something went wrong while placing the accounts; nothing was placed. Check the rows "
                  "again and place them, or upload the file again.")
            raise
        # The accounts were scored by the placement itself (commit.ChunkWriter): no re-score to wait for.
        pipeline.set_progress(batch.pk, "done", 100)
        return "completed"


@shared_task(name="collections_work.tasks.placements_recover_stalled")
def placements_recover_stalled():
    """Beat: placement jobs with no heartbeat (worker killed, hand-off lost) sent again or failed."""
    return jobs.recover_stalled()
