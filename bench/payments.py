"""Payments benchmark: N payments posted through payments.posting.services.payment_post from 2
processes onto debtor accounts on payment plans, against the bare INSERT of the same payment rows,
then `manage.py ledger_check` over the result and over a ledger topped up to --ledger-lines lines.

    .venv/bin/python -m bench.payments                          # 100,000 payments, 1,000,000 ledger lines
    .venv/bin/python -m bench.payments --payments 10000 --ledger-lines 0   # a quick look

One run (a fresh database each time: the trust ledger is append-only, so a run cannot clean up
after itself, and a fresh database keeps runs comparable):
  1. drops, creates and migrates the private database, then seeds with the worklist bench's SQL
     (bench.worklist.seed_accounts: debtors, accounts, contacts) one agency with 4 clients whose
     contract terms differ (flat / tiered contingency fee, net / gross remittance, the three
     allocation orders); N / --per-account of the open accounts get an accepted offer and a
     current plan (SQL): 80 % installments over the whole balance with one installment more than
     they will be paid (they stay on the plan), 10 % whose last paid installment clears the
     balance (the account becomes Paid in full) and 10 % settlements for 60 % of the balance (the
     last payment completes the plan and writes the rest off: a second journal entry);
  2. the payments: installment k of every plan is payment k (received k-1 fortnights after the
     first, methods cycling check/ACH/card/wire/cash/money order, every 10th reported by the client as
     paid to it directly), each with its idempotency key; worker p of --procs takes the accounts
     with index % procs == p, so the two processes never wait on each other's row locks;
  3. one diagnostic post (on an extra plan account) with every SQL statement captured;
  4. the app: each process (spawned, its own django.setup()) calls payment_post back to back
     for its share (allocation, installments, commission, ledger entry, timeline, audit event,
     re-score, all in the service's one transaction);
  5. baseline: the same rows as bare `INSERT INTO payments_payment ...; COMMIT` (one transaction
     per row, all indexes and constraints, psycopg2) from the same number of processes, under
     their own keys beside the posted payments; then they are deleted again (see `baseline`);
  6. checks: payments, plans completed, accounts Paid/Settled as planned; `ledger_check` timed
     over the result; then balanced remittance-shaped entries (3 lines each) are added with SQL
     until the ledger has --ledger-lines lines, and `ledger_check` is timed again.
Prints the figures; the last line is one JSON object.
"""
import argparse
import io
import json
import os
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bench.intake import backend_cpu
from bench.machine import MachineLoad
from bench.worklist import ensure_database, loadavg, ms, pct, psycopg_connect, seed_accounts, self_cpu

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_payments"
AGENCY_SLUG = "bench-payments"
CLIENT_TERMS = [  # (fee type, flat %, remittance, allocation order)
    ("flat", "25.00", "net", "fees,interest,principal"),
    ("tiered", "25.00", "gross", "interest,fees,principal"),
    ("flat", "30.00", "net", "principal,interest,fees"),
    ("tiered", "20.00", "net", "fees,interest,principal"),
]
TIERS = [(0, 180, "20.00"), (181, 365, "28.00"), (366, None, "35.00")]
METHODS = ("check", "ach", "card", "wire", "cash", "money_order")
TOPUP_CHUNK = 100_000  # journal entries per INSERT statement when topping the ledger up

PLANS_SQL = """
WITH chosen AS (
  SELECT a.id, a.agency_id, a.client_id, a.balance, row_number() OVER (ORDER BY a.id) - 1 AS k
  FROM collections_work_debtoraccount a
  WHERE a.agency_id = %(agency)s AND a.status IN ('new', 'active') AND a.balance >= 10
  ORDER BY a.id LIMIT %(accounts)s
), shaped AS (  -- kind: 0 stays on the plan, 1 paid in full, 2 settlement for 60 %%
  SELECT c.*, CASE WHEN c.k %% 10 = 1 THEN 1 WHEN c.k %% 10 = 2 THEN 2 ELSE 0 END AS shape FROM chosen c
), sized AS (
  SELECT s.*, CASE WHEN s.shape = 2 THEN round(s.balance * 0.6, 2) ELSE s.balance END AS total,
         CASE WHEN s.shape = 0 THEN %(per_account)s + 1 ELSE %(per_account)s END AS n
  FROM shaped s
), offers AS (
  INSERT INTO payments_planoffer (agency_id, client_id, account_id, kind, total_amount, installment_count,
      installment_amount, first_due_date, frequency, down_payment, status, outside_terms, note, decided_at,
      decision_note, created_at, created_by_id)
  SELECT z.agency_id, z.client_id, z.id, 'installments', z.total, z.n, trunc(z.total / z.n, 2), %(first_due)s,
         'biweekly', 0, 'accepted', '[]', '', %(now)s, '', %(now)s, %(actor)s
  FROM sized z
  RETURNING id, account_id
)
INSERT INTO payments_paymentplan (agency_id, client_id, account_id, offer_id, kind, total_amount, frequency, status,
                                  accepted_at, end_reason)
SELECT z.agency_id, z.client_id, z.id, o.id, 'installments', z.total, 'biweekly', 'current', %(now)s, ''
FROM sized z JOIN offers o ON o.account_id = z.id
"""

