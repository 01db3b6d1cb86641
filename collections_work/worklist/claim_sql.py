""""Next account" on PostgreSQL in plain SQL.

Every press of every collector runs this, as two prepared statements in one round trip:
building the claim through the ORM (a dozen statements in a transaction) cost about ten times
the database's own work, and even a few plain statements cost twice one (bench/worklist). The
rules are those of worklist.queue_rules, workable_now and callable_rule, written once more as
SQL; the test test_the_sql_claim_takes_accounts_in_the_orms_order runs both against each other.
The agency is in every WHERE: these statements bypass the tenant manager.
"""
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from collections_work.compliance import calling_windows, zones_in_window
from collections_work.models import Callback, DebtorAccount, DebtPurpose, Queue
from collections_work.debtor_accounts.actions import IN_QUEUE_STATUSES
from collections_work.debtor_accounts.scoring import WAITING_PRIORITY
from collections_work.debtor_accounts.selectors import AGE_BUCKETS
from portal.prepared import prepared

ACCOUNTS = DebtorAccount._meta.db_table
CALLBACKS = Callback._meta.db_table




def _statuses_sql(statuses) -> str:
    """Statuses as literals, not parameters: a prepared statement's generic plan can use the
    partial acct_worklist index (WHERE status IN new, active) only when it sees them."""
    known = set(DebtorAccount.Status.values)
    return ", ".join(f"'{status}'" for status in statuses if status in known) or "NULL"


class Where:
    """SQL conditions and their parameters, kept in step."""

    def __init__(self):
        self.parts, self.params = [], []

    def add(self, sql: str, *params):
        self.parts.append(sql)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts)


def _queue_where(where: Where, rules, collector_id, now: datetime, today) -> None:
    where.add(f"a.status IN ({_statuses_sql(rules.statuses or IN_QUEUE_STATUSES)})")
    if rules.client_ids:
        where.add("a.client_id = ANY(%s)", list(rules.client_ids))
    if rules.balance_min is not None:
        where.add("a.balance >= %s", rules.balance_min)
    if rules.balance_max is not None:
        where.add("a.balance <= %s", rules.balance_max)
    if rules.age_buckets:
        ages, params = [], []
        for bucket in rules.age_buckets:
            low, high, _label = AGE_BUCKETS[bucket]
            ages.append("(a.delinquency_date <= %s" + (" AND a.delinquency_date >= %s)" if high is not None else ")"))
            params += [today - timedelta(days=low)] + ([today - timedelta(days=high)] if high is not None else [])
        where.add("(" + " OR ".join(ages) + ")", *params)
    if rules.time_zones:
        where.add("a.debtor_time_zone = ANY(%s)", list(rules.time_zones))
    if rules.assignment == Queue.Assignment.MINE:
        where.add("a.assigned_collector_id = %s", collector_id)
    elif rules.assignment == Queue.Assignment.UNASSIGNED:
        where.add("a.assigned_collector_id IS NULL")
    elif rules.assignment == Queue.Assignment.COLLECTOR:
        where.add("a.assigned_collector_id = %s", rules.assigned_collector_id)
    if rules.due_only:
        where.add("a.next_action_at <= %s", now)


def _zone_sql(zones, now, window) -> tuple[str, list]:
    open_zones, unknown = zones_in_window(zones, now, *window)
    return "(a.debtor_time_zone = ANY(%s)" + (" OR a.debtor_time_zone = '')" if unknown else ")"), [list(open_zones)]


def _callable_where(where: Where, policy, zones, now) -> None:
    windows = calling_windows(policy)
    commercial, commercial_params = _zone_sql(zones, now, windows["commercial"])
    other, other_params = _zone_sql(zones, now, windows["other"])
    if (commercial, commercial_params) == (other, other_params):  # the same hours for every purpose
        where.add(commercial, *commercial_params)
        return
    where.add(f"((a.debt_purpose = %s AND {commercial}) OR (a.debt_purpose <> %s AND {other}))",
              DebtPurpose.COMMERCIAL, *commercial_params, DebtPurpose.COMMERCIAL, *other_params)


