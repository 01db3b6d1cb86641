"""Long placement jobs (reading, checking, placing): heartbeats, one run at a time, and the
recovery of jobs whose worker died or whose hand-off to the worker was lost.

- A busy batch's `heartbeat_at` is set when the job is handed to the worker, when a run starts,
  after every chunk of rows and every few seconds in between. Inside the placement's own
  transaction (SQLite, or the non-pipelined writer) a row update would not be seen, so the
  heartbeat also goes to the cache.
- A run claims its batch: on PostgreSQL it first takes a session advisory lock on the batch
  (released when the run ends, or by the server when the worker's connection drops), so a second
  run of the same job never starts while the first is alive; then it counts itself in `attempts`.
- `recover_stalled` (beat, every INTAKE_JOB_STALE_SECONDS / 3) finds busy batches with no
  heartbeat for INTAKE_JOB_STALE_SECONDS and no live run (lock): it sends the job to the worker
  again, which is safe because each step is all or nothing (placing commits the accounts and the
  batch's completion in one transaction), or, after INTAKE_JOB_MAX_ATTEMPTS runs that started
  and died, fails the batch with a message. A hand-off lost while the broker was down is found
  the same way and sent again once it is back.
"""
import logging
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from collections_work.models import PlacementBatch
from collections_work.placements.intake import kinds
from portal.audit import audit_record
from portal.celery import app as celery_app
from portal.tenancy import tenant_scope, unscoped

log = logging.getLogger(__name__)
LOCK_CLASS = 0x1A7E  # advisory lock key space (first int) of placement jobs; the batch id is the second
BEAT_SECONDS = 5.0  # between heartbeats when no chunk has been finished
# Each busy status's worker task (by its registered name: placements.tasks imports this module)
# and what it does, for messages.
STEPS = {PlacementBatch.Status.READING: ("collections_work.tasks.placement_inspect", "reading the file"),
         PlacementBatch.Status.VALIDATING: ("collections_work.tasks.placement_preview", "checking the rows"),
         PlacementBatch.Status.COMMITTING: ("collections_work.tasks.placement_commit", "placing the accounts")}


def _beat_key(batch_id: int, status: str) -> str:
    return f"intake-heartbeat:{batch_id}:{status}"  # per step: the last step's beats say nothing of this one


def _lock_key(batch_id: int) -> tuple[int, int]:
    return LOCK_CLASS, batch_id % 2_147_483_647


# --- A run ----------------------------------------------------------------------------------

class JobRun:
    """The run of one step on one batch: `batch` as claimed, `attempt` (1 for the first run),
    and `beat(percent)`, called as the work goes on."""

    def __init__(self, batch):
        self.batch = batch
        self.attempt = batch.attempts
        self.status = batch.status
        self._last_beat = time.monotonic()

    def beat(self, percent: int | None = None, *, force: bool = False) -> None:
        """A heartbeat (and the step's progress): at most every BEAT_SECONDS unless `percent`
        changed or `force`; never raises (a cache or database hiccup must not stop the job)."""
        now = time.monotonic()
        if not force and percent is None and now - self._last_beat < BEAT_SECONDS:
            return
        self._last_beat = now
        if percent is not None:
            from collections_work.placements.intake.pipeline import set_progress

            set_progress(self.batch.pk, self.status, percent)
        try:
            cache.set(_beat_key(self.batch.pk, self.status), time.time(), timeout=24 * 3600)
        except Exception as error:  # noqa: BLE001
            log.warning("Heartbeat of placement %s not cached: %s", self.batch.pk, error)
        if connection.in_atomic_block:
            return  # inside the placement's transaction: nobody would see the row change yet
        changes = {"heartbeat_at": timezone.now()}
        if percent is not None:
            changes["progress"] = max(0, min(int(percent), 100))
        try:
            PlacementBatch.objects.filter(pk=self.batch.pk, status=self.status).update(**changes)
        except Exception as error:  # noqa: BLE001
            log.warning("Heartbeat of placement %s not saved: %s", self.batch.pk, error)


@contextmanager
def job_run(batch_id: int, status: str):
    """Claim the batch for one run of the step `status` (inside its tenant scope). Yields a
    JobRun, or None when there is nothing to do: the batch has moved on (done, cancelled) or
    another run of it is alive."""
    if not _try_lock(batch_id):
        log.info("Placement %s: another run is alive; this one stops.", batch_id)
        yield None
        return
    try:
        with transaction.atomic():
            claimed = PlacementBatch.objects.filter(pk=batch_id, status=status).update(
                attempts=F("attempts") + 1, heartbeat_at=timezone.now(), progress=0)
        if not claimed:
            yield None
            return
        run = JobRun(PlacementBatch.objects.get(pk=batch_id))
        run.beat(0, force=True)
        yield run
    finally:
        _unlock(batch_id)


