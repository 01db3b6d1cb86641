"""Writing validated records: chunk by chunk into a staging table, then set-based upserts.

One transaction covers the whole placement, so a failure leaves nothing half-saved. On
PostgreSQL each chunk is loaded with COPY on a second thread (psycopg2 releases the GIL), so
parsing the next chunk overlaps with the database writing this one. SQLite (the embedded
mode) runs the same SQL on one thread with a plain INSERT into the staging table.
"""
import contextvars
import csv
import io
import logging
import math
import queue
import threading
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from collections_work.debtor_accounts import scoring
from collections_work.debtor_accounts.actions import balance_status_sql, restated_paid_sql
from collections_work.placements.intake.rows import STAGE_COLUMNS
from collections_work.models import AccountParty, Callback, Contact, Debtor, DebtorAccount, Promise
from collections_work.worklist import claim

log = logging.getLogger(__name__)
STAGE = "intake_stage"
_ROLE = STAGE_COLUMNS.index("party_role")
STAFF_SET = "set by staff"  # Debtor.time_zone_source of a zone staff chose: placements leave it
_DEBTOR_IDS = ("debtor_id", "co_id", "g_id")  # stage columns filled in by _resolve_debtors
_TYPES = {"row_no": "integer", "principal": "numeric(14,2)", "interest": "numeric(14,2)", "fees": "numeric(14,2)",
          "paid": "numeric(14,2)", "balance": "numeric(14,2)", "invoice_date": "date", "due_date": "date",
          "delinquency_date": "date", "last_payment_date": "date"}


@dataclass
class CommitCounts:
    created: int = 0
    updated: int = 0
    skipped: int = 0


