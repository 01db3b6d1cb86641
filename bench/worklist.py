"""Worklist benchmark: "Next account" under 50 concurrent collectors, the queue page and the
account workspace, on a PostgreSQL database seeded with N debtor accounts.

    .venv/bin/python -m bench.worklist --accounts 1000000 --agents 50 --seconds 30
    .venv/bin/python -m bench.worklist --accounts 100000 --seconds 10      # a quick look

One run:
  1. creates (or reuses: the seed is kept between runs, --reseed forces a new one) the private
     database, migrates it, and seeds N accounts (one debtor each, ~40 % with a phone or email
     contact) across 2 agencies x 5 clients with SQL (INSERT ... SELECT generate_series), plus a
     third, small agency with N/10 accounts used to show that page query counts do not grow with
     the data; 25+ collectors per big agency, a team, a balance-band queue and one queue per
     client, and 100 accounts per agency with a timeline, promises, payments, a callback and an
     offer (the workspace sample);
  2. baseline: `--agents` threads (spread over `--procs` processes) each running the bare claim
     (BEGIN; SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1; UPDATE; COMMIT) on psycopg2 for
     `--seconds`;
  3. the same number of collectors calling collections_work.worklist.claim.account_claim_next in a loop
     (no think time unless --think-ms) for `--seconds`: claims/s, latency, double claims;
  4. the queue page and the account workspace through django.test.Client (the whole middleware
     stack, signed in as a collector), p50/p95 and SQL query counts, at N and at N/10;
  5. prints the figures; the last line is one JSON object.

The claim state (claimed_by, claim_expires_at, next_action_at, priority) is restored from the
table bench_worklist_seed before every phase, so each phase starts from the same data.
The app code is not changed.
"""
import argparse
import json
import math
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.machine import MachineLoad

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_worklist"
BIG_AGENCIES = ("bench-worklist-a", "bench-worklist-b")
SMALL_AGENCY = "bench-worklist-small"
CLIENTS_PER_BIG_AGENCY = 5
CLIENTS_SMALL = 2
SAMPLE_ACCOUNTS = 200  # workspace requests cycle over these accounts
RICH_ACCOUNTS = 100  # of which this many have a timeline, promises, payments, ...
HIGH_BALANCE = 5000
SEED_CHUNK = 200_000


# --- small helpers ------------------------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile of a list of numbers (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the clock and in-process experiments ----------------------------------------------------------

def apply_clock(at: str) -> float:
    """With --at HH:MM, django.utils.timezone.now() runs at that UTC time of today (plus the time
    elapsed): "Next account" only offers debtors inside calling hours, so results depend on the
    time of day. Returns the offset in seconds (0 for --at now)."""
    if not at or at == "now":
        return 0.0
    from datetime import timezone as dt_timezone

    from django.utils import timezone

    real_now = timezone.now
    hour, minute = (int(x) for x in at.split(":"))
    current = real_now()
    target = current.astimezone(dt_timezone.utc).replace(hour=hour, minute=minute, second=0, microsecond=0)
    offset = target - current
    timezone.now = lambda: real_now() + offset
    return offset.total_seconds()


EXPERIMENTS = {
    "no-calling-hours": "diagnostic: account_claim_next without the calling-hours filter (callable_rule -> Q())",
}


def apply_experiments(names) -> None:
    """Monkeypatch proposed changes into this process only (the app code is not edited)."""
    from django.db.models import Q

    from collections_work.worklist import claim as worklist

    for name in names:
        if name == "no-calling-hours":
            worklist.callable_rule = lambda agency_id, now: Q()
        else:
            raise SystemExit(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")


# --- environment and database -------------------------------------------------------------------

def prepare_environment(args) -> None:
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / "portal-worklist-bench" / "var"))


def _server_connect(url):
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        sys.exit(f"--database-url must point at PostgreSQL, not {config['ENGINE']}")
    connect = {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
               "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    return config, connect, psycopg2


def ensure_database(url: str, drop: bool, out) -> None:
    """Create the private database when missing; with `drop`, drop and create it again."""
    from psycopg2 import sql

    config, connect, psycopg2 = _server_connect(url)
    server = psycopg2.connect(dbname="postgres", **connect)
    server.autocommit = True
    with server.cursor() as cursor:
        name = sql.Identifier(config["NAME"])
        if drop:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            out(f"dropped database {config['NAME']}")
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
            out(f"created database {config['NAME']}")
    server.close()


def psycopg_connect(url):
    config, connect, psycopg2 = _server_connect(url)
    return psycopg2.connect(dbname=config["NAME"], **connect)


# --- seeding --------------------------------------------------------------------------------------

FIRST = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Hooli",
         "Vandelay", "Soylent", "Gringotts", "Oscorp", "Aperture", "Pied Piper", "Dunder", "Monarch", "Nakatomi",
         "Prestige", "Sirius", "Vehement", "Zorg"]
SECOND = ["Holdings", "Logistics", "Dental", "Roofing", "Farms", "Freight", "Systems", "Bakery", "Motors",
          "Plumbing", "Media", "Clinic", "Supply", "Builders", "Foods", "Labs", "Partners", "Studio", "Traders"]

DEBTOR_SQL = """
INSERT INTO collections_work_debtor (kind, name, tax_id_last4, time_zone, debtor_key, created_at, agency_id,
                                     client_id)
SELECT CASE WHEN g %% 10 < 7 THEN 'business' ELSE 'person' END,
       (%(first)s::text[])[1 + g %% 23] || ' ' || (%(second)s::text[])[1 + (g / 23) %% 19] || ' ' || g,
       lpad((g %% 10000)::text, 4, '0'),
       CASE WHEN (g::bigint * 7919) %% 100 < 35 THEN 'America/New_York' WHEN (g::bigint * 7919) %% 100 < 60 THEN 'America/Chicago'
            WHEN (g::bigint * 7919) %% 100 < 68 THEN 'America/Denver' WHEN (g::bigint * 7919) %% 100 < 88 THEN 'America/Los_Angeles'
            WHEN (g::bigint * 7919) %% 100 < 91 THEN 'America/Phoenix' ELSE '' END,
       'bw-' || g, now(), %(agency)s, (%(clients)s::bigint[])[1 + g %% %(nclients)s]
FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
"""