def claim_next(cursor, *, agency_id, collector_id, queues, now, today, policy, zones, expires_at):
    """Give back what the collector holds, then lease the next account: (account id, index into
    `queues` or None for a due callback), or None.

    Two prepared statements sent together: one round trip, one transaction. The release comes
    first, as on the ORM path, so the claim never waits for a row lock while it holds one (its own
    locks are all SKIP LOCKED): a press cannot deadlock with another press or a batch job."""
    release_sql, release_params = _release(agency_id, collector_id, now)
    claim_sql, claim_params = _claim(agency_id, collector_id, queues, now, today, policy, zones, expires_at)
    cursor.execute(f"{prepared(cursor, release_sql)}; {prepared(cursor, claim_sql)}", release_params + claim_params)
    row = cursor.fetchone()
    if row is None:
        return None
    return row[0], (row[1] - 1 if row[1] else None)


def _release(agency_id, collector_id, now):
    """worklist.account_release_claims: an account with nothing scheduled waits
    WORKLIST_SKIP_MINUTES (sunk by WAITING_PRIORITY), so Next does not hand it straight back."""
    parked = now + timedelta(minutes=settings.WORKLIST_SKIP_MINUTES)
    return (f"UPDATE {ACCOUNTS} SET claimed_by_id = NULL, claim_expires_at = NULL, "
            "next_action_at = CASE WHEN next_action_at > %s THEN next_action_at ELSE %s END, "
            "priority = CASE WHEN next_action_at > %s THEN priority ELSE priority + %s END "
            "WHERE agency_id = %s AND claimed_by_id = %s",
            [now, parked, now, WAITING_PRIORITY, agency_id, collector_id])


def _claim(agency_id, collector_id, queues, now, today, policy, zones, expires_at):
    """Each candidate is a CTE locking at most one row with SKIP LOCKED: the collector's due
    callback first, then each queue in order. The UNION ALL under LIMIT 1 runs its branches in
    order and stops at the first row (PostgreSQL's Append; a writing statement never runs in
    parallel), so a later queue is not even read when an earlier one has an account."""
    candidates = [_due_callback_cte(agency_id, collector_id, now)] + [
        _queue_cte(index, agency_id, rules, collector_id, now, today, policy, zones)
        for index, rules in enumerate(queues, start=1)]
    union = " UNION ALL ".join(f"SELECT id, pick FROM c{index}" for index in range(len(candidates)))
    statement = ("WITH " + ", ".join(sql for sql, _ in candidates)
                 + f", picked AS (SELECT id, pick FROM ({union}) AS candidates LIMIT 1) "
                 f"UPDATE {ACCOUNTS} a SET claimed_by_id = %s, claim_expires_at = %s "
                 "FROM picked WHERE a.id = picked.id RETURNING a.id, picked.pick")
    return statement, [param for _, values in candidates for param in values] + [collector_id, expires_at]


def _due_callback_cte(agency_id, collector_id, now):
    return (f"c0 AS (SELECT a.id, 0 AS pick FROM {ACCOUNTS} a JOIN {CALLBACKS} c ON c.account_id = a.id "
            "WHERE a.agency_id = %s AND c.collector_id = %s AND c.done_at IS NULL AND c.due_at <= %s "
            f"AND a.status IN ({_statuses_sql(IN_QUEUE_STATUSES)}) "
            "AND (a.claim_expires_at IS NULL OR a.claim_expires_at <= %s OR a.claimed_by_id = %s) "
            "ORDER BY c.due_at LIMIT 1 FOR UPDATE OF a SKIP LOCKED)",
            [agency_id, collector_id, now, now, collector_id])


def _queue_cte(index, agency_id, rules, collector_id, now, today, policy, zones):
    where = Where()
    where.add("a.agency_id = %s", agency_id)
    _queue_where(where, rules, collector_id, now, today)
    where.add("(a.claim_expires_at IS NULL OR a.claim_expires_at <= %s)", now)
    where.add("(a.next_action_at IS NULL OR a.next_action_at <= %s)", now)
    _callable_where(where, policy, zones, now)
    return (f"c{index} AS (SELECT a.id, {index} AS pick FROM {ACCOUNTS} a WHERE {where.sql} "
            "ORDER BY a.priority DESC, a.id LIMIT 1 FOR UPDATE SKIP LOCKED)", where.params)


def cursor():
    return connection.cursor()


# Planning the claim statement costs more than running it (about 0.7 ms against 0.3 ms at a
# million accounts), and a collector's statement is the same text press after press: only the
# values change. So each database session prepares it once (portal.prepared); the statuses are
# written into the text, so the generic plan can use the partial acct_worklist index.
