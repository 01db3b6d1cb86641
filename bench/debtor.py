"""Debtor pages benchmark: the secure link's landing page, the identity check, the account page
after it, the plan builder and the offer page, on PostgreSQL with N accounts; and the agreement
PDF's render rate.

    .venv/bin/python -m bench.debtor                        # 1,000,000 accounts (seeded once: ~8 min on a busy machine)
    .venv/bin/python -m bench.debtor --accounts 10000       # a quick look, and the small size

One run:
  1. creates (or reuses: --reseed forces a new one) its own database, migrates it and seeds N
     accounts with the worklist bench's seed (bench.worklist.seed: SQL INSERT ... SELECT, 2
     agencies x 5 clients, plus a small agency with N/10 accounts; one debtor each);
  2. gives every client contract terms and self-service plan rules (plan_rules_save), and picks
     `--links` open accounts of the first big agency and `--links // 4` of the small one; each
     gets a postal address (so the identity check asks the postal code and the tax ID's last 4),
     and a collector's offer of 6 monthly payments sent by a new secure link for a letter
     (offer_create, offer_send: the real services; the previous run's offers are withdrawn
     first, offer_withdraw, so the pages do not accumulate them);
  3. one debtor visit per link, `--rounds` times over the links (a visit to a big-agency link,
     then one to a small-agency link, in turn), each through django.test.Client
     (the whole middleware stack, loaded once as in a server) with no cookies, its own IP
     address and a new session:
     GET the landing page (the identity check), POST the right answers (302), GET the account
     page the POST leads to, GET the plan builder, POST it with 6 months (the schedule shown),
     GET the offer page (its schedule, the ESIGN disclosure, the signature form); p50/p95/max
     per page, big agency and small agency, and the CPU each request used (this process, i.e.
     Django, and its PostgreSQL backend, from /proc): the wall times follow the machine's load
     (shared with others), the CPU does not;
  4. SQL statements per page (and how many write: INSERT/UPDATE/DELETE) on separate visits at
     both sizes, with the slowest statement of each page at the big size;
  5. the agreement PDF: payments.plans.agreements.render_agreement_pdf(agreement_context(...))
     (what plan_accept renders when the debtor signs) for `--pdfs` agreements of 6 and 24
     installments, one after the other in this process, then in `--pdf-procs` processes at once;
  6. prints the figures; the last line is one JSON object.

The app code is not changed by the bench; the seed is kept between runs (offers and links made
by a run stay, withdrawn by the next).
"""
import argparse
import json
import multiprocessing
import os
import secrets
import tempfile
import time
from collections import Counter
from http.cookies import SimpleCookie
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bench import worklist
from bench.machine import MachineLoad
from bench.worklist import loadavg, ms, pct

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_debtor"
BENCH_STAFF = ("debtor-bench-collector@example.test", "debtor-bench-admin@example.test")
# The example bands: what a debtor may choose online per balance range.
PLAN_RULES = [
    {"balance_from": Decimal("0"), "balance_to": Decimal("999.99"), "min_installment": Decimal("25"),
     "max_months": 6, "min_settlement_percent": Decimal("80"), "max_defer_days": 30},
    {"balance_from": Decimal("1000"), "balance_to": Decimal("4999.99"), "min_installment": Decimal("50"),
     "max_months": 12, "min_settlement_percent": Decimal("75"), "max_defer_days": 30},
    {"balance_from": Decimal("5000"), "balance_to": None, "min_installment": Decimal("100"),
     "max_months": 24, "min_settlement_percent": Decimal("70"), "max_defer_days": 45},
]
PAGES = ("landing", "verify", "account", "plan", "plan_schedule", "offer")
PAGE_NAMES = {"landing": "landing page (GET, the identity check)", "verify": "identity check (POST, 302)",
              "account": "account page after it (GET)", "plan": "plan builder (GET)",
              "plan_schedule": "plan builder, 6 months (POST)", "offer": "offer page (GET)"}


def out(text=""):
    print(text, flush=True)


def prepare_environment(args) -> None:
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    if args.redis_url:  # the cache (per-IP budgets) as in production; else the file cache
        os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / "portal-debtor-bench" / "var"))


# --- set-up: terms, rules, staff, the sample's addresses, offers and links -------------------------