# The worklist score of collections_work.debtor_accounts.scoring.score_parts, in SQL, for an account with no
# promise or callback due (none of the seeded accounts has one): balance + age + last contact
# + waiting. Checked against the Python score on a sample right after seeding.
PRIORITY_SQL = """round(10 * (
    round(10 * log(greatest(v.balance, 1)), 1)
  + round(10 * log(CASE WHEN v.days <= 90 THEN 0.90 + (0.70 - 0.90) * v.days / 90.0
                        WHEN v.days <= 180 THEN 0.70 + (0.50 - 0.70) * (v.days - 90) / 90.0
                        WHEN v.days <= 365 THEN 0.50 + (0.25 - 0.50) * (v.days - 180) / 185.0
                        WHEN v.days <= 730 THEN 0.25 + (0.10 - 0.25) * (v.days - 365) / 365.0
                        WHEN v.days <= 1095 THEN 0.10 + (0.03 - 0.10) * (v.days - 730) / 365.0
                        ELSE 0.03 END), 1)
  + CASE WHEN v.last_worked_at IS NULL THEN 8
         ELSE round((least(extract(epoch FROM (%(now)s - v.last_worked_at)) / 86400, 30) / 3 - 5)::numeric, 1) END
  + CASE WHEN v.next_action_at > %(now)s OR v.cease_communication_at IS NOT NULL THEN -1000 ELSE 0 END
))::int"""

ACCOUNT_SQL = """
INSERT INTO collections_work_debtoraccount (
    debtor_name, debtor_time_zone, client_reference, debt_purpose, status, currency, principal, interest, fees, paid, balance,
    invoice_number, invoice_date, due_date, delinquency_date, placed_at, last_payment_date, priority, hold_reason,
    updated_at, agency_id, client_id, debtor_id, cease_communication_at, last_worked_at, last_contact_at,
    next_action_at)
SELECT v.name, v.time_zone, 'BW-' || v.g, v.purpose, v.status, 'USD', v.principal, v.interest, v.total - v.principal - v.interest,
       v.paid, v.balance, 'INV-' || v.g, v.delinquency_date - 30, v.delinquency_date, v.delinquency_date,
       v.placed_at, CASE WHEN v.paid > 0 THEN %(today)s - (v.r5 * 200)::int END, """ + PRIORITY_SQL + """,
       CASE WHEN v.status = 'on_hold' THEN 'Client asked to pause' ELSE '' END,
       %(now)s, v.agency_id, v.client_id, v.debtor_id, v.cease_communication_at, v.last_worked_at,
       v.last_worked_at, v.next_action_at
FROM (
  SELECT w.*, w.total - w.paid AS balance, greatest(%(today)s - w.delinquency_date, 0) AS days,
         %(now)s - (w.r8 * (%(today)s - w.delinquency_date)) * interval '1 day' AS placed_at,
         CASE WHEN w.status = 'active' AND w.r4 < 0.6 THEN %(now)s - (1 + w.r5 * 59) * interval '1 day' END
             AS last_worked_at,
         CASE WHEN w.status IN ('new', 'active') AND w.r6 < 0.04 THEN %(now)s + (1 + w.r7 * 29) * interval '1 day' END
             AS next_action_at,
         CASE WHEN w.status IN ('new', 'active') AND w.r6 >= 0.04 AND w.r6 < 0.045
              THEN %(now)s - interval '10 days' END AS cease_communication_at
  FROM (
    SELECT u.*, round(u.total * 0.82, 2) AS principal, round(u.total * 0.12, 2) AS interest,
           CASE WHEN u.status = 'paid' THEN u.total WHEN u.status = 'closed' THEN round(u.total * u.r2 * 0.5, 2)
                WHEN u.r2 < 0.2 THEN round(u.total * u.r2, 2) ELSE 0 END AS paid,
           %(today)s - (u.r3 * 1400)::int AS delinquency_date
    FROM (
      SELECT d.id AS debtor_id, d.name, d.time_zone, d.agency_id, d.client_id, substr(d.debtor_key, 4)::int AS g,
             round((10 ^ (1.7 + 3.3 * random() ^ 1.6))::numeric, 2) AS total,
             CASE WHEN s < 0.30 THEN 'new' WHEN s < 0.85 THEN 'active' WHEN s < 0.91 THEN 'on_hold'
                  WHEN s < 0.96 THEN 'paid' ELSE 'closed' END AS status,
             CASE WHEN p < 0.7 THEN 'commercial' WHEN p < 0.9 THEN 'consumer' ELSE 'unknown' END AS purpose,
             random()::numeric AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6, random() AS r7,
             random() AS r8
      FROM (SELECT d0.*, random() AS s, random() AS p FROM collections_work_debtor d0
            WHERE d0.id > %(after_id)s OFFSET 0) d
      OFFSET 0
    ) u
  ) w
) v
"""

CONTACT_SQL = """
INSERT INTO collections_work_contact (kind, value, label, time_zone, created_at, agency_id, client_id, debtor_id)
SELECT 'phone', '+1555' || lpad((g %% 10000000)::text, 7, '0'), 'main', d.time_zone, now(), d.agency_id,
       d.client_id, d.id
FROM (SELECT d0.*, substr(d0.debtor_key, 4)::int AS g FROM collections_work_debtor d0 WHERE d0.id > %(after_id)s) d
WHERE g %% 3 = 0
UNION ALL
SELECT 'email', 'debtor' || g || '@example.test', '', '', now(), d.agency_id, d.client_id, d.id
FROM (SELECT d0.*, substr(d0.debtor_key, 4)::int AS g FROM collections_work_debtor d0 WHERE d0.id > %(after_id)s) d
WHERE g %% 5 = 0
"""


