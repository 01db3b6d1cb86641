"""The worklist score: how valuable it is to work a debtor account now, and why.

The score is a sum of named parts, so the workspace can show each one:

- balance: 10 x log10(balance), so $1,000 is 30 and $100,000 is 50: a large balance matters,
  but not a thousand times more than a small one;
- age: 10 x log10(recovery rate), from RECOVERY_BY_AGE (the share of a balance agencies
  typically recover by days past due), so a fresh account loses nothing and a three-year-old
  one loses 15: together with the balance part this ranks by expected recovery;
- promise due / callback due: a promise to follow up (its date has come in the debtor's time
  zone: local_day) or a callback whose time has come;
- last contact: never worked accounts come first; ones worked in the last days wait their turn;
- waiting: an account whose next action is in the future (promise date, callback, just worked)
  or whose debtor asked us to stop sinks far below every workable account, so the claim query
  reads only workable ones from the top of its index. The beat job `worklist_wake_due`
  re-scores accounts when their time comes.

`priority` on the account is round(score x 10): an integer the claim index sorts by.
"""
import math
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from collections_work.debtor_accounts import local_day
from collections_work.models import Callback, DebtorAccount, Promise
from portal.text import date_text

# (days past due, share recovered): industry recovery-by-age curve, interpolated linearly.
RECOVERY_BY_AGE = [(0, 0.90), (90, 0.70), (180, 0.50), (365, 0.25), (730, 0.10), (1095, 0.03)]
PROMISE_DUE_POINTS = 25
CALLBACK_DUE_POINTS = 30
NEVER_WORKED_POINTS = 8
WAITING_POINTS = -1000
WAITING_PRIORITY = WAITING_POINTS * 10  # what waiting adds to `priority`
RESCORE_BATCH = 2000


@dataclass(frozen=True)
class ScorePart:
    name: str
    points: float
    why: str


def recovery_rate(days_past_due: int) -> float:
    days = max(days_past_due, 0)
    for (d0, r0), (d1, r1) in zip(RECOVERY_BY_AGE, RECOVERY_BY_AGE[1:]):
        if days <= d1:
            return r0 + (r1 - r0) * (days - d0) / (d1 - d0)
    return RECOVERY_BY_AGE[-1][1]


def _days_past_due(account, today: date) -> int:
    since = account.delinquency_date or account.due_date or timezone.localdate(account.placed_at)
    return (today - since).days


def _last_contact_part(account, now: datetime) -> ScorePart:
    if account.last_worked_at is None:
        return ScorePart("last contact", NEVER_WORKED_POINTS, "never worked")
    days = (now - account.last_worked_at).total_seconds() / 86400
    points = round(min(days, 30) / 3 - 5, 1)  # -5 just worked, rising to +5 after a month
    return ScorePart("last contact", points, f"worked {days:.0f} days ago" if days >= 1 else "worked today")


def score_parts(account, *, now: datetime | None = None, promise_due: bool | None = None,
                callback_due: bool | None = None) -> list[ScorePart]:
    """Every part of the account's score. `promise_due`/`callback_due` may be given by a caller
    that looked them up in bulk; otherwise they are read here."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    days = _days_past_due(account, today)
    rate = recovery_rate(days)
    parts = [
        # A score, not money: the logarithm of the balance (at least 1, so an empty balance scores 0).
        ScorePart("balance", round(10 * math.log10(max(account.balance, 1)), 1), f"{account.balance:,.2f} {account.currency}"),
        ScorePart("age", round(10 * math.log10(rate), 1), f"{days} days past due: about {rate:.0%} is usually recovered"),
    ]
    if promise_due is None:
        debtor_today = local_day.debtor_today(account.debtor_time_zone, now)
        promise_due = Promise.objects.filter(account=account, status=Promise.Status.OPEN,
                                             due_date__lte=debtor_today).exists()
    if promise_due:
        parts.append(ScorePart("promise due", PROMISE_DUE_POINTS, "a promise to pay is due: follow it up"))
    if callback_due is None:
        callback_due = Callback.objects.filter(account=account, done_at__isnull=True, due_at__lte=now).exists()
    if callback_due:
        parts.append(ScorePart("callback due", CALLBACK_DUE_POINTS, "a callback is due"))
    parts.append(_last_contact_part(account, now))
    if account.next_action_at is not None and account.next_action_at > now:
        parts.append(ScorePart("waiting", WAITING_POINTS,
                               f"not to be worked before {date_text(timezone.localtime(account.next_action_at), '%b %d %H:%M')}"))
    elif account.cease_communication_at is not None:
        parts.append(ScorePart("waiting", WAITING_POINTS, "the debtor asked us to stop contacting them"))
    return parts


def priority_of(parts: list[ScorePart]) -> int:
    return round(sum(part.points for part in parts) * 10)


def account_rescore(account, *, now: datetime | None = None) -> int:
    """Store the account's current score (call inside the transaction that changed it)."""
    account.priority = priority_of(score_parts(account, now=now))
    DebtorAccount.objects.filter(pk=account.pk).update(priority=account.priority)
    return account.priority


def accounts_rescore(queryset, *, now: datetime | None = None) -> int:
    """Re-score many accounts in keyset batches of RESCORE_BATCH; returns how many changed."""
    return accounts_rescore_part(queryset, now=now)[0]


