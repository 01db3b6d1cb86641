"""A real Celery worker on Redis and PostgreSQL delivering mail to a real SMTP server on
loopback: the send log makes a duplicated task send exactly one message."""
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
    # A Redis database of its own (no stray tasks): db 14, or TEST_WORKER_REDIS_URL when several
    # people run the suite against one Redis.
    redis_url = os.environ.get("TEST_WORKER_REDIS_URL") or settings.REDIS_URL.rsplit("/", 1)[0] + "/14"
    return database_url, redis_url


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


@pytest.fixture
def worker(real_services, smtp_server, tmp_path):
    database_url, redis_url = real_services
    controller, _ = smtp_server
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PORTAL_NO_BOOTSTRAP": "1",
           "DJANGO_SETTINGS_MODULE": "portal.settings", "EMAIL_HOST": "127.0.0.1",
           "EMAIL_PORT": str(controller.port), "PORTAL_VAR_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "celery", "-A", "portal", "purge", "-f"], cwd=ROOT, env=env,
                   capture_output=True, check=False)
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo",
                                "--loglevel=INFO", "-n", f"test-{os.getpid()}@%h"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(process.stdout)
    client = Celery("probe", broker=redis_url, backend=redis_url)
    try:
        wait_until(lambda: "ready." in output.text or process.poll() is not None, 60, "the worker")
        assert process.poll() is None, output.text
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


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
