"""Account list benchmark: the account list page and its search on PostgreSQL with N accounts.

    .venv/bin/python -m bench.account_list                       # 1,000,000 accounts
    .venv/bin/python -m bench.account_list --accounts 100000     # a quick look

One run:
  1. creates (or reuses: --reseed forces a new one) its own database, migrates it and seeds N
     accounts with SQL (one debtor each) for one agency with 10 clients: business and person
     names, ~12 % of them with accents (Müller, Søren, José, Łukasz...), references in several
     formats per client (INV-2024001, 7 digits, AR/2024/000123, C-000123-01...);
  2. runs ANALYZE, then requests the account list through django.test.Client (the whole
     middleware stack) as an agency admin (every client) and as a client admin (one client):
     the plain list, and searches for a piece of a reference, an accented name typed without
     its accents, the same name in capitals with them, a common word, a word nobody has and a
     two-character query; each query type cycles through several values so no one page is
     cached by the database alone;
  3. prints p50/p95/max per query type and role, the plan of each search (EXPLAIN ANALYZE),
     and one JSON line last.

The app code is not changed; the seed is kept between runs.
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import MachineLoad

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_list"
AGENCY_SLUG = "bench-list"
CLIENTS = 10
SEED_CHUNK = 250_000

BUSINESS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Hooli", "Vandelay",
            "Soylent", "Oscorp", "Aperture", "Dunder", "Monarch", "Nakatomi", "Prestige", "Sirius", "Zorg",
            "Bäckerei Schön", "Société Générale Côte", "Ångström Værktøj", "Çelik İnşaat", "Łódź Żywność"]
KINDS = ["Holdings", "Logistics", "Dental", "Roofing", "Farms", "Freight", "Systems", "Bakery", "Motors",
         "Plumbing", "Media", "Clinic", "Supply", "Builders", "Foods", "Labs", "Partners", "Studio", "Traders"]
FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "José", "Zoë", "Søren", "François", "Łukasz", "Renée", "Jürgen", "Inés", "Björn", "Chloé"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Müller", "Nuñez", "Øster", "Straße", "Dvořák", "Gómez", "Kowalski", "Schröder", "Lefèvre", "O'Brien"]

DEBTOR_SQL = """
INSERT INTO collections_work_debtor (kind, name, tax_id_last4, time_zone, debtor_key, created_at, agency_id, client_id)
SELECT CASE WHEN g %% 10 < 6 THEN 'business' ELSE 'person' END,
       CASE WHEN g %% 10 < 6
            THEN (%(business)s::text[])[1 + (g * 7) %% %(nbusiness)s] || ' ' || (%(kinds)s::text[])[1 + (g / 7) %% %(nkinds)s]
                 || CASE WHEN g %% 3 = 0 THEN ' LLC' WHEN g %% 3 = 1 THEN ' Inc' ELSE ' GmbH' END
            ELSE (%(first)s::text[])[1 + (g * 13) %% %(nfirst)s] || ' ' || (%(last)s::text[])[1 + (g / 13) %% %(nlast)s] END,
       lpad((g %% 10000)::text, 4, '0'), '', 'bl-' || g, now(), %(agency)s, (%(clients)s::bigint[])[1 + g %% %(nclients)s]
FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
"""

ACCOUNT_SQL = """
INSERT INTO collections_work_debtoraccount (
    debtor_name, debtor_time_zone, client_reference, debt_purpose, status, currency, principal, interest, fees, paid,
    balance, invoice_number, invoice_date, due_date, delinquency_date, placed_at, priority, hold_reason, updated_at,
    agency_id, client_id, debtor_id)
SELECT d.name, '', CASE (g %% %(nclients)s) %% 4
           WHEN 0 THEN 'INV-' || (2000000 + g)
           WHEN 1 THEN lpad((1000000 + g * 3)::text, 7, '0')
           WHEN 2 THEN 'AR/' || (2020 + g %% 5) || '/' || lpad(g::text, 7, '0')
           ELSE 'C-' || lpad(g::text, 7, '0') || '-0' || (g %% 3) END,
       'commercial', CASE WHEN g %% 10 < 3 THEN 'new' WHEN g %% 10 < 8 THEN 'active' ELSE 'paid' END, 'USD',
       v.amount, 0, 0, 0, v.amount, 'N-' || g, current_date - (g %% 900) - 30, current_date - (g %% 900),
       current_date - (g %% 900), now() - ((g %% 1000) * interval '1 hour') - (g * interval '1 millisecond'), 0, '',
       now(), d.agency_id, d.client_id, d.id
