"""Debtor account exports (CSV streamed, XLSX written row by row).

Rows are read in keyset batches of EXPORT_BATCH_SIZE in the list's own order, so an export of
a million accounts never holds more than one batch in memory (the debtors' contacts come with
each batch, in one query). Every text cell passes through `neutralise_formula`: a debtor named
"=HYPERLINK(...)" reaches the spreadsheet as text.
"""
import csv
import tempfile
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterator

from django.utils import timezone
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from portal.spreadsheets import neutralise_formula
from django.db.models import Prefetch

from collections_work.models import Contact, DebtorAccount
from collections_work.debtor_accounts.selectors import keyset_page

EXPORT_BATCH_SIZE = 2000
XLSX_MAX_ROWS = 50_000  # about 12 s to write here; beyond this, CSV (streamed, no cap)


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable
    kind: str = "text"  # text, money, date, number


STATUS_LABELS = dict(DebtorAccount.Status.choices)


@dataclass(frozen=True)
class Context:
    """Fixed when the export starts: a streamed CSV is written after the view (and the
    middleware that activated the viewer's time zone) has returned."""
    today: date
    zone: object

    @classmethod
    def now(cls):
        return cls(today=timezone.localdate(), zone=timezone.get_current_timezone())


def _text(getter):
    return lambda a, ctx: getter(a) or ""


def _contacts(kind):
    """The debtor's contacts of `kind` as the client gave them, several joined by "; "."""
    return _text(lambda a: "; ".join(c.value for c in a.debtor.contacts.all() if c.kind == kind))


def _days_past_due(account, ctx):
    return (ctx.today - account.delinquency_date).days if account.delinquency_date else None


COLUMNS = [
    Column("Client reference", _text(lambda a: a.client_reference)),
    Column("Debtor", _text(lambda a: a.debtor_name)),
    Column("Client", _text(lambda a: a.client.name)),
    Column("Status", _text(lambda a: STATUS_LABELS.get(a.status, a.status))),
    Column("Currency", _text(lambda a: a.currency)),
    Column("Principal", lambda a, ctx: a.principal, "money"),
    Column("Interest", lambda a, ctx: a.interest, "money"),
    Column("Fees", lambda a, ctx: a.fees, "money"),
    Column("Paid", lambda a, ctx: a.paid, "money"),
    Column("Balance", lambda a, ctx: a.balance, "money"),
    Column("Invoice number", _text(lambda a: a.invoice_number)),
    Column("Invoice date", lambda a, ctx: a.invoice_date, "date"),
    Column("Due date", lambda a, ctx: a.due_date, "date"),
    Column("Delinquency date", lambda a, ctx: a.delinquency_date, "date"),
    Column("Days past due", _days_past_due, "number"),
    Column("Placed on", lambda a, ctx: timezone.localtime(a.placed_at, ctx.zone).date(), "date"),
    Column("Placement", lambda a, ctx: a.placement_batch_id, "number"),
    Column("Last payment date", lambda a, ctx: a.last_payment_date, "date"),
    Column("Hold reason", _text(lambda a: a.hold_reason)),
    # Last, so the columns of earlier exports keep their places in clients' spreadsheets.
    Column("Debtor email", _contacts(Contact.Kind.EMAIL)),
    Column("Debtor phone", _contacts(Contact.Kind.PHONE)),
    Column("Debtor address", _contacts(Contact.Kind.ADDRESS)),
]


def columns_for(*, include_client: bool) -> list[Column]:
    return [c for c in COLUMNS if include_client or c.title != "Client"]


def _with_related(queryset, include_client: bool):
    """The rows with what the columns read: the debtor's contacts (a query per batch, built now,
    while the request's tenant scope is active: a streamed CSV is read after the view returns)."""
    queryset = queryset.select_related("debtor", *(["client"] if include_client else [])).prefetch_related(
        Prefetch("debtor__contacts", queryset=Contact.objects.order_by("id")))
    return queryset


def iter_accounts(queryset, sort: str, limit: int | None = None) -> Iterator:
    """Every account of `queryset` in `sort` order, fetched a batch at a time."""
    cursor, sent = None, 0
    while True:
        size = EXPORT_BATCH_SIZE if limit is None else min(EXPORT_BATCH_SIZE, limit - sent)
        if size <= 0:
            return
        page = keyset_page(queryset, sort, cursor, size=size)
        yield from page.rows
        sent += len(page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


# --- CSV ---------------------------------------------------------------------------------

class _Echo:
    def write(self, value):
        return value


def _safe_text(value) -> str:
    return neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def _csv_cell(column, value):
    if value is None:
        return ""
    if column.kind == "text":
        return _safe_text(value)
    if column.kind == "date":
        return value.isoformat()
    return str(value)


def csv_lines(queryset, sort: str, *, include_client: bool) -> Iterator[str]:
    """The export as CSV lines, a UTF-8 byte order mark first so spreadsheets read accents right.
    The time zone and today's date are taken now, not when the lines are consumed."""
    columns = columns_for(include_client=include_client)
    ctx = Context.now()
    queryset = _with_related(queryset, include_client)

    def lines():
        writer = csv.writer(_Echo())
        yield "\ufeff" + writer.writerow([c.title for c in columns])
        for account in iter_accounts(queryset, sort):
            yield writer.writerow([_csv_cell(c, c.value(account, ctx)) for c in columns])

    return lines()


# --- XLSX --------------------------------------------------------------------------------

FORMATS = {"money": "#,##0.00", "date": "yyyy-mm-dd", "number": "0"}


def xlsx_file(queryset, sort: str, *, include_client: bool, max_rows: int | None = None):
    """The export as an XLSX workbook in a temporary file (rewound; the caller closes it), at
    most `max_rows` (default XLSX_MAX_ROWS) accounts. Returns (file, rows_written, truncated)."""
    max_rows = XLSX_MAX_ROWS if max_rows is None else max_rows
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    columns = columns_for(include_client=include_client)
    ctx = Context.now()
    queryset = _with_related(queryset, include_client)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Accounts")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    written = 0
    for account in iter_accounts(queryset, sort, limit=max_rows + 1):
        if written == max_rows:
            sheet.append([f"Only the first {max_rows:,} accounts are in this workbook; "
                          "narrow the filters or export CSV for all of them."])
            return _save(workbook), written, True
        row = []
        for column in columns:
            value = column.value(account, ctx)
            if column.kind == "text":
                row.append(_safe_text(value))
            elif value is None:
                row.append(None)
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = FORMATS[column.kind]
                row.append(cell)
        sheet.append(row)
        written += 1
    return _save(workbook), written, False


def _save(workbook):
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(handle)
    handle.seek(0)
    return handle


def export_filename(extension: str, when: date | None = None) -> str:
    return f"debtor-accounts-{(when or timezone.localdate()):%Y-%m-%d}.{extension}"
