"""Remittance statement benchmark: render and send N client statements through the real worker.

    .venv/bin/python -m bench.statements                      # 10,000 clients
    .venv/bin/python -m bench.statements --clients 1000       # a quick look

One run:
  1. creates (if missing) and migrates its own PostgreSQL database (`--database-url`, default
     portal_bench_stmts); seeds a fresh agency with N active clients, each with contract terms
     (remittance day 1), one client admin, one debtor account and `--payments` payments in the
     previous month with their trust-ledger entries (so each statement has rows to show); earlier runs' clients are suspended;
  2. starts a real SMTP server on loopback (aiosmtpd) and the two workers exactly as `manage.py
     up` runs them (`worker-interactive`: emails; `worker-bulk`: statements), on Redis
     (`--redis-url`, its database flushed first), with `--bulk-concurrency` (1: the solo pool of `up`);
  3. sends `payments.tasks.statements_monthly` (what beat runs hourly) and waits until the SMTP
     server has received N messages: statements/s = N / (last message received - task sent);
     then checks N statements, N emails sent, no recipient twice;
  4. the baseline, in the same run once the workers are stopped: the bare WeasyPrint render
     (`HTML(string=...).write_pdf(stylesheets=...)`) of the same statement HTML, in this one process, timed over
     `--baseline` renders; prints renders/s and the ratio, and one JSON line last.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from bench.account_list import ensure_database
from bench.machine import MachineLoad

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_stmts"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
BATCH = 2000


def out(text):
    print(text, flush=True)


class Mailbox:
    """The loopback SMTP server's handler: counts messages and recipients, notes the last arrival."""

    def __init__(self):
        self.count, self.recipients, self.last_at, self.lock = 0, [], None, threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.count += 1
            self.recipients.extend(envelope.rcpt_tos)
            self.last_at = time.perf_counter()
        return "250 OK"


