"""Reads shared by the account pages, exports and the API (all scoped by the caller's tenant).

Lists page with a keyset (the last row's sort value and id), so page 5,000 of a million
accounts costs the same as page 1.
"""
import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import Client
from collections_work.debtor_accounts import search
from collections_work.debtor_accounts.actions import OPEN_STATUSES
from collections_work.debtor_accounts.search import account_search, searchable
from collections_work.models import AccountSearchEntry, DebtorAccount, PlacementBatch
from portal.text import has_non_ascii_digit, plain_number, strip_nul

AGE_BUCKETS = {
    "0-90": (0, 90, "0–90 days"),
    "91-180": (91, 180, "91–180 days"),
    "181-365": (181, 365, "181–365 days"),
    "365+": (366, None, "Over 365 days"),
}
SORTS = {
    "placed": ("placed_at", "Newest placed"),
    "-balance": ("balance", "Largest balance"),
    "balance": ("balance", "Smallest balance"),
    "reference": ("client_reference", "Reference"),
    "debtor": ("debtor_name", "Debtor name"),
}
DESCENDING = {"placed", "-balance"}


def age_bucket_range(bucket: str, today: date | None = None) -> Q:
    """Accounts whose days past due (since delinquency, else due date) fall in `bucket`."""
    low, high, _label = AGE_BUCKETS[bucket]
    today = today or timezone.localdate()
    condition = Q(delinquency_date__lte=today - timedelta(days=low))
    if high is not None:
        condition &= Q(delinquency_date__gte=today - timedelta(days=high))
    return condition


@dataclass
class AccountFilters:
    status: str = ""
    age: str = ""
    balance_min: Decimal | None = None
    balance_max: Decimal | None = None
    batch: int | None = None
    client: int | None = None
    q: str = ""
    sort: str = "placed"

    @classmethod
    def from_params(cls, params) -> "AccountFilters":
        """Lenient parsing of query parameters: unknown values are ignored, not errors."""
        # NUL: PostgreSQL refuses it in text (the list answered 500, the export came out empty).
        filters = cls(q=strip_nul(params.get("q") or "")[0].strip()[:100])
        if params.get("status") in DebtorAccount.Status.values:
            filters.status = params["status"]
        if params.get("age") in AGE_BUCKETS:
            filters.age = params["age"]
        filters.balance_min = _decimal(params.get("balance_min"))
        filters.balance_max = _decimal(params.get("balance_max"))
        filters.batch = _int(params.get("batch"))
        filters.client = _int(params.get("client"))
        if params.get("sort") in SORTS:
            filters.sort = params["sort"]
        return filters


def _decimal(value):
    """A finite amount the money columns can hold, else None (NaN, Infinity, 1e99 come from
    edited URLs; the database would refuse to compare with them)."""
    if has_non_ascii_digit(value):  # Decimal("٣٤٥") is 345: not an amount anyone typed (portal/text.py)
        return None
    if isinstance(value, str) and value.strip():
        value = plain_number(value)  # nor is "1e3" (1000) or "1_000"
        if value is None:
            return None
    try:
        amount = Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() and abs(amount) < Decimal("1e12") else None


def _int(value):
    """An id the database can hold (64-bit), else None."""
    if has_non_ascii_digit(value):
        return None
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and 0 < number < 2**63 else None


def debtor_accounts(filters: AccountFilters):
    """The accounts the caller may see, filtered (not yet sorted or paged)."""
    queryset = DebtorAccount.objects.all()
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.age:
        queryset = queryset.filter(age_bucket_range(filters.age))
    if filters.balance_min is not None:
        queryset = queryset.filter(balance__gte=filters.balance_min)
    if filters.balance_max is not None:
        queryset = queryset.filter(balance__lte=filters.balance_max)
    if filters.batch:
        queryset = queryset.filter(placement_batch_id=filters.batch)
    if filters.client:
        queryset = queryset.filter(client_id=filters.client)
    if filters.q:
        if not searchable(filters.q):  # a whole reference: looked up client by client
            client_ids = [filters.client] if filters.client else list(Client.objects.values_list("pk", flat=True))
            return queryset.filter(account_search(filters.q, client_ids))
        if search.uses_side_table():
            return _searched_through_side_table(queryset, filters)
        matches = queryset.filter(account_search(filters.q))
        ids = _first_ids(matches, SEARCH_FEW + 1)
        if len(ids) <= SEARCH_FEW:
            return queryset.filter(pk__in=ids)
        return matches
    return queryset