def ensure_staff_and_rules(agency):
    """A collector and an agency admin of `agency`; contract terms and the plan rules for each
    of its clients (idempotent). Returns (collector, admin)."""
    from accounts.models import Client, ContractTerms, Membership, Role, User
    from payments.models import PlanRule
    from payments.offers.services import plan_rules_save
    from portal.tenancy import tenant_scope, unscoped

    people = []
    with unscoped():
        for email, role in zip(BENCH_STAFF, (Role.COLLECTOR, Role.AGENCY_ADMIN)):
            user, _ = User.objects.get_or_create(email=email.replace("@", f"+{agency.slug}@"),
                                                 defaults={"full_name": f"Debtor bench {role}"})
            Membership.objects.get_or_create(user=user, agency=agency, defaults={"role": role})
            people.append(user)
        clients = list(Client.objects.filter(agency=agency).order_by("pk"))
    with tenant_scope(agency):
        for client in clients:
            ContractTerms.objects.get_or_create(client=client, defaults={"agency": agency})
            if not PlanRule.objects.filter(client=client).exists():
                plan_rules_save(agency=agency, actor=people[1], client=client, rules=PLAN_RULES)
    return people


def sample_accounts(agency, count) -> list[int]:
    """`count` open accounts spread evenly over the agency, balance 1,000-20,000 (so a 6-month
    offer is inside the client's terms), no plan or dispute; the same ones every run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""SELECT id FROM collections_work_debtoraccount
                          WHERE agency_id = %s AND status IN ('new', 'active') AND balance BETWEEN 1000 AND 20000
                            AND cease_communication_at IS NULL ORDER BY id""", [agency.pk])
        ids = [row[0] for row in cursor.fetchall()]
    step = max(1, len(ids) // count)
    return ids[::step][:count]


def postal_code_of(account_id) -> str:
    return f"{10000 + (account_id * 7919) % 89999:05d}"


def ensure_addresses(accounts) -> None:
    """A postal address for each sampled debtor (the seed gives phones and emails only), so the
    identity check asks the preferred pair: postal code and the tax ID's last 4."""
    from collections_work.models import Contact

    have = set(Contact.objects.filter(debtor_id__in=[a.debtor_id for a in accounts], kind=Contact.Kind.ADDRESS)
               .values_list("debtor_id", flat=True))
    Contact.objects.bulk_create(
        Contact(agency_id=a.agency_id, client_id=a.client_id, debtor_id=a.debtor_id, kind=Contact.Kind.ADDRESS,
                value=f"{a.pk % 900 + 1} Elm St, Springfield, IL {postal_code_of(a.pk)}, US")
        for a in accounts if a.debtor_id not in have)


def prepare_links(agency, collector, account_ids) -> list[dict]:
    """Per account: withdraw the offers earlier runs sent, make a new 6-month offer and send it by
    a secure link for a letter (the real services). Returns what a debtor needs to visit."""
    from django.utils import timezone

    from collections_work.models import DebtorAccount
    from payments.models import PlanOffer
    from payments.offers.services import offer_create, offer_send, offer_withdraw
    from portal.tenancy import tenant_scope

    visits = []
    with tenant_scope(agency):
        accounts = list(DebtorAccount.objects.filter(pk__in=account_ids).select_related("debtor").order_by("pk"))
        ensure_addresses(accounts)
        for offer in PlanOffer.objects.filter(account_id__in=account_ids, status=PlanOffer.Status.SENT):
            offer_withdraw(agency=agency, actor=collector, offer=offer)
        for account in accounts:
            offer = offer_create(agency=agency, actor=collector, account=account, kind="installments",
                                 total_amount=str(account.balance), installment_count=6, frequency="monthly",
                                 first_due_date=timezone.localdate() + timedelta(days=14))
            offer, url = offer_send(agency=agency, actor=collector, offer=offer, channel="letter")
            visits.append({"account": account.pk, "offer": offer.pk, "path": "/" + url.split("/", 3)[3],
                           "answers": {"postal_code": postal_code_of(account.pk),
                                       "tax_id_last4": account.debtor.tax_id_last4}})
    return visits


# --- one debtor's visit ---------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu():
    """(pid, CPU seconds) of the PostgreSQL backend serving this process's connection, or None."""
    from django.db import connection

    if connection.connection is None:
        return None
    pid = connection.connection.get_backend_pid()
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:  # another host: no backend CPU figures
        return None
    return pid, (int(fields[11]) + int(fields[12])) / TICK


_BROWSER = None


def visit(entry, ip, timings=None, counts=None, cpu=None):
    """One debtor's visit (no cookies, its own IP address): the pages of PAGES in order. With
    `timings`, each page's seconds are appended; with `counts`, each page's SQL is captured."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    global _BROWSER
    if _BROWSER is None:  # one handler: a new Client loads the middleware again (WhiteNoise scans static/)
        _BROWSER = Client(HTTP_USER_AGENT="Mozilla/5.0 (bench)")
    browser = _BROWSER
    browser.cookies = SimpleCookie()  # a new debtor: no session, no CSRF cookie
    browser.defaults["REMOTE_ADDR"] = ip
    path = entry["path"]
    first_due = (timezone.localdate() + timedelta(days=10)).isoformat()
    steps = {
        "landing": (lambda: browser.get(path), 200),
        "verify": (lambda: browser.post(path, entry["answers"]), 302),
        "account": (lambda: browser.get(path + "account/"), 200),
        "plan": (lambda: browser.get(path + "plan/"), 200),
        "plan_schedule": (lambda: browser.post(path + "plan/", {"kind": "installments", "months": "6",
                                                               "first_due_date": first_due}), 200),
        "offer": (lambda: browser.get(path + f"offers/{entry['offer']}/"), 200),
    }
    for name in PAGES:
        request, expected = steps[name]
        if counts is not None:
            with CaptureQueriesContext(connection) as captured:
                response = request()
            counts[name] = captured.captured_queries
        else:
            backend_before, cpu_before = backend_cpu(), time.process_time()
            started = time.perf_counter()
            response = request()
            if timings is not None:
                timings[name].append(time.perf_counter() - started)
            if cpu is not None:  # this process (Django) and its PostgreSQL backend
                backend_after = backend_cpu()
                backend = 0.0
                if backend_after is not None:
                    same = backend_before is not None and backend_before[0] == backend_after[0]
                    backend = backend_after[1] - (backend_before[1] if same else 0.0)
                cpu[name][0].append(time.process_time() - cpu_before)
                cpu[name][1] += backend
        if response.status_code != expected:
            raise SystemExit(f"{name}: {response.status_code} (expected {expected}) for {path}: "
                             f"{response.content[:400]!r}")
        if name == "plan_schedule" and b'class="schedule"' not in response.content:
            raise SystemExit(f"the plan builder showed no schedule for {path}")


def measure_visits(visits: dict, rounds: int, wait_quiet=0.0) -> dict:
    """`rounds` visits to every link of each size (label -> visits), the sizes interleaved
    (one visit of each in turn, the smaller list cycled) so the machine's load, which others
    share, weighs on both alike. New IP addresses each run (the per-IP budgets)."""
    run_id = secrets.randbits(16)
    labels = list(visits)
    timings = {label: {name: [] for name in PAGES} for label in labels}
    cpu = {label: {name: [[], 0.0] for name in PAGES} for label in labels}  # Django per request, PostgreSQL in all
    for index in range(10):
        for number, label in enumerate(labels):
            visit(visits[label][index % len(visits[label])], f"2001:db8:{run_id:x}:ff{number:x}::{index:x}")
    if wait_quiet:
        MachineLoad.wait_quiet(wait_quiet, out)
    load = MachineLoad()
    started = time.perf_counter()
    turns = rounds * max(len(entries) for entries in visits.values())
    for turn in range(turns):
        for number, label in enumerate(labels):
            entry = visits[label][turn % len(visits[label])]
            visit(entry, f"2001:db8:{run_id:x}:{number:x}::{turn:x}", timings=timings[label], cpu=cpu[label])
    seconds = time.perf_counter() - started
    busy = load.busy_since_last()
    result = {}
    for label in labels:
        figures = {name: {"requests": len(values), "p50_ms": ms(pct(values, 50)), "p95_ms": ms(pct(values, 95)),
                          "max_ms": ms(max(values)), "django_cpu_ms": ms(sum(cpu[label][name][0]) / len(values)),
                          "django_cpu_p95_ms": ms(pct(cpu[label][name][0], 95)),
                          "postgres_cpu_ms": ms(cpu[label][name][1] / len(values))}
                   for name, values in timings[label].items()}
        for name in PAGES:
            figure = figures[name]
            out(f"  {label:5} {PAGE_NAMES[name]:42} p50 {figure['p50_ms']:7.1f} ms  p95 {figure['p95_ms']:7.1f} ms  "
                f"max {figure['max_ms']:7.1f} ms  CPU per request: Django mean {figure['django_cpu_ms']:5.1f} / p95 "
                f"{figure['django_cpu_p95_ms']:5.1f} ms, PostgreSQL mean {figure['postgres_cpu_ms']:4.1f} ms "
                f"({figure['requests']} requests)")
        result[label] = {"pages": figures, "machine_busy_pct": round(busy, 1), "visits": turns}
    out(f"  ({turns} visits of each size in {seconds:.1f} s, machine {busy:.0f}% busy, load {loadavg()})")
    return result


WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


def measure_queries(visits, label, show=False) -> dict:
    """SQL statements per page on 5 separate visits (their counts' range), the writes among
    them, and the slowest statement of each page; with `show`, every statement of the first visit.
    Each visit starts on a link not opened in the last minute (its landing page notes the opening)."""
    from payments.models import SecureLink
    from portal.tenancy import unscoped

    with unscoped():  # each visit opens its link for the first time in the minute (the write it makes)
        SecureLink.objects.filter(offer_id__in=[entry["offer"] for entry in visits[:5]]).update(last_opened_at=None)
    run_id = secrets.randbits(16)
    per_page = {name: [] for name in PAGES}
    slowest = {}
    writes = {}
    for index, entry in enumerate(visits[:5]):
        counts = {}
        visit(entry, f"2001:db8:{run_id:x}:eeee::{index:x}", counts=counts)
        for name, queries in counts.items():
            if show and index == 0:
                out(f"  -- {label} {PAGE_NAMES[name]}:")
                for query in queries:
                    out(f"     {float(query['time']) * 1000:6.1f} ms  {' '.join(query['sql'].split())[:170]}")
            per_page[name].append(len(queries))
            writes[name] = Counter(" ".join(q["sql"].split()[:3]) for q in queries
                                   if q["sql"].lstrip().upper().startswith(WRITE_VERBS))
            top = max(queries, key=lambda q: float(q["time"]), default=None)
            if top and float(top["time"]) >= slowest.get(name, (0, ""))[0]:
                slowest[name] = (float(top["time"]), " ".join(top["sql"].split())[:150])
    result = {}
    for name in PAGES:
        low, high = min(per_page[name]), max(per_page[name])
        result[name] = {"queries": high, "queries_min": low, "writes": dict(writes[name]),
                        "slowest_sql_ms": round(slowest.get(name, (0, ""))[0] * 1000, 2)}
        write_text = ", ".join(f"{n} {verb}" for verb, n in writes[name].items()) or "none"
        out(f"  {label:5} {PAGE_NAMES[name]:42} {low if low == high else f'{low}-{high}':>5} SQL  writes: {write_text}"
            f"  slowest {result[name]['slowest_sql_ms']} ms: {slowest.get(name, (0, ''))[1][:90]}")
    return result


# --- the agreement PDF --------------------------------------------------------------------------

def agreement_contexts(account_ids):
    """The agreement's context for each account, as plan_accept builds it when the debtor signs:
    an accepted offer (6 and 24 monthly payments, alternating) and its plan (not saved: the
    template does not read them from the database)."""
    import uuid

    from django.utils import timezone

    from collections_work.models import DebtorAccount
    from payments.models import PaymentPlan, PlanOffer
    from payments.plans.services import agreement_context
    from portal.tenancy import unscoped

    contexts = []
    now = timezone.now()
    with unscoped():
        accounts = DebtorAccount.objects.filter(pk__in=account_ids).select_related("agency", "client", "debtor")
        for index, account in enumerate(accounts):
            count = 6 if index % 2 == 0 else 24
            offer = PlanOffer(agency_id=account.agency_id, client=account.client, account=account,
                              kind="installments", total_amount=account.balance, installment_count=count,
                              first_due_date=timezone.localdate() + timedelta(days=14), frequency="monthly")
            plan = PaymentPlan(agency_id=account.agency_id, client=account.client, account=account, offer=offer,
                               kind=offer.kind, total_amount=offer.total_amount, frequency="monthly", accepted_at=now)
            contexts.append(agreement_context(account, offer, plan, f"Signer {account.pk}", now, uuid.uuid4()))
    return contexts


def render_many(contexts, count) -> tuple[list[float], float]:
    """Render `count` agreements: (each one's wall seconds, CPU seconds of this process in all)."""
    from payments.plans.agreements import render_agreement_pdf

    seconds, cpu = [], time.process_time()
    for index in range(count):
        started = time.perf_counter()
        pdf = render_agreement_pdf(contexts[index % len(contexts)])
        seconds.append(time.perf_counter() - started)
        assert pdf.startswith(b"%PDF")
    return seconds, time.process_time() - cpu


def _pdf_child(database_url, redis_url, account_ids, count, go, results):
    args = argparse.Namespace(database_url=database_url, redis_url=redis_url)
    prepare_environment(args)
    import django

    django.setup()
    contexts = agreement_contexts(account_ids)
    render_many(contexts, 3)  # fonts and templates loaded
    go.wait()
    started = time.perf_counter()
    seconds, cpu = render_many(contexts, count)
    results.put((started, time.perf_counter(), seconds, cpu))


def measure_pdfs(args, account_ids) -> dict:
    from payments.plans.agreements import render_agreement_pdf

    contexts = agreement_contexts(account_ids)
    started = time.perf_counter()
    first = render_agreement_pdf(contexts[0])
    out(f"  first render (imports WeasyPrint, loads fonts): {time.perf_counter() - started:.2f} s, "
        f"{len(first):,} bytes")
    render_many(contexts, 3)
    if args.wait_quiet:
        MachineLoad.wait_quiet(args.wait_quiet, out)
    load = MachineLoad()
    started = time.perf_counter()
    seconds, cpu = render_many(contexts, args.pdfs)
    wall = time.perf_counter() - started
    busy = load.busy_since_last()
    single = {"pdfs": args.pdfs, "per_second": round(args.pdfs / wall, 2), "p50_ms": ms(pct(seconds, 50)),
              "p95_ms": ms(pct(seconds, 95)), "cpu_ms": ms(cpu / args.pdfs), "machine_busy_pct": round(busy, 1)}
    out(f"  one process:   {single['per_second']:6.2f} PDFs/s ({args.pdfs} in {wall:.1f} s; each p50 "
        f"{single['p50_ms']} ms, p95 {single['p95_ms']} ms, CPU {single['cpu_ms']} ms; machine {busy:.0f}% busy)")
    cores = os.cpu_count()
    out(f"  CPU-bound: {cores} cores / {single['cpu_ms']} ms of CPU per PDF = "
        f"{cores / (cpu / args.pdfs):.1f} PDFs/s on this machine when nothing else runs")
    result = {"one_process": single}
    if args.pdf_procs > 1:
        context = multiprocessing.get_context("spawn")
        go, results = context.Event(), context.Queue()
        children = [context.Process(target=_pdf_child, args=(args.database_url, args.redis_url, account_ids,
                                                              args.pdfs, go, results))
                    for _ in range(args.pdf_procs)]
        for child in children:
            child.start()
        time.sleep(0.5)
        load = MachineLoad()
        go.set()
        done = [results.get(timeout=600) for _ in children]
        for child in children:
            child.join()
        busy = load.busy_since_last()
        wall = max(end for _, end, _, _ in done) - min(begin for begin, _, _, _ in done)
        every = [s for _, _, seconds, _ in done for s in seconds]
        total = args.pdfs * args.pdf_procs
        parallel = {"procs": args.pdf_procs, "pdfs": total, "per_second": round(total / wall, 2),
                    "p50_ms": ms(pct(every, 50)), "p95_ms": ms(pct(every, 95)),
                    "cpu_ms": ms(sum(cpu for *_, cpu in done) / total), "machine_busy_pct": round(busy, 1)}
        out(f"  {args.pdf_procs} processes:   {parallel['per_second']:6.2f} PDFs/s ({total} in {wall:.1f} s; each p50 "
            f"{parallel['p50_ms']} ms, p95 {parallel['p95_ms']} ms, CPU {parallel['cpu_ms']} ms; "
            f"machine {busy:.0f}% busy)")
        result["parallel"] = parallel
    return result


# --- the run --------------------------------------------------------------------------------------

def run(args) -> dict:
    prepare_environment(args)
    worklist.ensure_database(args.database_url, drop=args.reseed, out=out)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Agency

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"database {settings.DATABASES['default']['NAME']} migrated in {time.perf_counter() - started:.1f} s; "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}")
    if not worklist.seed_is_current(args.accounts):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM collections_work_debtoraccount")
            if cursor.fetchone()[0]:
                raise SystemExit("the database holds a seed of another size: add --reseed")
        worklist.seed(args.accounts, out)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM collections_work_debtoraccount")
        total_accounts = cursor.fetchone()[0]
    out(f"{total_accounts:,} accounts in the database")

    figures = {}
    sizes = [("big", worklist.BIG_AGENCIES[0], args.links), ("small", worklist.SMALL_AGENCY, max(5, args.links // 4))]
    visits = {}
    for label, slug, count in sizes:
        agency = Agency.objects.get(slug=slug)
        collector, _admin = ensure_staff_and_rules(agency)
        started = time.perf_counter()
        visits[label] = prepare_links(agency, collector, sample_accounts(agency, count))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM collections_work_debtoraccount WHERE agency_id = %s", [agency.pk])
            in_agency = cursor.fetchone()[0]
        out(f"{label}: {len(visits[label])} offers sent by secure link in {time.perf_counter() - started:.1f} s "
            f"(agency {slug}, {in_agency:,} accounts)")
    with connection.cursor() as cursor:
        for table in ("payments_securelink", "payments_planoffer", "collections_work_contact", "django_session"):
            cursor.execute(f"ANALYZE {table}")

    out("\npages, one debtor visit per link and round:")
    figures.update(measure_visits(visits, args.rounds, wait_quiet=args.wait_quiet))
    out("\nSQL statements per page (5 visits each):")
    for label, _slug, _count in sizes:
        figures[label]["sql"] = measure_queries(visits[label], label, show=args.show_sql and label == "big")
    constant = all(figures["big"]["sql"][name]["queries"] == figures["small"]["sql"][name]["queries"]
                   for name in PAGES)
    out(f"  statement counts equal at both sizes: {constant}")

    out("\nagreement PDF (render_agreement_pdf(agreement_context(...)), as plan_accept does):")
    figures["pdf"] = measure_pdfs(args, [entry["account"] for entry in visits["big"][:20]])

    worst = max(figures["big"]["pages"][name]["p95_ms"] for name in PAGES)
    out(f"\nworst page p95 at {total_accounts:,} accounts: {worst} ms (target 100 ms); "
        f"PDFs/s one process {figures['pdf']['one_process']['per_second']} (target 10)")
    return {"accounts": total_accounts, "worst_p95_ms": worst, "sql_constant": constant,
            "p95_ms": {size: {name: figures[size]["pages"][name]["p95_ms"] for name in PAGES} for size in ("big", "small")},
            "queries": {size: {name: figures[size]["sql"][name]["queries"] for name in PAGES} for size in ("big", "small")},
            "pdf": figures["pdf"]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.debtor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000, help="accounts in the two big agencies")
    parser.add_argument("--links", type=int, default=200, help="secure links (one account each) in the big agency")
    parser.add_argument("--rounds", type=int, default=2,
                        help="visits per link of the big agency (as many visits in the small one, its links cycled)")
    parser.add_argument("--pdfs", type=int, default=60, help="agreements rendered per process")
    parser.add_argument("--pdf-procs", type=int, default=2, help="processes rendering at once (1: skip)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each measured phase, wait up to this long for the machine to be idle")
    parser.add_argument("--show-sql", action="store_true", help="print every statement of one visit (big agency)")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed it again")
    parser.add_argument("--database-url", default=os.environ.get("DEBTOR_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""),
                        help="the cache as in production (default: $REDIS_URL; empty: the file cache)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