INSTALLMENTS_SQL = """
INSERT INTO payments_installment (agency_id, client_id, plan_id, number, due_date, amount, paid_amount,
                                  is_down_payment)
SELECT p.agency_id, p.client_id, p.id, g, %(first_due)s + (g - 1) * 14,
       CASE WHEN g < o.installment_count THEN o.installment_amount
            ELSE p.total_amount - o.installment_amount * (o.installment_count - 1) END, 0, false
FROM payments_paymentplan p JOIN payments_planoffer o ON o.id = p.offer_id
CROSS JOIN LATERAL generate_series(1, o.installment_count) AS g
WHERE p.agency_id = %(agency)s
"""

BARE_INSERT = """INSERT INTO payments_payment (agency_id, client_id, account_id, amount, received_on, method,
    received_by, source, reference, note, idempotency_key, fingerprint, to_fees, to_interest, to_principal,
    commission_percent, commission, reversed_amount, reported_by_id, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '', %s, '', 0, 0, %s, 0, 0, 0, %s, now())"""

# Balanced, remittance-shaped entries (Dr payable to client R + C; Cr trust cash R; Cr commission
# receivable C), to give ledger_check a ledger of the size the target names.
TOPUP_ENTRIES_SQL = """
INSERT INTO payments_journalentry (agency_id, client_id, kind, memo, effective_on, posted_at)
SELECT %(agency)s, (%(clients)s::bigint[])[1 + g %% %(nclients)s], 'remittance', 'Bench remittance ' || g,
       %(today)s - (g %% 700), now()
FROM generate_series(%(lo)s, %(hi)s) AS g
RETURNING id
"""
TOPUP_LINES_SQL = """
INSERT INTO payments_journalline (agency_id, client_id, entry_id, ledger_account, debit, credit)
SELECT e.agency_id, e.client_id, e.id, l.account,
       CASE l.account WHEN 'client_payable' THEN v.r + v.c ELSE 0 END,
       CASE l.account WHEN 'trust_cash' THEN v.r WHEN 'commission_receivable' THEN v.c ELSE 0 END
FROM payments_journalentry e
CROSS JOIN LATERAL (SELECT round((50 + (e.id * 7919) %% 500000 / 100.0)::numeric, 2) AS r,
                           round(((e.id * 104729) %% 20000 / 100.0)::numeric, 2) AS c) v
CROSS JOIN (VALUES ('client_payable'), ('trust_cash'), ('commission_receivable')) AS l(account)
WHERE e.id > %(after)s AND e.kind = 'remittance' AND e.memo LIKE 'Bench remittance %%'
"""


def out(text=""):
    print(text, flush=True)


# --- seed -------------------------------------------------------------------------------------------