FROM (SELECT d0.*, substr(d0.debtor_key, 4)::int AS g FROM collections_work_debtor d0 WHERE d0.id > %(after_id)s) d
CROSS JOIN LATERAL (SELECT round((50 + (d.g::bigint * 7919) %% 20000)::numeric, 2) AS amount) v
"""


def out(text):
    print(text, flush=True)


def pct(values, p):
    values = sorted(values)
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[index]


def prepare_environment(args):
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / "portal-list-bench" / "var"))


def ensure_database(url, drop):
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        sys.exit(f"--database-url must point at PostgreSQL, not {config['ENGINE']}")
    server = psycopg2.connect(dbname="postgres", host=config.get("HOST") or None, port=config.get("PORT") or None,
                              user=config.get("USER") or None, password=config.get("PASSWORD") or None)
    server.autocommit = True
    with server.cursor() as cursor:
        name = sql.Identifier(config["NAME"])
        if drop:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
            out(f"created database {config['NAME']}")
    server.close()


def seed(n_accounts):
    """Tenants, users and N accounts; returns the setup. Reuses a seed of the same size."""
    from django.db import connection, transaction

    from accounts.models import Agency, Client, Membership, Role, User
    from collections_work.models import DebtorAccount
    from portal.tenancy import unscoped

    with unscoped():
        agency, _ = Agency.objects.get_or_create(slug=AGENCY_SLUG, defaults={
            "name": "Bench list agency", "mfa_required_for_staff": False})
        clients = [Client.objects.get_or_create(agency=agency, name=f"List client {k}",
                                                defaults={"status": Client.Status.ACTIVE})[0] for k in range(CLIENTS)]
        admin, created = User.objects.get_or_create(email="list-admin@example.test", defaults={"full_name": "List Admin"})
        if created:
            Membership.objects.create(user=admin, agency=agency, role=Role.AGENCY_ADMIN)
        client_admin, created = User.objects.get_or_create(email="list-client@example.test",
                                                           defaults={"full_name": "List Client"})
        if created:
            Membership.objects.create(user=client_admin, agency=agency, client=clients[1], role=Role.CLIENT_ADMIN)
        have = DebtorAccount.objects.filter(agency=agency).count()
    if have != n_accounts:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM collections_work_debtoraccount WHERE agency_id = %s", [agency.pk])
            cursor.execute("DELETE FROM collections_work_debtor WHERE agency_id = %s", [agency.pk])
            cursor.execute("SET synchronous_commit = off")
        for lo in range(1, n_accounts + 1, SEED_CHUNK):
            hi = min(n_accounts, lo + SEED_CHUNK - 1)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT coalesce(max(id), 0) FROM collections_work_debtor")
                after_id = cursor.fetchone()[0]
                cursor.execute(DEBTOR_SQL, {
                    "business": BUSINESS, "nbusiness": len(BUSINESS), "kinds": KINDS, "nkinds": len(KINDS),
                    "first": FIRST, "nfirst": len(FIRST), "last": LAST, "nlast": len(LAST), "agency": agency.pk,
                    "clients": [c.pk for c in clients], "nclients": len(clients), "lo": lo, "hi": hi})
                cursor.execute(ACCOUNT_SQL, {"after_id": after_id, "nclients": len(clients)})
            out(f"  seeded accounts {lo:,}..{hi:,} ({time.perf_counter() - started:.1f} s)")
        out(f"seeded {n_accounts:,} accounts in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        for table in ("collections_work_debtor", "collections_work_debtoraccount", "collections_work_accountsearchentry"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"agency": agency, "clients": clients, "admin": admin, "client_admin": client_admin}


def query_sets(rng, references):
    """Each query type with several values (cycled through); `references`: a sample of the seed's."""
    pieces = []
    for reference in references:
        digits = "".join(char for char in reference if char.isdigit())
        pieces.append(digits[-6:])  # the number the way a debtor or a client quotes it
    return {
        "plain list": [""],
        "reference digits": pieces,
        "whole reference": references[:10],
        "name, accents left out": ["muller", "nunez", "soren", "jose", "lefevre", "dvorak", "schroder", "lukasz",
                                   "strasse", "oster", "backerei", "societe"],
        "name, capitals and accents": ["MÜLLER", "NUÑEZ", "SØREN", "JOSÉ", "LEFÈVRE", "DVOŘÁK"],
        "common word": ["holdings", "smith", "llc", "dental", "inc", "james"],
        "nobody has it": ["zzqx", "qwxv", "xjqz", "vvkq"],
        "two characters": ["42", "zz", "AB", "7"],
    }


def sample_references(agency, count, rng):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT client_reference FROM collections_work_debtoraccount TABLESAMPLE SYSTEM (1) "
                       "WHERE agency_id = %s LIMIT 2000", [agency.pk])
        references = [row[0] for row in cursor.fetchall()]
    return rng.sample(references, min(count, len(references)))