def seed_accounts(cursor, agency_id, client_ids, lo, hi, now, today, out):
    """Debtors, accounts and contacts numbered lo..hi for one agency, in chunks."""
    for start in range(lo, hi + 1, SEED_CHUNK):
        end = min(hi, start + SEED_CHUNK - 1)
        started = time.perf_counter()
        cursor.execute("SELECT coalesce(max(id), 0) FROM collections_work_debtor")
        after_id = cursor.fetchone()[0]
        cursor.execute(DEBTOR_SQL, {"first": FIRST, "second": SECOND, "agency": agency_id,
                                    "clients": list(client_ids), "nclients": len(client_ids), "lo": start,
                                    "hi": end})
        cursor.execute(ACCOUNT_SQL, {"after_id": after_id, "now": now, "today": today})
        cursor.execute(CONTACT_SQL, {"after_id": after_id})
        out(f"  agency {agency_id}: accounts {start:,}..{end:,} in {time.perf_counter() - started:.1f} s")


def check_priorities(agency_ids, now, out) -> dict:
    """Compare the SQL priority with scoring.priority_of(score_parts(...)) on 2,000 accounts."""
    from collections_work.debtor_accounts import scoring
    from collections_work.models import DebtorAccount
    from portal.tenancy import unscoped

    with unscoped():
        sample = list(DebtorAccount.objects.filter(agency_id__in=agency_ids).order_by("?")[:2000])
    diffs = [abs(scoring.priority_of(scoring.score_parts(a, now=now, promise_due=False, callback_due=False))
                 - a.priority) for a in sample]
    result = {"checked": len(diffs), "equal": sum(d == 0 for d in diffs), "max_diff": max(diffs, default=0)}
    out(f"  seeded priority vs scoring.score_parts on {result['checked']:,} accounts: {result['equal']:,} equal, "
        f"max difference {result['max_diff']} (priority units; rounding of float vs numeric)")
    return result


def seed(n_accounts, out) -> dict:
    """The whole seed: tenants, clients and accounts (SQL), the state table, statistics."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Agency, Client
    from portal.tenancy import unscoped

    now = timezone.now()
    today = timezone.localdate(now)
    started = time.perf_counter()
    agencies = []
    with unscoped():
        for slug in BIG_AGENCIES + (SMALL_AGENCY,):
            agency, _ = Agency.objects.get_or_create(slug=slug, defaults={
                "name": f"Bench {slug}", "mfa_required_for_staff": False})
            count = CLIENTS_SMALL if slug == SMALL_AGENCY else CLIENTS_PER_BIG_AGENCY
            clients = [Client.objects.get_or_create(agency=agency, name=f"{slug} client {k}",
                                                    defaults={"status": Client.Status.ACTIVE})[0]
                       for k in range(count)]
            agencies.append((agency, clients))
    half = n_accounts // 2
    ranges = [(1, half), (half + 1, n_accounts), (n_accounts + 1, n_accounts + max(n_accounts // 10, 1000))]
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SELECT setseed(0.42)")
        for (agency, clients), (lo, hi) in zip(agencies, ranges):
            seed_accounts(cursor, agency.pk, [c.pk for c in clients], lo, hi, now, today, out)
        cursor.execute("DROP TABLE IF EXISTS bench_worklist_seed")
        cursor.execute("CREATE UNLOGGED TABLE bench_worklist_seed AS SELECT id, priority, next_action_at "
                       "FROM collections_work_debtoraccount")
        cursor.execute("ALTER TABLE bench_worklist_seed ADD PRIMARY KEY (id)")
        for table in ("collections_work_debtor", "collections_work_debtoraccount", "collections_work_contact",
                      "bench_worklist_seed"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    out(f"seeded {n_accounts:,} accounts (+{ranges[2][1] - ranges[2][0] + 1:,} in the small agency) in "
        f"{time.perf_counter() - started:.1f} s")
    return check_priorities([a.pk for a, _ in agencies], now, out)


def seed_is_current(n_accounts) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_worklist_seed') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("""SELECT g.slug, count(a.id) FROM accounts_agency g
                          LEFT JOIN collections_work_debtoraccount a ON a.agency_id = g.id
                          WHERE g.slug = ANY(%s) GROUP BY g.slug""", [list(BIG_AGENCIES + (SMALL_AGENCY,))])
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM bench_worklist_seed")
        seeded = cursor.fetchone()[0]
    big = sum(counts.get(slug, 0) for slug in BIG_AGENCIES)
    small = counts.get(SMALL_AGENCY, 0)
    return big == n_accounts and small == max(n_accounts // 10, 1000) and seeded == big + small


# --- collectors, teams, queues, the workspace sample (idempotent, every run) -------------------------

def collector_role(index):
    """Which queues collector #index works: 0 senior (balance band), 1-3 a client's queue, 4 default only."""
    return ("senior", "client", "client", "client", "default")[index % 5]


def ensure_people_and_queues(n_collectors, out) -> dict:
    from accounts.models import Agency, Client, Membership, Role, User
    from collections_work.worklist import claim as worklist
    from collections_work.models import Queue, Team
    from portal.tenancy import tenant_scope, unscoped

    setup = {}
    for slug in BIG_AGENCIES + (SMALL_AGENCY,):
        agency = Agency.objects.get(slug=slug)
        if agency.mfa_required_for_staff:
            agency.mfa_required_for_staff = False
            agency.save(update_fields=["mfa_required_for_staff"])
        count = n_collectors if slug != SMALL_AGENCY else 5
        with unscoped():
            clients = list(Client.objects.filter(agency=agency).order_by("pk"))
            users = []
            for index in range(count):
                user, created = User.objects.get_or_create(email=f"{slug}-c{index}@example.test",
                                                           defaults={"full_name": f"Collector {index} {slug}"})
                if created:
                    Membership.objects.create(user=user, agency=agency, role=Role.COLLECTOR)
                users.append(user)
            viewer, created = User.objects.get_or_create(email=f"{slug}-viewer@example.test",
                                                         defaults={"full_name": f"Viewer {slug}"})
            if created:
                Membership.objects.create(user=viewer, agency=agency, role=Role.COLLECTOR)
        with tenant_scope(agency):
            default = worklist.default_queue_for(agency)
            team, _ = Team.objects.get_or_create(agency=agency, name="Seniors")
            team.members.set([u for i, u in enumerate(users) if collector_role(i) == "senior"])
            high, _ = Queue.objects.get_or_create(agency=agency, name="High balance", defaults={
                "position": 10, "balance_min": HIGH_BALANCE})
            high.teams.set([team])
            client_queues = []
            for k, client in enumerate(clients):
                queue, _ = Queue.objects.get_or_create(agency=agency, name=f"Client {k}",
                                                       defaults={"position": 20 + k})
                queue.clients.set([client])
                client_queues.append(queue)
            client_collectors = [u for i, u in enumerate(users) if collector_role(i) == "client"]
            for k, queue in enumerate(client_queues):
                queue.collectors.set(client_collectors[k::len(client_queues)])
            # Not assigned to anyone: only their pages are measured (rules the worklist index cannot serve).
            by_balance, _ = Queue.objects.get_or_create(agency=agency, name="Old small balances", defaults={
                "position": 50, "age_buckets": ["365+"], "balance_max": 500})
            oldest, _ = Queue.objects.get_or_create(agency=agency, name="Pacific time", defaults={
                "position": 60, "time_zones": ["America/Los_Angeles"]})
        setup[slug] = {"agency": agency, "clients": clients, "collectors": users, "viewer": viewer,
                       "queues": {"default": default, "high_balance": high, "client": client_queues[0],
                                  "by_balance": by_balance, "oldest": oldest}}
    return setup


