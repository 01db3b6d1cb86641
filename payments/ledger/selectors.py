"""Reads of the trust ledger and the payments (scoped by the caller's tenant)."""
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from payments.models import JournalEntry, JournalLine, LedgerAccount, Payment, Reversal

ZERO = Decimal("0.00")
L = LedgerAccount


@dataclass
class ClientPosition:
    """What the agency holds for a client: payable (collected, less commission, less remitted),
    commission the client owes (gross remittance and direct payments), and the difference."""

    payable: Decimal
    receivable: Decimal

    @property
    def owed_now(self) -> Decimal:
        return self.payable - self.receivable


def client_position(client) -> ClientPosition:
    totals = {row["ledger_account"]: row["credit"] - row["debit"] for row in JournalLine.objects.filter(
        client=client, ledger_account__in=(L.CLIENT_PAYABLE, L.COMMISSION_RECEIVABLE))
        .values("ledger_account").annotate(debit=Sum("debit"), credit=Sum("credit"))}
    return ClientPosition(payable=totals.get(L.CLIENT_PAYABLE, ZERO),
                          receivable=-totals.get(L.COMMISSION_RECEIVABLE, ZERO))


def client_ledger(client, limit: int = 500) -> list[dict]:
    """The client's entries, oldest first, with the running balance payable to the client and
    of commission it owes, as {"entry", "payable_change", "receivable_change", "payable",
    "receivable"} (the last `limit` entries, with the balances counted from the start)."""
    rows, payable, receivable = [], ZERO, ZERO
    lines = (JournalLine.objects.filter(client=client, ledger_account__in=(L.CLIENT_PAYABLE, L.COMMISSION_RECEIVABLE))
             .values("entry_id", "ledger_account").annotate(debit=Sum("debit"), credit=Sum("credit")))
    changes = {}
    for line in lines:
        change = changes.setdefault(line["entry_id"], {"payable": ZERO, "receivable": ZERO})
        if line["ledger_account"] == L.CLIENT_PAYABLE:
            change["payable"] += line["credit"] - line["debit"]
        else:
            change["receivable"] += line["debit"] - line["credit"]
    for entry in JournalEntry.objects.filter(client=client).select_related("account").order_by("posted_at", "id"):
        change = changes.get(entry.pk, {"payable": ZERO, "receivable": ZERO})
        payable += change["payable"]
        receivable += change["receivable"]
        rows.append({"entry": entry, "payable_change": change["payable"], "receivable_change": change["receivable"],
                     "payable": payable, "receivable": receivable})
    return rows[-limit:]


def payments_journal(start, end, zone=None):
    """Money in and out by day and method (payments and reversals, by who received them):
    ([{"day", "method", "received_by", "payments", "count", "reversed", "net"}], totals of the same).
    A reversal's day is its date in `zone` (the agency's, Agency.zone(); default UTC), as on its
    ledger entry and the statements."""
    zone = zone or dt_timezone.utc
    payments = (Payment.objects.filter(received_on__gte=start, received_on__lte=end)
                .values("received_on", "method", "received_by")
                .annotate(total=Sum("amount"), count=Count("id")).order_by("received_on", "method"))
    began = datetime.combine(start, time.min, tzinfo=zone)
    ended = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    reversals = (Reversal.objects.filter(created_at__gte=began, created_at__lt=ended)
                 .annotate(day=TruncDate("created_at", tzinfo=zone))
                 .values("day", "payment__method", "payment__received_by").annotate(total=Sum("amount")))
    rows = {}
    for row in payments:
        rows[(row["received_on"], row["method"], row["received_by"])] = {
            "day": row["received_on"], "method": row["method"], "received_by": row["received_by"],
            "payments": row["total"], "count": row["count"], "reversed": ZERO}
    for row in reversals:
        key = (row["day"], row["payment__method"], row["payment__received_by"])
        rows.setdefault(key, {"day": key[0], "method": key[1], "received_by": key[2], "payments": ZERO, "count": 0,
                              "reversed": ZERO})["reversed"] += row["total"]
    ordered = [rows[key] for key in sorted(rows, key=lambda k: (k[0], k[1], k[2]))]
    for row in ordered:
        row["net"] = row["payments"] - row["reversed"]
    totals = {"payments": sum((r["payments"] for r in ordered), ZERO), "count": sum(r["count"] for r in ordered),
              "reversed": sum((r["reversed"] for r in ordered), ZERO)}
    totals["net"] = totals["payments"] - totals["reversed"]
    return ordered, totals


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def unbalanced_entries() -> list[tuple[int, Decimal]]:
    """(entry id, debits - credits) of every entry that does not balance (all agencies)."""
    with connection.cursor() as cursor:
        # ROUND: SQLite adds decimals as floats (PostgreSQL's numeric is exact anyway).
        cursor.execute("SELECT entry_id, ROUND(SUM(debit) - SUM(credit), 2) FROM payments_journalline "
                       "GROUP BY entry_id HAVING ROUND(SUM(debit) - SUM(credit), 2) <> 0 ORDER BY entry_id")
        return [(entry_id, _cents(difference)) for entry_id, difference in cursor.fetchall()]


def accounts_not_matching_payments() -> list[tuple[int, Decimal, Decimal]]:
    """(account id, paid since placement, payments less reversals) of every account where the two
    differ (all agencies)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, a.paid - a.paid_at_placement, COALESCE(p.net, 0) FROM collections_work_debtoraccount a "
            "LEFT JOIN (SELECT account_id, SUM(amount - reversed_amount) AS net FROM payments_payment "
            "GROUP BY account_id) p ON p.account_id = a.id "
            "WHERE ROUND(a.paid - a.paid_at_placement - COALESCE(p.net, 0), 2) <> 0 ORDER BY a.id")
        return [(pk, _cents(paid), _cents(net)) for pk, paid, net in cursor.fetchall()]


def ledger_counts() -> tuple[int, int, int]:
    """(journal entries, journal lines, debtor accounts) across all agencies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT COUNT(*) FROM payments_journalentry), (SELECT COUNT(*) FROM payments_journalline),"
                       " (SELECT COUNT(*) FROM collections_work_debtoraccount)")
        return cursor.fetchone()

