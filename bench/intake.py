"""End-to-end benchmark of placement intake on PostgreSQL.

    .venv/bin/python -m bench.intake                 # 1,000,000 rows
    .venv/bin/python -m bench.intake --rows 100000   # a quick look

One run:
  1. generates (or reuses from the cache) a deterministic CSV of N rows with a few % invalid rows,
     and the same rows as COPY text for the baseline (bench/datagen.py);
  2. creates a fresh agency, client and agency-admin user;
  3. baseline: raw COPY of the N rows into collections_work_debtoraccount (same client, all its
     indexes, COMMIT included), then deletes them again and VACUUMs, untimed;
  4. runs the real code path in this process: services.placement_upload (the request's sniff),
     tasks.placement_inspect.run (reading: header, mapping guess, first rows, in the sandbox's child
     process), services.placement_set_mapping, tasks.placement_preview.run (the preview pass, also
     in the child),
     services.placement_commit and tasks.placement_commit.run (the commit pass: parses, validates,
     dedupes and writes the whole file again, pipelined on the writer thread);
  5. checks that the accounts created equal the valid rows, deletes the run's rows (unless --keep),
     and prints the figures, the last line being one JSON object.

The app code is not changed. `--experiment NAME` monkeypatches a proposed optimisation into this
process only (bench/experiments.py) so before/after can be compared on the same data.
"""
import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

from bench import datagen
from bench.machine import MachineLoad

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
MB = 1024 * 1024


# --- process memory -------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """Peak RSS of this process plus the largest child's, from getrusage (KiB on Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend on this machine has used (0 if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class RssSampler(threading.Thread):
    """Samples this process's RSS every 50 ms so each phase gets its own peak."""

    def __init__(self):
        super().__init__(daemon=True)
        self.phase = "setup"
        self.peaks: dict[str, float] = defaultdict(float)
        self.page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()

    def rss_mb(self) -> float:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self.page / MB

    def run(self):
        while not self._stop.wait(0.05):
            rss = self.rss_mb()
            if rss > self.peaks[self.phase]:
                self.peaks[self.phase] = rss

    def enter(self, phase: str):
        self.phase = phase
        self.peaks[phase] = max(self.peaks[phase], self.rss_mb())

    def stop(self):
        self._stop.set()


# --- environment and database ----------------------------------------------------------------

