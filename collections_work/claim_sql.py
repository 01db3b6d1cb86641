""""Next account" on PostgreSQL in plain SQL.

Every press of every collector runs this; building the same statements through the ORM cost
about ten times the database's own work (bench/worklist). The rules are those of
worklist.queue_rules, workable_now and callable_rule, written once more as SQL; the test
test_the_sql_claim_takes_accounts_in_the_orms_order runs both against each other. The agency
is in every WHERE: these statements bypass the tenant manager.
"""
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from collections_work.compliance import calling_windows, zones_in_window
from collections_work.models import Callback, DebtorAccount, DebtPurpose, Queue
from collections_work.scoring import WAITING_PRIORITY
from collections_work.selectors import AGE_BUCKETS

ACCOUNTS = DebtorAccount._meta.db_table
CALLBACKS = Callback._meta.db_table


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
    where.add("a.status = ANY(%s)", list(rules.statuses or ("new", "active")))
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
    where.add(f"((a.debt_purpose = %s AND {commercial}) OR (a.debt_purpose <> %s AND {other}))",
              DebtPurpose.COMMERCIAL, *commercial_params, DebtPurpose.COMMERCIAL, *other_params)


def release(cursor, agency_id, collector_id, now) -> None:
    """worklist.account_release_claims in one statement."""
    cursor.execute(
        f"UPDATE {ACCOUNTS} SET claimed_by_id = NULL, claim_expires_at = NULL, "
        "next_action_at = CASE WHEN next_action_at > %s THEN next_action_at ELSE %s END, "
        "priority = CASE WHEN next_action_at > %s THEN priority ELSE priority + %s END "
        "WHERE agency_id = %s AND claimed_by_id = %s",
        [now, now + timedelta(minutes=settings.WORKLIST_SKIP_MINUTES), now, WAITING_PRIORITY, agency_id,
         collector_id])


def due_callback(cursor, agency_id, collector_id, now):
    cursor.execute(
        f"SELECT a.id FROM {ACCOUNTS} a JOIN {CALLBACKS} c ON c.account_id = a.id "
        "WHERE a.agency_id = %s AND c.collector_id = %s AND c.done_at IS NULL AND c.due_at <= %s "
        "AND a.status = ANY(%s) AND (a.claim_expires_at IS NULL OR a.claim_expires_at <= %s OR a.claimed_by_id = %s) "
        "ORDER BY c.due_at LIMIT 1 FOR UPDATE OF a SKIP LOCKED",
        [agency_id, collector_id, now, ["new", "active"], now, collector_id])
    row = cursor.fetchone()
    return row[0] if row else None


def first_in_queue(cursor, agency_id, rules, collector_id, now, today, policy, zones):
    where = Where()
    where.add("a.agency_id = %s", agency_id)
    _queue_where(where, rules, collector_id, now, today)
    where.add("(a.claim_expires_at IS NULL OR a.claim_expires_at <= %s)", now)
    where.add("(a.next_action_at IS NULL OR a.next_action_at <= %s)", now)
    _callable_where(where, policy, zones, now)
    cursor.execute(f"SELECT a.id FROM {ACCOUNTS} a WHERE {where.sql} "
                   "ORDER BY a.priority DESC, a.id LIMIT 1 FOR UPDATE SKIP LOCKED", where.params)
    row = cursor.fetchone()
    return row[0] if row else None


def lease(cursor, account_id, collector_id, expires_at) -> None:
    cursor.execute(f"UPDATE {ACCOUNTS} SET claimed_by_id = %s, claim_expires_at = %s WHERE id = %s",
                   [collector_id, expires_at, account_id])


def cursor():
    return connection.cursor()
