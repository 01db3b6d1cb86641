"""Reminders benchmark: the daily plan steps for N installments coming due, through the real
workers on Redis, to an SMTP server on loopback; the time to the last message and the duplicates.

    .venv/bin/python -m bench.reminders                       # 100,000 installments
    .venv/bin/python -m bench.reminders --installments 10000  # a quick look

One run:
  1. creates (or reuses) its PostgreSQL database (DATABASE_URL, default portal_bench_reminders),
     migrates it, and seeds (once per N; --reseed forces it) one agency and client with N debtors
     in four US zones, each with an email address, a commercial debtor account on a plan, and one
     unpaid installment due in 3 days by the debtor's own day (the agency's reminder day), under a
     contact policy open round the clock (so the figure does not depend on the hour it runs);
     the previous run's messages, links and timeline entries are deleted;
  2. starts an SMTP server on loopback (aiosmtpd, in this process) and the workers as `up` runs
     them, one per queue (the bulk one with --bulk-concurrency processes, default 2, as a
     deployment would on 2 cores), on Redis (REDIS_URL, default redis://127.0.0.1:6379/7);
  3. sends payments.tasks.plans_daily twice at the same moment (two beat schedulers firing at
     once), and measures from then until the SMTP server has received every reminder;
  4. runs plans_daily once more after that (a later hour's run of the same day), waits for it,
     and counts the messages received: duplicates = received - distinct recipients (each debtor
     gets exactly one reminder);
  5. prints the figures; the last line is one JSON object.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.machine import MachineLoad

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_reminders"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
AGENCY_SLUG = "bench-reminders"
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
ROOT = Path(__file__).resolve().parents[1]


def out(text):
    print(text, flush=True)


def prepare_environment(args, smtp_port):
    os.environ.update(DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, DJANGO_SETTINGS_MODULE="portal.settings",
                      DEBUG="false", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), PORTAL_NO_BOOTSTRAP="1",
                      SITE_URL="http://127.0.0.1:8000")
    os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / "portal-reminders-bench" / "var"))


def ensure_database(url):
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
    server = psycopg2.connect(dbname="postgres", host=config.get("HOST") or None, port=config.get("PORT") or None,
                              user=config.get("USER") or None, password=config.get("PASSWORD") or None)
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            out(f"created database {config['NAME']}")
    server.close()


class Mailbox:
    """The loopback SMTP server's handler: who got a message, and when the last one came."""

    def __init__(self):
        self.recipients = []
        self.last_at = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
            self.last_at = time.monotonic()
        return "250 OK"


