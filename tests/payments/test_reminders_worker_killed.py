"""A worker killed (SIGKILL) in the middle of sending the day's reminders, then a new one: every
installment's reminder arrives once at most; none twice. Real worker on Redis, SMTP on loopback."""
import asyncio
import os
import signal
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from collections_work.models import ContactPolicy
from payments.models import PlanStepSettings
from payments.reminders.services import step_day
from portal.models import OutboundEmail
from portal.tenancy import unscoped
from tests.factories import DebtorAccountFactory
from tests.payments.test_plan_steps import plan_for
from tests.portal.test_embedded_run import free_port, wait_until
from tests.portal.test_worker_services import real_services, start_workers, stop_workers  # noqa: F401

pytestmark = pytest.mark.services
INSTALLMENTS = 60


class SlowMailbox:
    """Takes a little while per message (in the server), so the kill lands mid-run."""

    def __init__(self):
        self.recipients = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.1)
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def slow_smtp():
    mailbox = SlowMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def test_a_worker_killed_mid_run_never_sends_a_reminder_twice(real_services, slow_smtp, tmp_path, world,  # noqa: F811
                                                              monkeypatch):
    _, mailbox = slow_smtp
    monkeypatch.setenv("EMAIL_HANDOFF_LOST_SECONDS", "2")  # the new worker's re-offer comes soon
    alpha = world.alpha
    now = timezone.now()
    with unscoped():
        ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=0, latest_hour=24)
        PlanStepSettings.objects.create(agency=alpha.agency, reminder_days_before=3, due_today_notice=False)
        for number in range(INSTALLMENTS):
            account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference=f"KILL-{number}",
                                           debt_purpose="commercial", contacts=["email"])
            plan_for(alpha, account, [step_day(account.debtor_time_zone, now) + timedelta(days=3)])
    processes, _outputs, client = start_workers(real_services, slow_smtp, tmp_path, ["worker-interactive", "worker-bulk"])
    try:
        client.send_task("payments.tasks.plans_daily")
        wait_until(lambda: len(mailbox.recipients) >= 15, 180, "the first reminders")
        os.kill(processes[1].pid, signal.SIGKILL)  # the bulk worker, mid-batch
        processes[1].wait(timeout=30)
        at_kill = len(mailbox.recipients)
        assert at_kill < INSTALLMENTS, "the run finished before the kill: the test proves nothing"
        fresh, _o, client = start_workers(real_services, slow_smtp, tmp_path, ["worker-bulk"])
        processes += fresh

        def settled():
            client.send_task("portal.tasks.deliver_pending_emails").get(timeout=60)  # beat's minute job
            with unscoped():
                return not OutboundEmail.objects.filter(status__in=["pending", "deferred"]).exists()

        wait_until(settled, 240, "the rest of the reminders")
    finally:
        stop_workers([p for p in processes if p.poll() is None])
    received = mailbox.recipients
    assert len(received) == len(set(received)), "a reminder arrived twice"
    with unscoped():
        states = {state: OutboundEmail.objects.filter(status=state).count() for state in ("sent", "sending")}
    # The one being sent at the kill may stay "sending" (never resent; failed after 10 minutes).
    assert states["sent"] + states["sending"] == INSTALLMENTS and states["sending"] <= 1, states
    assert len(received) >= states["sent"]