def prepare_environment(args, files: dict, meta: dict) -> None:
    """Settings come from the environment, so everything is set before django.setup()."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ.setdefault("PORTAL_VAR_DIR", str(args.cache_dir / "var"))
    # A realistic 1M-row file is ~190 MB; the default INTAKE_MAX_BYTES (50 MB) refuses it.
    size = meta["csv_bytes"]
    if int(os.environ.get("INTAKE_MAX_BYTES", 50_000_000)) < size:
        os.environ["INTAKE_MAX_BYTES"] = str(size + 1)
    if int(os.environ.get("INTAKE_MAX_ROWS", 1_000_000)) < args.rows:
        os.environ["INTAKE_MAX_ROWS"] = str(args.rows)
    if args.chunk_rows:
        os.environ["INTAKE_CHUNK_ROWS"] = str(args.chunk_rows)
    if args.no_pipeline:
        os.environ["INTAKE_PIPELINED"] = "false"


def ensure_database(url: str) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
    if "postgresql" not in config["ENGINE"]:
        sys.exit(f"DATABASE_URL must point at PostgreSQL, not {config['ENGINE']}")
    connect = {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
               "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    server = psycopg2.connect(dbname="postgres", **connect)
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}")
    server.close()


# --- instrumentation of the writer (per chunk, so it costs nothing measurable) ----------------

def _label(statement: str) -> str:
    text = " ".join(statement.split())
    if "DROP TABLE" in text or text.startswith("CREATE TEMPORARY"):
        return "stage create"
    if text.startswith("DELETE FROM intake_stage") and " WHERE " in text:
        return "drop existing refs"
    if text.startswith("ANALYZE"):
        return "analyze " + text.split()[1].replace("collections_work_", "")
    if text.startswith("DELETE FROM intake_stage") or text.startswith("TRUNCATE"):
        return "stage clear"
    if text.startswith("UPDATE intake_stage"):
        return "resolve debtor ids"
    if text.startswith("SELECT count(*)"):
        return "count existing"
    if "INSERT INTO collections_work_debtoraccount" in text:
        return "upsert accounts"
    if "INSERT INTO collections_work_debtor " in text:
        return "insert co-debtors, guarantors" if "s.co_key" in text \
            else "upsert debtors"
    if "INSERT INTO collections_work_contact" in text:
        return "insert contacts"
    if "INSERT INTO collections_work_accountparty" in text:
        return "insert parties"
    return text[:50]


class WriterProbe:
    """Times the writer thread's statements, the COPY, and both sides of the chunk queue."""

    def __init__(self, explain_chunk: int | None):
        self.statements = defaultdict(lambda: [0.0, 0])  # label -> [seconds, count]
        self.lock = threading.Lock()
        self.explain_chunk = explain_chunk
        self.plans: list[tuple[str, str, list[str]]] = []
        self.chunk = 0
        self.format_seconds = 0.0
        self.copy_seconds = 0.0
        self.write_seconds = 0.0
        self.put_blocked = 0.0
        self.get_waited = 0.0
        self.writer_started = self.last_write_end = self.writer_ended = 0.0
        self.chunks = 0
        self.backend_pid = 0
        self.backend_cpu_start = self.backend_cpu_seconds = 0.0

    def add(self, label: str, seconds: float):
        with self.lock:
            entry = self.statements[label]
            entry[0] += seconds
            entry[1] += 1

    def install(self):
        import queue as queue_module
        import types

        from django.db import connection

        from collections_work.placements.intake import commit as commit_module

        probe = self
        original_write = commit_module.ChunkWriter.write
        original_load = commit_module.ChunkWriter._load
        original_create = commit_module.ChunkWriter._create_stage
        original_run = commit_module.PipelinedWriter._run
        original_put = commit_module.PipelinedWriter.write

        def wrapper(execute, sql, params, many, context):
            label = _label(sql)
            started = time.perf_counter()
            if probe.chunk == probe.explain_chunk and label not in ("stage create", "stage clear") \
                    and not label.startswith("analyze"):
                cursor = context["cursor"]
                execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
                probe.plans.append((label, sql, [row[0] for row in cursor.fetchall()]))
                if not sql.lstrip().upper().startswith("SELECT"):
                    probe.add(label, time.perf_counter() - started)
                    return None
                started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                probe.add(label, time.perf_counter() - started)

        def write(self, records, *args):
            probe.chunk += 1
            started = time.perf_counter()
            with connection.execute_wrapper(wrapper):
                original_write(self, records, *args)
            probe.last_write_end = time.perf_counter()
            probe.write_seconds += probe.last_write_end - started
            probe.backend_cpu_seconds = backend_cpu(probe.backend_pid) - probe.backend_cpu_start
            probe.chunks += 1

        def create_stage(self):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                probe.backend_pid = cursor.fetchone()[0]
            probe.backend_cpu_start = backend_cpu(probe.backend_pid)
            with connection.execute_wrapper(wrapper):
                original_create(self)

        original_copy_data = commit_module.copy_data

        in_load = threading.local()

        def copy_data(records):
            started = time.perf_counter()
            try:
                return original_copy_data(records)
            finally:
                seconds = time.perf_counter() - started
                probe.format_seconds += seconds
                in_load.formatted = getattr(in_load, "formatted", 0.0) + seconds

        commit_module.copy_data = copy_data

        def load(self, cursor, records, *args):
            in_load.formatted = 0.0
            started = time.perf_counter()
            original_load(self, cursor, records, *args)
            # without the pipeline, _load makes the COPY data itself, on this thread
            probe.copy_seconds += time.perf_counter() - started - in_load.formatted

        class TimedQueue(queue_module.Queue):
            def get(self, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return super().get(*args, **kwargs)
                finally:
                    probe.get_waited += time.perf_counter() - started

        commit_module.queue = types.SimpleNamespace(Queue=TimedQueue)

        def run(self, batch, update_existing):
            probe.writer_started = time.perf_counter()
            try:
                original_run(self, batch, update_existing)
            finally:
                probe.writer_ended = time.perf_counter()

        def put(self, records):
            started = time.perf_counter()
            try:
                original_put(self, records)
            finally:
                probe.put_blocked += time.perf_counter() - started

        commit_module.ChunkWriter.write = write
        commit_module.ChunkWriter._load = load
        commit_module.ChunkWriter._create_stage = create_stage
        commit_module.PipelinedWriter._run = run
        commit_module.PipelinedWriter.write = put

    def report(self, out):
        out("  writer thread (all chunks):")
        out(f"    chunks written                {self.chunks:>10}")
        out(f"    Python: COPY data for chunks  {self.format_seconds:>10.2f} s  (holds the GIL; on the parsing "
            "thread when pipelined)")
        out(f"    COPY into the stage           {self.copy_seconds:>10.2f} s")
        for label, (seconds, count) in sorted(self.statements.items(), key=lambda item: -item[1][0]):
            out(f"    {label:<30}{seconds:>10.2f} s  ({count} statements)")
        out(f"    total in ChunkWriter.write    {self.write_seconds:>10.2f} s")
        out(f"    writer waiting for chunks     {self.get_waited:>10.2f} s")
        if self.writer_ended and self.last_write_end:
            out(f"    last chunk -> COMMIT done     {self.writer_ended - self.last_write_end:>10.2f} s")
        out(f"    parser blocked on full queue  {self.put_blocked:>10.2f} s")
        out(f"    PostgreSQL backend CPU        {self.backend_cpu_seconds:>10.2f} s  (to the last chunk, COMMIT not included)")


# --- the run ----------------------------------------------------------------------------------

def wal_lsn(since=None):
    """The server's current WAL position, or the bytes written since `since` (all databases)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if since is None:
            cursor.execute("SELECT pg_current_wal_lsn()")
        else:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)::bigint", [since])
        return cursor.fetchone()[0]


class Upload:
    """What Django hands a view for a large upload: a file already on disk (TemporaryUploadedFile),
    which FileSystemStorage moves into place instead of copying."""

    def __init__(self, path: Path, name: str):
        from django.core.files import File

        self._file = File(path.open("rb"), name=name)
        self._path = path
        self.name = name
        self.size = path.stat().st_size

    def temporary_file_path(self):
        return str(self._path)

    def __getattr__(self, item):
        return getattr(self._file, item)


def stage_upload(csv_path: Path, var_dir: Path) -> Path:
    """A hard link to the cached CSV (a copy across file systems) that the upload can move away."""
    target = var_dir / "upload-tmp" / f"{uuid.uuid4().hex}.upload.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(csv_path, target)
    except OSError:
        shutil.copyfile(csv_path, target)
    return target


def copy_baseline(files, rows, agency, client, var_dir, out, wait_quiet=0) -> float:
    """Raw COPY of the N rows into the account table for this client; returns rows/s."""
    from django.db import connection, transaction

    from collections_work.models import Debtor
    from portal.tenancy import unscoped

    with unscoped():
        debtor = Debtor.objects.create(agency=agency, client=client, kind="business", name="Baseline debtor",
                                       debtor_key="bench-copy-baseline")
    target = var_dir / f"copy-{uuid.uuid4().hex}.tsv"
    datagen.write_copy_file(files["copy"], target, agency.pk, client.pk, debtor.pk)
    if wait_quiet:
        MachineLoad.wait_quiet(wait_quiet, out)
    try:
        columns = ", ".join(datagen.COPY_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with target.open("r", encoding="utf-8") as handle:
            cpu, load = backend_cpu(pid), MachineLoad()
            started = time.perf_counter()
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.cursor.copy_expert(f"COPY collections_work_debtoraccount ({columns}) FROM STDIN", handle,
                                              size=1 << 20)
            seconds = time.perf_counter() - started
            cpu, busy = backend_cpu(pid) - cpu, load.busy_since_last()
    finally:
        target.unlink(missing_ok=True)
    out(f"baseline COPY: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s (COMMIT included); "
        f"backend CPU {cpu:.2f} s; machine {busy:.0f}% busy")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM collections_work_debtoraccount WHERE client_id = %s", [client.pk])
        cursor.execute("VACUUM ANALYZE collections_work_debtoraccount")
    out(f"  (baseline rows deleted and table vacuumed in {time.perf_counter() - started:.1f} s, untimed)")
    return rows / seconds


def cleanup(client, out):
    """Delete the run's accounts, parties, contacts and debtors (the agency, client, batch and
    audit rows stay: the audit log is append-only)."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("collections_work_accountparty", "collections_work_contact", "collections_work_debtoraccount",
                      "collections_work_debtor"):
            cursor.execute(f"DELETE FROM {table} WHERE client_id = %s", [client.pk])
        for table in ("collections_work_accountparty", "collections_work_contact", "collections_work_debtoraccount",
                      "collections_work_debtor"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    out(f"cleanup: run's rows deleted and tables vacuumed in {time.perf_counter() - started:.1f} s")


def verify_scores(client, out) -> bool:
    """The placement scored its accounts itself (issue 13, item 22: ranked in the queues when it
    says done, no re-score job after it): no account is left at 0 (or by chance), and a sample of 2,000 has the
    score the Python scoring gives."""
    from collections_work.debtor_accounts import scoring
    from collections_work.models import DebtorAccount
    from portal.tenancy import tenant_scope

    with tenant_scope(client.agency_id):
        accounts = DebtorAccount.objects.filter(client=client)
        unscored = accounts.filter(priority=0).count()
        sample = list(accounts.order_by("?")[:2000])
        wrong = sum(1 for a in sample if a.priority != scoring.priority_of(scoring.score_parts(a)))
    ok = wrong == 0
    out(f"scores: {unscored:,} accounts with priority 0; {len(sample) - wrong:,} of a sample of {len(sample):,} "
        f"equal the Python score -> {'OK' if ok else 'MISMATCH'}")
    return ok


def run(args) -> dict:
    lines = []

    def out(text=""):
        print(text, flush=True)
        lines.append(text)

    sampler = RssSampler()
    sampler.start()
    sampler.enter("generate")
    started = time.perf_counter()
    files, meta = datagen.ensure_files(args.rows, args.seed, args.cache_dir)
    out(f"data: {files['csv']} ({meta['csv_bytes'] / 1e6:.1f} MB, {meta['rows']:,} rows: {meta['valid']:,} valid, "
        f"{meta['invalid']:,} invalid {meta['invalid_by_kind']}) ready in {time.perf_counter() - started:.1f} s")

    prepare_environment(args, files, meta)
    ensure_database(os.environ["DATABASE_URL"])
    sampler.enter("setup")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    out(f"database {settings.DATABASES['default']['NAME']} migrated in {time.perf_counter() - started:.1f} s; "
        f"INTAKE_CHUNK_ROWS={settings.INTAKE_CHUNK_ROWS} INTAKE_PIPELINED={settings.INTAKE_PIPELINED} "
        f"INTAKE_MAX_BYTES={settings.INTAKE_MAX_BYTES:,}")

    from accounts.models import Agency, Client, Membership, Role, User
    from collections_work.placements import services, tasks
    from collections_work.placements.intake import jobs
    from collections_work.models import DebtorAccount, PlacementBatch
    from portal.tenancy import tenant_scope, unscoped

    from bench import experiments

    for name in args.experiment:
        out(f"experiment: {name}: {experiments.apply(name)}")
    probe = None
    if not args.no_probe:
        probe = WriterProbe(args.explain_chunk)
        probe.install()

    tag = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    agency = Agency.objects.create(name=f"Bench agency {tag}", slug=f"bench-{tag}", mfa_required_for_staff=False)
    with unscoped():
        client = Client.objects.create(agency=agency, name=f"Bench client {tag}", status=Client.Status.ACTIVE)
        user = User.objects.create_user(email=f"bench-{tag}@example.test")
        Membership.objects.create(user=user, agency=agency, role=Role.AGENCY_ADMIN)
    out(f"agency {agency.pk}, client {client.pk}, user {user.email}")

    var_dir = Path(settings.VAR_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    copy_rate = None
    if not args.skip_copy:
        sampler.enter("copy baseline")
        copy_rate = copy_baseline(files, args.rows, agency, client, var_dir, out, args.wait_quiet)

    queued = []
    jobs.after_commit_run = lambda task_name, batch: queued.append(task_name)  # run below, in-process
    timings = {}
    sampler.enter("upload")
    upload_path = stage_upload(files["csv"], var_dir)
    started = time.perf_counter()
    with tenant_scope(agency):
        batch = services.placement_upload(agency=agency, actor=user, client=client,
                                          uploaded_file=Upload(upload_path, "placements.csv"))
    timings["upload"] = time.perf_counter() - started
    assert queued == ["placement_inspect"], queued
    sampler.enter("read")
    started = time.perf_counter()
    outcome = tasks.placement_inspect.run(batch.pk, agency.pk)  # in the sandbox's child process
    timings["read"] = time.perf_counter() - started
    with unscoped():
        batch = PlacementBatch.objects.get(pk=batch.pk)
    if outcome != "read":
        sys.exit(f"reading failed: {batch.error_message}")
    mapped = {batch.headers[index]: field for field, index in batch.mapping.items()}
    out(f"upload (sniff only): {timings['upload']:.2f} s; read in the worker's child: {timings['read']:.2f} s; "
        f"header row {batch.options['header_row']}, {len(batch.headers)} columns, {len(mapped)} mapped"
        + (f", unmapped: {[h for h in batch.headers if h not in mapped]}" if len(mapped) < len(batch.headers) else ""))

    started = time.perf_counter()
    with tenant_scope(agency):
        batch = services.placement_set_mapping(agency=agency, actor=user, batch=batch, mapping=batch.mapping,
                                               options={}, on_duplicate="skip")
    timings["mapping"] = time.perf_counter() - started
    assert queued[-1] == "placement_preview", queued

    if args.wait_quiet:
        MachineLoad.wait_quiet(args.wait_quiet, out)
    sampler.enter("preview")
    load, cpu = MachineLoad(), process_cpu()
    started = time.perf_counter()
    if args.cprofile_preview:
        import cProfile

        profiler = cProfile.Profile()
        outcome = profiler.runcall(tasks.placement_preview.run, batch.pk, agency.pk)
        profiler.dump_stats(args.cprofile_preview)
    else:
        outcome = tasks.placement_preview.run(batch.pk, agency.pk)
    timings["preview"] = time.perf_counter() - started
    preview_cpu, preview_busy = process_cpu() - cpu, load.busy_since_last()
    with unscoped():
        batch = PlacementBatch.objects.get(pk=batch.pk)
    out(f"preview: {outcome} in {timings['preview']:.2f} s = {batch.total_rows / timings['preview']:,.0f} rows/s; "
        f"{batch.total_rows:,} rows, {batch.valid_rows:,} valid, {batch.invalid_rows:,} invalid"
        + (f" -- {batch.error_message}" if batch.error_message else ""))
    out(f"  preview CPU {preview_cpu:.2f} s in this process ({1e6 * preview_cpu / max(batch.total_rows, 1):.1f} us/row); "
        f"machine {preview_busy:.0f}% busy")
    if outcome != "previewed":
        sys.exit(f"preview failed: {batch.error_message}")

    sampler.enter("commit")
    started = time.perf_counter()
    with tenant_scope(agency):
        batch = services.placement_commit(agency=agency, actor=user, batch=batch)
    timings["commit service"] = time.perf_counter() - started
    assert queued[-1] == "placement_commit", queued
    if args.wait_quiet:
        MachineLoad.wait_quiet(args.wait_quiet, out)
    wal_start = wal_lsn()
    load, cpu = MachineLoad(), process_cpu()
    started = time.perf_counter()
    outcome = tasks.placement_commit.run(batch.pk, agency.pk)
    timings["commit"] = time.perf_counter() - started
    commit_cpu, commit_busy = process_cpu() - cpu, load.busy_since_last()
    wal_bytes = wal_lsn(wal_start)
    sampler.enter("verify")
    with unscoped():
        batch = PlacementBatch.objects.get(pk=batch.pk)
        created = DebtorAccount.objects.filter(client=client).count()
    out(f"commit: {outcome} in {timings['commit']:.2f} s = {batch.total_rows / timings['commit']:,.0f} rows/s; "
        f"created {batch.created_count:,}, updated {batch.updated_count:,}, skipped {batch.skipped_count:,}, "
        f"invalid {batch.invalid_rows:,}" + (f" -- {batch.error_message}" if batch.error_message else ""))
    out(f"  commit CPU {commit_cpu:.2f} s in this process (both threads); machine {commit_busy:.0f}% busy "
        f"(100% = both cores); WAL written by the server meanwhile {wal_bytes / 1e6:,.0f} MB "
        f"({wal_bytes / max(batch.valid_rows, 1):,.0f} bytes/valid row)")
    if probe is not None:
        probe.report(out)
        if probe.plans:
            plan_file = Path(args.explain_out)
            with plan_file.open("w") as handle:
                for label, statement, plan in probe.plans:
                    handle.write(f"-- {label}\n{' '.join(statement.split())}\n" + "\n".join(plan) + "\n\n")
            out(f"  EXPLAIN ANALYZE of chunk {args.explain_chunk}: {plan_file}")
            for label, _statement, plan in probe.plans:
                execution = next((line for line in plan if line.startswith("Execution Time")), "?")
                out(f"    {label:<30}{execution}")

    from collections_work.placements.intake import commit as intake_commit

    if getattr(intake_commit, "OLD_RESCORE", False):  # --experiment old-rescore: the job that used to follow
        from collections_work.worklist.tasks import RESCORE_TASK_CHUNK
        from collections_work.worklist.tasks import worklist_rescore_batch

        sampler.enter("old rescore")
        started, after_id = time.perf_counter(), 0
        worklist_rescore_batch.delay = lambda batch_id, agency_id, last_id: chunks.append(last_id)
        while after_id is not None:
            chunks = []
            worklist_rescore_batch.run(batch.pk, agency.pk, after_id)
            after_id = chunks[0] if chunks else None
        timings["old rescore job"] = time.perf_counter() - started
        out(f"old re-score job after the placement (chunks of {RESCORE_TASK_CHUNK:,}): "
            f"{timings['old rescore job']:.2f} s; placement + re-score "
            f"{timings['commit'] + timings['old rescore job']:.2f} s")
    scored = verify_scores(client, out)
    total = sum(timings.values())
    valid = batch.valid_rows
    out(f"accounts in the client: {created:,}; valid rows: {valid:,} (generator expected {meta['valid']:,}) -> "
        + ("OK" if created == valid == meta["valid"] else "MISMATCH"))
    out("phases: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())
        + f"; sum {total:.2f} s")
    rows_per_s = args.rows / timings["commit"]
    if copy_rate:
        out(f"end to end (commit pass): {timings['commit']:.2f} s = {rows_per_s:,.0f} rows/s = "
            f"{100 * rows_per_s / copy_rate:.1f}% of raw COPY ({copy_rate:,.0f} rows/s)")
    if copy_rate and "old rescore job" in timings:
        both = timings["commit"] + timings["old rescore job"]
        out(f"until scored (commit pass + the re-score job that followed it): {both:.2f} s = "
            f"{args.rows / both:,.0f} rows/s = {100 * args.rows / both / copy_rate:.1f}% of raw COPY")
    sampler.stop()
    out("peak RSS by phase (sampled): " + ", ".join(f"{k} {v:.0f} MB" for k, v in sampler.peaks.items()))
    if not args.keep:
        cleanup(client, out)
        shutil.rmtree(Path(settings.MEDIA_ROOT) / "intake" / str(agency.pk), ignore_errors=True)
    return {
        "rows": args.rows, "seconds": round(timings["commit"], 3), "rows_per_s": round(rows_per_s, 1),
        "copy_rows_per_s": round(copy_rate, 1) if copy_rate else None,
        "ratio": round(rows_per_s / copy_rate, 4) if copy_rate else None,
        "peak_rss_mb": round(peak_rss_mb(), 1), "preview_seconds": round(timings["preview"], 3),
        "upload_seconds": round(timings["upload"], 3), "read_seconds": round(timings["read"], 3),
        "sum_seconds": round(total, 3),
        "valid_rows": valid, "created": created, "expected_valid": meta["valid"],
        "chunk_rows": settings.INTAKE_CHUNK_ROWS, "experiments": args.experiment, "scored": scored,
        "old_rescore_seconds": round(timings["old rescore job"], 3) if "old rescore job" in timings else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "portal-intake-bench",
                        help="generated files (cached by rows and seed) and the run's media/cache (PORTAL_VAR_DIR)")
    parser.add_argument("--chunk-rows", type=int, default=0, help="INTAKE_CHUNK_ROWS for this run")
    parser.add_argument("--no-pipeline", action="store_true", help="INTAKE_PIPELINED=false")
    parser.add_argument("--skip-copy", action="store_true", help="skip the raw COPY baseline")
    parser.add_argument("--keep", action="store_true", help="keep the run's accounts in the database")
    parser.add_argument("--no-probe", action="store_true", help="no per-statement timing of the writer")
    parser.add_argument("--explain-chunk", type=int, default=None,
                        help="run chunk K's statements under EXPLAIN (ANALYZE, BUFFERS)")
    parser.add_argument("--explain-out", default="intake-explain.txt")
    parser.add_argument("--cprofile-preview", default="", help="write a cProfile of the preview pass here")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each measured phase, wait up to this long for the machine to be idle")
    parser.add_argument("--experiment", action="append", default=[],
                        help="monkeypatch a proposed optimisation (see bench/experiments.py); repeatable")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
