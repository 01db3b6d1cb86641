"""Beat's schedule lives in the database (django-celery-beat): the defaults come from one dict in
code (portal/beat.py), are created by a migration, shown in the Django admin, and an
administrator's change survives restarts and upgrades."""
import pytest
from celery.schedules import crontab
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from portal.beat import DEFAULT_SCHEDULE, defaults_install
from portal.celery import app
from portal.management.commands.up import beat_command


@pytest.mark.django_db
def test_every_default_entry_is_in_the_database_after_migrate():
    rows = {task.name: task for task in PeriodicTask.objects.all()}
    assert set(DEFAULT_SCHEDULE) <= set(rows)
    assert rows["heartbeat"].interval.every == 30 and rows["heartbeat"].interval.period == "seconds"
    assert rows["plans-daily"].crontab.minute == "5" and rows["plans-daily"].crontab.hour == "*"
    assert all(rows[name].task == entry["task"] and rows[name].enabled for name, entry in DEFAULT_SCHEDULE.items())


@pytest.mark.django_db
def test_an_administrators_change_survives_a_new_install_and_a_new_entry_appears():
    # Given an administrator moved the plan steps and disabled the re-score
    task = PeriodicTask.objects.get(name="plans-daily")
    task.crontab.minute, task.crontab.hour = "30", "6"
    task.crontab.save()
    PeriodicTask.objects.filter(name="worklist-rescore").update(enabled=False)
    # When the defaults are installed again (the next deploy's migrate), with one entry added in code
    added = {**DEFAULT_SCHEDULE, "echo-at-four": {"task": "portal.tasks.echo", "schedule": crontab(minute=0, hour=4)}}
    created = defaults_install(schedule=added)
    # Then only the new entry was created; the changes stand
    assert created == ["echo-at-four"]
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour) == ("30", "6")
    assert not PeriodicTask.objects.get(name="worklist-rescore").enabled
    assert PeriodicTask.objects.get(name="echo-at-four").crontab.hour == "4"


@pytest.mark.django_db
def test_the_database_scheduler_runs_the_database_entries_and_writes_nothing_over_them():
    PeriodicTask.objects.filter(name="heartbeat").update(enabled=False)
    assert settings.CELERY_BEAT_SCHEDULE == {}  # nothing for DatabaseScheduler to write over the admin's rows
    scheduler = DatabaseScheduler(app=app, lazy=True)
    scheduler._finalize.cancel()  # its exit-time sync would run after the test database is gone
    names = set(scheduler.all_as_schedule())
    assert "plans-daily" in names and "deliver-pending-emails" in names
    assert "heartbeat" not in names  # disabled in the admin: beat does not run it
    assert not PeriodicTask.objects.get(name="heartbeat").enabled


def test_up_and_compose_run_beat_with_the_database_scheduler():
    from pathlib import Path

    assert beat_command("python")[-2:] == ["-S", "django_celery_beat.schedulers:DatabaseScheduler"]
    compose = (Path(settings.BASE_DIR) / "docker-compose.yml").read_text()
    assert "beat --loglevel=INFO -S django_celery_beat.schedulers:DatabaseScheduler" in compose


def test_the_admin_lists_the_periodic_tasks(admin_client):
    page = admin_client.get("/admin/django_celery_beat/periodictask/")
    assert page.status_code == 200
    assert b"plans-daily" in page.content and b"deliver-pending-emails" in page.content


def test_redis_hands_a_task_to_another_worker_only_after_the_longest_countdown():
    """A task with a countdown waits in Redis unacknowledged; were the visibility timeout shorter
    than the countdown, Redis would deliver it a second time. The longest countdown is an email's
    last retry; deferrals use none (beat re-offers them)."""
    from portal.tasks import retry_delay

    longest = retry_delay(settings.EMAIL_MAX_ATTEMPTS - 1).total_seconds()
    assert settings.CELERY_VISIBILITY_TIMEOUT > longest * 2
    if settings.REDIS_URL:
        from portal import settings as production

        assert production.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