class ChunkWriter:
    """Applies chunks of records for one placement batch; call inside a transaction."""

    def __init__(self, batch, *, update_existing: bool):
        self.batch = batch
        self.update_existing = update_existing
        # Through the backend's adapter, so SQLite stores the text the ORM compares with
        # ("2024-01-31 12:00:00.123456", not "...+00:00") and `placed_at = %s` matches (keyset pages).
        self.moment = timezone.now()
        self.now = connection.ops.adapt_datetimefield_value(self.moment)
        self.zones: set[str] = set()  # the debtor time zones of the accounts placed (the worklist's cache)
        self.counts = CommitCounts()
        self.currency = (batch.options or {}).get("currency") or "USD"
        self._other_currencies = None  # whether the client has accounts in another currency
        self.postgres = connection.vendor == "postgresql"
        self.t = {"debtor": Debtor._meta.db_table, "account": DebtorAccount._meta.db_table,
                  "contact": Contact._meta.db_table, "party": AccountParty._meta.db_table}
        if not self.postgres:
            self._sqlite_math()
        self._create_stage()

    def _sqlite_math(self):
        """SQLite built without its math functions has no log10 (the score needs it): the same C
        function, through Python's math module, on this connection."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT sqlite_compileoption_used('ENABLE_MATH_FUNCTIONS')")
            if not cursor.fetchone()[0]:
                connection.connection.create_function(
                    "log10", 1, lambda x: None if x is None or x <= 0 else math.log10(x), deterministic=True)

    def _create_stage(self):
        columns = ", ".join([f"{name} {_TYPES.get(name, 'text')}" for name in STAGE_COLUMNS]
                            + [f"{name} bigint" for name in _DEBTOR_IDS])
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ({columns})")

    def write(self, records: list[tuple], copy_data: bytes | None = None) -> None:
        """`copy_data`: the records as COPY data (`copy_data(records)`), when already made."""
        with connection.cursor() as cursor:
            # DELETE would leave every earlier chunk's rows in the table as dead rows until the
            # transaction ends, and each statement below would scan them all again.
            cursor.execute(f"TRUNCATE {STAGE}" if self.postgres else f"DELETE FROM {STAGE}")
            self._load(cursor, records, copy_data)
            parties = sum(1 for record in records if record[_ROLE])
            existing = self._existing_references(cursor, bool(parties))
            self.counts.created += len(records) - parties - existing
            if self.update_existing:
                self.counts.updated += existing
            else:
                self.counts.skipped += existing
            self._upsert_debtors(cursor)
            self._resolve_debtors(cursor)
            self._upsert_accounts(cursor)
            if self.update_existing and existing:
                self._refuse_overpaid(cursor)
            self._insert_contacts(cursor)
            self._insert_parties(cursor)
            if parties:
                self._insert_party_rows(cursor)
            self._note_zones(cursor)

    # --- loading the stage ----------------------------------------------------------------

    def _load(self, cursor, records, data):
        if self.postgres:
            data = copy_data(records) if data is None else data
            # One read(): psycopg2 retakes the GIL for each read, and the parsing thread holds it.
            cursor.cursor.copy_expert(_COPY_STAGE, io.BytesIO(data), size=len(data) + 1)
        else:
            marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
            cursor.executemany(f"INSERT INTO {STAGE} ({', '.join(STAGE_COLUMNS)}) VALUES ({marks})",
                               [_sqlite_row(r) for r in records])

    # --- set-based writes ----------------------------------------------------------------

    def _existing_references(self, cursor, has_parties: bool) -> int:
        """How many stage rows are accounts this client already has; when skipping those, they
        leave the stage (one probe each, in one statement), so the rest are all new accounts. The
        rows of other parties of an account (one row per party) go with their account: skipped
        with an account placed before, kept with one this placement places."""
        already_placed = self._lookup("account", "client_reference", f"{STAGE}.client_reference")
        if self.update_existing:
            self._refuse_other_currency(cursor)  # (skipping changes nothing, whatever the currency)
            cursor.execute(f"SELECT count(*) FROM {STAGE} WHERE party_role = '' AND {already_placed} IS NOT NULL",
                           [self.batch.client_id])
            return cursor.fetchone()[0]
        # Placed before: by another placement (this one's earlier chunks placed the accounts that
        # later party rows belong to).
        placed_before = (f"(SELECT coalesce(x.placement_batch_id, 0) FROM {self.t['account']} x "
                         f"WHERE x.client_id = %s AND x.client_reference = {STAGE}.client_reference) <> %s")
        params = [self.batch.client_id, self.batch.pk]
        if not has_parties:
            cursor.execute(f"DELETE FROM {STAGE} WHERE {placed_before}", params)
            return cursor.rowcount
        cursor.execute(f"DELETE FROM {STAGE} WHERE party_role = '' AND {placed_before}", params)
        skipped = cursor.rowcount
        cursor.execute(f"DELETE FROM {STAGE} WHERE party_role <> '' AND {placed_before}", params)
        return skipped

    def _refuse_other_currency(self, cursor):
        """An account already placed in another currency is never updated by a placement in this
        one: its amounts would change meaning. Raises IntakeError naming the
        first few (everything written so far is rolled back with the placement). Asked once
        whether the client has accounts in another currency at all (nearly always not), so the
        per-row probe runs only when it might find one."""
        if self._other_currencies is None:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {self.t['account']} WHERE client_id = %s AND currency <> %s)",
                           [self.batch.client_id, self.currency])
            self._other_currencies = bool(cursor.fetchone()[0])
        if not self._other_currencies:
            return
        other = (f"(SELECT x.currency FROM {self.t['account']} x WHERE x.client_id = %s "
                 f"AND x.client_reference = {STAGE}.client_reference)")
        cursor.execute(f"SELECT {STAGE}.client_reference, {STAGE}.row_no, {other} FROM {STAGE} "
                       f"WHERE {other} <> %s ORDER BY {STAGE}.row_no LIMIT 3",
                       [self.batch.client_id, self.batch.client_id, self.currency])
        found = cursor.fetchall()
        if found:
            from collections_work.placements.intake.files import IntakeError

            listed = ", ".join(f"{reference} (row {row}, placed in {currency})" for reference, row, currency in found)
            raise IntakeError(f"This placement is in {self.currency}, but some references are already placed in another "
                              f"currency: {listed}. Place those rows in a placement in their own currency; nothing "
                              "was placed.")

    def _refuse_overpaid(self, cursor):
        """An account placed again with amounts below what was already paid on it (the portal's
        payments count) would owe less than nothing and be marked Paid in full, an overpayment
        nobody recorded: a client's re-sync with a lower principal did that. Refused, naming up to
        three, and nothing is placed (the caller's transaction rolls back)."""
        cursor.execute(f"SELECT a.client_reference, {STAGE}.row_no, a.principal + a.interest + a.fees, "
                       f"a.paid + a.adjusted FROM {self.t['account']} a JOIN {STAGE} "
                       f"ON {STAGE}.client_reference = a.client_reference AND {STAGE}.party_role = '' "
                       f"WHERE a.client_id = %s AND a.placement_batch_id = %s AND a.balance < 0 "
                       f"ORDER BY {STAGE}.row_no LIMIT 3", [self.batch.client_id, self.batch.pk])
        found = cursor.fetchall()
        if found:
            from collections_work.placements.intake.files import IntakeError

            listed = "; ".join(f"{reference} (row {row}: {Decimal(owed):,.2f} owed, {Decimal(paid):,.2f} already paid "
                               "or written off)" for reference, row, owed, paid in found)
            raise IntakeError(f"Placed again, these accounts would owe less than was already paid on them: {listed}. "
                              "Send amounts that cover what was paid, or leave them out; nothing was placed.")

    def _ids(self):
        return [self.batch.agency_id, self.batch.client_id]

    def _lookup(self, table, column, value):
        """The id of this client's row in `table` whose `column` is `value`, as a scalar subquery
        (one probe of the (client_id, column) unique index per stage row; takes the client id as a
        parameter). A join would be planned from statistics that cannot see the rows this
        transaction has inserted so far, and PostgreSQL then hashes all of the client's rows, in
        several statements per chunk: quadratic in the size of the file."""
        return f"(SELECT x.id FROM {self.t[table]} x WHERE x.client_id = %s AND x.{column} = {value})"

    def _given(self, *fields) -> bool:
        """Whether this placement gave any of `fields` (a file: a mapped column; the API or the
        form: a value in some row). What it did not give, an update keeps."""
        return any(field in self.batch.mapping for field in fields)

    def _upsert_debtors(self, cursor):
        """Insert the stage's debtors (one per key: rows with the same key are one debtor). A debtor
        already on file gets, with "update", what this placement gave; and in any case a time zone
        when it had none (a zone staff set is kept)."""
        t = self.t["debtor"]
        updates = ["name = excluded.name"] + [f"{column} = excluded.{column}" for column, field in (
            ("kind", "debtor_kind"), ("tax_id_last4", "tax_id")) if self._given(field)]
        zone_given = self._given("time_zone", "postal_code", "region", "phone")
        keep = f"{t}.time_zone_source = '{STAFF_SET}' OR excluded.time_zone = ''"
        if self.update_existing and zone_given:
            updates += [f"time_zone = CASE WHEN {keep} THEN {t}.time_zone ELSE excluded.time_zone END",
                        f"time_zone_source = CASE WHEN {keep} THEN {t}.time_zone_source "
                        "ELSE excluded.time_zone_source END"]
        if self.update_existing:
            on_conflict = f"DO UPDATE SET {', '.join(updates)}"
        elif zone_given:
            on_conflict = (f"DO UPDATE SET time_zone = excluded.time_zone, time_zone_source = excluded.time_zone_source "
                           f"WHERE {t}.time_zone = '' AND excluded.time_zone <> ''")
        else:
            on_conflict = "DO NOTHING"
        cursor.execute(
            f"INSERT INTO {t} (agency_id, client_id, kind, name, tax_id_last4, time_zone, time_zone_source, debtor_key, "
            f"created_at) SELECT %s, %s, s.debtor_kind, s.debtor_name, s.tax_id_last4, s.time_zone, s.tz_source, "
            f"s.debtor_key, %s "
            f"FROM {STAGE} s WHERE s.row_no IN (SELECT max(row_no) FROM {STAGE} GROUP BY debtor_key) "
            f"ON CONFLICT (client_id, debtor_key) {on_conflict}", [*self._ids(), self.now])
        # Co-debtors and guarantors, in one scan of the stage. A key met again (in this statement or
        # an earlier one) keeps the debtor first placed.
        parties = self._unpivot(("name", "debtor_key"), [("s.co_name", "s.co_key"), ("s.g_name", "s.g_key")])
        cursor.execute(
            f"INSERT INTO {t} (agency_id, client_id, kind, name, tax_id_last4, time_zone, time_zone_source, debtor_key, "
            f"created_at) SELECT %s, %s, 'person', v.name, '', '', '', v.debtor_key, %s FROM {parties} "
            f"WHERE v.debtor_key <> '' ON CONFLICT (client_id, debtor_key) DO NOTHING", [*self._ids(), self.now])

    def _resolve_debtors(self, cursor):
        """Note each stage row's debtor ids once (one probe per key) for the statements after it:
        the account, its ~2.4 contacts and its parties would otherwise each look them up again."""
        def lookup(key):
            return self._lookup("debtor", "debtor_key", f"{STAGE}.{key}")

        # The debtor's id and time zone in one probe: a debtor on file keeps its zone (one staff
        # set, say), and its new accounts take it.
        debtor = (f"(SELECT x.id, x.time_zone FROM {self.t['debtor']} x "
                  f"WHERE x.client_id = %s AND x.debtor_key = {STAGE}.debtor_key)")
        cursor.execute(
            f"UPDATE {STAGE} SET (debtor_id, time_zone) = {debtor}, "
            f"co_id = CASE WHEN co_key <> '' THEN {lookup('co_key')} END, "
            f"g_id = CASE WHEN g_key <> '' THEN {lookup('g_key')} END", [self.batch.client_id] * 3)

    def _upsert_accounts(self, cursor):
        t = self.t["account"]
        updates = ", ".join(self._account_updates(t))
        cursor.execute(
            f"INSERT INTO {t} (agency_id, client_id, debtor_id, debtor_name, debtor_time_zone, client_reference, "
            f"debt_purpose, status, "
            f"currency, principal, interest, fees, paid, paid_at_placement, balance, invoice_number, invoice_date, due_date, "
            f"delinquency_date, placed_at, last_payment_date, priority, placement_batch_id, hold_reason, updated_at) "
            f"SELECT %s, %s, s.debtor_id, s.debtor_name, s.time_zone, "
            f"s.client_reference, s.debt_purpose, 'new', %s, s.principal, "
            f"s.interest, s.fees, s.paid, s.paid, s.balance, s.invoice_number, s.invoice_date, s.due_date, "
            f"s.delinquency_date, %s, s.last_payment_date, {self._new_priority()}, %s, '', %s FROM {STAGE} s "
            f"WHERE s.party_role = '' "
            # Skipping: the stage holds only new references, and a plain insert skips ON CONFLICT's
            # extra probe per row (an account placed meanwhile by another transaction fails the
            # placement, rather than being updated).
            + (f"ON CONFLICT (client_id, client_reference) DO UPDATE SET {updates}" if self.update_existing else ""),
            [*self._ids(), self.currency, self.now, self.batch.pk, self.now])

    def _account_updates(self, t) -> list[str]:
        """SET clauses for an account placed again with "update": what this placement gave, the
        balance from the new amounts less what has been paid, and the status following the
        balance by the kernel's rule (a paid account owing again is back in collection; one whose
        new amounts are exactly covered is paid; less than was paid is refused by _refuse_overpaid). A paid column restates what was paid before placement
        (paid_at_placement); payments recorded in the portal are kept on top of it
        (actions.restated_paid_sql). Without a paid column, paid stays as it is."""
        columns = [("debt_purpose", ("debt_purpose",)),
                   ("interest", ("interest",)), ("fees", ("fees",)), ("invoice_number", ("invoice_number",)),
                   ("invoice_date", ("invoice_date",)), ("due_date", ("due_date",)),
                   ("delinquency_date", ("delinquency_date", "due_date")),
                   ("last_payment_date", ("last_payment_date",))]
        # The debtor's time zone is the debtor's (the stage took it from the debtor row).
        updates = ["debtor_id = excluded.debtor_id", "debtor_name = excluded.debtor_name",
                   "debtor_time_zone = excluded.debtor_time_zone", "principal = excluded.principal"]
        updates += [f"{column} = excluded.{column}" for column, fields in columns if self._given(*fields)]
        owed = " + ".join(["excluded.principal"] + [f"{'excluded' if self._given(c) else t}.{c}" for c in ("interest", "fees")])
        paid = f"{t}.paid"
        if self._given("paid"):
            paid = restated_paid_sql(t, "excluded.paid_at_placement")
            updates += [f"paid = {paid}", "paid_at_placement = excluded.paid_at_placement"]
        balance = f"{owed} - {paid} - {t}.adjusted"
        updates += [
            f"balance = {balance}",
            f"status = {balance_status_sql(t, balance)}",
            f"priority = {self._updated_priority(t, balance)}",
            "placement_batch_id = excluded.placement_batch_id", "updated_at = excluded.updated_at",
        ]
        return updates

    def _new_priority(self) -> str:
        """A new account's worklist score, from its stage row (scoring.priority_sql): it is in its
        queues, ranked, when the placement commits."""
        return scoring.priority_sql(connection.vendor, now=self.moment, balance="s.balance",
                                    since="coalesce(s.delinquency_date, s.due_date)")

    def _updated_priority(self, t, balance) -> str:
        """An updated account's score from its new amounts and dates and what the agency did with
        it (worked, waiting, cease); one with a promise or callback due is re-scored by `finish`."""
        def final(column, *fields):
            return f"excluded.{column}" if self._given(*(fields or (column,))) else f"{t}.{column}"
        since = f"coalesce({final('delinquency_date', 'delinquency_date', 'due_date')}, {final('due_date')})"
        return scoring.priority_sql(connection.vendor, now=self.moment, balance=f"({balance})", since=since,
                                    placed_at=f"{t}.placed_at", last_worked_at=f"{t}.last_worked_at",
                                    next_action_at=f"{t}.next_action_at", cease_at=f"{t}.cease_communication_at")

    def _note_zones(self, cursor):
        cursor.execute(f"SELECT DISTINCT time_zone FROM {STAGE}")
        self.zones.update(zone for (zone,) in cursor.fetchall())

    def finish(self) -> None:
        """After the last chunk, in the placement's transaction: re-score (in Python, exactly) the
        updated accounts that have an open promise or callback (the SQL score leaves those out),
        refresh the planner's statistics of the tables a big placement changed, and once the
        placement commits add its debtors' time zones to the worklist's cache. So a placed account
        is scored and in its queues when the placement says it is done (issue 13, item 22)."""
        if self.update_existing and self.counts.updated:
            placed = DebtorAccount.objects.filter(placement_batch_id=self.batch.pk)
            followed_up = placed.filter(
                Q(pk__in=Promise.objects.filter(status=Promise.Status.OPEN).values("account_id"))
                | Q(pk__in=Callback.objects.filter(done_at__isnull=True).values("account_id")))
            scoring.accounts_rescore(followed_up, now=self.moment)
        self.refresh_statistics()
        agency_id, zones = self.batch.agency_id, frozenset(self.zones)
        transaction.on_commit(lambda: claim.worklist_zones_added(agency_id, zones), robust=True)

    def refresh_statistics(self) -> None:
        """ANALYZE the tables this placement wrote to when it wrote at least INTAKE_ANALYZE_MIN_ROWS
        rows and at least INTAKE_ANALYZE_SHARE of what the planner thinks the account table holds:
        right after a big placement the planner's row estimates are otherwise stale until
        autovacuum comes round (the account list then sorts every account: issue 13, item 23).
        PostgreSQL counts this transaction's own new rows in the sample, and the statistics commit
        with the placement. A table another placement is analysing is left to autovacuum rather than
        waited for (a savepoint and a lock timeout)."""
        written = self.counts.created + self.counts.updated
        if not self.postgres or written < settings.INTAKE_ANALYZE_MIN_ROWS:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [self.t["account"]])
            estimated = cursor.fetchone()[0]
            if written < settings.INTAKE_ANALYZE_SHARE * estimated:
                return
            cursor.execute("SHOW lock_timeout")
            lock_timeout = cursor.fetchone()[0]
            for table in (self.t["debtor"], self.t["account"], self.t["contact"], self.t["party"]):
                try:
                    with transaction.atomic():
                        cursor.execute("SET LOCAL lock_timeout = '2s'")
                        cursor.execute(f"ANALYZE {table}")
                except OperationalError as error:
                    log.warning("Placement %s: ANALYZE %s skipped (%s); autovacuum will do it.",
                                self.batch.pk, table, error)
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])

    def _insert_contacts(self, cursor):
        contacts = self._unpivot(("debtor_id", "kind", "value", "time_zone"), [
            # A phone whose area code is in one zone has that zone (the debtor may live elsewhere:
            # compliance then fits calls to both).
            ("s.debtor_id", "'email'", "s.email", "s.time_zone"),
            ("s.debtor_id", "'phone'", "s.phone", "CASE WHEN s.phone_tz <> '' THEN s.phone_tz ELSE s.time_zone END"),
            ("s.debtor_id", "'address'", "s.address", "s.time_zone"), ("s.co_id", "'email'", "s.co_email", "''"),
            ("s.co_id", "'phone'", "s.co_phone", "''"), ("s.g_id", "'email'", "s.g_email", "''"),
            ("s.g_id", "'phone'", "s.g_phone", "''"),
        ])
        cursor.execute(
            f"INSERT INTO {self.t['contact']} (agency_id, client_id, debtor_id, kind, value, label, time_zone, created_at) "
            f"SELECT %s, %s, v.debtor_id, v.kind, v.value, '', v.time_zone, %s FROM {contacts} WHERE v.value <> '' "
            "ON CONFLICT (debtor_id, kind, value) DO NOTHING", [*self._ids(), self.now])

    def _insert_parties(self, cursor):
        parties = self._unpivot(("debtor_id", "role", "client_reference"), [
            ("s.co_id", "'co_debtor'", "s.client_reference"), ("s.g_id", "'guarantor'", "s.client_reference")])
        account = self._lookup("account", "client_reference", "v.client_reference")
        cursor.execute(f"INSERT INTO {self.t['party']} (agency_id, client_id, account_id, debtor_id, role) "
                       f"SELECT %s, %s, {account}, v.debtor_id, v.role FROM {parties} WHERE v.debtor_id IS NOT NULL "
                       "ON CONFLICT (account_id, debtor_id, role) DO NOTHING", [*self._ids(), self.batch.client_id])

    def _insert_party_rows(self, cursor):
        """Rows that are other parties of an account (one row per party): attach each row's debtor
        to the account its reference names, placed by an earlier row of this placement or before."""
        account = self._lookup("account", "client_reference", "s.client_reference")
        cursor.execute(f"INSERT INTO {self.t['party']} (agency_id, client_id, account_id, debtor_id, role) "
                       f"SELECT %s, %s, {account}, s.debtor_id, s.party_role FROM {STAGE} s "
                       "WHERE s.party_role <> '' ON CONFLICT (account_id, debtor_id, role) DO NOTHING",
                       [*self._ids(), self.batch.client_id])

    def _unpivot(self, names: tuple, rows: list[tuple]) -> str:
        """A FROM clause giving, as `v(names)`, one row per entry of `rows` for each stage row
        (`s`): the contacts of a row's debtor, co-debtor and guarantor, say. On PostgreSQL one scan
        of the stage (LATERAL VALUES), on SQLite one scan per entry."""
        if self.postgres:
            values = ", ".join("(" + ", ".join(row) + ")" for row in rows)
            return f"{STAGE} s CROSS JOIN LATERAL (VALUES {values}) AS v({', '.join(names)})"
        selects = [", ".join(f"{expr} AS {name}" for expr, name in zip(row, names)) for row in rows]
        return "(" + " UNION ALL ".join(f"SELECT {select} FROM {STAGE} s" for select in selects) + ") v"