def seed(n_plans: int, per_account: int) -> dict:
    """Tenant, clients with their terms, a collector, accounts (worklist SQL), plans (SQL)."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Agency, Client, ContractTerms, FeeTier, Membership, Role, User
    from portal.tenancy import unscoped

    now = timezone.now()
    today = timezone.localdate(now)
    started = time.perf_counter()
    with unscoped():
        agency = Agency.objects.create(slug=AGENCY_SLUG, name="Bench payments", mfa_required_for_staff=False)
        clients = []
        for k, (fee_type, flat, remittance, order) in enumerate(CLIENT_TERMS):
            client = Client.objects.create(agency=agency, name=f"Bench client {k}", status=Client.Status.ACTIVE)
            terms, _ = ContractTerms.objects.update_or_create(client=client, defaults={
                "agency": agency, "fee_type": fee_type, "flat_fee_percent": Decimal(flat),
                "remittance_method": remittance, "allocation_order": order})
            if fee_type == "tiered":
                for low, high, percent in TIERS:
                    FeeTier.objects.create(agency=agency, terms=terms, min_age_days=low, max_age_days=high,
                                           fee_percent=Decimal(percent))
            clients.append(client)
        collector = User.objects.create(email="bench-payments-collector@example.test", full_name="Bench Collector")
        Membership.objects.create(user=collector, agency=agency, role=Role.COLLECTOR)
    # ~85 % of the worklist seed's accounts are open (new/active); the rest need no plan.
    n_accounts = int(n_plans / 0.80) + 1000
    first_due = today - timedelta(days=14 * per_account + 7)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(0.42)")
        seed_accounts(cursor, agency.pk, [c.pk for c in clients], 1, n_accounts, now, today, out)
        # Money paid before placement is not a payment of the portal's: ledger_check compares
        # paid - paid_at_placement with the payments.
        cursor.execute("UPDATE collections_work_debtoraccount SET paid_at_placement = paid WHERE agency_id = %s",
                       [agency.pk])
        params = {"agency": agency.pk, "accounts": n_plans, "per_account": per_account, "first_due": first_due,
                  "now": now, "actor": collector.pk}
        cursor.execute(PLANS_SQL, params)
        plans = cursor.rowcount
        cursor.execute(INSTALLMENTS_SQL, params)
        installments = cursor.rowcount
        cursor.execute("UPDATE collections_work_debtoraccount a SET status = 'plan', hold_reason = '' "
                       "FROM payments_paymentplan p WHERE p.account_id = a.id AND p.status = 'current'")
        for table in ("collections_work_debtor", "collections_work_debtoraccount", "collections_work_contact",
                      "payments_planoffer", "payments_paymentplan", "payments_installment"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    if plans < n_plans:
        raise SystemExit(f"only {plans:,} open accounts for {n_plans:,} plans: seed more accounts")
    out(f"seeded {n_accounts:,} accounts, {plans:,} plans ({installments:,} installments) in "
        f"{time.perf_counter() - started:.1f} s")
    return {"agency": agency, "clients": clients, "collector": collector, "today": today,
            "first_due": first_due, "accounts": n_accounts, "plans": plans}


def payment_tasks(agency_id: int, per_account: int, today) -> list[tuple]:
    """(account id, client id, amount, received on, method, received by, source, key) for every
    payment to post: installment k of each plan is payment k, round by round."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""SELECT p.account_id, p.client_id, i.amount, i.number FROM payments_installment i
                          JOIN payments_paymentplan p ON p.id = i.plan_id
                          WHERE p.agency_id = %s AND i.number <= %s ORDER BY i.number, p.account_id""",
                       [agency_id, per_account])
        rows = cursor.fetchall()
    tasks = []
    for index, (account_id, client_id, amount, number) in enumerate(rows):
        direct = account_id % 10 == 0
        received_on = today - timedelta(days=14 * (per_account - number))
        tasks.append((account_id, client_id, str(amount), received_on, "direct" if direct else METHODS[index % 6],
                      "client" if direct else "agency", "client" if direct else "staff",
                      f"bench-{account_id}-{number}"))
    return tasks


# --- the two phases ------------------------------------------------------------------------------

def _psycopg_worker(tasks, database_url, post_one):
    """Run `post_one(cursor, task)` and COMMIT for each task on one psycopg2 connection; ->
    (latencies, errors, the backend's CPU seconds), as _app_worker."""
    conn = psycopg_connect(database_url)
    cursor = conn.cursor()
    pid = conn.get_backend_pid()
    backend = backend_cpu(pid)
    latencies, errors = [], []
    monotonic = time.monotonic
    for task in tasks:
        t0 = monotonic()
        try:
            post_one(cursor, task)
            conn.commit()
        except Exception as error:  # noqa: BLE001
            conn.rollback()
            errors.append(repr(error))
            continue
        latencies.append(monotonic() - t0)
    backend = backend_cpu(pid) - backend
    conn.close()
    return latencies, errors, backend


BARE_KEY_SUFFIX = ":bare"  # the baseline's rows beside the posted ones, deleted after


def _bare_worker(tasks, agency_id, actor_id, database_url, deadline=None):
    def insert(cursor, task):
        account_id, client_id, amount, received_on, method, received_by, source, key = task
        cursor.execute(BARE_INSERT, [agency_id, client_id, account_id, amount, received_on, method,
                                     received_by, source, key + BARE_KEY_SUFFIX, amount, actor_id])
    return _psycopg_worker(tasks, database_url, insert)


# The floor: the statements payment_post sends for one post (the same tables, reads and writes,
# with only the columns they need) in hand-written SQL from psycopg2, with the least Python between
# them: what PostgreSQL and the narrowest client need for today's statements on this machine. It is
# simplified where that changes no statement: every payment goes to principal, with the client's
# flat fee, as net trust-cash lines and a "payment.posted" audit event (payment_post also splits by
# the client's order, takes tiered fees, writes direct payments' and gross clients' lines, completes
# plans). The gap to payment_post is the ORM's and the kernel's Python, and the ORM's wider SELECTs.
FLOOR_SQL = {
    "lock": """SELECT a.status, a.balance, a.paid, a.principal, a.principal_paid, a.client_reference,
                      t.flat_fee_percent, t.remittance_method
               FROM collections_work_debtoraccount a LEFT JOIN accounts_contractterms t ON t.client_id = a.client_id
               WHERE a.id = %s AND a.agency_id = %s FOR UPDATE OF a""",
    "key": "SELECT id, fingerprint FROM payments_payment WHERE agency_id = %s AND idempotency_key = %s",
    "promise": """SELECT id FROM collections_work_promise WHERE agency_id = %s AND account_id = %s AND status = 'open'
                  ORDER BY created_at LIMIT 1""",
    "callback": """SELECT 1 FROM collections_work_callback WHERE agency_id = %s AND account_id = %s
                   AND done_at IS NULL AND due_at <= now() LIMIT 1""",
    "account": """UPDATE collections_work_debtoraccount SET paid = %s, principal_paid = %s, balance = %s,
                  last_payment_date = %s, priority = priority, updated_at = now() WHERE id = %s""",
    "payment": """INSERT INTO payments_payment (agency_id, client_id, account_id, amount, received_on, method,
                  received_by, source, reference, note, idempotency_key, fingerprint, to_fees, to_interest,
                  to_principal, commission_percent, commission, reversed_amount, reported_by_id, created_at)
                  VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '', %s, %s, 0, 0, %s, %s, %s, 0, %s, now())
                  RETURNING id""",
    "installments": """SELECT i.id, i.amount - i.paid_amount FROM payments_installment i
                       JOIN payments_paymentplan p ON p.id = i.plan_id
                       WHERE i.agency_id = %s AND p.account_id = %s AND p.status = 'current'
                       ORDER BY i.due_date, i.number FOR UPDATE OF i""",
    "installment": "UPDATE payments_installment SET paid_amount = paid_amount + %s WHERE id = %s",
    "allocation": """INSERT INTO payments_installmentallocation (agency_id, client_id, payment_id, installment_id, amount)
                     VALUES (%s, %s, %s, %s, %s)""",
    "entry": """INSERT INTO payments_journalentry (agency_id, client_id, kind, account_id, payment_id, memo,
                effective_on, posted_at, posted_by_id) VALUES (%s, %s, 'payment', %s, %s, %s, %s, now(), %s)
                RETURNING id""",
    "lines": """INSERT INTO payments_journalline (agency_id, client_id, entry_id, ledger_account, debit, credit)
                VALUES (%s, %s, %s, 'trust_cash', %s, 0), (%s, %s, %s, 'client_payable', 0, %s),
                       (%s, %s, %s, 'commission_income', 0, %s)""",
    "activity": """INSERT INTO collections_work_activity (agency_id, client_id, account_id, kind, actor_id, summary,
                   body, outcome, client_visible, occurred_at) VALUES (%s, %s, %s, 'payment', %s, %s, '', '', true, now())""",
    "audit": """INSERT INTO portal_auditevent (agency_id, client_id, actor_id, actor_email, action, object_type,
                object_id, object_repr, before, after, created_at)
                VALUES (%s, %s, %s, '', 'payment.posted', 'payment', %s, %s, %s, %s, now())""",
}


def _floor_post(cursor, agency_id, actor_id, task):
    """One post in FLOOR_SQL: principal only, the flat fee, net remittance lines (see FLOOR_SQL)."""
    account_id, client_id, amount, received_on, method, received_by, source, key = task
    amount = Decimal(amount)
    sql = FLOOR_SQL
    cursor.execute(sql["lock"], [account_id, agency_id])
    status, balance, paid, principal, principal_paid, reference, percent, _remittance = cursor.fetchone()
    cursor.execute(sql["key"], [agency_id, key])
    if cursor.fetchone() is not None:
        raise RuntimeError(f"replayed {key}")
    cursor.execute(sql["promise"], [agency_id, account_id])
    cursor.execute(sql["callback"], [agency_id, account_id])
    cursor.execute(sql["account"], [paid + amount, principal_paid + amount, balance - amount, received_on, account_id])
    percent = percent or Decimal("0")
    commission = (amount * percent / 100).quantize(Decimal("0.01"))
    cursor.execute(sql["payment"], [agency_id, client_id, account_id, amount, received_on, method, received_by, source,
                                    key, "", amount, percent, commission, actor_id])
    payment_id = cursor.fetchone()[0]
    cursor.execute(sql["installments"], [agency_id, account_id])
    left = amount
    for installment_id, remaining in cursor.fetchall():
        part = min(left, remaining)
        if part <= 0:
            continue
        cursor.execute(sql["installment"], [part, installment_id])
        cursor.execute(sql["allocation"], [agency_id, client_id, payment_id, installment_id, part])
        left -= part
        if left <= 0:
            break
    cursor.execute(sql["entry"], [agency_id, client_id, account_id, payment_id, f"Payment {amount} on {reference}",
                                  received_on, actor_id])
    entry_id = cursor.fetchone()[0]
    cursor.execute(sql["lines"], [agency_id, client_id, entry_id, amount, agency_id, client_id, entry_id,
                                  amount - commission, agency_id, client_id, entry_id, commission])
    cursor.execute(sql["activity"], [agency_id, client_id, account_id, actor_id, f"Payment received: {amount}"])
    cursor.execute(sql["audit"], [agency_id, client_id, actor_id, str(payment_id), f"Payment on {reference}",
                                  json.dumps({"balance": str(balance)}), json.dumps({"balance": str(balance - amount)})])


def _floor_worker(tasks, agency_id, actor_id, database_url, deadline=None):
    return _psycopg_worker(tasks, database_url, lambda cursor, task: _floor_post(cursor, agency_id, actor_id, task))


def _app_worker(tasks, agency_id, actor_id, database_url, deadline=None):
    from accounts.models import Agency, User
    from django.db import connection

    from collections_work.models import DebtorAccount
    from payments.posting.services import payment_post
    from portal.tenancy import tenant_scope

    agency, actor = Agency.objects.get(pk=agency_id), User.objects.get(pk=actor_id)
    pid = connection.connection.get_backend_pid()
    backend = backend_cpu(pid)
    latencies, errors = [], []
    monotonic = time.monotonic
    with tenant_scope(agency):
        for account_id, client_id, amount, received_on, method, received_by, source, key in tasks:
            account = DebtorAccount(pk=account_id, agency_id=agency_id, client_id=client_id)
            t0 = monotonic()
            if deadline is not None and t0 >= deadline:
                break
            try:
                posted = payment_post(agency=agency, actor=actor, account=account, amount=amount,
                                      received_on=received_on, method=method, source=source,
                                      received_by=received_by, idempotency_key=key)
            except Exception as error:  # noqa: BLE001
                errors.append(repr(error))
                continue
            latencies.append(monotonic() - t0)
            if posted.replayed:
                errors.append(f"replayed {key}")
    return latencies, errors, backend_cpu(pid) - backend


def _child_main(mode, tasks, agency_id, actor_id, database_url, ready_queue, go_event, result_queue, deadline):
    import django

    django.setup()
    from django.db import connection

    connection.ensure_connection()
    ready_queue.put(os.getpid())
    go_event.wait()
    cpu = self_cpu()
    worker = {"bare": _bare_worker, "floor": _floor_worker}.get(mode, _app_worker)
    latencies, errors, backend = worker(tasks, agency_id, actor_id, database_url, deadline.value or None)
    result_queue.put({"latencies": latencies, "errors": errors[:20], "error_count": len(errors),
                      "cpu": self_cpu() - cpu, "backend_cpu": backend})


def run_phase(mode, tasks, procs, agency_id, actor_id, database_url, max_seconds=None) -> dict:
    """Post (or INSERT) `tasks` from `procs` spawned processes; worker p takes the accounts with
    index % procs == p (by account id, so no two processes share an account). With
    `max_seconds`, the posting processes stop after that long (what they posted is counted)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ready_queue, result_queue, go_event, deadline = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    shares = [[t for t in tasks if t[0] % procs == p] for p in range(procs)]
    children = [ctx.Process(target=_child_main, args=(mode, share, agency_id, actor_id, database_url, ready_queue,
                                                      go_event, result_queue, deadline), daemon=True)
                for share in shares]
    for child in children:
        child.start()
    for _ in children:
        ready_queue.get(timeout=300)
    load = MachineLoad()
    started = time.monotonic()
    deadline.value = started + max_seconds if max_seconds else 0.0
    go_event.set()
    results = [result_queue.get(timeout=24 * 3600) for _ in children]
    seconds = time.monotonic() - started
    busy = round(load.busy_since_last(), 1)
    for child in children:
        child.join(timeout=60)
    latencies = [x for r in results for x in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    summary = {"mode": mode, "procs": procs, "rows": len(latencies), "seconds": round(seconds, 2),
               "per_s": round(len(latencies) / seconds, 1), "p50_ms": ms(pct(latencies, 50)),
               "p95_ms": ms(pct(latencies, 95)), "p99_ms": ms(pct(latencies, 99)),
               "max_ms": ms(max(latencies, default=None)), "errors": sum(r["error_count"] for r in results),
               "worker_cpu_s": round(sum(r["cpu"] for r in results), 2),
               "backend_cpu_s": round(sum(r["backend_cpu"] for r in results), 2),
               "machine_busy_pct": busy, "loadavg": loadavg()}
    rows = max(summary["rows"], 1)
    summary["worker_cpu_ms_per_row"] = round(1000 * summary["worker_cpu_s"] / rows, 2)
    summary["backend_cpu_ms_per_row"] = round(1000 * summary["backend_cpu_s"] / rows, 2)
    # What 2 otherwise idle cores could do if CPU were the only limit (no waits, no other load).
    summary["cpu_bound_per_s_2_cores"] = round(2000 / (summary["worker_cpu_ms_per_row"]
                                                      + summary["backend_cpu_ms_per_row"] or 1), 1)
    out(f"  {mode}: {summary['rows']:,} in {summary['seconds']} s = {summary['per_s']:,}/s; p50 "
        f"{summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms; CPU per row: this "
        f"process {summary['worker_cpu_ms_per_row']} ms, its PostgreSQL backend {summary['backend_cpu_ms_per_row']} ms "
        f"(2 idle cores: at most {summary['cpu_bound_per_s_2_cores']:,}/s); machine {busy} % busy, load "
        f"{summary['loadavg']}")
    if errors:
        out(f"  {mode}: {summary['errors']} errors, first: {errors[0]}")
    return summary


def diagnostic_post(setup, per_account) -> dict:
    """Post the first two installments of a spare plan account, the second with its SQL captured."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from collections_work.models import DebtorAccount
    from payments.models import Installment, PaymentPlan
    from payments.posting.services import payment_post
    from portal.prepared import names_in_session
    from portal.tenancy import tenant_scope

    agency, actor = setup["agency"], setup["collector"]
    with tenant_scope(agency):
        plan = PaymentPlan.objects.filter(account_id__in=setup["spare"]).order_by("account_id").first()
        installments = list(Installment.objects.filter(plan=plan).order_by("number")[:2])
        account = DebtorAccount.objects.get(pk=plan.account_id)
        statements = []
        for installment in installments:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                payment_post(agency=agency, actor=actor, account=account, amount=installment.amount,
                             received_on=setup["today"], method="check", source="staff",
                             idempotency_key=f"bench-diagnostic-{installment.number}")
                elapsed = time.perf_counter() - started
            statements = [q["sql"] for q in captured.captured_queries]
        prepared = names_in_session(connection)
    out(f"  one post (second installment of a plan, warm process): {len(statements)} round trips "
        f"({len([s for s in statements if s not in ('BEGIN', 'COMMIT')])} besides BEGIN and COMMIT), "
        f"{elapsed * 1000:.1f} ms")
    readable = [[_unprepared(part, prepared) for part in sql.split(";\n")] for sql in statements]
    for parts in readable:  # the writes sent together (portal.rows.batched) share a round trip: "+"
        for index, part in enumerate(parts):
            out(f"    {'+ ' if index else ''}{part[:150]}")
    return {"statements": len(statements), "sql": [" ;; ".join(parts)[:600] for parts in readable]}


def _unprepared(sql: str, prepared: dict) -> str:
    """'EXECUTE portal_1a2b3c4d_3 (...)' as the statement prepared under that name (portal.prepared)."""
    name = sql.removeprefix("EXECUTE ").split("(")[0].strip()
    return f"[prepared] {prepared[name]}" if sql.startswith("EXECUTE ") and name in prepared else sql


def profile_posts(tasks, agency_id, actor_id, database_url, path) -> dict:
    """Post every task in this process under cProfile, timed by this process's CPU clock (waits
    for PostgreSQL are not counted; the profiler itself slows Python down); prints where the CPU
    goes and writes the profile to `path`."""
    import cProfile
    import pstats

    profiler = cProfile.Profile(timer=time.process_time)
    cpu = self_cpu()
    profiler.enable()
    latencies, errors, backend = _app_worker(tasks, agency_id, actor_id, database_url)
    profiler.disable()
    cpu = self_cpu() - cpu
    profiler.dump_stats(path)
    out(f"  profiled {len(latencies):,} posts in this process: {1000 * cpu / max(len(latencies), 1):.2f} ms CPU "
        f"each under the profiler, backend {1000 * backend / max(len(latencies), 1):.2f} ms; {len(errors)} errors; "
        f"profile in {path}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"payments/|collections_work/|portal/|accounts/", 30)
    return {"profiled": len(latencies), "profile": path}


# --- ledger_check -------------------------------------------------------------------------------

def time_ledger_check() -> dict:
    from django.core.management import call_command

    buffer = io.StringIO()
    started = time.perf_counter()
    code = 0
    try:
        call_command("ledger_check", stdout=buffer)
    except SystemExit as exit_:
        code = exit_.code
    seconds = time.perf_counter() - started
    text = buffer.getvalue().strip()
    out(f"  ledger_check: {seconds:.2f} s (exit {code}): {text.splitlines()[0] if text else ''}")
    if code:
        out("    " + "\n    ".join(text.splitlines()[1:8]))
    return {"seconds": round(seconds, 2), "exit": code, "output": text.splitlines()[:3]}


def ledger_lines() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM payments_journalline")
        return cursor.fetchone()[0]


def ledger_topup(setup, target_lines: int) -> dict:
    """Add balanced 3-line remittance entries until the ledger has `target_lines` lines."""
    from django.db import connection, transaction

    have = ledger_lines()
    needed = max(0, (target_lines - have + 2) // 3)
    if not needed:
        return {"entries_added": 0, "seconds": 0.0}
    started = time.perf_counter()
    clients = [c.pk for c in setup["clients"]]
    with connection.cursor() as cursor:
        for lo in range(1, needed + 1, TOPUP_CHUNK):
            hi = min(needed, lo + TOPUP_CHUNK - 1)
            cursor.execute("SELECT coalesce(max(id), 0) FROM payments_journalentry")
            after = cursor.fetchone()[0]
            with transaction.atomic():  # the deferred balance check runs at this commit
                cursor.execute(TOPUP_ENTRIES_SQL, {"agency": setup["agency"].pk, "clients": clients,
                                                   "nclients": len(clients), "today": setup["today"], "lo": lo,
                                                   "hi": hi})
                cursor.execute(TOPUP_LINES_SQL, {"after": after})
        for table in ("payments_journalentry", "payments_journalline", "payments_payment"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    seconds = time.perf_counter() - started
    out(f"  added {needed:,} remittance entries ({needed * 3:,} lines) in {seconds:.1f} s; ledger now "
        f"{ledger_lines():,} lines")
    return {"entries_added": needed, "seconds": round(seconds, 1)}


def outcome_counts(agency_id) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""SELECT
            (SELECT count(*) FROM payments_payment WHERE agency_id = %(a)s),
            (SELECT count(*) FROM payments_journalentry WHERE agency_id = %(a)s),
            (SELECT count(*) FROM payments_journalline WHERE agency_id = %(a)s),
            (SELECT count(*) FROM payments_installmentallocation WHERE agency_id = %(a)s),
            (SELECT count(*) FROM collections_work_activity WHERE agency_id = %(a)s AND kind = 'payment'),
            (SELECT count(*) FROM portal_auditevent WHERE agency_id = %(a)s AND action LIKE 'payment.%%'),
            (SELECT count(*) FROM payments_paymentplan WHERE agency_id = %(a)s AND status = 'completed'),
            (SELECT count(*) FROM collections_work_debtoraccount WHERE agency_id = %(a)s AND status = 'paid'
                AND id IN (SELECT account_id FROM payments_paymentplan)),
            (SELECT count(*) FROM collections_work_debtoraccount WHERE agency_id = %(a)s AND status = 'settled')
            """, {"a": agency_id})
        names = ("payments", "journal_entries", "journal_lines", "installment_allocations", "timeline_entries",
                 "audit_events", "plans_completed", "accounts_paid_on_plan", "accounts_settled")
        return dict(zip(names, cursor.fetchone()))


# --- run ------------------------------------------------------------------------------------------

def baseline(result, args, tasks, agency_id, actor_id) -> None:
    """The bare INSERTs, after the posting phase, under their own keys; then they are deleted.
    Not before it: the emptied table's statistics (0 rows) made PostgreSQL plan the foreign-key
    checks and the key lookup as sequential scans for the whole posting phase (30,000 scans
    reading 150 million rows in a 10,000-payment run), which no real table has."""
    if args.skip_baseline:
        return
    from django.db import connection

    connection.close()
    result["bare"] = run_phase("bare", tasks, args.procs, agency_id, actor_id, args.database_url)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM payments_payment WHERE agency_id = %s AND idempotency_key LIKE %s",
                       [agency_id, "%" + BARE_KEY_SUFFIX])
        cursor.execute("VACUUM ANALYZE payments_payment")


def run(args) -> dict:
    os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / "portal-payments-bench" / "var"))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    ensure_database(args.database_url, drop=True, out=out)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"database {connection.settings_dict['NAME']} migrated in {time.perf_counter() - started:.1f} s; "
        f"load {loadavg()}, {os.cpu_count()} CPUs")
    n_plans = -(-args.payments // args.per_account)
    setup = seed(n_plans + 1, args.per_account)  # +1: the diagnostic post's account
    agency_id, actor_id = setup["agency"].pk, setup["collector"].pk
    tasks = payment_tasks(agency_id, args.per_account, setup["today"])
    spare = max(t[0] for t in tasks)  # the highest account id: the diagnostic's, left out of the phases
    setup["spare"] = [spare]
    tasks = [t for t in tasks if t[0] != spare][:args.payments]
    out(f"{len(tasks):,} payments to post onto {len({t[0] for t in tasks}):,} accounts on plans, "
        f"{args.per_account} per account, from {args.procs} processes")
    result = {"payments": len(tasks), "per_account": args.per_account, "procs": args.procs,
              "accounts_seeded": setup["accounts"], "plans": setup["plans"]}

    result["diagnostic"] = diagnostic_post(setup, args.per_account)
    if args.cprofile:
        return profile_posts(tasks, agency_id, actor_id, args.database_url, args.cprofile) | result
    connection.close()
    if args.floor:  # the floor's rows would be the app's: one or the other per run
        result["floor"] = run_phase("floor", tasks, args.procs, agency_id, actor_id, args.database_url)
        baseline(result, args, tasks, agency_id, actor_id)
        result["ledger_check"] = time_ledger_check()
        return result
    result["app"] = run_phase("app", tasks, args.procs, agency_id, actor_id, args.database_url, args.max_seconds)
    baseline(result, args, tasks, agency_id, actor_id)
    if "bare" in result:
        result["ratio_pct"] = round(100 * result["app"]["per_s"] / result["bare"]["per_s"], 1)
        out(f"  app / bare INSERT: {result['ratio_pct']} % of the throughput; p95 "
            f"{result['app']['p95_ms']} vs {result['bare']['p95_ms']} ms")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE payments_payment")
        cursor.execute("VACUUM ANALYZE payments_journalline")
    result["outcome"] = outcome_counts(agency_id)
    out("  " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result["outcome"].items()))
    result["ledger_check"] = time_ledger_check()
    if args.ledger_lines:
        result["topup"] = ledger_topup(setup, args.ledger_lines)
        result["ledger_lines"] = ledger_lines()
        result["ledger_check_big"] = time_ledger_check()
    targets = {"payments_per_s_ge_250": result["app"]["per_s"] >= 250}
    if args.ledger_lines >= 1_000_000:
        targets["ledger_check_1m_lines_lt_10s"] = result["ledger_check_big"]["seconds"] < 10
    result["targets"] = targets
    out("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in targets.items()))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.payments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--per-account", type=int, default=5, help="payments per account on a plan")
    parser.add_argument("--procs", type=int, default=2, help="posting processes (one connection each)")
    parser.add_argument("--ledger-lines", type=int, default=1_000_000,
                        help="top the ledger up to this many journal lines and time ledger_check again (0: no)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--floor", action="store_true",
                        help="post with FLOOR_SQL (the same writes in hand-written SQL) instead of payment_post")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop posting after this long (a busy machine); the figures cover what was posted")
    parser.add_argument("--cprofile", metavar="FILE",
                        help="post the payments in this process under cProfile instead of the timed phases")
    parser.add_argument("--database-url", default=os.environ.get("PAYMENTS_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
