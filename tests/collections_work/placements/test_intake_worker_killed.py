"""Issue 11 case 4: a real Celery worker on Redis and PostgreSQL is killed (SIGKILL) while it
checks or places a file. Nothing is half-saved, and once a new worker (with its beat) is up,
the stalled job is noticed by its silent heartbeat and run again to the end, within the test's
time bound: nobody waits for the broker's one-hour visibility timeout."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import transaction

from collections_work.placements import services
from collections_work.placements.intake import jobs
from collections_work.models import DebtorAccount, PlacementBatch
from portal.models import AuditEvent
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import check, upload
from tests.portal.test_embedded_run import Output, wait_until
from tests.portal.test_worker_services import real_services  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[3]
ROWS = 60_000
STALE_SECONDS = 6
pytestmark = pytest.mark.services


def export(rows: int) -> bytes:
    lines = ["Reference,Debtor name,Email,Phone,Balance,Due date"]
    for n in range(rows):
        amount = "12.3x" if n % 997 == 0 else f"{100 + n % 5000}.25"
        lines.append(f"K-{n:06d},Debtor {n % 20000} LLC,ap{n}@example.test,+1 555 010 {n % 10000:04d},{amount},2024-01-31")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def workers(real_services, tmp_path):  # noqa: F811
    """start(name, beat=False) -> a worker process on the test database and its own Redis db."""
    import redis

    database_url, redis_url = real_services
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORTAL_NO_BOOTSTRAP": "1",
           "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path),
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "INTAKE_CHUNK_ROWS": "2000",
           "INTAKE_JOB_STALE_SECONDS": str(STALE_SECONDS)}
    redis.Redis.from_url(redis_url).flushdb()
    started = []

    def start(name, *, beat=False):
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=INFO",
                   "-n", f"{name}-{os.getpid()}@%h"]
        if beat:
            command += ["-B", "-s", str(tmp_path / "beat-schedule")]
        # Its own process group: with -B the beat is a child process, which the teardown stops too.
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        output = Output(process.stdout)
        started.append(process)
        wait_until(lambda: "ready." in output.text or process.poll() is not None, 60, f"worker {name}")
        assert process.poll() is None, output.text
        return process, output

    # Not the current app: this process's own tasks stay eager (CELERY_TASK_ALWAYS_EAGER).
    probe = Celery("probe", broker=redis_url, backend=redis_url, set_as_current=False)
    probe.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE  # routed as the portal routes
    probe.conf.task_routes = settings.CELERY_TASK_ROUTES
    yield start, probe
    for process in started:
        group = process.pid  # the session leader's pid is its group's id
        _signal_group(group, signal.SIGTERM)  # a warm shutdown finishes the task at hand (rescoring)...
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(group, signal.SIGKILL)  # ...which this test does not need; and no beat is left behind
        process.wait(timeout=10)
    redis.Redis.from_url(redis_url).flushdb()  # the killed worker's unacknowledged message too


def _signal_group(group: int, number: int) -> None:
    try:
        os.killpg(group, number)
    except ProcessLookupError:  # the whole group has exited
        pass


def batch_now(world, batch):
    with tenant_scope(world.alpha.agency):
        return PlacementBatch.objects.get(pk=batch.pk)


def accounts(world, persona):
    with tenant_scope(world.alpha.agency):
        return DebtorAccount.objects.filter(client=persona.client).count()


def readers_of(path: str) -> list[int]:
    """Pids of sandbox children reading `path` (their command line names it)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"collections_work.placements.intake.sandbox" in command and path.encode()[-200:] in command:
                found.append(int(pid))
    return found


@pytest.mark.parametrize("step", ["checking", "placing"])
def test_a_worker_killed_mid_job_leaves_nothing_half_saved_and_the_job_completes_on_a_new_worker(
        step, world, workers, monkeypatch):
    start, client = workers
    persona = world.alpha.clients[0]
    agency = world.alpha.agency

    def to_the_worker(task_name, batch):  # the hand-off goes to the real worker through Redis
        transaction.on_commit(lambda: client.send_task(f"collections_work.tasks.{task_name}",
                                                       args=[batch.pk, batch.agency_id]))

    capture = _immediately
    batch = upload(persona, agency, "export.csv", export(ROWS))
    first, first_output = start("first")
    monkeypatch.setattr(jobs, "after_commit_run", to_the_worker)
    if step == "checking":
        status = PlacementBatch.Status.VALIDATING
        with tenant_scope(agency, persona.client):
            services.placement_set_mapping(agency=agency, actor=persona.admin, batch=batch, mapping=batch.mapping,
                                           options={}, on_duplicate="skip")
    else:
        status = PlacementBatch.Status.COMMITTING
        monkeypatch.undo()  # checked in this process
        batch = check(persona, agency, batch, capture)
        assert batch.status == PlacementBatch.Status.PREVIEWED, batch.error_message
        monkeypatch.setattr(jobs, "after_commit_run", to_the_worker)
        with tenant_scope(agency, persona.client):
            services.placement_commit(agency=agency, actor=persona.admin, batch=batch)

    def midway():
        now = batch_now(world, batch)
        return now.status == status and now.attempts == 1 and 25 <= now.progress < 90

    wait_until(midway, 180, f"the first worker {step} a quarter of the file")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()

    assert batch_now(world, batch).status == status  # it still looks busy...
    assert accounts(world, persona) == 0  # ...but nothing is half-saved
    wait_until(lambda: not readers_of(batch.source_file.path), 5, "the killed worker's reader to die with it")

    _recover_every_two_seconds()
    start("second", beat=True)
    expected = PlacementBatch.Status.PREVIEWED if step == "checking" else PlacementBatch.Status.COMPLETED
    wait_until(lambda: batch_now(world, batch).status in (expected, PlacementBatch.Status.FAILED), 120,
               f"the stalled job to be run again ({first_output.text[-2000:]})")
    done = batch_now(world, batch)
    assert done.status == expected, done.error_message
    assert time.monotonic() - killed_at < 120
    assert done.attempts == 2 and done.heartbeat_at is None
    assert done.invalid_rows == len(range(0, ROWS, 997))
    if step == "placing":
        assert done.created_count == done.valid_rows == ROWS - done.invalid_rows
        assert accounts(world, persona) == done.valid_rows  # all of them, once
    else:
        assert accounts(world, persona) == 0
    with tenant_scope(agency):
        assert AuditEvent.objects.filter(action="placement.resent", object_id=str(batch.pk)).exists()


def _recover_every_two_seconds():
    """The second worker's beat (the database schedule) runs only the recovery of stalled jobs,
    every 2 s, as an administrator could set it in the admin."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.exclude(name="placements-recover-stalled").update(enabled=False)
    PeriodicTask.objects.update_or_create(name="placements-recover-stalled", defaults={
        "task": "collections_work.tasks.placements_recover_stalled", "interval": every, "crontab": None,
        "enabled": True})


def _immediately(execute=True):
    """Stands in for django_capture_on_commit_callbacks in a transactional test: callbacks run
    at commit anyway."""
    from contextlib import nullcontext

    return nullcontext()