def ensure_workspace_sample(entry, out) -> list[int]:
    """SAMPLE_ACCOUNTS open accounts spread over the agency; the first RICH_ACCOUNTS get a timeline,
    promises, payments, a callback and an offer (once: kept with the seed)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from collections_work.models import Activity, Callback, Contact, Promise
    from payments.models import Payment, PlanOffer
    from portal.tenancy import unscoped

    agency = entry["agency"]
    with connection.cursor() as cursor:
        cursor.execute("""SELECT id FROM collections_work_debtoraccount
                          WHERE agency_id = %s AND status IN ('new', 'active') ORDER BY id""", [agency.pk])
        ids = [row[0] for row in cursor.fetchall()]
    step = max(1, len(ids) // SAMPLE_ACCOUNTS)
    sample = ids[::step][:SAMPLE_ACCOUNTS]
    rich = sample[:RICH_ACCOUNTS]
    now = timezone.now()
    today = timezone.localdate(now)
    with unscoped():
        if Activity.objects.filter(account_id__in=rich).exists():
            return sample
        from collections_work.models import DebtorAccount

        accounts = list(DebtorAccount.objects.filter(pk__in=rich))
        phones = {c.debtor_id: c for c in Contact.objects.filter(debtor_id__in=[a.debtor_id for a in accounts],
                                                                 kind="phone")}
        actor, viewer = entry["collectors"][0], entry["viewer"]
        activities, promises, callbacks, payments, offers = [], [], [], [], []
        for account in accounts:
            common = {"agency_id": agency.pk, "client_id": account.client_id, "account": account}
            for k in range(5):
                activities.append(Activity(**common, kind="call", actor=actor, summary="Call: no answer",
                                           outcome="no_answer", contact=phones.get(account.debtor_id),
                                           client_visible=False, occurred_at=now - timedelta(days=k + 1)))
            for k in range(2):
                activities.append(Activity(**common, kind="note", actor=actor, summary="Note",
                                           body=f"Debtor says the invoice {k} was sent to the wrong address.",
                                           client_visible=False, occurred_at=now - timedelta(days=10 + k)))
            promises.append(Promise(**common, made_by=actor, amount=Decimal("100.00"),
                                    due_date=today + timedelta(days=10), created_at=now))
            promises.append(Promise(**common, made_by=actor, amount=Decimal("50.00"), status="kept",
                                    due_date=today - timedelta(days=20), created_at=now - timedelta(days=30),
                                    paid_amount=Decimal("50.00"), resolved_at=now - timedelta(days=21)))
            callbacks.append(Callback(**common, collector=viewer, due_at=now + timedelta(days=3), note="Call back"))
            for k in range(2):
                payments.append(Payment(**common, amount=Decimal("25.00"), received_on=today - timedelta(days=40 + k),
                                        method="ach", reported_by=actor))
            offers.append(PlanOffer(**common, kind="installments", total_amount=account.balance,
                                    installment_count=6, first_due_date=today + timedelta(days=14),
                                    created_by=actor))
        Activity.objects.bulk_create(activities)
        Promise.objects.bulk_create(promises)
        Callback.objects.bulk_create(callbacks)
        Payment.objects.bulk_create(payments)
        PlanOffer.objects.bulk_create(offers)
    out(f"  workspace sample of {agency.slug}: {len(rich)} accounts given {len(activities)} activities, "
        f"{len(promises)} promises, {len(callbacks)} callbacks, {len(payments)} payments, {len(offers)} offers")
    return sample


# --- resetting the claim state between phases ----------------------------------------------------

def reset_state(out, label="") -> float:
    """Every account back to its seeded claim state, then VACUUM ANALYZE (dead tuples of the
    previous phase would otherwise slow the next one)."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("""UPDATE collections_work_debtoraccount a
                          SET claimed_by_id = NULL, claim_expires_at = NULL, priority = s.priority,
                              next_action_at = s.next_action_at
                          FROM bench_worklist_seed s
                          WHERE a.id = s.id AND (a.claimed_by_id IS NOT NULL OR a.claim_expires_at IS NOT NULL
                                OR a.priority <> s.priority OR a.next_action_at IS DISTINCT FROM s.next_action_at)""")
        changed = cursor.rowcount
        cursor.execute("VACUUM ANALYZE collections_work_debtoraccount")
    seconds = time.perf_counter() - started
    out(f"  reset{(' ' + label) if label else ''}: {changed:,} accounts restored, table vacuumed in {seconds:.1f} s")
    return seconds


# --- the claim workers (in child processes, threads inside) ----------------------------------------

BARE_SELECT = """SELECT id FROM collections_work_debtoraccount
WHERE agency_id = %s AND status IN ('new', 'active')
  AND (claim_expires_at IS NULL OR claim_expires_at <= now())
  AND (next_action_at IS NULL OR next_action_at <= now())
ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED"""
BARE_UPDATE = """UPDATE collections_work_debtoraccount
SET claimed_by_id = %s, claim_expires_at = now() + interval '20 minutes',
    next_action_at = now() + interval '30 minutes', priority = priority - 10000
