"""Candidate optimisations of the intake code, applied by monkeypatching this process only.

`python -m bench.intake --experiment NAME` applies one (repeatable). The changes measured here
earlier (fast row validator, C-written CSV COPY, TRUNCATE of the stage, per-chunk FK checks, index
probes instead of joins, no redundant FK indexes, no FK on implied tenant columns) are now the
app's own code, so their patches are gone; what is left are settings and diagnostics that were
measured and not adopted. `--experiment all` applies every entry of CODE_CHANGES (none pending).

`python -m bench.experiments check FILE.csv` runs the row validator's fast path and its full check
over every row of a file and fails on the first record or error that differs.
"""

EXPERIMENTS = {}
CODE_CHANGES = []  # what "all" applies, in order


def experiment(name, *, in_all=True):
    def register(function):
        EXPERIMENTS[name] = function
        if in_all:
            CODE_CHANGES.append(name)
        return function
    return register


def apply(name: str) -> str:
    if name == "all":
        return "; ".join(f"{n}: {apply(n)}" for n in CODE_CHANGES) or "no code changes pending"
    if name not in EXPERIMENTS:
        raise SystemExit(f"unknown experiment {name!r}; known: all, {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]() or EXPERIMENTS[name].__doc__.strip().splitlines()[0]


# --- Writer side ----------------------------------------------------------------------------

def _rewrite_writer_sql(rewrite):
    """Run every statement of ChunkWriter (on its own thread's connection) through `rewrite`."""
    from django.db import connection

    from collections_work.placements.intake import commit

    stock_write, stock_create = commit.ChunkWriter.write, commit.ChunkWriter._create_stage

    explain = "EXPLAIN (ANALYZE, BUFFERS) "  # bench.intake --explain-chunk prefixes statements with this

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(explain):
            return execute(explain + rewrite(sql[len(explain):]), params, many, context)
        return execute(rewrite(sql), params, many, context)

    def write(self, records, *args):
        with connection.execute_wrapper(wrapper):
            return stock_write(self, records, *args)

    def create_stage(self):
        with connection.execute_wrapper(wrapper):
            return stock_create(self)

    commit.ChunkWriter.write = write
    commit.ChunkWriter._create_stage = create_stage


@experiment("analyze-stage", in_all=False)
def analyze_stage():
    """commit.py: ANALYZE the stage after each COPY so the planner knows its size"""
    from django.db import connection

    from collections_work.placements.intake import commit

    stock = commit.ChunkWriter._load

    def load(self, cursor, records, *args):
        stock(self, cursor, records, *args)
        if self.postgres:
            cursor.execute(f"ANALYZE {commit.STAGE}")

    commit.ChunkWriter._load = load
    del connection


@experiment("analyze-targets", in_all=False)
def analyze_targets():
    """commit.py: ANALYZE the debtor and account tables once, in the first chunk, right after rows of
    this client were inserted into them (ANALYZE in the transaction sees its own rows), so the
    planner stops believing the client has no debtors/accounts"""
    from collections_work.placements.intake import commit

    stock_debtors, stock_accounts = commit.ChunkWriter._upsert_debtors, commit.ChunkWriter._upsert_accounts

    def upsert_debtors(self, cursor):
        stock_debtors(self, cursor)
        if self.postgres and not getattr(self, "_analyzed_debtors", False):
            cursor.execute(f"ANALYZE {self.t['debtor']}")
            self._analyzed_debtors = True

    def upsert_accounts(self, cursor):
        stock_accounts(self, cursor)
        if self.postgres and not getattr(self, "_analyzed_accounts", False):
            cursor.execute(f"ANALYZE {self.t['account']}")
            self._analyzed_accounts = True

    commit.ChunkWriter._upsert_debtors = upsert_debtors
    commit.ChunkWriter._upsert_accounts = upsert_accounts


@experiment("session-settings", in_all=False)
def session_settings():
    """commit.py: SET LOCAL synchronous_commit = off, work_mem = 64MB in the writer (its temp_buffers
    = 64MB is the app's own code now)"""
    from collections_work.placements.intake.commit import STAGE

    _rewrite_writer_sql(
        lambda sql: "SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB'; "
        + sql if sql.endswith(f"DROP TABLE IF EXISTS {STAGE}") else sql)


@experiment("diagnostic-no-fk-checks", in_all=False)
def diagnostic_no_fk_checks():
    """DIAGNOSTIC, not a proposal: SET LOCAL session_replication_role = replica in the writer (a
    superuser-only setting that skips the foreign-key triggers), to measure what the FK checks
    per input row cost (~8 since migration 0004, ~14 before)"""
    from collections_work.placements.intake.commit import STAGE

    _rewrite_writer_sql(lambda sql: "SET LOCAL session_replication_role = replica; " + sql
                        if sql.endswith(f"DROP TABLE IF EXISTS {STAGE}") else sql)


# --- Checking the fast validator against the full check ------------------------------------

@experiment("old-rescore", in_all=False)
def old_rescore():
    """BEFORE issue 13 item 22, for comparison: the placement writes priority 0 and no statistics, and
    the bench then times the re-score job that used to follow it (worklist_rescore_batch, in chunks)"""
    from collections_work.placements.intake import commit

    commit.ChunkWriter._new_priority = lambda self: "0"
    commit.ChunkWriter.finish = lambda self: None
    commit.OLD_RESCORE = True  # read by bench.intake


def check(path: str) -> None:
    import os
    import sys
    from pathlib import Path

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from collections_work.placements.intake import fields, reader
    from collections_work.placements.intake.rows import IntakeOptions, RowValidator

    file = Path(path)
    info = reader.inspect(file, "csv")
    validator = RowValidator(info.headers, fields.guess_mapping(info.headers), IntakeOptions())
    checked = valid = fast = 0
    for row_no, cells in reader.data_rows(file, info):
        expected, got = validator._validate(row_no, cells), validator.validate(row_no, cells)
        if expected != got:
            sys.exit(f"row {row_no} differs:\n  full check {expected}\n  validate   {got}")
        checked += 1
        valid += expected[0] is not None
        fast += validator._fast_record(row_no, cells) is not None
    print(f"{checked:,} rows checked, {valid:,} valid ({fast:,} by the fast path): the same records and errors")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        sys.exit("usage: python -m bench.experiments check FILE.csv")
