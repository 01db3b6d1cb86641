"""Proposed optimisations of the intake code, applied by monkeypatching this process only.

`python -m bench.intake --experiment NAME` applies one (repeatable; `--experiment all` applies
every code change below, not the index one). No file of the app is changed; each function's
docstring names the change it stands for, and bench/README.md has the diffs.

`python -m bench.experiments check FILE.csv` runs the stock RowValidator and the fast one over
every row of a file and fails on the first record or error that differs.
"""
import csv
import hashlib
import io
import re
from datetime import date

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
        return "; ".join(f"{n}: {apply(n)}" for n in CODE_CHANGES)
    if name not in EXPERIMENTS:
        raise SystemExit(f"unknown experiment {name!r}; known: all, {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]() or EXPERIMENTS[name].__doc__.strip().splitlines()[0]


# --- Python side: validating rows -------------------------------------------------------------

_AMOUNT_CHARS = re.compile(r"[\d,.$]+")  # the usual amount: digits, separators, a dollar sign
_NON_DIGIT = re.compile(r"\D")


def _date_parser(date_format: str):
    """A parser for one of values.DATE_FORMATS (all are two 2-digit fields and a 4-digit year with
    one separator) that gives exactly what `datetime.strptime(text, date_format).date()` gives
    for 10-character all-ASCII-digit dates, and None for anything else (the caller then falls back
    to the stock parser, which decides and words the error)."""
    parts = date_format.split(date_format[2])
    separator = date_format[2]
    if len(parts) != 3 or sorted(parts) != ["%Y", "%d", "%m"] or len(date_format) != 8:
        return None
    spans, start = {}, 0
    for part in parts:
        width = 4 if part == "%Y" else 2
        spans[part] = (start, start + width)
        start += width + 1
    (y0, y1), (m0, m1), (d0, d1) = spans["%Y"], spans["%m"], spans["%d"]
    seps = [end for _part, (_start, end) in sorted(spans.items(), key=lambda item: item[1])][:2]

    def parse(text: str):
        if len(text) != 10 or text[seps[0]] != separator or text[seps[1]] != separator or not text.isascii():
            return None
        year, month, day = text[y0:y1], text[m0:m1], text[d0:d1]
        if not (year.isdigit() and month.isdigit() and day.isdigit()):
            return None
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            return None
    return parse


def make_fast_validate(stock_validate):
    """RowValidator.validate with a fast path for rows of text cells that turn out valid: one
    pass over the mapped cells, no per-row dicts of parsers or closures, no strptime for the
    chosen date format, no currency regex for plain amounts. Any row the fast path is not sure
    of (an error, a number or date cell from XLSX, an unusual value) goes to the stock code, so
    messages and their order are unchanged."""
    from collections_work.intake import values
    from collections_work.intake.rows import MAX_LENGTHS, TIME_ZONES, ZERO

    cents = values.CENTS
    plain_amount = values._PLAIN_AMOUNT
    email_pattern = values._EMAIL
    purposes, kinds = values.PURPOSES, values.KINDS
    md5 = hashlib.md5
    Decimal = values.Decimal

    class Fallback(Exception):
        pass

    def prepare(self):
        mapping = {field: index for field, (index, _header) in self.columns.items()}
        self._fast_fields = tuple(mapping.items())
        self._fast_limits = tuple((field, limit) for field, limit in MAX_LENGTHS.items() if field in mapping)
        amount_format = self.options.amount_format
        thousands, decimal_mark = values.AMOUNT_FORMATS[amount_format][1:]
        date_parser = _date_parser(self.options.date_format)

        def amount(text):
            if not text:
                return ZERO
            if _AMOUNT_CHARS.fullmatch(text) is None:
                raise Fallback
            cleaned = text.replace("$", "").replace(thousands, "")
            if decimal_mark != ".":
                cleaned = cleaned.replace(decimal_mark, ".")
            if plain_amount.match(cleaned) is None:
                raise Fallback
            return Decimal(cleaned).quantize(cents)

        def a_date(text):
            if not text:
                return None
            if len(text) >= 10 and text[4] == "-":
                return date.fromisoformat(text[:10])  # ValueError -> fallback
            parsed = date_parser(text) if date_parser is not None else None
            if parsed is None:
                raise Fallback
            return parsed

        self._fast_amount, self._fast_date = amount, a_date
        self._fast_default_purpose = self.options.default_debt_purpose

    def key(name, tax4, email):
        return md5(f"{' '.join(name.lower().split())}|{tax4}|{email}".encode(), usedforsecurity=False).hexdigest()

    def party(text, prefix):
        name = text.get(prefix + "_name", "")
        email = text.get(prefix + "_email", "")
        phone = text.get(prefix + "_phone", "")
        if not name:
            if email or phone:
                raise Fallback
            return "", "", "", ""
        email = values.parse_email(email) if email else ""
        phone = values.parse_phone(phone) if phone else ""
        return name, key(name, "", email), email, phone

    def validate(self, row_no, cells):
        try:
            fields = self._fast_fields
        except AttributeError:
            prepare(self)
            fields = self._fast_fields
        width = len(cells)
        text = {}
        for field, index in fields:
            if index < width:
                value = cells[index]
                if value.__class__ is not str:
                    return stock_validate(self, row_no, cells)  # XLSX numbers and dates, None
                text[field] = value.strip()
        get = text.get
        reference, name = get("client_reference"), get("debtor_name")
        if not reference or not name or not get("principal"):
            return stock_validate(self, row_no, cells)
        for field, limit in self._fast_limits:
            if len(get(field, "")) > limit:
                return stock_validate(self, row_no, cells)
        try:
            amount = self._fast_amount
            principal, interest = amount(get("principal")), amount(get("interest"))
            fees, paid = amount(get("fees")), amount(get("paid"))
            if principal < 0 or interest < 0 or fees < 0 or paid < 0:
                raise Fallback
            balance = principal + interest + fees - paid
            if balance <= 0:
                raise Fallback
            a_date = self._fast_date
            invoice_date, due_date = a_date(get("invoice_date")), a_date(get("due_date"))
            delinquency_date, last_payment_date = a_date(get("delinquency_date")), a_date(get("last_payment_date"))
            email = get("email")
            if email:
                email = email.lower()
                if email_pattern.match(email) is None or len(email) > 254:
                    raise Fallback
            else:
                email = ""
            phone = get("phone")
            if phone:
                digits = _NON_DIGIT.sub("", phone)
                if not 7 <= len(digits) <= 15:
                    raise Fallback
                phone = ("+" if phone.startswith("+") else "") + digits
            else:
                phone = ""
            tax4 = get("tax_id")
            if tax4:
                digits = _NON_DIGIT.sub("", tax4)
                if len(digits) < 4:
                    raise Fallback
                tax4 = digits[-4:]
            else:
                tax4 = ""
            purpose = get("debt_purpose")
            purpose = purposes[purpose.lower()] if purpose else self._fast_default_purpose
            kind = get("debtor_kind")
            kind = kinds[kind.lower()] if kind else "business"
            time_zone = get("time_zone", "")
            if time_zone and time_zone not in TIME_ZONES:
                raise Fallback
            co = party(text, "co_debtor")
            guarantor = party(text, "guarantor")
        except (Fallback, KeyError, ValueError):
            return stock_validate(self, row_no, cells)
        return (
            row_no, reference, key(name, tax4, email), kind, name, tax4, time_zone, email, phone,
            self._address(text), purpose, principal, interest, fees, paid, balance, get("invoice_number", ""),
            invoice_date, due_date, delinquency_date or due_date, last_payment_date, *co, *guarantor,
        ), []

    return validate


@experiment("fast-validate")
def fast_validate():
    """rows.py: RowValidator.validate fast path for valid text rows (stock code for anything else)"""
    from collections_work.intake import rows

    rows.RowValidator.validate = make_fast_validate(rows.RowValidator.validate)


@experiment("fast-blank")
def fast_blank():
    """reader.py: data_rows() tests a CSV row for blankness with one join instead of a generator"""
    from collections_work.intake import reader

    stock = reader._is_blank

    def is_blank(cells) -> bool:
        try:
            return not "".join(cells).strip()
        except TypeError:  # XLSX: None, numbers, dates
            return stock(cells)

    reader._is_blank = is_blank


# --- Writer side ----------------------------------------------------------------------------

@experiment("csv-copy")
def csv_copy():
    """commit.py: COPY the stage in CSV format written by the C csv module (not _copy_line per value)"""
    from django.db import connection

    from collections_work.intake import commit
    from collections_work.intake.rows import STAGE_COLUMNS

    text_columns = ", ".join(c for c in STAGE_COLUMNS if commit._TYPES.get(c, "text") == "text")
    statement = (f"COPY {commit.STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN "
                 f"WITH (FORMAT csv, FORCE_NOT_NULL ({text_columns}))")
    stock = commit.ChunkWriter._load

    def load(self, cursor, records):
        if not self.postgres:
            return stock(self, cursor, records)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(records)  # "\n" would leave a lone \r unquoted
        size = buffer.tell() + 1
        buffer.seek(0)
        # One read: psycopg2 takes the GIL back for every read() of the file (8 KiB by default), and
        # the parsing thread holds it for up to 5 ms at a time.
        cursor.cursor.copy_expert(statement, buffer, size=size)

    commit.ChunkWriter._load = load
    del connection  # only the writer thread's connection is used, through `cursor`


def _rewrite_writer_sql(rewrite):
    """Run every statement of ChunkWriter (on its own thread's connection) through `rewrite`."""
    from django.db import connection

    from collections_work.intake import commit

    stock_write, stock_create = commit.ChunkWriter.write, commit.ChunkWriter._create_stage

    explain = "EXPLAIN (ANALYZE, BUFFERS) "  # bench.intake --explain-chunk prefixes statements with this

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(explain):
            return execute(explain + rewrite(sql[len(explain):]), params, many, context)
        return execute(rewrite(sql), params, many, context)

    def write(self, records):
        with connection.execute_wrapper(wrapper):
            return stock_write(self, records)

    def create_stage(self):
        with connection.execute_wrapper(wrapper):
            return stock_create(self)

    commit.ChunkWriter.write = write
    commit.ChunkWriter._create_stage = create_stage


@experiment("truncate-stage")
def truncate_stage():
    """commit.py: empty the stage with TRUNCATE, not DELETE (dead rows pile up in one transaction)"""
    from collections_work.intake.commit import STAGE

    _rewrite_writer_sql(lambda sql: f"TRUNCATE {STAGE}" if sql == f"DELETE FROM {STAGE}" else sql)


@experiment("immediate-fk")
def immediate_fk():
    """commit.py: SET CONSTRAINTS ALL IMMEDIATE in the writer, so FK checks run per chunk, not all at COMMIT"""
    from collections_work.intake.commit import STAGE

    _rewrite_writer_sql(lambda sql: f"SET CONSTRAINTS ALL IMMEDIATE; {sql}"
                        if sql.endswith(f"DROP TABLE IF EXISTS {STAGE}") else sql)


@experiment("analyze-stage", in_all=False)
def analyze_stage():
    """commit.py: ANALYZE the stage after each COPY so the planner knows its size"""
    from django.db import connection

    from collections_work.intake import commit

    stock = commit.ChunkWriter._load

    def load(self, cursor, records):
        stock(self, cursor, records)
        if self.postgres:
            cursor.execute(f"ANALYZE {commit.STAGE}")

    commit.ChunkWriter._load = load
    del connection


@experiment("index-lookups")
def index_lookups():
    """commit.py: find the debtor or account of each stage row with a scalar subquery (one probe of
    the (client_id, key) unique index per row) instead of a join, and SET LOCAL jit = off. The stock
    joins are planned from statistics that cannot see this transaction's own rows, so PostgreSQL
    hashes every debtor/account of the client, in several statements per chunk (quadratic)."""
    from collections_work.intake import commit

    stage = commit.STAGE

    def probe(table, column, value):
        return f"(SELECT x.id FROM {table} x WHERE x.client_id = %s AND x.{column} = {value})"

    def upsert_accounts(self, cursor):
        t = self.t["account"]
        updates = ", ".join([
            "debtor_id = excluded.debtor_id", "debtor_name = excluded.debtor_name",
            "debt_purpose = excluded.debt_purpose", "principal = excluded.principal",
            "interest = excluded.interest", "fees = excluded.fees",
            f"balance = excluded.principal + excluded.interest + excluded.fees - {t}.paid",
            "invoice_number = excluded.invoice_number", "invoice_date = excluded.invoice_date",
            "due_date = excluded.due_date", "delinquency_date = excluded.delinquency_date",
            "last_payment_date = excluded.last_payment_date",
            "placement_batch_id = excluded.placement_batch_id", "updated_at = excluded.updated_at",
        ])
        cursor.execute(
            f"INSERT INTO {t} (agency_id, client_id, debtor_id, debtor_name, client_reference, debt_purpose, status, "
            f"currency, principal, interest, fees, paid, balance, invoice_number, invoice_date, due_date, "
            f"delinquency_date, placed_at, last_payment_date, priority, placement_batch_id, hold_reason, updated_at) "
            f"SELECT %s, %s, {probe(self.t['debtor'], 'debtor_key', 's.debtor_key')}, s.debtor_name, "
            f"s.client_reference, s.debt_purpose, 'new', 'USD', s.principal, "
            f"s.interest, s.fees, s.paid, s.balance, s.invoice_number, s.invoice_date, s.due_date, "
            f"s.delinquency_date, %s, s.last_payment_date, 0, %s, '', %s FROM {stage} s WHERE true "
            f"ON CONFLICT (client_id, client_reference) DO UPDATE SET {updates}",
            [*self._ids(), self.batch.client_id, self.now, self.batch.pk, self.now])

    def insert_contacts(self, cursor):
        selects, params = [], []
        for key, kind, column, zone in [
            ("debtor_key", "email", "email", "s.time_zone"), ("debtor_key", "phone", "phone", "s.time_zone"),
            ("debtor_key", "address", "address", "s.time_zone"), ("co_key", "email", "co_email", "''"),
            ("co_key", "phone", "co_phone", "''"), ("g_key", "email", "g_email", "''"), ("g_key", "phone", "g_phone", "''"),
        ]:
            selects.append(
                f"SELECT %s, %s, {probe(self.t['debtor'], 'debtor_key', 's.' + key)}, '{kind}', s.{column}, '', "
                f"{zone}, %s FROM {stage} s WHERE s.{column} <> ''")
            params += [*self._ids(), self.batch.client_id, self.now]
        cursor.execute(
            f"INSERT INTO {self.t['contact']} (agency_id, client_id, debtor_id, kind, value, label, time_zone, created_at) "
            + " UNION ALL ".join(selects) + " ON CONFLICT (debtor_id, kind, value) DO NOTHING", params)

    def insert_parties(self, cursor):
        selects, params = [], []
        for key, role in (("co_key", "co_debtor"), ("g_key", "guarantor")):
            selects.append(
                f"SELECT %s, %s, {probe(self.t['account'], 'client_reference', 's.client_reference')}, "
                f"{probe(self.t['debtor'], 'debtor_key', 's.' + key)}, '{role}' FROM {stage} s WHERE s.{key} <> ''")
            params += [*self._ids(), self.batch.client_id, self.batch.client_id]
        cursor.execute(f"INSERT INTO {self.t['party']} (agency_id, client_id, account_id, debtor_id, role) "
                       + " UNION ALL ".join(selects) + " ON CONFLICT (account_id, debtor_id, role) DO NOTHING", params)

    account = "collections_work_debtoraccount"
    existing = probe(account, "client_reference", "s.client_reference")
    rewrites = {
        f"SELECT count(*) FROM {stage} s JOIN {account} a ON a.client_id = %s AND a.client_reference = s.client_reference":
            f"SELECT count(*) FROM {stage} s WHERE {existing} IS NOT NULL",
        f"DELETE FROM {stage} WHERE client_reference IN (SELECT client_reference FROM {account} WHERE client_id = %s)":
            f"DELETE FROM {stage} WHERE {probe(account, 'client_reference', stage + '.client_reference')} IS NOT NULL",
    }
    commit.ChunkWriter._upsert_accounts = upsert_accounts
    commit.ChunkWriter._insert_contacts = insert_contacts
    commit.ChunkWriter._insert_parties = insert_parties
    _rewrite_writer_sql(lambda sql: rewrites.get(sql, sql))
    # A per-row subplan makes the estimated cost large enough for JIT: ~0.2 s of compiling per statement.
    _rewrite_writer_sql(lambda sql: "SET LOCAL jit = off; " + sql
                        if sql.endswith(f"DROP TABLE IF EXISTS {stage}") else sql)


@experiment("analyze-targets", in_all=False)
def analyze_targets():
    """commit.py: ANALYZE the debtor and account tables once, in the first chunk, right after rows of
    this client were inserted into them (ANALYZE in the transaction sees its own rows), so the
    planner stops believing the client has no debtors/accounts"""
    from collections_work.intake import commit

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
    """commit.py: SET LOCAL synchronous_commit = off, work_mem = 64MB; temp_buffers = 64MB in the writer"""
    from collections_work.intake.commit import STAGE

    _rewrite_writer_sql(
        lambda sql: "SET temp_buffers = '64MB'; SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB'; "
        + sql if sql.endswith(f"DROP TABLE IF EXISTS {STAGE}") else sql)


@experiment("diagnostic-no-fk-checks", in_all=False)
def diagnostic_no_fk_checks():
    """DIAGNOSTIC, not a proposal: SET LOCAL session_replication_role = replica in the writer (a
    superuser-only setting that skips the foreign-key triggers), to measure what the ~14 FK checks
    per input row cost"""
    from collections_work.intake.commit import STAGE

    _rewrite_writer_sql(lambda sql: "SET LOCAL session_replication_role = replica; " + sql
                        if sql.endswith(f"DROP TABLE IF EXISTS {STAGE}") else sql)


# --- Schema (bench database only; restored at the end of the run) ----------------------------

REDUNDANT_INDEXES = {  # index -> the index that already serves it (same leading column)
    "collections_work_debtoraccount_client_id_92a264c1": "reference_unique_per_client (client_id, client_reference)",
    "collections_work_debtoraccount_agency_id_ac12d0cf": "acct_agency_placed (agency_id, placed_at, id)",
    "collections_work_debtoraccount_placement_batch_id_ea301bba": "acct_batch (placement_batch_id): a duplicate",
    "collections_work_debtor_client_id_6b1b7765": "debtor_key_unique_per_client (client_id, debtor_key)",
    "collections_work_contact_debtor_id_c31a2bba": "contact_unique_per_debtor (debtor_id, kind, value)",
    "collections_work_accountparty_account_id_81876da3": "party_unique (account_id, debtor_id, role)",
}


@experiment("drop-redundant-indexes", in_all=False)
def drop_redundant_indexes():
    """models.py: no single-column FK indexes that lead another index of the same table (DebtorAccount
    client/agency/placement_batch, Debtor client, Contact debtor, AccountParty account): less index
    upkeep per row, and the (client_id, key) unique index becomes the only one a lookup can use;
    dropped in the bench DB for this run only, recreated at exit"""
    import atexit

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)", [list(REDUNDANT_INDEXES)])
        definitions = cursor.fetchall()
        for name, _definition in definitions:
            cursor.execute(f"DROP INDEX {name}")

    def restore():
        with connection.cursor() as cursor:
            for _name, definition in definitions:
                cursor.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))

    atexit.register(restore)
    return f"dropped {len(definitions)} indexes (recreated at exit): {', '.join(name for name, _ in definitions)}"