WHERE id = %s"""


def _agent_thread(mode, agent, agency_id, user_id, think, shared, records, errors, ready):
    """One collector: claim, record, (think), claim again, until the phase ends."""
    from django.db import connections

    from accounts.models import Agency, User
    from collections_work.worklist import claim as worklist
    from portal.tenancy import tenant_scope

    conn = None
    try:
        if mode == "bare":
            conn = psycopg_connect(os.environ["DATABASE_URL"])
            cursor = conn.cursor()
        else:
            agency = Agency.objects.get(pk=agency_id)
            user = User.objects.get(pk=user_id)
            connections["default"].ensure_connection()
    except Exception as error:  # noqa: BLE001
        errors.append(f"setup: {error!r}")
        ready.wait()
        return
    ready.wait()
    shared["go"].wait()
    end = shared["end"]
    monotonic, append = time.monotonic, records.append
    jitter = random.Random(agent)
    if think:  # collectors do not press "Next account" in step: random start, think time 0.5x-1.5x
        time.sleep(jitter.uniform(0, think))
    try:
        if mode == "bare":
            while True:
                t0 = monotonic()
                if t0 >= end:
                    break
                try:
                    cursor.execute(BARE_SELECT, [agency_id])
                    row = cursor.fetchone()
                    if row is not None:
                        cursor.execute(BARE_UPDATE, [user_id, row[0]])
                    conn.commit()
                except Exception as error:  # noqa: BLE001
                    conn.rollback()
                    errors.append(repr(error))
                    continue
                append((agent, row[0] if row else 0, 0, t0, monotonic()))
                if think:
                    time.sleep(think * jitter.uniform(0.5, 1.5))
        else:
            with tenant_scope(agency):
                while True:
                    t0 = monotonic()
                    if t0 >= end:
                        break
                    try:
                        claim = worklist.account_claim_next(agency=agency, collector=user)
                    except Exception as error:  # noqa: BLE001
                        errors.append(repr(error))
                        continue
                    t1 = monotonic()
                    if claim is None:
                        append((agent, 0, 0, t0, t1))
                    else:
                        append((agent, claim.account_id, claim.queue.pk if claim.queue else -1, t0, t1))
                    if think:
                        time.sleep(think * jitter.uniform(0.5, 1.5))
    finally:
        if conn is not None:
            conn.close()
        connections.close_all()


def _child_main(mode, agents, think, ready_queue, go_event, end_value, result_queue, at, experiments):
    """A worker process: django.setup(), one thread per agent, report when ready, run, send records."""
    import django

    django.setup()
    apply_clock(at)
    apply_experiments(experiments)
    records, errors = [], []
    ready = threading.Barrier(len(agents) + 1)
    shared = {"go": threading.Event(), "end": 0.0}
    threads = [threading.Thread(target=_agent_thread, args=(mode, agent, agency_id, user_id, think, shared,
                                                            records, errors, ready), daemon=True)
               for agent, agency_id, user_id in agents]
    for thread in threads:
        thread.start()
    ready.wait()
    ready_queue.put(os.getpid())
    go_event.wait()
    shared["end"] = end_value.value
    cpu = self_cpu()
    shared["go"].set()
    for thread in threads:
        thread.join()
    result_queue.put({"records": records, "errors": errors[:20], "error_count": len(errors),
                      "cpu": self_cpu() - cpu})


def warmup_for(warmup: float, think_ms: int) -> float:
    """Paced collectors warm up for at least six presses each, as all day on a call floor: a
    database session plans the claim statement afresh for its first five runs before it keeps a
    generic plan (collections_work/claim_sql.py), and back to back that takes well under a second."""
    return max(warmup, 6 * think_ms / 1000)


def run_agents(mode, assignments, seconds, warmup, procs, think_ms, out, at="now", experiments=()) -> dict:
    """Run `mode` ("bare" or "app") with one thread per assignment over `procs` processes."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = max(1, min(procs, len(assignments)))
    ready_queue, result_queue = ctx.Queue(), ctx.Queue()
    go_event, end_value = ctx.Event(), ctx.Value("d", 0.0)
    children = []
    for p in range(procs):
        child = ctx.Process(target=_child_main, args=(mode, assignments[p::procs], think_ms / 1000.0, ready_queue,
                                                      go_event, end_value, result_queue, at, list(experiments)), daemon=True)
        child.start()
        children.append(child)
    for _ in children:
        ready_queue.get(timeout=300)
    load = MachineLoad()
    start = time.monotonic() + 0.2
    end_value.value = start + warmup + seconds
    go_event.set()
    results = [result_queue.get(timeout=warmup + seconds + 300) for _ in children]
    busy = round(load.busy_since_last(), 1)
    for child in children:
        child.join(timeout=60)
    records = [r for result in results for r in result["records"]]
    errors = [e for result in results for e in result["errors"]]
    error_count = sum(result["error_count"] for result in results)
    measured = [r for r in records if r[3] >= start + warmup]
    latencies = [r[4] - r[3] for r in measured]
    claimed = [r for r in measured if r[1]]
    doubles, repeats = double_claims(records, end_value.value)
    summary = {
        "mode": mode, "agents": len(assignments), "procs": procs, "think_ms": think_ms, "seconds": seconds,
        "calls": len(measured), "claims": len(claimed), "empty": len(measured) - len(claimed),
        "claims_per_s": round(len(claimed) / seconds, 1), "p50_ms": ms(pct(latencies, 50)),
        "p95_ms": ms(pct(latencies, 95)), "p99_ms": ms(pct(latencies, 99)), "max_ms": ms(max(latencies, default=None)),
        "mean_ms": ms(sum(latencies) / len(latencies)) if latencies else None,
        "double_claims": doubles, "repeat_claims": repeats, "errors": error_count,
        "machine_busy_pct": busy, "loadavg": loadavg(),
        "worker_cpu_s": round(sum(result["cpu"] for result in results), 2),
        "by_queue": dict(Counter(r[2] for r in claimed)) if mode == "app" else None,
    }
    if errors:
        out(f"  {mode}: {error_count} errors, first: {errors[0]}")
    return summary


