"""Real Celery workers on Redis and PostgreSQL delivering mail to a real SMTP server on loopback:
the send log makes a duplicated task send exactly one message, and a long bulk job on the bulk
queue's worker never delays an interactive task (the worker layout of `manage.py up`)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from django.conf import settings
from django.db import connection

from portal.models import Heartbeat, OutboundEmail
from tests.portal.test_embedded_run import Output, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.services


@pytest.fixture
def real_services(transactional_db):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL and Redis are required for the worker tests in CI")
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL: a worker cannot share SQLite's test database")
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    # A Redis database of its own (no stray tasks): TEST_WORKER_REDIS_URL, else 8 above the one the
    # tests were given, so test runs given different databases do not take each other's tasks.
    base, _, number = settings.REDIS_URL.rpartition("/")
    redis_url = (os.environ.get("TEST_WORKER_REDIS_URL")
                 or f"{base}/{(int(number) + 8) % 16 if number.isdigit() else 14}")
    return database_url, redis_url


def probe_client(redis_url) -> Celery:
    """A Celery client that routes tasks as the portal does (interactive unless named bulk)."""
    # Not the current app: this process's own tasks stay eager (a current probe app would send them to Redis).
    client = Celery("probe", broker=redis_url, backend=redis_url, set_as_current=False)
    client.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    client.conf.task_routes = settings.CELERY_TASK_ROUTES
    return client


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def start_workers(real_services, smtp_server, tmp_path, names):
    """Start the workers of `up` named `names` (portal.management.commands.up.WORKERS); returns
    (processes, their outputs, a probe client)."""
    from portal.management.commands.up import worker_command

    database_url, redis_url = real_services
    controller, _ = smtp_server
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORTAL_NO_BOOTSTRAP": "1",
           "DJANGO_SETTINGS_MODULE": "portal.settings", "EMAIL_HOST": "127.0.0.1",
           "EMAIL_PORT": str(controller.port), "PORTAL_VAR_DIR": str(tmp_path)}
    for queue in (settings.INTERACTIVE_QUEUE, settings.BULK_QUEUE):
        subprocess.run([sys.executable, "-m", "celery", "-A", "portal", "purge", "-f", "-Q", queue], cwd=ROOT,
                       env=env, capture_output=True, check=False)
    processes, outputs = [], []
    for name in names:
        command = [*worker_command(sys.executable, name)]
        command[command.index("-n") + 1] = f"{name}-test-{os.getpid()}@%h"
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        processes.append(process)
        outputs.append(Output(process.stdout))
    for process, output in zip(processes, outputs):
        wait_until(lambda: "ready." in output.text or process.poll() is not None, 90, "a worker")
        assert process.poll() is None, output.text
    return processes, outputs, probe_client(redis_url)


def stop_workers(processes):
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


@pytest.fixture
def worker(real_services, smtp_server, tmp_path):
    processes, _outputs, client = start_workers(real_services, smtp_server, tmp_path, ["worker-interactive"])
    try:
        yield client
    finally:
        stop_workers(processes)


@pytest.fixture
def workers(real_services, smtp_server, tmp_path):
    """Both workers, as `manage.py up` runs them: one for the interactive queue, one for the bulk queue."""
    processes, _outputs, client = start_workers(real_services, smtp_server, tmp_path,
                                                ["worker-interactive", "worker-bulk"])
    try:
        yield client
    finally:
        stop_workers(processes)


def test_a_task_round_trips_through_redis_and_the_worker_writes_to_postgresql(worker):
    assert worker.send_task("portal.tasks.echo", args=["hello"]).get(timeout=60) == "hello"
    assert Heartbeat.objects.filter(name="worker").exists()


def test_a_duplicated_delivery_task_sends_one_email_over_smtp(worker, smtp_server, world):
    _, mailbox = smtp_server
    email = OutboundEmail(agency=world.alpha.agency, idempotency_key="smtp-test:1", to="debtor@example.test",
                          subject="Your statement", body_text="Hello over SMTP")
    email.save(force_insert=True)
    first = worker.send_task("portal.tasks.deliver_email", args=[email.pk, world.alpha.agency.pk])
    second = worker.send_task("portal.tasks.deliver_email", args=[email.pk, world.alpha.agency.pk])
    assert sorted([first.get(timeout=60), second.get(timeout=60)]) == ["sent", "skipped"]
    time.sleep(0.5)
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0].rcpt_tos == ["debtor@example.test"]
    assert b"Hello over SMTP" in mailbox.messages[0].content
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT and email.attempts == 1


SEED_ACCOUNTS = 60_000


def seed_accounts(agency, client, count):
    """`count` open accounts with a stale score (0), written with SQL: a re-score has them all to do."""
    with connection.cursor() as cursor:
        cursor.execute("""INSERT INTO collections_work_debtor (kind, name, tax_id_last4, time_zone, debtor_key,
                              created_at, agency_id, client_id)
                          SELECT 'business', 'Bulk debtor ' || g, '', 'America/New_York', 'bulk-' || g, now(), %s, %s
                          FROM generate_series(1, %s) g""", [agency.pk, client.pk, count])
        cursor.execute("""INSERT INTO collections_work_debtoraccount (debtor_name, debtor_time_zone, client_reference,
                              debt_purpose, status, currency, principal, interest, fees, paid, balance,
                              invoice_number, placed_at, priority, hold_reason, updated_at, agency_id, client_id,
                              debtor_id)
                          SELECT d.name, d.time_zone, 'BULK-' || d.id, 'commercial', 'active', 'USD', 1000, 0, 0, 0,
                                 1000, '', now() - interval '40 days', 0, '', now(), d.agency_id, d.client_id, d.id
                          FROM collections_work_debtor d WHERE d.debtor_key LIKE 'bulk-%%'""")
        cursor.execute("ANALYZE collections_work_debtoraccount")


def test_a_long_bulk_job_never_delays_an_interactive_task(workers, smtp_server, world):
    """A re-score of every account (bulk, re-queued in chunks) is running; an email sent meanwhile
    (interactive) is delivered at once, not after the re-score."""
    from collections_work.models import DebtorAccount
    from portal.tenancy import unscoped

    _, mailbox = smtp_server
    agency = world.alpha.agency
    seed_accounts(agency, world.alpha.clients[0].client, SEED_ACCOUNTS)
    with unscoped():
        stale = DebtorAccount.objects.filter(agency=agency, priority=0)
        assert stale.count() == SEED_ACCOUNTS
        bulk = workers.send_task("collections_work.tasks.worklist_rescore_all", args=[agency.pk, 0])
        wait_until(lambda: stale.count() < SEED_ACCOUNTS, 120, "the re-score to begin")

        email = OutboundEmail(agency=agency, idempotency_key="bulk-test:1", to="debtor@example.test",
                              subject="Your statement", body_text="Sent while a re-score runs")
        email.save(force_insert=True)
        started = time.monotonic()
        sent = workers.send_task("portal.tasks.deliver_email", args=[email.pk, agency.pk]).get(timeout=60)
        waited = time.monotonic() - started
        still_stale = stale.count()
        assert sent == "sent" and len(mailbox.messages) == 1
        assert still_stale > 0, "the re-score finished before the email: the test proves nothing; seed more accounts"
        assert waited < 10, f"the email waited {waited:.1f} s behind the bulk job"
        assert bulk.get(timeout=60) > 0  # the first chunk's count
        wait_until(lambda: stale.count() == 0, 300, "the re-score to finish, chunk after chunk")
