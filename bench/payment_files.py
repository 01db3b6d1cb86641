"""Benchmark: posting a bank lockbox file (payments batch kind through placement intake).

    .venv/bin/python -m bench.payment_files                 # 5,000 payment rows on 2,500 accounts
    .venv/bin/python -m bench.payment_files --rows 20000

PostgreSQL from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/portal_bench`; created
and migrated when missing). What one run does, with the real code and no Celery (the steps run
here, synchronously, as bench.intake does):

1. A fresh agency, client and manager; `--accounts` accounts placed through `accounts_place`.
2. A lockbox CSV of `--rows` payments (Transaction ID, Account Number, Payment Amount, Deposit
   Date, Payment Type, Check No), 1.00-20.00 each so none is over its balance, 2 % naming an
   unknown reference (rejected).
3. Upload (sniff), read (the sandbox's child process), mapping, check (the child's pass, then the
   worker's pass against the books), post (every row through payment_post in one transaction).
4. The same file again: upload, read, check (every row "already posted").
5. `manage.py ledger_check` over the database.
Prints each phase's time and rows/s, then one JSON line.
"""
import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from contextlib import redirect_stdout
from datetime import timedelta
from pathlib import Path

from bench.intake import DEFAULT_DATABASE_URL, Upload, ensure_database


def lockbox_csv(path: Path, rows: int, accounts: int, day: str, seed: int) -> int:
    """Write the file; returns how many rows are valid."""
    rng = random.Random(seed)
    valid = 0
    with path.open("w") as handle:
        handle.write("Transaction ID,Account Number,Payment Amount,Deposit Date,Payment Type,Check No\n")
        for number in range(rows):
            unknown = rng.random() < 0.02
            reference = f"NOPE-{number}" if unknown else f"PB-{rng.randrange(accounts):06d}"
            valid += not unknown
            handle.write(f"LBX-{number:07d},{reference},{rng.randint(100, 2000) / 100:.2f},{day},"
                         f"{rng.choice(['CHK', 'ACH', 'check'])},{rng.randint(1000, 9999)}\n")
    return valid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=None, help="default: rows / 2")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    accounts = args.accounts or max(args.rows // 2, 1)
    work = Path(tempfile.gettempdir()) / "portal-payment-files-bench"
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("PORTAL_VAR_DIR", str(work / "var"))
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", interactive=False, verbosity=0)
    from accounts.models import Agency, Client, Membership, Role, User
    from collections_work.models import PlacementBatch
    from collections_work.placements import services, tasks
    from collections_work.placements.intake import jobs
    from payments.models import Payment
    from portal.tenancy import tenant_scope, unscoped

    tag = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    agency = Agency.objects.create(name=f"Bench agency {tag}", slug=f"bench-{tag}", mfa_required_for_staff=False)
    with unscoped():
        client = Client.objects.create(agency=agency, name=f"Bench client {tag}", status=Client.Status.ACTIVE)
        user = User.objects.create_user(email=f"bench-{tag}@example.test")
        Membership.objects.create(user=user, agency=agency, role=Role.MANAGER)
    user = User.objects.select_related("membership").get(pk=user.pk)
    figures = {"rows": args.rows, "accounts": accounts}
    queued = []
    jobs.after_commit_run = lambda task_name, batch: queued.append(task_name)  # run below, in this process

    started = time.perf_counter()
    with tenant_scope(agency):
        for first in range(0, accounts, 5000):
            services.accounts_place(agency=agency, actor=user, client=client, source="form", rows=[
                {"client_reference": f"PB-{n:06d}", "debtor_name": f"Bench debtor {n}", "principal": "100000.00",
                 "due_date": "2024-01-31"} for n in range(first, min(first + 5000, accounts))])
    print(f"{accounts:,} accounts placed in {time.perf_counter() - started:.1f} s", flush=True)

    work.mkdir(parents=True, exist_ok=True)
    day = (timezone.localdate() - timedelta(days=1)).isoformat()
    source = work / f"lockbox-{args.rows}-{tag}.csv"
    valid = lockbox_csv(source, args.rows, accounts, day, args.seed)

    def phase(name, step, *step_args):
        began = time.perf_counter()
        outcome = step(*step_args)
        figures[name] = round(time.perf_counter() - began, 3)
        return outcome

    def through_check(label):
        upload = work / f"upload-{uuid.uuid4().hex}.csv"
        upload.write_bytes(source.read_bytes())
        with tenant_scope(agency):
            batch = phase(f"{label} upload", lambda: services.placement_upload(
                agency=agency, actor=user, client=client, kind="payments", uploaded_file=Upload(upload, "lockbox.csv")))
        phase(f"{label} read", tasks.placement_inspect.run, batch.pk, agency.pk)
        with tenant_scope(agency):
            batch = PlacementBatch.objects.get(pk=batch.pk)
            batch = services.placement_set_mapping(agency=agency, actor=user, batch=batch, mapping=batch.mapping,
                                                   options={}, on_duplicate="skip")
        outcome = phase(f"{label} check", tasks.placement_preview.run, batch.pk, agency.pk)
        with unscoped():
            batch = PlacementBatch.objects.get(pk=batch.pk)
        if outcome != "previewed":
            sys.exit(f"{label}: check failed: {batch.error_message}")
        seconds = figures[f"{label} check"]
        print(f"{label}: read {figures[f'{label} read']:.2f} s; check {seconds:.2f} s = {args.rows / seconds:,.0f} "
              f"rows/s; {batch.options['preview']} ({batch.invalid_rows:,} rejected)", flush=True)
        return batch

    batch = through_check("first")
    assert batch.options["preview"]["new"] == valid, (batch.options["preview"], valid)
    with tenant_scope(agency):
        services.placement_commit(agency=agency, actor=user, batch=batch)
    outcome = phase("post", tasks.placement_commit.run, batch.pk, agency.pk)
    with unscoped():
        batch = PlacementBatch.objects.get(pk=batch.pk)
        posted = Payment.objects.filter(client=client).count()
    print(f"post: {outcome} in {figures['post']:.2f} s = {valid / figures['post']:,.0f} payments/s "
          f"({posted:,} payments, {batch.skipped_count:,} already posted, {batch.invalid_rows:,} rejected)", flush=True)
    assert posted == valid == batch.created_count, (posted, valid, batch.created_count)

    again = through_check("again")
    assert again.options["preview"] == {"new": 0, "already": valid, "amount": "0.00"}

    captured = io.StringIO()
    began = time.perf_counter()
    with redirect_stdout(captured):
        call_command("ledger_check")
    figures["ledger_check"] = round(time.perf_counter() - began, 3)
    print(f"ledger_check: {figures['ledger_check']:.2f} s: {captured.getvalue().strip().splitlines()[0]}", flush=True)
    figures["payments_per_second"] = round(valid / figures["post"], 1)
    figures["check_rows_per_second"] = round(args.rows / figures["first check"], 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