_COPY_STAGE = (f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ("
               + ", ".join(c for c in STAGE_COLUMNS if c not in _TYPES) + "))")


def copy_data(records: list[tuple]) -> bytes:
    """The records as CSV for the stage's COPY, written by the C csv module. Only dates can be None,
    so text columns are FORCE_NOT_NULL (an unquoted empty field is '' there, NULL in the date
    columns). CRLF line ends make the writer quote a field holding a lone \r too, which COPY would
    otherwise take for a line end."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(records)
    return buffer.getvalue().encode()


def _sqlite_row(record: tuple) -> tuple:
    return tuple(str(v) if hasattr(v, "quantize") else (v.isoformat() if hasattr(v, "isoformat") else v)
                 for v in record)


class PipelinedWriter:
    """Runs a ChunkWriter on its own thread and database connection, in one transaction, so
    the caller can parse the next chunk while this one is written. `close()` commits or
    re-raises the writer's error (after which everything is rolled back). The thread runs in a
    copy of the caller's context, so it sees the caller's tenant scope."""

    def __init__(self, batch, *, update_existing: bool):
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._finish = None
        self.counts = CommitCounts()
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run, batch, update_existing), daemon=True)
        self._thread.start()

    def _run(self, batch, update_existing):
        received_last = False
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Foreign keys are checked per statement, on this thread while the next chunk is
                    # parsed, instead of all at COMMIT (Django makes them DEFERRABLE INITIALLY DEFERRED).
                    # No JIT: the per-row lookups give cost estimates that make each statement compile.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET LOCAL jit = off")
                    # Room for the stage in this backend's memory (the default 8 MB holds one chunk's
                    # rows but not their updated versions, and the seven scans of the contact insert
                    # then read it back from a temporary file). Only settable before a session's first
                    # temporary table, which is why only this fresh connection sets it.
                    cursor.execute("SET LOCAL temp_buffers = '64MB'")
                writer = ChunkWriter(batch, update_existing=update_existing)
                while True:
                    chunk = self._queue.get()
                    if chunk is None or chunk is _ABORT:
                        received_last = True
                        if chunk is _ABORT:
                            raise _Aborted()
                        break
                    writer.write(*chunk)
                writer.finish()
                if self._finish is not None:
                    self._finish(writer.counts)
            self.counts = writer.counts
        except _Aborted:
            pass
        except BaseException as error:  # handed to the caller in write() or close()
            self._error = error
            while not received_last and self._queue.get() not in (None, _ABORT):
                pass  # drain so the producer never blocks on a full queue
        finally:
            connection.close()

    def write(self, records: list[tuple]) -> None:
        if self._error is not None:
            raise self._error
        # The COPY data is made here, on the parsing thread, which has time to spare (it waits
        # for the writer), instead of on the writer thread while its database connection idles.
        self._queue.put((records, copy_data(records)))

    def close(self, finish=None) -> CommitCounts:
        """Write what is queued, run `finish(counts)` in the same transaction, and commit."""
        self._finish = finish
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.counts

    def abort(self) -> None:
        self._queue.put(_ABORT)
        self._thread.join()


class _Aborted(Exception):
    pass


_ABORT = object()