def seed(n_clients: int, n_payments: int, run_id: str):
    """A fresh agency with N due clients; returns it. Rows go in with bulk_create in batches."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Agency, Client, ContractTerms, Membership, Role, User
    from collections_work.models import Debtor, DebtorAccount
    from payments.models import Payment
    from payments.statements.services import previous_month
    from portal.tenancy import unscoped

    started = time.perf_counter()
    start, _end = previous_month(date.today())
    with unscoped():
        Client.objects.filter(status=Client.Status.ACTIVE).update(status=Client.Status.SUSPENDED)
        agency = Agency.objects.create(slug=f"bench-stmts-{run_id}", name=f"Bench Statements {run_id}",
                                       mfa_required_for_staff=False, postal_address="1 Bench Way, Springfield, IL 62701")
        for lo in range(0, n_clients, BATCH):
            numbers = range(lo, min(n_clients, lo + BATCH))
            with transaction.atomic():
                clients = Client.objects.bulk_create([Client(
                    agency=agency, name=f"Client {run_id}-{k:05d}", legal_name=f"Client {k:05d} Supplies LLC",
                    status=Client.Status.ACTIVE, onboarding_step=4, address_line1=f"{k} Main St", city="Springfield",
                    region="IL", postal_code="62701", country="US") for k in numbers])
                ContractTerms.objects.bulk_create([ContractTerms(agency=agency, client=c, flat_fee_percent=Decimal("25.00"),
                                                                 remittance_day=1) for c in clients])
                users = User.objects.bulk_create([User(email=f"admin-{run_id}-{k:05d}@bench.test", full_name=f"Admin {k}",
                                                       password="!") for k in numbers])
                Membership.objects.bulk_create([Membership(user=u, agency=agency, client=c, role=Role.CLIENT_ADMIN)
                                                for u, c in zip(users, clients)])
                debtors = Debtor.objects.bulk_create([Debtor(
                    agency=agency, client=c, name=f"Debtor of {c.name}", debtor_key=f"bench-{c.pk}")
                    for c in clients])
                accounts = DebtorAccount.objects.bulk_create([DebtorAccount(
                    agency=agency, client=c, debtor=d, debtor_name=d.name, client_reference=f"INV-{c.pk}",
                    debt_purpose="commercial", status="active", principal=Decimal("5000.00"),
                    balance=Decimal("5000.00"), placed_at=timezone.now()) for c, d in zip(clients, debtors)])
                payments = Payment.objects.bulk_create([Payment(
                    agency=agency, client=a.client, account=a, amount=Decimal(f"{100 + p * 25}.00"),
                    received_on=start + timedelta(days=3 * p), method="check", received_by="agency", source="staff",
                    commission_percent=Decimal("25.00"), commission=Decimal(f"{25 + p * 6.25:.2f}"),
                    to_principal=Decimal(f"{100 + p * 25}.00")) for a in accounts for p in range(n_payments)])
                ledger_entries(agency, payments)
            out(f"  seeded clients {lo + 1:,}..{numbers[-1] + 1:,} ({time.perf_counter() - started:.1f} s)")
    return agency


def ledger_entries(agency, payments):
    """Each seeded payment's trust-ledger entry, as posting writes it (net remittance), so the
    statements show what the agency owes each client."""
    from payments.ledger.services import _money_lines
    from payments.models import JournalEntry, JournalLine

    entries = JournalEntry.objects.bulk_create([JournalEntry(
        agency=agency, client=p.client, kind=JournalEntry.Kind.PAYMENT, account=p.account, payment=p,
        memo=f"Payment {p.amount:,.2f} on {p.account.client_reference} (check)", effective_on=p.received_on)
        for p in payments])
    JournalLine.objects.bulk_create([JournalLine(
        agency=agency, client=p.client, entry=e, ledger_account=line.account, debit=line.debit, credit=line.credit)
        for p, e in zip(payments, entries) for line in _money_lines(p, p.amount, p.commission, True)])


def start_workers(env, bulk_concurrency: int):
    from portal.management.commands.up import worker_command

    processes = []
    for name in ("worker-interactive", "worker-bulk"):
        command = worker_command(sys.executable, name)
        command[command.index("--loglevel=INFO")] = "--loglevel=WARNING"
        if name == "worker-bulk" and bulk_concurrency > 1:
            command[command.index("--pool=solo")] = "--pool=prefork"
            command += ["--concurrency", str(bulk_concurrency)]
        log = open(Path(env["PORTAL_VAR_DIR"]) / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
    return processes


def stop_workers(processes):
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes and their children (a prefork pool's), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    family, total = set(pids), 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) in family or int(fields[1]) in family:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def wait_ready(broker, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = broker.control.ping(timeout=1.0) or []
        if len(replies) >= 2:
            return
    sys.exit("the workers did not answer a ping")


def baseline_rate(agency, renders: int) -> tuple[float, float, float]:
    """(renders/s, KiB a PDF, CPU seconds a render) of the bare WeasyPrint render of one issued
    statement's HTML, with its stylesheet parsed once as the worker has it (portal.pdf)."""
    from django.template.loader import render_to_string
    from weasyprint import HTML

    from payments.models import RemittanceStatement
    from payments.statements.services import statement_figures
    from portal.pdf import stylesheet
    from portal.tenancy import tenant_scope

    with tenant_scope(agency):
        statement = RemittanceStatement.objects.select_related("client__agency").order_by("id").first()
        figures = statement_figures(statement.client, statement.period_start, statement.period_end)
        html = render_to_string("payments/statement.html", {"statement": statement, "client": statement.client,
                                                            "agency": statement.client.agency, **figures})
    sheets = [stylesheet("payments/statement.css")]
    HTML(string=html).write_pdf(stylesheets=sheets)  # warm: fonts and styles loaded once, as in a long-running worker
    started, cpu = time.perf_counter(), time.process_time()
    size = 0
    for _ in range(renders):
        size = len(HTML(string=html).write_pdf(stylesheets=sheets))
    return renders / (time.perf_counter() - started), size / 1024, (time.process_time() - cpu) / renders


