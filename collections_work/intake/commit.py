"""Writing validated records: chunk by chunk into a staging table, then set-based upserts.

One transaction covers the whole placement, so a failure leaves nothing half-saved. On
PostgreSQL each chunk is loaded with COPY on a second thread (psycopg2 releases the GIL), so
parsing the next chunk overlaps with the database writing this one. SQLite (the embedded
mode) runs the same SQL on one thread with a plain INSERT into the staging table.
"""
import io
import queue
import threading
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from collections_work.intake.rows import STAGE_COLUMNS
from collections_work.models import AccountParty, Contact, Debtor, DebtorAccount

STAGE = "intake_stage"
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
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())
        self.counts = CommitCounts()
        self.postgres = connection.vendor == "postgresql"
        self.t = {"debtor": Debtor._meta.db_table, "account": DebtorAccount._meta.db_table,
                  "contact": Contact._meta.db_table, "party": AccountParty._meta.db_table}
        self._create_stage()

    def _create_stage(self):
        columns = ", ".join(f"{name} {_TYPES.get(name, 'text')}" for name in STAGE_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ({columns})")

    def write(self, records: list[tuple]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {STAGE}")
            self._load(cursor, records)
            cursor.execute(f"SELECT count(*) FROM {STAGE} s JOIN {self.t['account']} a "
                           f"ON a.client_id = %s AND a.client_reference = s.client_reference", [self.batch.client_id])
            existing = cursor.fetchone()[0]
            self.counts.created += len(records) - existing
            if self.update_existing:
                self.counts.updated += existing
            else:
                self.counts.skipped += existing
                cursor.execute(f"DELETE FROM {STAGE} WHERE client_reference IN (SELECT client_reference FROM "
                               f"{self.t['account']} WHERE client_id = %s)", [self.batch.client_id])
            self._upsert_debtors(cursor)
            self._upsert_accounts(cursor)
            self._insert_contacts(cursor)
            self._insert_parties(cursor)

    # --- loading the stage ----------------------------------------------------------------

    def _load(self, cursor, records):
        if self.postgres:
            buffer = io.StringIO("".join(map(_copy_line, records)))
            cursor.cursor.copy_expert(f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN", buffer)
        else:
            marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
            cursor.executemany(f"INSERT INTO {STAGE} VALUES ({marks})", [_sqlite_row(r) for r in records])

    # --- set-based writes ----------------------------------------------------------------

    def _ids(self):
        return [self.batch.agency_id, self.batch.client_id]

    def _upsert_debtors(self, cursor):
        t = self.t["debtor"]
        on_conflict = ("DO UPDATE SET kind = excluded.kind, name = excluded.name, tax_id_last4 = excluded.tax_id_last4, "
                       "time_zone = excluded.time_zone") if self.update_existing else "DO NOTHING"
        cursor.execute(
            f"INSERT INTO {t} (agency_id, client_id, kind, name, tax_id_last4, time_zone, debtor_key, created_at) "
            f"SELECT %s, %s, s.debtor_kind, s.debtor_name, s.tax_id_last4, s.time_zone, s.debtor_key, %s "
            f"FROM {STAGE} s WHERE s.row_no IN (SELECT max(row_no) FROM {STAGE} GROUP BY debtor_key) "
            f"ON CONFLICT (client_id, debtor_key) {on_conflict}", [*self._ids(), self.now])
        for prefix in ("co", "g"):
            cursor.execute(
                f"INSERT INTO {t} (agency_id, client_id, kind, name, tax_id_last4, time_zone, debtor_key, created_at) "
                f"SELECT %s, %s, 'person', s.{prefix}_name, '', '', s.{prefix}_key, %s FROM {STAGE} s "
                f"WHERE s.{prefix}_key <> '' AND s.row_no IN "
                f"(SELECT max(row_no) FROM {STAGE} WHERE {prefix}_key <> '' GROUP BY {prefix}_key) "
                f"ON CONFLICT (client_id, debtor_key) DO NOTHING", [*self._ids(), self.now])

    def _upsert_accounts(self, cursor):
        t, d = self.t["account"], self.t["debtor"]
        updates = ", ".join([
            "debtor_id = excluded.debtor_id", "debtor_name = excluded.debtor_name",
            "debt_purpose = excluded.debt_purpose", "principal = excluded.principal",
            "interest = excluded.interest", "fees = excluded.fees",
            # payments recorded in the portal since placement stay; the balance follows
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
            f"SELECT %s, %s, d.id, s.debtor_name, s.client_reference, s.debt_purpose, 'new', 'USD', s.principal, "
            f"s.interest, s.fees, s.paid, s.balance, s.invoice_number, s.invoice_date, s.due_date, "
            f"s.delinquency_date, %s, s.last_payment_date, 0, %s, '', %s "
            f"FROM {STAGE} s JOIN {d} d ON d.client_id = %s AND d.debtor_key = s.debtor_key WHERE true "
            f"ON CONFLICT (client_id, client_reference) DO UPDATE SET {updates}",
            [*self._ids(), self.now, self.batch.pk, self.now, self.batch.client_id])

    def _insert_contacts(self, cursor):
        d = self.t["debtor"]
        selects, params = [], []
        for key, kind, column, zone in [
            ("debtor_key", "email", "email", "s.time_zone"), ("debtor_key", "phone", "phone", "s.time_zone"),
            ("debtor_key", "address", "address", "s.time_zone"), ("co_key", "email", "co_email", "''"),
            ("co_key", "phone", "co_phone", "''"), ("g_key", "email", "g_email", "''"), ("g_key", "phone", "g_phone", "''"),
        ]:
            selects.append(
                f"SELECT %s, %s, d.id, '{kind}', s.{column}, '', {zone}, %s FROM {STAGE} s "
                f"JOIN {d} d ON d.client_id = %s AND d.debtor_key = s.{key} WHERE s.{column} <> ''")
            params += [*self._ids(), self.now, self.batch.client_id]
        cursor.execute(
            f"INSERT INTO {self.t['contact']} (agency_id, client_id, debtor_id, kind, value, label, time_zone, created_at) "
            + " UNION ALL ".join(selects) + " ON CONFLICT (debtor_id, kind, value) DO NOTHING", params)

    def _insert_parties(self, cursor):
        a, d = self.t["account"], self.t["debtor"]
        selects, params = [], []
        for key, role in (("co_key", "co_debtor"), ("g_key", "guarantor")):
            selects.append(
                f"SELECT %s, %s, a.id, d.id, '{role}' FROM {STAGE} s "
                f"JOIN {a} a ON a.client_id = %s AND a.client_reference = s.client_reference "
                f"JOIN {d} d ON d.client_id = %s AND d.debtor_key = s.{key} WHERE s.{key} <> ''")
            params += [*self._ids(), self.batch.client_id, self.batch.client_id]
        cursor.execute(f"INSERT INTO {self.t['party']} (agency_id, client_id, account_id, debtor_id, role) "
                       + " UNION ALL ".join(selects) + " ON CONFLICT (account_id, debtor_id, role) DO NOTHING", params)


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    return str(value)


def _copy_line(record: tuple) -> str:
    return "\t".join(map(_copy_value, record)) + "\n"


def _sqlite_row(record: tuple) -> tuple:
    return tuple(str(v) if hasattr(v, "quantize") else (v.isoformat() if hasattr(v, "isoformat") else v)
                 for v in record)


class PipelinedWriter:
    """Runs a ChunkWriter on its own thread and database connection, in one transaction, so
    the caller can parse the next chunk while this one is written. `close()` commits or
    re-raises the writer's error (after which everything is rolled back)."""

    def __init__(self, batch, *, update_existing: bool):
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self.counts = CommitCounts()
        self._thread = threading.Thread(target=self._run, args=(batch, update_existing), daemon=True)
        self._thread.start()

    def _run(self, batch, update_existing):
        received_last = False
        try:
            with transaction.atomic():
                writer = ChunkWriter(batch, update_existing=update_existing)
                while True:
                    records = self._queue.get()
                    if records is None or records is _ABORT:
                        received_last = True
                        if records is _ABORT:
                            raise _Aborted()
                        break
                    writer.write(records)
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
        self._queue.put(records)

    def close(self) -> CommitCounts:
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