def accounts_rescore_part(queryset, *, after_id: int = 0, limit: int | None = None,
                          now: datetime | None = None) -> tuple[int, int | None]:
    """Re-score the accounts of `queryset` with an id above `after_id`, in id order, at most
    `limit` of them (each batch of RESCORE_BATCH its own short transaction). Returns (how many
    changed, the last id scored when accounts may remain, else None): a bulk job goes on from there
    in its next run."""
    now = now or timezone.now()
    changed, last_id, done = 0, after_id, 0
    while True:
        size = RESCORE_BATCH if limit is None else min(RESCORE_BATCH, limit - done)
        if size <= 0:
            return changed, last_id
        batch = list(queryset.filter(pk__gt=last_id).order_by("pk")[:size])
        if not batch:
            return changed, None
        last_id, done = batch[-1].pk, done + len(batch)
        ids = [account.pk for account in batch]
        # Open promises whose date may have come somewhere; each is then judged in its debtor's zone.
        promised = {}
        for account_id, due_date in Promise.objects.filter(
                account_id__in=ids, status=Promise.Status.OPEN,
                due_date__lte=local_day.latest_date_anywhere(now)).values_list("account_id", "due_date"):
            promised[account_id] = min(due_date, promised.get(account_id, due_date))
        promises = {account.pk for account in batch if account.pk in promised
                    and promised[account.pk] <= local_day.debtor_today(account.debtor_time_zone, now)}
        callbacks = set(Callback.objects.filter(account_id__in=ids, done_at__isnull=True, due_at__lte=now)
                        .values_list("account_id", flat=True))
        stale = []
        for account in batch:
            priority = priority_of(score_parts(account, now=now, promise_due=account.pk in promises,
                                               callback_due=account.pk in callbacks))
            if priority != account.priority:
                account.priority = priority
                stale.append(account)
        with transaction.atomic():
            DebtorAccount.objects.bulk_update(stale, ["priority"], batch_size=500)
        changed += len(stale)


def waking_accounts(now: datetime):
    """Accounts whose waiting time is over (their stored score still says waiting)."""
    return DebtorAccount.objects.filter(next_action_at__lte=now)


# --- The same score in SQL, for a placement's accounts (set-based, inside the placement) -----

def _sql_literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def priority_sql(vendor: str, *, now: datetime, balance: str, since: str, placed_at: str | None = None,
                 last_worked_at: str | None = None, next_action_at: str | None = None,
                 cease_at: str | None = None) -> str:
    """A SQL expression giving `priority` as `priority_of(score_parts(account, now=now))` does,
    for an account with no promise and no callback due (a placement's accounts: new ones never
    have one; the placement re-scores in Python the few updated ones that do).

    The arguments are SQL expressions of the statement it goes into: `balance` (numeric),
    `since` (the delinquency date, else the due date: a date or NULL), `placed_at` (a timestamp,
    None: placed now), `last_worked_at`, `next_action_at`, `cease_at` (timestamps, None: a new
    account). `vendor` is "postgresql" or "sqlite". Same constants and the same floating-point
    steps as the Python (log10 of a double, rounded to one decimal), so both give the same
    integer but at exact decimal ties (the next bulk re-score then aligns it)."""
    today = timezone.localdate(now)
    pg = vendor == "postgresql"
    if pg:
        today_sql, now_sql = f"DATE {_sql_literal(today.isoformat())}", f"TIMESTAMPTZ {_sql_literal(now.isoformat())}"
        placed = (f"({placed_at} AT TIME ZONE {_sql_literal(timezone.get_current_timezone_name())})::date"
                  if placed_at else today_sql)
        days = f"greatest({today_sql} - coalesce({since}, {placed}), 0)"

        def rounded(expr):
            return f"round(({expr})::numeric, 1)"
        log10, double = "log10", "float8"
    else:
        today_sql, now_sql = _sql_literal(today.isoformat()), _sql_literal(now.strftime("%Y-%m-%d %H:%M:%S.%f"))
        placed = f"date({placed_at})" if placed_at else today_sql
        days = f"max(CAST(julianday({today_sql}) - julianday(coalesce({since}, {placed})) AS INTEGER), 0)"

        def rounded(expr):
            return f"round({expr}, 1)"
        log10, double = "log10", "REAL"
    # recovery_rate(days): the same interpolation, in doubles
    steps = " ".join(
        f"WHEN {days} <= {d1} THEN CAST({r0!r} AS {double}) + CAST({r1 - r0!r} AS {double}) * ({days} - {d0}) "
        f"/ CAST({d1 - d0} AS {double})"
        for (d0, r0), (d1, r1) in zip(RECOVERY_BY_AGE, RECOVERY_BY_AGE[1:]))
    rate = f"(CASE {steps} ELSE CAST({RECOVERY_BY_AGE[-1][1]!r} AS {double}) END)"
    amount = f"CAST(CASE WHEN {balance} > 1 THEN {balance} ELSE 1 END AS {double})"
    parts = [rounded(f"10 * {log10}({amount})"), rounded(f"10 * {log10}({rate})")]
    if last_worked_at:
        worked_days = (f"CAST(extract(epoch FROM ({now_sql} - {last_worked_at})) AS float8) / 86400" if pg
                       else f"(julianday({now_sql}) - julianday({last_worked_at}))")
        parts.append(f"(CASE WHEN {last_worked_at} IS NULL THEN {NEVER_WORKED_POINTS} "
                     f"ELSE {rounded(f'(CASE WHEN {worked_days} < 30 THEN {worked_days} ELSE 30 END) / 3.0 - 5')} END)")
    else:
        parts.append(str(NEVER_WORKED_POINTS))
    waiting = [f"({next_action_at} IS NOT NULL AND {next_action_at} > {now_sql})" if next_action_at else "",
               f"{cease_at} IS NOT NULL" if cease_at else ""]
    waiting = " OR ".join(w for w in waiting if w)
    if waiting:
        parts.append(f"(CASE WHEN {waiting} THEN {WAITING_POINTS} ELSE 0 END)")
    return f"CAST(round(({' + '.join(parts)}) * 10) AS integer)"