def double_claims(records, end) -> tuple[int, int]:
    """An agent holds an account from the return of its claim until it starts its next call (the
    call that releases it). A claim of that account returning to another agent inside that
    interval is a double claim. Repeats: an account claimed more than once in the phase (parking
    should prevent it for WORKLIST_SKIP_MINUTES)."""
    by_agent = defaultdict(list)
    for record in records:
        by_agent[record[0]].append(record)
    held_until = {}
    for agent_records in by_agent.values():
        agent_records.sort(key=lambda r: r[3])
        for current, following in zip(agent_records, agent_records[1:] + [None]):
            held_until[id(current)] = following[3] if following else end + 1e9
    by_account = defaultdict(list)
    for record in records:
        if record[1]:
            by_account[record[1]].append(record)
    doubles = repeats = 0
    for claims in by_account.values():
        if len(claims) < 2:
            continue
        repeats += len(claims) - 1
        claims.sort(key=lambda r: r[4])
        for index, later in enumerate(claims[1:], 1):
            if any(earlier[0] != later[0] and earlier[4] <= later[4] < held_until[id(earlier)]
                   for earlier in claims[:index]):
                doubles += 1
    return doubles, repeats


def db_double_holders() -> int:
    """Collectors holding more than one account at the end of a phase (should be 0 for the app)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""SELECT count(*) FROM (SELECT claimed_by_id FROM collections_work_debtoraccount
                          WHERE claimed_by_id IS NOT NULL GROUP BY claimed_by_id HAVING count(*) > 1) x""")
        return cursor.fetchone()[0]


# --- diagnostics: the claim's statements and their plans --------------------------------------------

def claim_diagnostics(entry, explain_out, out) -> dict:
    """One claim for a default-only collector and one for a client-queue collector with every
    statement captured; then each statement under EXPLAIN (ANALYZE, BUFFERS) in a rolled-back
    transaction; then the claim query of the balance- and age-ordered queues."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from collections_work.worklist import claim as worklist
    from portal.tenancy import tenant_scope

    agency = entry["agency"]
    result, plans = {}, []
    roles = {"default": None, "client": None, "senior": None}
    for index, user in enumerate(entry["collectors"]):
        role = collector_role(index)
        if roles.get(role) is None:
            roles[role] = user
    with tenant_scope(agency):
        for role, user in roles.items():
            with CaptureQueriesContext(connection) as first:  # builds the caches, prepares the statements
                worklist.account_claim_next(agency=agency, collector=user)
            with CaptureQueriesContext(connection) as captured:  # what every later press sends
                started = time.perf_counter()
                claim = worklist.account_claim_next(agency=agency, collector=user)
                seconds = time.perf_counter() - started
            statements = captured.captured_queries
            result[f"claim_queries_{role}"] = len(statements)
            out(f"  one claim ({role} collector, idle machine): {len(statements)} SQL round trip(s) "
                f"({len(first.captured_queries)} on the first press: caches and PREPARE), "
                f"{seconds * 1000:.1f} ms, got account {claim.account_id if claim else None}")
            with transaction.atomic():
                with connection.cursor() as cursor:
                    for query in statements:
                        # "EXECUTE release (...); EXECUTE claim (...)": explain each.
                        for sql in query["sql"].split("; EXECUTE "):
                            sql = sql if sql.startswith("EXECUTE") else "EXECUTE " + sql
                            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                            plan = [row[0] for row in cursor.fetchall()]
                            plans.append((f"claim ({role})", sql, plan))
                transaction.set_rollback(True)
        now = timezone.now()
        night = now.replace(hour=6, minute=0)  # 01:00 in New York, 22:00 in Los Angeles: no US zone callable
        for name, at in (("by_balance", now), ("oldest", now), ("high_balance", now), ("default", now),
                         ("default_at_0600_utc", night)):
            queue = entry["queues"][name.replace("_at_0600_utc", "")]
            queryset = (worklist.queue_accounts(queue, collector=roles["default"], now=at)
                        .filter(worklist.workable_now(at), worklist.callable_rule(agency.pk, at))
                        .select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:1])
            with transaction.atomic():
                try:
                    sql, params = queryset.query.sql_with_params()
                except EmptyResultSet:  # no zone callable at all: Django answers "nothing" without a query
                    out(f"  claim query of queue '{queue.name}' at {at:%H:%M} UTC: no query (no debtor zone callable)")
                    result[f"claim_query_ms_{name}"] = 0.0
                    continue
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = [row[0] for row in cursor.fetchall()]
                transaction.set_rollback(True)
            plans.append((f"claim query of queue '{queue.name}' at {at:%H:%M} UTC",
                          f"{sql} -- {params}", plan))
            execution = next((line for line in plan if line.startswith("Execution Time")), "?")
            result[f"claim_query_ms_{name}"] = float(execution.split(":")[1].split()[0]) if ":" in execution else None
            rows = next((line for line in plan if "Index Scan" in line or "Seq Scan" in line), "").strip()
            out(f"  claim query of queue '{queue.name}' at {at:%H:%M} UTC: {execution}; "
                f"{rows[:140]}")
    with open(explain_out, "w") as handle:
        for label, sql, plan in plans:
            handle.write(f"-- {label}\n{' '.join(sql.split())}\n" + "\n".join(plan) + "\n\n")
    slowest = sorted(((float(next((l for l in p if l.startswith("Execution Time")), "x: 0").split(":")[1].split()[0]),
                       label, " ".join(s.split())[:90]) for label, s, p in plans), reverse=True)[:4]
    for seconds, label, sql in slowest:
        out(f"    {seconds:8.2f} ms  {label}: {sql}")
    out(f"  plans written to {explain_out}")
    return result


# --- pages ----------------------------------------------------------------------------------------

def measure_page(client, urls, requests, warm=5) -> dict:
    """p50/p95 over `requests` GETs cycling through `urls`, and the SQL statements per request
    (counted on separate requests so counting does not skew the latencies)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(warm):
        client.get(urls[index % len(urls)])
    latencies, statuses = [], Counter()
    for index in range(requests):
        url = urls[index % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] += 1
    counts = []
    for url in urls[:10]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        counts.append(len(captured.captured_queries))
    slowest = sorted(((float(q["time"]), q["sql"]) for q in captured.captured_queries), reverse=True)[:1]
    return {"requests": requests, "p50_ms": ms(pct(latencies, 50)), "p95_ms": ms(pct(latencies, 95)),
            "max_ms": ms(max(latencies)), "queries": max(counts), "queries_min": min(counts),
            "status": dict(statuses), "slowest_sql_ms": round(slowest[0][0] * 1000, 1) if slowest else None,
            "slowest_sql": " ".join(slowest[0][1].split())[:160] if slowest else None}