def restore_indexes_from_migrations() -> None:
    """If a run was killed before it could recreate them: put back any REDUNDANT_INDEXES that are missing."""
    from django.db import connection

    from collections_work.models import AccountParty, Contact, Debtor, DebtorAccount

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(REDUNDANT_INDEXES)])
        present = {row[0] for row in cursor.fetchall()}
    missing = set(REDUNDANT_INDEXES) - present
    if not missing:
        return
    with connection.schema_editor() as editor:
        for model in (DebtorAccount, Debtor, Contact, AccountParty):
            for field in model._meta.local_fields:
                if field.db_index and not field.unique and field.column and getattr(field, "remote_field", None):
                    name = editor._create_index_name(model._meta.db_table, [field.column], suffix="")
                    if name in missing:
                        editor.execute(editor._create_index_sql(model, fields=[field], name=name))


# --- Checking the fast validator against the stock one --------------------------------------

def check(path: str) -> None:
    import os
    import sys
    from pathlib import Path

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from collections_work.intake import fields, reader
    from collections_work.intake.rows import IntakeOptions, RowValidator

    file = Path(path)
    info = reader.inspect(file, "csv")
    options = IntakeOptions()
    validator = RowValidator(info.headers, fields.guess_mapping(info.headers), options)
    stock = RowValidator.validate
    fast = make_fast_validate(stock)
    checked = valid = 0
    for row_no, cells in reader.data_rows(file, info):
        expected, got = stock(validator, row_no, cells), fast(validator, row_no, cells)
        if expected != got:
            sys.exit(f"row {row_no} differs:\n  stock {expected}\n  fast  {got}")
        checked += 1
        valid += expected[0] is not None
    print(f"{checked:,} rows checked, {valid:,} valid: the fast validator gives the same records and errors")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        sys.exit("usage: python -m bench.experiments check FILE.csv")
