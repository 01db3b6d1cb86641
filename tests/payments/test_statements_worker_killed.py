"""The fault test of issue 15: the bulk Celery worker (Redis and PostgreSQL, as `up` runs it) is
killed (SIGKILL) in the middle of a statement run, and a new one started; the next run of
statements_monthly (beat runs it hourly) hands out what is missing. Every client gets exactly one
remittance statement and its admin exactly one email, sent by the interactive worker (which is
not killed, as in `up`) and received by a real SMTP server on loopback."""
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Client, ContractTerms, Role
from payments.models import RemittanceStatement
from portal.models import OutboundEmail
from portal.tenancy import unscoped
from tests.factories import ClientFactory, DebtorAccountFactory
from tests.personas import _member
from tests.portal.test_embedded_run import Output, wait_until
from tests.portal.test_worker_services import Mailbox, probe_client, real_services  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
EXTRA_CLIENTS = 36
pytestmark = pytest.mark.services


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    from portal.stripe_server import free_port

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def worker_processes(real_services, smtp_server, tmp_path):  # noqa: F811
    """start(name, queue, beat=False) -> a solo worker on one queue, in its own process group."""
    import redis

    database_url, redis_url = real_services
    controller, _ = smtp_server
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORTAL_NO_BOOTSTRAP": "1",
           "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp_path),
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(controller.port)}
    redis.Redis.from_url(redis_url).flushdb()
    started = []

    def start(name, queue, *, beat=False):
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=INFO",
                   "-Q", queue, "-n", f"{name}-{os.getpid()}@%h"]
        if beat:
            command += ["-B", "-s", str(tmp_path / "beat-schedule")]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        output = Output(process.stdout)
        output.process = process
        started.append(process)
        wait_until(lambda: "ready." in output.text or process.poll() is not None, 60, f"worker {name}")
        assert process.poll() is None, output.text
        return process, output

    yield start, probe_client(redis_url)
    for process in started:
        for number in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, number)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue
    redis.Redis.from_url(redis_url).flushdb()


def counts():
    with unscoped():
        return (RemittanceStatement.objects.count(),
                OutboundEmail.objects.filter(idempotency_key__startswith="statement:").count(),
                OutboundEmail.objects.filter(idempotency_key__startswith="statement:", status="sent").count())


def stacks(*outputs) -> str:
    """What each live worker is doing (Celery logs every thread's stack on SIGUSR1) and what
    PostgreSQL's sessions wait for: the message a timeout fails with."""
    logged = [len(output.lines) for output in outputs]
    for output in outputs:
        if output.process.poll() is None:
            os.kill(output.process.pid, signal.SIGUSR1)
    time.sleep(2)
    reports = ["".join(output.lines[:count])[-2000:] + "\n--- its threads:\n" + "".join(output.lines[count:])[:20000]
               for output, count in zip(outputs, logged)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        sessions = "\n".join(map(str, cursor.fetchall()))
    return "\n".join(reports) + "\n--- sessions:\n" + sessions


def test_a_worker_killed_mid_statement_run_leaves_every_client_one_statement_and_one_email(
        world, worker_processes, smtp_server):
    start, broker = worker_processes
    _, mailbox = smtp_server
    agency = world.alpha.agency
    for n in range(EXTRA_CLIENTS):
        extra = ClientFactory(agency=agency, name=f"Statement client {n:02d}")
        _member(agency, f"stmt-admin-{n:02d}", Role.CLIENT_ADMIN, extra)
        DebtorAccountFactory(client=extra, client_reference=f"K-{n}", principal=Decimal("500.00"))
    with unscoped():
        ContractTerms.objects.update(remittance_day=1)  # every client is due today, whatever the date
        clients = Client.objects.filter(status=Client.Status.ACTIVE).count()
        admins = sorted(Client.objects.filter(status="active", memberships__role=Role.CLIENT_ADMIN)
                        .values_list("memberships__user__email", flat=True))
    assert clients == EXTRA_CLIENTS + 4 and len(admins) == clients

    _mail, mail_output = start("mail", settings.INTERACTIVE_QUEUE)
    first, first_output = start("first", settings.BULK_QUEUE)
    broker.send_task("payments.tasks.statements_monthly")
    try:
        wait_until(lambda: counts()[0] >= 8, 120, "a quarter of the statements")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}: {stacks(first_output, mail_output)}") from None
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    issued_when_killed = counts()[0]
    assert issued_when_killed < clients, "the run finished before the kill: the test proves nothing"

    _second, second_output = start("second", settings.BULK_QUEUE, beat=True)
    broker.send_task("payments.tasks.statements_monthly")  # beat's next hourly run
    try:
        wait_until(lambda: counts() == (clients, clients, clients) and len(mailbox.messages) >= clients, 300,
                   "every statement issued and emailed")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out} ({counts()}, {len(mailbox.messages)} received): "
                             f"{stacks(second_output, mail_output)}") from None
    broker.send_task("payments.tasks.statements_monthly")  # and once more: nothing new
    time.sleep(5)

    assert counts() == (clients, clients, clients)
    with unscoped():
        per_client = list(RemittanceStatement.objects.values_list("client_id", "revision"))
    assert len(set(per_client)) == clients and {revision for _, revision in per_client} == {1}
    received = sorted(to for message in mailbox.messages for to in message.rcpt_tos)
    assert received == admins, "each client admin got exactly one statement email"
    assert all(b"application/pdf" in message.content for message in mailbox.messages)