def measure_pages(setup, samples, requests, out) -> dict:
    from django.test import Client
    from django.urls import reverse

    pages = {}
    for slug in (BIG_AGENCIES[0], SMALL_AGENCY):
        entry = setup[slug]
        client = Client()
        client.force_login(entry["viewer"])
        size = "big" if slug != SMALL_AGENCY else "small"
        load = MachineLoad()
        figures = {
            "queue_page": measure_page(client, [reverse("queue_detail", args=[entry["queues"]["default"].pk])],
                                       requests),
            "workspace": measure_page(client, [reverse("account_workspace", args=[pk]) for pk in samples[slug]],
                                      requests),
            "worklist_home": measure_page(client, [reverse("worklist_home")], max(20, requests // 5)),
        }
        if size == "big":
            for name in ("high_balance", "client", "by_balance", "oldest"):
                figures[f"queue_page_{name}"] = measure_page(  # seconds each at 1M for two of them: few
                    client, [reverse("queue_detail", args=[entry["queues"][name].pk])], max(10, requests // 20),
                    warm=1)
        busy = round(load.busy_since_last(), 1)
        for name, figure in figures.items():
            out(f"  {size:5} {name:24} p50 {figure['p50_ms']:8.1f} ms  p95 {figure['p95_ms']:8.1f} ms  "
                f"max {figure['max_ms']:8.1f} ms  {figure['queries']:3} SQL"
                + (f" ({figure['queries_min']}-{figure['queries']})" if figure["queries_min"] != figure["queries"]
                   else "") + f"  status {figure['status']}"
                f"  slowest SQL {figure['slowest_sql_ms']} ms")
        out(f"  ({size}: machine {busy:.0f}% busy, load {loadavg()})")
        pages[size] = figures
    return pages


# --- the run ----------------------------------------------------------------------------------------

def run(args) -> dict:
    lines = []

    def out(text=""):
        print(text, flush=True)
        lines.append(text)

    prepare_environment(args)
    ensure_database(args.database_url, drop=False, out=out)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"database {settings.DATABASES['default']['NAME']} migrated in {time.perf_counter() - started:.1f} s; "
        f"load {loadavg()}, {os.cpu_count()} CPUs")
    offset = apply_clock(args.at)
    apply_experiments(args.experiment)
    from django.utils import timezone as dj_timezone

    out(f"clock: {dj_timezone.now():%Y-%m-%d %H:%M} UTC (--at {args.at}; offset {offset / 3600:+.2f} h)"
        + (f"; experiments: {args.experiment}" if args.experiment else ""))
    priority_check = None
    if args.reseed or not seed_is_current(args.accounts):
        connections.close_all()
        ensure_database(args.database_url, drop=True, out=out)
        call_command("migrate", interactive=False, verbosity=0)
        out(f"seeding {args.accounts:,} accounts (takes a while; kept for the next runs)")
        priority_check = seed(args.accounts, out)
    else:
        out(f"reusing the seed of {args.accounts:,} accounts (--reseed to make a new one)")
    agent_counts = [args.agents] + [n for n in args.also_agents if n != args.agents]
    per_agency = math.ceil(max(agent_counts) / len(BIG_AGENCIES))
    setup = ensure_people_and_queues(max(per_agency, 5), out)
    samples = {slug: ensure_workspace_sample(setup[slug], out) for slug in (BIG_AGENCIES[0], SMALL_AGENCY)}

    def assignments(n):
        """Agent i: big agency i % 2, its collector #(i // 2)."""
        return [(i, setup[BIG_AGENCIES[i % 2]]["agency"].pk, setup[BIG_AGENCIES[i % 2]]["collectors"][i // 2].pk)
                for i in range(n)]

    reset_state(out, "before the run")
    out("diagnostics (one claim each, statements and plans):")
    diagnostics = claim_diagnostics(setup[BIG_AGENCIES[0]], args.explain_out, out)
    reset_state(out)

    phases = {}
    runs = [(n, args.think_ms) for n in agent_counts] + [(args.agents, t) for t in args.also_think_ms]
    for n, think in runs:
        warmup = warmup_for(args.warmup, think)
        for mode in (("bare", "app") if not args.skip_bare else ("app",)):
            out(f"{mode} claims: {n} agents over {min(args.procs, n)} processes, {warmup:.0f} s warm-up + "
                f"{args.seconds:.0f} s measured, think {think} ms; load before {loadavg()}")
            connections.close_all()
            summary = run_agents(mode, assignments(n), args.seconds, warmup, args.procs, think, out,
                                 args.at, args.experiment)
            summary["db_collectors_holding_2+"] = db_double_holders() if mode == "app" else None
            phases[f"{mode}_{n}" + (f"_think{think}" if think != args.think_ms else "")] = summary
            out(f"  {summary['claims']:,} claims ({summary['empty']} empty) = {summary['claims_per_s']:,.1f}/s; "
                f"latency p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
                f"max {summary['max_ms']} ms; double claims {summary['double_claims']}, repeats "
                f"{summary['repeat_claims']}, errors {summary['errors']}; machine {summary['machine_busy_pct']}% busy,"
                f" load {summary['loadavg']}, worker CPU {summary['worker_cpu_s']} s"
                + (f"; claims by queue {summary['by_queue']}" if summary["by_queue"] else ""))
            reset_state(out)

    pages = {}
    if not args.skip_pages:
        out(f"pages ({args.page_requests} requests each; big = agency of {args.accounts // 2:,} accounts, "
            f"small = {max(args.accounts // 10, 1000):,}):")
        pages = measure_pages(setup, samples, args.page_requests, out)
        reset_state(out)

    app, bare = phases.get(f"app_{args.agents}", {}), phases.get(f"bare_{args.agents}", {})
    ratio = round(app["p95_ms"] / bare["p95_ms"], 2) if app.get("p95_ms") and bare.get("p95_ms") else None
    big, small = pages.get("big", {}), pages.get("small", {})
    result = {
        "accounts": args.accounts, "agents": args.agents, "seconds": args.seconds, "procs": args.procs,
        "think_ms": args.think_ms, "at_utc": args.at, "experiments": args.experiment,
        "claims": app.get("claims"), "claims_per_s": app.get("claims_per_s"),
        "claim_p50_ms": app.get("p50_ms"), "claim_p95_ms": app.get("p95_ms"), "claim_p99_ms": app.get("p99_ms"),
        "double_claims": app.get("double_claims"), "repeat_claims": app.get("repeat_claims"),
        "claim_errors": app.get("errors"),
        "bare_p50_ms": bare.get("p50_ms"), "bare_p95_ms": bare.get("p95_ms"),
        "bare_claims_per_s": bare.get("claims_per_s"), "claim_vs_bare_p95": ratio,
        "claim_queries": diagnostics.get("claim_queries_default"),
        "claim_query_ms": {k[len("claim_query_ms_"):]: v for k, v in diagnostics.items()
                           if k.startswith("claim_query_ms_")},
        "queue_page_p50_ms": big.get("queue_page", {}).get("p50_ms"),
        "queue_page_p95_ms": big.get("queue_page", {}).get("p95_ms"),
        "queue_page_queries": big.get("queue_page", {}).get("queries"),
        "workspace_p50_ms": big.get("workspace", {}).get("p50_ms"),
        "workspace_p95_ms": big.get("workspace", {}).get("p95_ms"),
        "workspace_queries": big.get("workspace", {}).get("queries"),
        "small_accounts": max(args.accounts // 10, 1000),
        "small_queue_page_p95_ms": small.get("queue_page", {}).get("p95_ms"),
        "small_queue_page_queries": small.get("queue_page", {}).get("queries"),
        "small_workspace_p95_ms": small.get("workspace", {}).get("p95_ms"),
        "small_workspace_queries": small.get("workspace", {}).get("queries"),
        "app_machine_busy_pct": app.get("machine_busy_pct"), "bare_machine_busy_pct": bare.get("machine_busy_pct"),
        "loadavg": loadavg(),
        "targets": {
            "claim_p95_le_25ms": bool(app.get("p95_ms") is not None and app["p95_ms"] <= 25),
            "claim_p95_le_2x_bare": bool(ratio is not None and ratio <= 2),
            "queue_page_p95_le_150ms": None if not pages else big["queue_page"]["p95_ms"] <= 150,
            "no_double_claims": app.get("double_claims") == 0,
            "page_queries_constant": None if not pages else (
                big["queue_page"]["queries"] == small["queue_page"]["queries"]
                and big["workspace"]["queries"] == small["workspace"]["queries"]),
        },
        # The same two claim targets in each paced phase (--also-think-ms): collectors who pause
        # between claims, as people do, instead of 50 loops saturating both cores.
        "paced_targets": {
            f"think_{ms}ms": {
                "claim_p95_ms": paced["p95_ms"], "bare_p95_ms": bare_paced["p95_ms"],
                "claim_p95_le_25ms": paced["p95_ms"] <= 25,
                "claim_p95_le_2x_bare": paced["p95_ms"] <= 2 * bare_paced["p95_ms"]}
            for ms in args.also_think_ms
            if (paced := phases.get(f"app_{args.agents}_think{ms}")) and (bare_paced := phases.get(
                f"bare_{args.agents}_think{ms}")) and paced.get("p95_ms") is not None
            and bare_paced.get("p95_ms") is not None},
        "extra_phases": {key: {k: v for k, v in value.items() if k not in ("by_queue",)}
                         for key, value in phases.items() if key not in (f"app_{args.agents}", f"bare_{args.agents}")},
        "other_pages_p95_ms": {name: figure["p95_ms"] for name, figure in big.items()
                               if name not in ("queue_page", "workspace")},
        "priority_check": priority_check,
    }
    out("summary: " + ", ".join(f"{k} {'not measured' if v is None else 'met' if v else 'NOT met'}"
                                for k, v in result["targets"].items()))
    for phase, figures in result["paced_targets"].items():
        out(f"  paced ({phase}): claim p95 {figures['claim_p95_ms']} ms vs bare {figures['bare_p95_ms']} ms: "
            + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in figures.items() if k.startswith("claim_p95_le")))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.worklist", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000, help="accounts across the 2 big agencies")
    parser.add_argument("--agents", type=int, default=50, help="concurrent collectors (headline figures)")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per claim phase")
    parser.add_argument("--warmup", type=float, default=2, help="seconds run before measuring (not counted)")
    parser.add_argument("--procs", type=int, default=2,
                        help="worker processes the agents' threads are spread over (1 = all threads in one process)")
    parser.add_argument("--think-ms", type=int, default=0, help="pause after each claim (0: back-to-back claims)")
    parser.add_argument("--also-agents", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                        help="comma list of further agent counts to measure (bare and app), e.g. 8,25")
    parser.add_argument("--also-think-ms", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                        help="comma list of think times to measure too at --agents, e.g. 2000")
    parser.add_argument("--at", default="18:00",
                        help="UTC time of day the portal's clock is set to (HH:MM; 18:00 = every US zone inside "
                             "calling hours), or 'now' for the real clock")
    parser.add_argument("--experiment", action="append", default=[],
                        help="monkeypatch a proposed change into the bench processes: " + ", ".join(EXPERIMENTS))
    parser.add_argument("--page-requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed it again")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--explain-out", default=str(Path(tempfile.gettempdir()) / "worklist-explain.txt"))
    parser.add_argument("--database-url", default=os.environ.get("WORKLIST_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