def seed(n, reseed):
    """The agency, client and N debtors on plans (reused when the seed has N installments)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from accounts.models import Agency, Client
    from collections_work.models import ContactPolicy, Contact, Debtor, DebtorAccount
    from payments.models import Installment, PaymentPlan, PlanOffer, PlanStepSettings
    from payments.reminders.services import step_day
    from portal.tenancy import unscoped

    now = timezone.now()
    with unscoped():
        agency, _ = Agency.objects.get_or_create(slug=AGENCY_SLUG, defaults={
            "name": "Bench Reminders Agency", "mfa_required_for_staff": False,
            "postal_address": "1 Bench Plaza, Springfield, IL 62701"})
        client, _ = Client.objects.get_or_create(agency=agency, name="Bench reminders client")
        ContactPolicy.objects.get_or_create(agency=agency, defaults={"earliest_hour": 0, "latest_hour": 24})
        PlanStepSettings.objects.update_or_create(agency=agency, defaults={
            "reminder_days_before": 3, "due_today_notice": True, "broken_after_missed": 2})
        existing = Installment.objects.filter(agency=agency).count()
        if reseed or existing != n:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for table in ("portal_outboundemail", "payments_securelink", "collections_work_activity",
                              "payments_installment", "payments_paymentplan", "payments_planoffer",
                              "collections_work_contact", "collections_work_debtoraccount", "collections_work_debtor"):
                    cursor.execute(f"DELETE FROM {table} WHERE agency_id = %s", [agency.pk])
            for start in range(0, n, 10_000):
                numbers = range(start, min(start + 10_000, n))
                debtors = Debtor.objects.bulk_create([
                    Debtor(agency=agency, client=client, kind="person", name=f"Bench debtor {i}",
                           debtor_key=f"bench-rem-{i}", time_zone=ZONES[i % len(ZONES)]) for i in numbers])
                Contact.objects.bulk_create([
                    Contact(agency=agency, client=client, debtor=d, kind="email", value=f"debtor{i}@bench.test")
                    for i, d in zip(numbers, debtors)])
                accounts = DebtorAccount.objects.bulk_create([
                    DebtorAccount(agency=agency, client=client, debtor=d, debtor_name=d.name,
                                  debtor_time_zone=d.time_zone, client_reference=f"REM-{i}", debt_purpose="commercial",
                                  status="plan", principal=Decimal("300.00"), balance=Decimal("300.00"),
                                  placed_at=now - timedelta(days=30))
                    for i, d in zip(numbers, debtors)])
                offers = PlanOffer.objects.bulk_create([
                    PlanOffer(agency=agency, client=client, account=a, kind="installments",
                              total_amount=Decimal("300.00"), installment_count=1, first_due_date=now.date(),
                              status="accepted") for a in accounts])
                plans = PaymentPlan.objects.bulk_create([
                    PaymentPlan(agency=agency, client=client, account=a, offer=o, kind="installments",
                                total_amount=Decimal("300.00"), accepted_at=now) for a, o in zip(accounts, offers)])
                Installment.objects.bulk_create([
                    Installment(agency=agency, client=client, plan=p, number=1, amount=Decimal("300.00"),
                                due_date=step_day(a.debtor_time_zone, now) + timedelta(days=3))
                    for a, p in zip(accounts, plans)])
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            out(f"seeded {n:,} debtors, accounts, plans and installments in {time.perf_counter() - started:.1f} s")
        else:
            # The same seed: due dates follow the clock; the last run's messages go.
            for zone in ZONES:
                Installment.objects.filter(agency=agency, plan__account__debtor_time_zone=zone).update(
                    due_date=step_day(zone, now) + timedelta(days=3), paid_amount=0, missed_at=None)
            with connection.cursor() as cursor:
                for table in ("portal_outboundemail", "payments_securelink", "collections_work_activity"):
                    cursor.execute(f"DELETE FROM {table} WHERE agency_id = %s", [agency.pk])
            out(f"reusing the seed of {n:,} installments")
    return agency


def start_workers(args, env):
    from django.conf import settings

    commands = {
        "interactive": [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=WARNING",
                        "-Q", settings.INTERACTIVE_QUEUE, "-n", f"bench-interactive-{os.getpid()}@%h"],
        "bulk": [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel=WARNING",
                 "--concurrency", str(args.bulk_concurrency), "-Q", settings.BULK_QUEUE,
                 "-n", f"bench-bulk-{os.getpid()}@%h"],
    }
    for queue in (settings.INTERACTIVE_QUEUE, settings.BULK_QUEUE):
        subprocess.run([sys.executable, "-m", "celery", "-A", "portal", "purge", "-f", "-Q", queue], cwd=ROOT,
                       env=env, capture_output=True, check=False)
    processes = {}
    for name, command in commands.items():
        log = open(Path(os.environ["PORTAL_VAR_DIR"]) / f"worker-{name}.log", "w")
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
    return processes


def run(args):
    from aiosmtpd.controller import Controller

    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command otherwise
    mailbox = Mailbox()
    from tests.portal.test_embedded_run import free_port

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    prepare_environment(args, port)
    Path(os.environ["PORTAL_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    ensure_database(args.database_url)
    import django

    django.setup()
    from celery import Celery
    from django.conf import settings
    from django.core.management import call_command

    from portal.models import OutboundEmail
    from portal.tenancy import unscoped

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"migrated in {time.perf_counter() - started:.1f} s")
    agency = seed(args.installments, args.reseed)
    env = dict(os.environ)
    processes = start_workers(args, env)
    probe = Celery("bench", broker=args.redis_url, backend=args.redis_url)
    probe.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    probe.conf.task_routes = settings.CELERY_TASK_ROUTES
    load = MachineLoad()
    try:
        assert probe.send_task("portal.tasks.echo", args=["up"]).get(timeout=120) == "up"
        out(f"workers up (bulk: {args.bulk_concurrency} processes); SMTP on 127.0.0.1:{port}")
        expected = args.installments
        t0 = time.monotonic()
        runs = [probe.send_task("payments.tasks.plans_daily") for _ in range(2)]  # two schedulers at once
        last_count, last_progress = 0, time.monotonic()
        while len(mailbox.recipients) < expected:
            time.sleep(1)
            count = len(mailbox.recipients)
            if count != last_count:
                last_count, last_progress = count, time.monotonic()
                if int(time.monotonic() - t0) % 15 == 0:
                    out(f"  {count:,} received after {time.monotonic() - t0:.0f} s")
            elif time.monotonic() - last_progress > args.stall_seconds:
                out(f"no message for {args.stall_seconds} s: stopping at {count:,}")
                break
        to_last = (mailbox.last_at or time.monotonic()) - t0
        results = [r.get(timeout=600) for r in runs]
        out(f"plans_daily results: {results}")
        # A later run of the same day: it must find every reminder recorded and send nothing.
        later = probe.send_task("payments.tasks.plans_daily").get(timeout=600)
        settle = time.monotonic()
        while time.monotonic() - settle < 10:  # anything it might have queued would arrive here
            time.sleep(1)
        received, distinct = len(mailbox.recipients), len(set(mailbox.recipients))
        with unscoped():
            sent = OutboundEmail.objects.filter(agency=agency, status="sent").count()
            failed = OutboundEmail.objects.filter(agency=agency, status="failed").count()
        figures = {
            "installments": args.installments, "received": received, "distinct_recipients": distinct,
            "duplicates": received - distinct, "missing": expected - distinct, "sent_in_log": sent,
            "failed_in_log": failed, "seconds_to_last_message": round(to_last, 1),
            "messages_per_second": round(distinct / to_last, 1) if to_last else None,
            "later_run": later, "bulk_concurrency": args.bulk_concurrency,
            "machine_busy_percent": round(load.busy_since_last(), 1), "loadavg": os.getloadavg()[0],
        }
        out(f"\n{args.installments:,} installments due: {distinct:,} reminders received in {to_last:.1f} s "
            f"({figures['messages_per_second']} /s), {received - distinct} duplicates, {expected - distinct} missing "
            f"(target: under 300 s, 0 duplicates)")
        out(json.dumps(figures))
    finally:
        for process in processes.values():
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                pass
        for process in processes.values():
            process.wait(timeout=60)
        controller.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--installments", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--bulk-concurrency", type=int, default=2)
    parser.add_argument("--stall-seconds", type=int, default=120)
    parser.add_argument("--reseed", action="store_true")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