def _searched_through_side_table(queryset, filters: AccountFilters):
    """PostgreSQL: the matches' ids come from the narrow side table (AccountSearchEntry); with
    many, the accounts are joined to it, and a sort by name sorts there (SEARCH_NAME), so the
    page reads only its own accounts' rows, not every match's."""
    entries = AccountSearchEntry.objects.filter(search.entry_search(filters.q))
    if filters.client:
        entries = entries.filter(client_id=filters.client)
    ids = _first_ids(entries, SEARCH_FEW + 1)
    if len(ids) <= SEARCH_FEW:
        return queryset.filter(pk__in=ids)
    return queryset.filter(account_search(filters.q)).annotate(**{SEARCH_NAME: F("search_entry__debtor_name")})


# A search with at most this many matches is answered from their ids (found with the trigram
# index), sorted and paged among themselves; with more, the page walks the list's own index,
# where matches are then at least this dense. Without the split the planner, seeing a term that
# is common in the whole table, walks e.g. a client's accounts newest first to find 51 of them,
# and reads every one when that client has none (300 ms for 100,000 accounts, measured).
SEARCH_FEW = 5000
# The side table's copy of the debtor name, annotated on a search with many matches: keyset_page
# sorts by it when asked for the name order (the same value, kept by the same transaction).
SEARCH_NAME = "search_debtor_name"


def _first_ids(queryset, limit: int) -> list[int]:
    """Up to `limit` ids of `queryset`, in no order. On PostgreSQL the query is planned as if
    every match were wanted (a MATERIALIZED CTE), which makes it use the search index, and the
    LIMIT still stops it early: the cost follows the matches, not the table."""
    if connection.vendor != "postgresql":
        return list(queryset.order_by().values_list("pk", flat=True)[:limit])
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"WITH found AS MATERIALIZED ({sql}) SELECT * FROM found LIMIT %s", [*params, limit])
        return [row[0] for row in cursor.fetchall()]


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    has_previous: bool


def keyset_page(queryset, sort: str, cursor: str | None, size: int = 50) -> Page:
    """One page after `cursor` (opaque, from the previous page's next_cursor)."""
    column, _label = SORTS[sort]
    if sort == "debtor" and SEARCH_NAME in queryset.query.annotations:
        column = SEARCH_NAME
    descending = sort in DESCENDING
    order = [f"-{column}", "-id"] if descending else [column, "id"]
    position = _decode(cursor)
    if position is not None:
        try:
            value, last_id = _from_json(column, position[0]), position[1]
        except (InvalidOperation, ValueError, TypeError):  # a tampered or stale link starts over
            position = None
    if position is not None:
        if descending:
            after = Q(**{f"{column}__lt": value}) | Q(**{column: value, "id__lt": last_id})
        else:
            after = Q(**{f"{column}__gt": value}) | Q(**{column: value, "id__gt": last_id})
        queryset = queryset.filter(after)
    rows = list(queryset.order_by(*order)[: size + 1])  # every sort column is NOT NULL
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = _encode(_to_json(getattr(last, column)), last.pk)
    return Page(rows=rows, next_cursor=next_cursor, has_previous=position is not None)


def _to_json(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _from_json(column, value):
    if value is None:
        return None
    if column == "balance":
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError("not a balance")
        return amount
    if column == "placed_at":
        return datetime.fromisoformat(value)
    return value


def _encode(value, last_id) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, last_id]).encode()).decode().rstrip("=")


def _decode(cursor):
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return value, int(last_id)
    except (ValueError, TypeError):
        return None


def placement_batches():
    """Placement batches with their client and who placed them (the list filters by batch)."""
    return PlacementBatch.objects.select_related("client", "created_by")


def open_accounts_summary(days: int = 30) -> dict:
    """Open accounts (new, in collection, on hold), their balance, and how many were placed in
    the last `days` days."""
    open_accounts = DebtorAccount.objects.filter(status__in=OPEN_STATUSES)
    # Per currency: amounts in different currencies are never added up.
    balances = list(open_accounts.values("currency").annotate(balance=Sum("balance")).order_by("currency"))
    since = timezone.now() - timedelta(days=days)
    return {"open_count": open_accounts.count(), "open_balances": balances,
            "open_balance": balances[0]["balance"] if len(balances) == 1 else None,
            "placed_recently": DebtorAccount.objects.filter(placed_at__gte=since).count()}