def run(args):
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"
    os.environ["PORTAL_NO_BOOTSTRAP"] = "1"
    os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / "portal-statements-bench" / "var"))
    Path(os.environ["PORTAL_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    ensure_database(args.database_url, args.reseed)
    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from celery import Celery
    from django.conf import settings
    from django.core.management import call_command

    from payments.models import RemittanceStatement
    from portal.models import OutboundEmail
    from portal.stripe_server import free_port
    from portal.tenancy import unscoped

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"migrated in {time.perf_counter() - started:.1f} s")
    run_id = time.strftime("%H%M%S")
    agency = seed(args.clients, args.payments, run_id)

    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    redis.Redis.from_url(args.redis_url).flushdb()
    env = {**os.environ, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port), "PYTHONUNBUFFERED": "1"}
    workers = start_workers(env, args.bulk_concurrency)
    broker = Celery("bench", broker=args.redis_url, backend=args.redis_url, set_as_current=False)
    broker.conf.task_routes = settings.CELERY_TASK_ROUTES
    broker.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    try:
        wait_ready(broker)
        load = MachineLoad()
        worker_pids = [process.pid for process in workers]
        cpu_before = cpu_seconds(worker_pids)
        sent_at = time.perf_counter()
        broker.send_task("payments.tasks.statements_monthly")
        deadline = sent_at + args.timeout
        shown = 0
        while mailbox.count < args.clients and time.perf_counter() < deadline:
            time.sleep(1.0)
            if mailbox.count - shown >= max(args.clients // 10, 1):
                shown = mailbox.count
                elapsed = time.perf_counter() - sent_at
                out(f"  {shown:,} statements received by SMTP after {elapsed:.0f} s ({shown / elapsed:.1f}/s)")
        elapsed = (mailbox.last_at or time.perf_counter()) - sent_at
        busy = load.busy_since_last()
        worker_cpu = cpu_seconds(worker_pids) - cpu_before
    finally:
        stop_workers(workers)
        smtp.stop()
    with unscoped():
        issued = RemittanceStatement.objects.filter(agency=agency).count()
        emails_sent = OutboundEmail.objects.filter(agency=agency, idempotency_key__startswith="statement:",
                                                   status="sent").count()
    duplicates = len(mailbox.recipients) - len(set(mailbox.recipients))
    rate = mailbox.count / elapsed if elapsed else 0.0
    out(f"{mailbox.count:,} of {args.clients:,} statements rendered, stored and received by SMTP in {elapsed:.1f} s: "
        f"{rate:.2f} statements/s (machine {busy:.0f}% busy); {issued:,} issued, {emails_sent:,} emails sent, "
        f"{duplicates} duplicates")
    bare, size_kib, bare_cpu = baseline_rate(agency, args.baseline)
    worker_cpu_each = worker_cpu / max(mailbox.count, 1)
    out(f"baseline: bare WeasyPrint render of the same statement HTML, one process: {bare:.2f} renders/s "
        f"({size_kib:.0f} KiB a PDF); the pipeline runs at {rate / bare:.0%} of it")
    out(f"CPU (what a busy shared machine moves least): the workers spent {worker_cpu_each * 1000:.0f} ms a statement "
        f"(render, store, email: both workers, not PostgreSQL), the bare render {bare_cpu * 1000:.0f} ms: "
        f"{1 / worker_cpu_each:.1f} statements per CPU-second against {1 / bare_cpu:.1f} bare renders "
        f"({bare_cpu / worker_cpu_each:.0%})")
    print(json.dumps({"clients": args.clients, "received": mailbox.count, "seconds": round(elapsed, 1),
                      "statements_per_s": round(rate, 2), "bare_render_per_s": round(bare, 2),
                      "ratio": round(rate / bare, 3), "worker_cpu_ms_per_statement": round(worker_cpu_each * 1000, 1),
                      "bare_render_cpu_ms": round(bare_cpu * 1000, 1), "cpu_ratio": round(bare_cpu / worker_cpu_each, 3),
                      "issued": issued, "emails_sent": emails_sent,
                      "duplicates": duplicates, "bulk_concurrency": args.bulk_concurrency,
                      "machine_busy_percent": round(busy)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=5, help="payments per client in the month (statement rows)")
    parser.add_argument("--bulk-concurrency", type=int, default=1,
                        help="processes of the bulk worker (1: the solo pool `manage.py up` runs)")
    parser.add_argument("--baseline", type=int, default=200, help="bare renders timed for the baseline")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the last message")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--reseed", action="store_true", help="drop and recreate the bench database first")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
