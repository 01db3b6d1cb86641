"""Long placement jobs: heartbeats, a worker that dies, a hand-off lost while the broker is
down, a stuck placement the user cancels. (tests/collections_work/test_intake_worker_killed.py
kills a real worker.)"""
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.utils import timezone
from kombu.exceptions import OperationalError

from collections_work.placements import services, tasks
from collections_work.placements.intake import jobs, pipeline
from collections_work.models import DebtorAccount, PlacementBatch
from portal.errors import DomainError
from portal.models import AuditEvent
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import check, upload

CSV = b"Reference,Debtor name,Balance\n" + b"".join(b"R-%d,Debtor %d,%d.00\n" % (n, n, n + 1) for n in range(40))
LATER = timedelta(seconds=91)  # past INTAKE_JOB_STALE_SECONDS


@pytest.fixture
def persona(world):
    return world.alpha.clients[0]


def checked(persona, world, capture):
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "export.csv", CSV), capture)
    assert batch.status == PlacementBatch.Status.PREVIEWED
    return batch


def refreshed(world, batch):
    with tenant_scope(world.alpha.agency):
        batch.refresh_from_db()
    return batch


def placed(world):
    with tenant_scope(world.alpha.agency):
        return DebtorAccount.objects.count()


def recover(capture, now):
    with capture(execute=True):
        return jobs.recover_stalled(now=now)


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the task catches it, no failure is recorded."""


def die_after_first_chunk(monkeypatch):
    real_scan = pipeline.scan_rows

    def scan_and_die(*args, on_valid, **kwargs):
        def write_then_die(records):
            on_valid(records)
            raise WorkerKilled()
        return real_scan(*args, on_valid=write_then_die, **kwargs)

    monkeypatch.setattr(pipeline, "scan_rows", scan_and_die)


def test_a_hand_off_lost_while_the_broker_is_down_is_found_and_sent_again(
        world, persona, signed_in, monkeypatch, django_capture_on_commit_callbacks):
    batch = upload(persona, world.alpha.agency, "export.csv", CSV)
    browser = signed_in(persona.admin)

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.placement_preview, "delay", broker_down)
    data = {f"map_{field}": str(index) for field, index in batch.mapping.items()} | {
        "amount_format": "dot", "date_format": "%m/%d/%Y", "default_debt_purpose": "unknown", "on_duplicate": "skip"}
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/placements/{batch.pk}/mapping/", data)
    assert response.status_code == 302  # saved, not a 500
    assert refreshed(world, batch).status == PlacementBatch.Status.VALIDATING
    assert "Checking every row…" in browser.get(f"/placements/{batch.pk}/").content.decode()

    monkeypatch.undo()  # the broker is back
    assert recover(django_capture_on_commit_callbacks, timezone.now()) == {"resent": 0, "failed": 0}  # too soon
    assert recover(django_capture_on_commit_callbacks, timezone.now() + LATER) == {"resent": 1, "failed": 0}
    batch = refreshed(world, batch)
    assert (batch.status, batch.valid_rows, batch.attempts) == (PlacementBatch.Status.PREVIEWED, 40, 1)
    with tenant_scope(world.alpha.agency):
        assert AuditEvent.objects.filter(action="placement.resent", object_id=str(batch.pk)).exists()


def test_a_placement_whose_worker_died_is_placed_again_completely_and_once(
        world, persona, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.INTAKE_CHUNK_ROWS = 10
    batch = checked(persona, world, django_capture_on_commit_callbacks)
    with tenant_scope(world.alpha.agency, persona.client), django_capture_on_commit_callbacks() as handed_off:
        services.placement_commit(agency=world.alpha.agency, actor=persona.admin, batch=batch)
    die_after_first_chunk(monkeypatch)
    with pytest.raises(WorkerKilled):
        handed_off[0]()  # the worker runs it, writes a chunk and is killed
    batch = refreshed(world, batch)
    assert (batch.status, batch.attempts) == (PlacementBatch.Status.COMMITTING, 1)
    assert placed(world) == 0  # nothing half-saved

    monkeypatch.undo()
    assert recover(django_capture_on_commit_callbacks, timezone.now() + LATER) == {"resent": 1, "failed": 0}
    batch = refreshed(world, batch)
    assert (batch.status, batch.created_count, batch.attempts) == (PlacementBatch.Status.COMPLETED, 40, 2)
    assert placed(world) == 40
    with tenant_scope(world.alpha.agency):
        completed = AuditEvent.objects.filter(action="placement.completed", object_id=str(batch.pk))
        assert [event.after["attempt"] for event in completed] == [2]
    assert recover(django_capture_on_commit_callbacks, timezone.now() + 2 * LATER) == {"resent": 0, "failed": 0}


def test_a_check_whose_worker_died_is_checked_again(world, persona, monkeypatch, settings,
                                                   django_capture_on_commit_callbacks):
    batch = upload(persona, world.alpha.agency, "export.csv", CSV)
    with tenant_scope(world.alpha.agency, persona.client), django_capture_on_commit_callbacks() as handed_off:
        services.placement_set_mapping(agency=world.alpha.agency, actor=persona.admin, batch=batch,
                                       mapping=batch.mapping, options={}, on_duplicate="skip")
    def killed(*args, **kwargs):
        raise WorkerKilled()

    monkeypatch.setattr(pipeline.sandbox, "run", killed)
    with pytest.raises(WorkerKilled):
        handed_off[0]()
    assert refreshed(world, batch).status == PlacementBatch.Status.VALIDATING
    monkeypatch.undo()
    recover(django_capture_on_commit_callbacks, timezone.now() + LATER)
    assert refreshed(world, batch).status == PlacementBatch.Status.PREVIEWED


def test_a_job_that_keeps_dying_fails_with_a_message_and_the_rows_can_be_checked_again(
        world, persona, signed_in, django_capture_on_commit_callbacks):
    batch = checked(persona, world, django_capture_on_commit_callbacks)
    with tenant_scope(world.alpha.agency, persona.client), django_capture_on_commit_callbacks():
        services.placement_commit(agency=world.alpha.agency, actor=persona.admin, batch=batch)
        PlacementBatch.objects.filter(pk=batch.pk).update(attempts=3)  # three runs started and died
    assert recover(django_capture_on_commit_callbacks, timezone.now() + LATER) == {"resent": 0, "failed": 1}
    batch = refreshed(world, batch)
    assert batch.status == PlacementBatch.Status.FAILED
    assert batch.error_message.startswith("The worker stopped 3 times while placing the accounts; nothing was placed.")
    assert placed(world) == 0
    browser = signed_in(persona.admin)
    page = browser.get(f"/placements/{batch.pk}/").content.decode()
    assert "The worker stopped 3 times" in page and "Check the rows again" in page
    assert "Match your columns" in browser.get(f"/placements/{batch.pk}/mapping/").content.decode()


def test_a_live_placement_is_left_alone_and_a_stalled_one_can_be_cancelled(
        world, persona, signed_in, django_capture_on_commit_callbacks):
    batch = checked(persona, world, django_capture_on_commit_callbacks)
    with tenant_scope(world.alpha.agency, persona.client), django_capture_on_commit_callbacks():
        services.placement_commit(agency=world.alpha.agency, actor=persona.admin, batch=batch)
    browser = signed_in(persona.admin)
    assert recover(django_capture_on_commit_callbacks, timezone.now()) == {"resent": 0, "failed": 0}
    page = browser.get(f"/placements/{batch.pk}/").content.decode()
    assert "the work carries on" in page and "has stopped" not in page
    with tenant_scope(world.alpha.agency, persona.client), pytest.raises(DomainError, match="being placed right now"):
        services.placement_cancel(agency=world.alpha.agency, actor=persona.admin, batch=batch)

    with tenant_scope(world.alpha.agency):  # no sign of life for two minutes
        PlacementBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=2))
    page = browser.get(f"/placements/{batch.pk}/progress/").content.decode()
    assert "The work on this file has stopped" in page and "Cancel this placement" in page
    browser.post(f"/placements/{batch.pk}/cancel/")
    assert refreshed(world, batch).status == PlacementBatch.Status.CANCELLED
    assert recover(django_capture_on_commit_callbacks, timezone.now() + LATER) == {"resent": 0, "failed": 0}


def test_reading_and_checking_can_be_cancelled_and_their_result_is_dropped(world, persona,
                                                                           django_capture_on_commit_callbacks):
    agency = world.alpha.agency
    with tenant_scope(agency, persona.client), django_capture_on_commit_callbacks() as handed_off:
        from django.core.files.uploadedfile import SimpleUploadedFile

        batch = services.placement_upload(agency=agency, actor=persona.admin, client=persona.client,
                                          uploaded_file=SimpleUploadedFile("export.csv", CSV))
        services.placement_cancel(agency=agency, actor=persona.admin, batch=batch)
    handed_off[0]()  # the worker gets to it after the cancel
    assert refreshed(world, batch).status == PlacementBatch.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_heartbeats_and_progress_are_saved_while_the_rows_are_checked(world, persona, settings, monkeypatch):
    settings.INTAKE_CHUNK_ROWS = 500
    monkeypatch.setattr(jobs, "BEAT_SECONDS", 0)
    rows = b"".join(b"R-%d,Debtor %d with a longer name,%d.00\n" % (n, n, n + 1) for n in range(8000))
    batch = upload(persona, world.alpha.agency, "export.csv", b"Reference,Debtor name,Balance\n" + rows)
    seen = []
    real_beat = jobs.JobRun.beat

    def beat_and_look(run, percent=None, **kwargs):
        real_beat(run, percent, **kwargs)
        with tenant_scope(world.alpha.agency):
            seen.append(PlacementBatch.objects.values_list("heartbeat_at", "progress").get(pk=run.batch.pk))

    monkeypatch.setattr(jobs.JobRun, "beat", beat_and_look)
    check(persona, world.alpha.agency, batch, lambda execute: TestCase.captureOnCommitCallbacks(execute=execute))
    assert len(seen) > 5
    assert len({heartbeat for heartbeat, _ in seen}) > 5  # a heartbeat after every chunk
    assert 0 < seen[2][1] < seen[-3][1] < 100  # and the progress moves


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_a_second_run_does_not_start_while_the_first_holds_the_lock(world, persona, django_capture_on_commit_callbacks):
    import psycopg2

    batch = upload(persona, world.alpha.agency, "export.csv", CSV)
    with tenant_scope(world.alpha.agency, persona.client), django_capture_on_commit_callbacks():
        services.placement_set_mapping(agency=world.alpha.agency, actor=persona.admin, batch=batch,
                                       mapping=batch.mapping, options={}, on_duplicate="skip")
    db = connection.settings_dict
    other = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"] or None,
                             port=db["PORT"] or None)
    try:
        with other.cursor() as cursor:  # the first run, alive in another worker
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", jobs._lock_key(batch.pk))
        with tenant_scope(world.alpha.agency):
            PlacementBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
            assert not jobs.is_stalled(refreshed(world, batch))  # silent, but its lock says it is alive
        assert tasks.placement_preview(batch.pk, world.alpha.agency.pk) == "skipped"
        assert recover(django_capture_on_commit_callbacks, timezone.now()) == {"resent": 0, "failed": 0}
        batch = refreshed(world, batch)
        assert (batch.status, batch.attempts) == (PlacementBatch.Status.VALIDATING, 0)
    finally:
        other.close()
    for _ in range(40):  # the lock goes with the connection, as the server notices it closed
        if jobs.is_stalled(refreshed(world, batch)):
            break
        time.sleep(0.05)
    assert jobs.is_stalled(refreshed(world, batch))
    assert tasks.placement_preview(batch.pk, world.alpha.agency.pk) == "previewed"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pipelined writer is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_placement_cancelled_while_its_stalled_run_still_writes_places_nothing(world, persona, settings,
                                                                                monkeypatch):
    """The accounts and the batch's completion commit together: a run that finishes after the
    batch was cancelled (it looked stalled) rolls everything back."""
    settings.INTAKE_PIPELINED = True
    settings.INTAKE_CHUNK_ROWS = 10
    capture = TestCase.captureOnCommitCallbacks
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "export.csv", CSV),
                  lambda execute: capture(execute=execute))
    handed_off = []
    monkeypatch.setattr(jobs, "after_commit_run", lambda task_name, batch: handed_off.append(task_name))
    with tenant_scope(world.alpha.agency, persona.client):
        services.placement_commit(agency=world.alpha.agency, actor=persona.admin, batch=batch)
    real_scan = pipeline.scan_rows

    def cancel_midway(*args, on_valid, **kwargs):
        def write(records):
            on_valid(records)
            with tenant_scope(world.alpha.agency):  # the user cancels from the page meanwhile
                PlacementBatch.objects.filter(pk=batch.pk).update(status=PlacementBatch.Status.CANCELLED)
        return real_scan(*args, on_valid=write, **kwargs)

    monkeypatch.setattr(pipeline, "scan_rows", cancel_midway)
    assert tasks.placement_commit(batch.pk, world.alpha.agency.pk) == "superseded"
    assert handed_off == ["placement_commit"]
    assert refreshed(world, batch).status == PlacementBatch.Status.CANCELLED
    assert placed(world) == 0