def measure(client, base_url, values, requests, extra=""):
    from urllib.parse import quote

    urls = [f"{base_url}?q={quote(v)}{extra}" if v else f"{base_url}?{extra.lstrip('&')}" for v in values]
    for url in urls[:3]:
        client.get(url)
    latencies, statuses = [], {}
    for index in range(requests):
        url = urls[index % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        latencies.append(time.perf_counter() - started)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return {"p50_ms": round(pct(latencies, 50) * 1000, 1), "p95_ms": round(pct(latencies, 95) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1), "requests": requests, "status": statuses}


def explain(setup, value, sort="placed"):
    """The plans of a search: the first step (its matches found through the side table's index,
    at most selectors.SEARCH_FEW + 1) and the page's query in `sort` order."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connection

    from collections_work.debtor_accounts import search, selectors
    from collections_work.models import AccountSearchEntry
    from portal.tenancy import tenant_scope

    plans = []
    with tenant_scope(setup["agency"]):
        if search.searchable(value):
            entries = AccountSearchEntry.objects.filter(search.entry_search(value))
            sql, params = entries.values("pk").query.sql_with_params()
            plans.append(("first step", f"WITH found AS MATERIALIZED ({sql}) SELECT * FROM found LIMIT %s",
                          [*params, selectors.SEARCH_FEW + 1]))
        queryset = selectors.debtor_accounts(selectors.AccountFilters(q=value, sort=sort))
        column = selectors.SORTS[sort][0]
        if sort == "debtor" and selectors.SEARCH_NAME in queryset.query.annotations:
            column = selectors.SEARCH_NAME
        descending = sort in selectors.DESCENDING
        queryset = queryset.order_by(*([f"-{column}", "-id"] if descending else [column, "id"]))[:51]
        try:
            sql, params = queryset.query.sql_with_params()
            plans.append(("page", sql, params))
        except EmptyResultSet:
            plans.append(("page", None, None))
    lines = []
    with connection.cursor() as cursor:
        for name, sql, params in plans:
            if sql is None:
                lines.append(f"[{name}] no query: the first step found nothing")
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            lines.append(f"[{name}]\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return "\n".join(lines)


def run(args):
    prepare_environment(args)
    ensure_database(args.database_url, args.reseed)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"migrated in {time.perf_counter() - started:.1f} s")
    setup = seed(args.accounts)
    rng = random.Random(args.seed)
    queries = query_sets(rng, sample_references(setup["agency"], 20, rng))
    base = reverse("debtor_account_list")
    results = {}
    load = MachineLoad()
    for role in ("admin", "client_admin"):
        client = Client()
        client.force_login(setup[role])
        for name, values in queries.items():
            if args.wait_quiet:
                MachineLoad.wait_quiet(args.wait_quiet, out)
            figure = measure(client, base, values, args.requests)
            results[f"{role}: {name}"] = figure
            out(f"  {role:12} {name:28} p50 {figure['p50_ms']:8.1f} ms  p95 {figure['p95_ms']:8.1f} ms  "
                f"max {figure['max_ms']:8.1f} ms  status {figure['status']}")
        figure = measure(client, base, queries["name, accents left out"], args.requests, extra="&sort=debtor")
        results[f"{role}: name search sorted by name"] = figure
        out(f"  {role:12} {'name search sorted by name':28} p50 {figure['p50_ms']:8.1f} ms  "
            f"p95 {figure['p95_ms']:8.1f} ms  max {figure['max_ms']:8.1f} ms")
    busy = load.busy_since_last()
    out(f"(machine {busy:.0f}% busy while measuring)")
    if args.explain:
        for name in ("reference digits", "name, accents left out", "common word", "nobody has it", "two characters"):
            out(f"\n-- EXPLAIN {name}: {queries[name][0]!r}\n{explain(setup, queries[name][0])}")
        value = "backerei"  # ~2.5 % of the accounts: the most rows a name-sorted page sorts
        out(f"\n-- EXPLAIN name search sorted by name: {value!r}\n{explain(setup, value, sort='debtor')}")
    worst = max(figure["p95_ms"] for figure in results.values())
    return {"accounts": args.accounts, "worst_p95_ms": worst, "machine_busy_pct": round(busy, 1),
            "p95_ms": {name: figure["p95_ms"] for name, figure in results.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.account_list", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60, help="requests per query type and role")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed it again")
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each query type, wait up to this long for the machine to be idle")
    parser.add_argument("--database-url", default=os.environ.get("LIST_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args(argv)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
