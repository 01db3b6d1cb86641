"""Scheduled work exactly once, with the real parts: two beat schedulers (DatabaseScheduler) fire
the daily plan steps at the same time, every second, through Redis to the real workers of `up`,
which deliver to an SMTP server on loopback; each installment's reminder arrives once."""
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from collections_work.models import ContactPolicy
from payments.models import PlanStepSettings
from payments.reminders.services import step_day
from portal.management.commands.up import beat_command
from portal.models import OutboundEmail
from portal.tenancy import unscoped
from tests.factories import DebtorAccountFactory
from tests.payments.test_plan_steps import plan_for
from tests.portal.test_embedded_run import Output, wait_until
from tests.portal.test_worker_services import ROOT, real_services, smtp_server, start_workers, stop_workers  # noqa: F401

pytestmark = pytest.mark.services
INSTALLMENTS = 40
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu")


def beat_env(services, tmp_path):
    database_url, redis_url = services
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORTAL_NO_BOOTSTRAP": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}


def test_two_beat_schedulers_at_once_send_one_reminder_per_installment(real_services, smtp_server, tmp_path,  # noqa: F811
                                                                        world):
    _, mailbox = smtp_server
    alpha = world.alpha
    now = timezone.now()
    with unscoped():
        ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=0, latest_hour=24)
        PlanStepSettings.objects.create(agency=alpha.agency, reminder_days_before=3, due_today_notice=False)
        for number in range(INSTALLMENTS):
            zone = ZONES[number % len(ZONES)]
            account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference=f"BEAT-{number}",
                                           debt_purpose="commercial", contacts=["email"], debtor__time_zone=zone)
            plan_for(alpha, account, [step_day(zone, now) + timedelta(days=3)], amount=str(Decimal(50 + number)))
        # Only the plan steps run, every second, in both schedulers
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
        PeriodicTask.objects.exclude(name="plans-daily").update(enabled=False)
        PeriodicTask.objects.filter(name="plans-daily").update(interval=every_second, crontab=None)

    processes, outputs, _client = start_workers(real_services, smtp_server, tmp_path,
                                                ["worker-interactive", "worker-bulk"])
    beats = []
    try:
        for index in range(2):
            command = beat_command(sys.executable) + ["--pidfile", str(tmp_path / f"beat{index}.pid")]
            beat = subprocess.Popen(command, cwd=ROOT, env=beat_env(real_services, tmp_path), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
            beats.append((beat, Output(beat.stdout)))
        bulk_output = outputs[1]

        def runs():
            return bulk_output.text.count("Task payments.tasks.plans_daily[") // 2  # "received" and "succeeded"

        wait_until(lambda: len(mailbox.messages) >= INSTALLMENTS, 180, "every reminder to arrive")
        # Both schedulers keep firing: let the job run many more times over the same day
        seen = runs()
        wait_until(lambda: runs() >= seen + 10, 120, "ten more runs of the plan steps")
        assert all("Sending due task plans-daily" in output.text for _beat, output in beats), \
            "both schedulers must have sent the job"
    finally:
        for beat, _output in beats:
            beat.terminate()
        for beat, _output in beats:
            beat.wait(timeout=30)
        stop_workers(processes)
    recipients = [tuple(message.rcpt_tos) for message in mailbox.messages]
    assert len(recipients) == INSTALLMENTS, f"{len(recipients) - INSTALLMENTS} duplicates"
    assert len(set(recipients)) == INSTALLMENTS
    with unscoped():
        assert OutboundEmail.objects.filter(kind="installment_reminder", status="sent").count() == INSTALLMENTS