def _try_lock(batch_id: int) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: one worker process runs one job at a time
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _lock_key(batch_id))
        return cursor.fetchone()[0]


def _unlock(batch_id: int) -> None:
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _lock_key(batch_id))
    except Exception as error:  # noqa: BLE001 - the connection is gone, and the lock with it
        log.warning("Placement %s: advisory lock not released (%s); the server drops it with the connection.",
                    batch_id, error)


def _lock_held(batch_id: int) -> bool:
    """Whether some session (a live run) holds the batch's advisory lock."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                       "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                       "AND classid = %s AND objid = %s AND objsubid = 2)", _lock_key(batch_id))
        return cursor.fetchone()[0]


# --- Is it alive? ---------------------------------------------------------------------------

def last_sign_of_life(batch):
    """The later of the batch's heartbeat_at and its cached heartbeat (None if neither)."""
    seen = batch.heartbeat_at
    try:
        cached = cache.get(_beat_key(batch.pk, batch.status))
    except Exception:  # noqa: BLE001
        cached = None
    if cached is not None:
        cached = datetime.fromtimestamp(cached, tz=dt_timezone.utc)
        seen = cached if seen is None else max(seen, cached)
    return seen


def is_stalled(batch, now=None) -> bool:
    """A busy batch with no sign of life for INTAKE_JOB_STALE_SECONDS and no live run."""
    if not batch.is_busy:
        return False
    now = now or timezone.now()
    seen = last_sign_of_life(batch)
    if seen is not None and now - seen < timedelta(seconds=settings.INTAKE_JOB_STALE_SECONDS):
        return False
    return not _lock_held(batch.pk)


# --- Recovery -------------------------------------------------------------------------------

def mark_busy(batch, status: str) -> None:
    """Put `batch` (locked, in the caller's transaction) in the busy `status`, its heartbeat the
    hand-off time: if the job never reaches the worker (broker down), recover_stalled sends it
    again once INTAKE_JOB_STALE_SECONDS have passed."""
    batch.status, batch.progress, batch.attempts, batch.heartbeat_at = status, 0, 0, timezone.now()
    batch.save(update_fields=["status", "progress", "attempts", "heartbeat_at"])


def send_on_commit(batch, status: str) -> None:
    """Send the job of `status` for `batch` once the transaction commits; a failed send (broker
    down) is logged, not raised, and found again by recover_stalled."""
    task_name = STEPS[status][0].rsplit(".", 1)[-1]
    transaction.on_commit(lambda: after_commit_run(task_name, batch), robust=True)


def after_commit_run(task_name: str, batch) -> None:
    """Queue the worker step `task_name` (e.g. "placement_commit") for `batch`. The one place a
    step leaves for the broker: tests and bench/intake.py replace it to run steps elsewhere."""
    celery_app.tasks[f"collections_work.tasks.{task_name}"].delay(batch.pk, batch.agency_id)


def recover_stalled(now=None) -> dict:
    """Send stalled jobs to the worker again, or fail those that died too often. Returns how
    many of each, e.g. {"resent": 1, "failed": 0}."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INTAKE_JOB_STALE_SECONDS)
    with unscoped():
        candidates = list(PlacementBatch.objects.filter(status__in=PlacementBatch.BUSY_STATUSES)
                          .exclude(heartbeat_at__gte=cutoff).order_by("pk")[:200])
    done = {"resent": 0, "failed": 0}
    for batch in candidates:
        if not is_stalled(batch, now):
            continue
        with tenant_scope(batch.agency_id), transaction.atomic():
            same = PlacementBatch.objects.filter(pk=batch.pk, status=batch.status, attempts=batch.attempts,
                                                 heartbeat_at=batch.heartbeat_at)
            action, what = STEPS[batch.status]
            if batch.attempts >= settings.INTAKE_JOB_MAX_ATTEMPTS:
                message = (f"The worker stopped {batch.attempts} times while {what}; nothing was placed. "
                           + ("Upload the file again, or split it into smaller files."
                              if batch.status == PlacementBatch.Status.READING else
                              "Check the rows again, or split the file into smaller ones."))
                if same.update(status=PlacementBatch.Status.FAILED, error_message=message, heartbeat_at=None):
                    audit_record(action=kinds.audit_action(batch.kind, "stalled_failed"), agency=batch.agency, client=batch.client,
                                 obj=batch, after={"step": batch.status, "attempts": batch.attempts})
                    done["failed"] += 1
                continue
            if same.update(heartbeat_at=now):
                audit_record(action=kinds.audit_action(batch.kind, "resent"), agency=batch.agency, client=batch.client, obj=batch,
                             after={"step": batch.status, "attempts": batch.attempts,
                                    "silent_since": batch.heartbeat_at.isoformat() if batch.heartbeat_at else None})
                send_on_commit(batch, batch.status)
                done["resent"] += 1
    if done["resent"] or done["failed"]:
        log.warning("Stalled placement jobs: %s", done)
    return done
