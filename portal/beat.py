"""The default beat schedule: what runs when, until an administrator changes it.

Beat runs with django-celery-beat's DatabaseScheduler: the schedule lives in the database
(Django admin, **Periodic tasks**), where an administrator sees it and changes times, disables
an entry or runs one now. DEFAULT_SCHEDULE is the one place in code that says what the entries
are when the portal is installed: `defaults_install` creates each entry that is missing (a data
migration at install time, and after every `migrate`, so an entry added here later appears on
the next deploy) and never changes one that exists, so an administrator's change survives
upgrades and restarts. CELERY_BEAT_SCHEDULE stays empty on purpose: DatabaseScheduler would
write it over the administrator's changes at every start.

An entry's `schedule` is seconds (an interval) or a `crontab` (times in UTC, CELERY_TIMEZONE).
Jobs that act on a debtor's day (reminders, due and late notices) run hourly and judge each
account by the debtor's local day and contact hours, so "hourly" is not "every hour a message".
To add a job: one line here (a unique name, its task, its schedule).
"""
from celery.schedules import crontab

DEFAULT_SCHEDULE = {
    "heartbeat": {"task": "portal.tasks.record_heartbeat", "schedule": 30.0},
    "deliver-pending-emails": {"task": "portal.tasks.deliver_pending_emails", "schedule": 60.0},
    "worklist-wake-due": {"task": "collections_work.tasks.worklist_wake_due", "schedule": 60.0},
    "promises-mark-broken": {"task": "collections_work.tasks.promises_mark_broken", "schedule": 900.0},
    "signin-failures-prune": {"task": "accounts.tasks.signin_failures_prune", "schedule": 3600.0},
    "worklist-rescore": {"task": "collections_work.tasks.worklist_rescore_all", "schedule": 6 * 3600.0},
    "plans-daily": {"task": "payments.tasks.plans_daily", "schedule": crontab(minute=5)},
    "promise-reminders": {"task": "payments.tasks.promise_reminders", "schedule": crontab(minute=10)},
    "placements-recover-stalled": {"task": "collections_work.tasks.placements_recover_stalled", "schedule": 30.0},
    # Automatic plan payments: the installments whose try is due (the due date at the agency's
    # autopay hour in the debtor's zone; retries per the agency's settings).
    "autopay-due": {"task": "payments.tasks.autopay_due", "schedule": 900.0},
    # Remittance statements: a client gets last month's once its remittance day has come (the
    # agency's date); a missed run is caught up by the next.
    "statements-monthly": {"task": "payments.tasks.statements_monthly", "schedule": crontab(minute=7)},
    # Debtor statements for plans: 17:15 UTC (midday in the US); later runs catch up.
    "debtor-statements-monthly": {"task": "payments.tasks.debtor_statements_monthly",
                                  "schedule": crontab(hour=17, minute=15)},
    # The day's print batch of letters: 22:00 UTC, after the US working day's letters are queued.
    "letters-print-batches": {"task": "collections_work.letters.print_batches", "schedule": crontab(hour=22, minute=0)},
}


def _interval(apps, seconds: float):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    every = max(int(seconds), 1)
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
    return {"interval": interval}


def _crontab(apps, schedule: crontab):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    fields = {"minute": schedule._orig_minute, "hour": schedule._orig_hour,
              "day_of_week": schedule._orig_day_of_week, "day_of_month": schedule._orig_day_of_month,
              "month_of_year": schedule._orig_month_of_year}
    fields = {name: str(value) for name, value in fields.items()}
    found = CrontabSchedule.objects.filter(**fields, timezone="UTC").first()
    return {"crontab": found or CrontabSchedule.objects.create(**fields, timezone="UTC")}


def defaults_install(apps=None, schedule=None) -> list[str]:
    """Create every entry of `schedule` (DEFAULT_SCHEDULE) that has no row yet, by name; an
    existing row (possibly changed by an administrator) is left as it is. `apps`: a migration's
    app registry, or None for the current models. Returns the names created."""
    if apps is None:
        from django.apps import apps as current_apps

        apps = current_apps
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule = DEFAULT_SCHEDULE if schedule is None else schedule
    existing = set(PeriodicTask.objects.filter(name__in=list(schedule)).values_list("name", flat=True))
    created = []
    for name, entry in schedule.items():
        if name in existing:
            continue
        when = entry["schedule"]
        kind = _crontab(apps, when) if isinstance(when, crontab) else _interval(apps, float(when))
        PeriodicTask.objects.create(name=name, task=entry["task"], enabled=True,
                                    description="Portal default (portal/beat.py)", **kind)
        created.append(name)
    if created:
        _schedule_changed(apps)
    return created


def _schedule_changed(apps):
    """Tell a running DatabaseScheduler to reload (it watches this row)."""
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def install_after_migrate(sender, **kwargs):
    """post_migrate: entries added to DEFAULT_SCHEDULE after the first install appear too."""
    from django.db import DEFAULT_DB_ALIAS

    if kwargs.get("using", DEFAULT_DB_ALIAS) != DEFAULT_DB_ALIAS:
        return
    try:
        defaults_install()
    except Exception:  # noqa: BLE001 - the beat tables are not there (migrating backwards, partial runs)
        import logging

        logging.getLogger(__name__).warning("Default beat schedule not installed", exc_info=True)
