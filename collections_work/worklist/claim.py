"""Queues and claiming: which open accounts a queue holds, and "Next account".

A claim is a lease. `account_claim_next` picks the best account in the collector's queues
with `SELECT ... FOR UPDATE SKIP LOCKED`, so two collectors pressing at the same moment lock
different rows, and stamps `claimed_by`/`claim_expires_at` in the same short transaction. The
lease, not the row lock, keeps the account the collector's while they work it; when it
expires (they walked away) the account is claimable again without anyone releasing it.

Open accounts (new or in collection) are each in at least one queue: every agency has a default
queue with no rules that every collector works, last.
"""
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from collections_work.compliance import callable_now, policy_for
from collections_work.debtor_accounts.actions import IN_QUEUE_STATUSES, OPEN_STATUSES
from collections_work.debtor_accounts.scoring import WAITING_PRIORITY
from collections_work.debtor_accounts.selectors import age_bucket_range
from collections_work.models import Callback, DebtorAccount, Queue
from collections_work.worklist import claim_sql
DEFAULT_QUEUE_NAME = "All open accounts"
BEST_FIRST = ("-priority", "id")  # the acct_worklist index
CACHE_SECONDS = 600


def lease_length() -> timedelta:
    return timedelta(minutes=settings.WORKLIST_LEASE_MINUTES)


def default_queue_for(agency) -> Queue:
    """The agency's catch-all queue, created on first use."""
    queue = Queue.objects.filter(is_default=True).first()
    if queue is None:
        queue, _ = Queue.objects.get_or_create(
            agency=agency, is_default=True,
            defaults={"name": DEFAULT_QUEUE_NAME, "position": 1_000_000, "all_collectors": True})
    return queue


# --- What "Next account" reads on every press, cached per agency ---------------------------------
# Queues, teams and the contact policy change rarely and are read on every claim; the services
# that change them call `worklist_settings_changed`, which moves the agency's cache version.
# Each process also keeps what it read for LOCAL_SECONDS: a read from the shared cache is a
# network round trip and a new client object, and several per press cost more than the claim.
# So a changed queue or policy reaches "Next account" within LOCAL_SECONDS (in the process that
# saved it, at once). The values are shared by the process's threads: never change them.

LOCAL_SECONDS = 5.0
_local: dict[str, tuple[float, object]] = {}


def _local_get(key: str, load, seconds: float = LOCAL_SECONDS):
    clock = time.monotonic()
    held = _local.get(key)
    if held is not None and held[0] > clock:
        return held[1]
    if len(_local) > 5000:  # old versions' entries: start afresh rather than grow
        _local.clear()
    value = load()
    _local[key] = (clock + seconds, value)
    return value


def forget_process_cache() -> None:
    """Drop this process's copies (tests start every case from an empty cache)."""
    _local.clear()


def _cache_version(agency_id) -> int:
    key = f"worklist:version:{agency_id}"
    return _local_get(key, lambda: cache.get_or_set(key, 0, None))


def worklist_settings_changed(agency_id) -> None:
    key = f"worklist:version:{agency_id}"
    try:
        cache.incr(key)
    except ValueError:  # not cached (yet, or any more): any new value does
        cache.set(key, 1, None)
    _local.pop(key, None)  # after the bump, so no thread here re-reads the old version


def _cached(agency_id, name, build):
    """A value that only a settings change alters: kept per cache version."""
    key = f"worklist:{agency_id}:{_cache_version(agency_id)}:{name}"

    def shared():
        value = cache.get(key)
        if value is None:
            value = build()
            cache.set(key, value, CACHE_SECONDS)
        return value
    return _local_get(key, shared)


@dataclass(frozen=True)
class QueueRules:
    """A queue's rules as plain values (what `queue_rules` needs; cached between claims)."""

    pk: int
    name: str
    is_default: bool
    client_ids: tuple
    statuses: tuple
    balance_min: Decimal | None
    balance_max: Decimal | None
    age_buckets: tuple
    time_zones: tuple
    assignment: str
    assigned_collector_id: int | None
    due_only: bool

    @classmethod
    def of(cls, queue: Queue) -> "QueueRules":
        return cls(queue.pk, queue.name, queue.is_default, tuple(c.pk for c in queue.clients.all()),
                   tuple(queue.statuses), queue.balance_min, queue.balance_max, tuple(queue.age_buckets),
                   tuple(queue.time_zones), queue.assignment, queue.assigned_collector_id, queue.due_only)


def queue_rules(queue, *, collector=None, now: datetime | None = None) -> Q:
    """The queue's rules (a Queue or its QueueRules) as a filter on DebtorAccount (open accounts only)."""
    rules = queue if isinstance(queue, QueueRules) else QueueRules.of(queue)
    now = now or timezone.now()
    condition = Q(status__in=rules.statuses or IN_QUEUE_STATUSES)
    if rules.client_ids:
        condition &= Q(client_id__in=rules.client_ids)
    if rules.balance_min is not None:
        condition &= Q(balance__gte=rules.balance_min)
    if rules.balance_max is not None:
        condition &= Q(balance__lte=rules.balance_max)
    if rules.age_buckets:
        today = timezone.localdate(now)
        age = Q()
        for bucket in rules.age_buckets:
            age |= age_bucket_range(bucket, today)
        condition &= age
    if rules.time_zones:
        condition &= Q(debtor_time_zone__in=rules.time_zones)
    condition &= _assignment_rule(rules, collector)
    if rules.due_only:
        condition &= Q(next_action_at__lte=now)
    return condition


def _assignment_rule(rules, collector) -> Q:
    if rules.assignment == Queue.Assignment.MINE:
        return Q(assigned_collector=collector) if collector is not None else Q(assigned_collector__isnull=False)
    if rules.assignment == Queue.Assignment.UNASSIGNED:
        return Q(assigned_collector__isnull=True)
    if rules.assignment == Queue.Assignment.COLLECTOR:
        return Q(assigned_collector_id=rules.assigned_collector_id)
    return Q()


def workable_now(now: datetime) -> Q:
    """Not leased to anyone, and not waiting for a later time."""
    return ((Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now))
            & (Q(next_action_at__isnull=True) | Q(next_action_at__lte=now)))


def _zones_key(agency_id) -> str:
    return f"worklist:{agency_id}:zones"


def zones_in_use(agency_id) -> frozenset:
    """The debtor time zones of the agency's open accounts (cached; placements add theirs)."""
    def shared():
        zones = cache.get(_zones_key(agency_id))
        if zones is None:
            # Every open account's zone, paused ones included: an account back from hold or a
            # plan must not wait for the cache to expire to be callable again.
            zones = frozenset(DebtorAccount.objects.filter(status__in=OPEN_STATUSES)
                              .values_list("debtor_time_zone", flat=True).distinct())
            cache.set(_zones_key(agency_id), zones, CACHE_SECONDS)
        return zones
    return _local_get(_zones_key(agency_id), shared)


def worklist_accounts_placed(agency_id, accounts) -> None:
    """A placement brought accounts: their debtors' zones join the cached set (a zone missing
    from it only keeps its accounts out of "Next account" until the cache is rebuilt)."""
    if cache.get(_zones_key(agency_id)) is not None:
        worklist_zones_added(agency_id, frozenset(accounts.values_list("debtor_time_zone", flat=True).distinct()))


def worklist_zones_added(agency_id, zones: frozenset) -> None:
    """Debtor time zones a placement brought (call once it has committed) join the cached set."""
    cached = cache.get(_zones_key(agency_id))
    if cached is not None:
        new = frozenset(zones)
        if not new <= cached:
            cache.set(_zones_key(agency_id), cached | new, CACHE_SECONDS)
            _local.pop(_zones_key(agency_id), None)


def callable_rule(agency_id, now: datetime) -> Q:
    """Accounts whose debtor is inside the calling hours now (compliance.callable_now), with the
    agency's policy and the time zones its open accounts use, both cached."""
    policy = _cached(agency_id, "policy", lambda: policy_for(agency_id))
    return callable_now(policy, zones_in_use(agency_id), now)


def queue_accounts(queue, *, collector=None, now: datetime | None = None):
    """The accounts in a queue, best first (leased and waiting ones included)."""
    return DebtorAccount.objects.filter(queue_rules(queue, collector=collector, now=now)).order_by(*BEST_FIRST)


def queues_of(collector, agency) -> list[QueueRules]:
    """The queues a collector works, in the order they are worked (the default queue last)."""
    def build():
        default_queue_for(agency)
        teams = collector.worklist_teams.values("pk")
        queues = (Queue.objects.filter(Q(all_collectors=True) | Q(collectors=collector) | Q(teams__in=teams))
                  .distinct().prefetch_related("clients").order_by("is_default", "position", "id"))
        return [QueueRules.of(queue) for queue in queues]
    return _cached(agency.pk, f"queues-of:{collector.pk}", build)


@dataclass
class Claim:
    account_id: int
    queue: QueueRules | None  # None: the collector's own callback came due
    expires_at: datetime
    _account: DebtorAccount | None = None

    @property
    def account(self) -> DebtorAccount:
        if self._account is None:
            self._account = DebtorAccount.objects.select_related("client", "debtor").get(pk=self.account_id)
        return self._account


def account_claim_next(*, agency, collector, now: datetime | None = None) -> Claim | None:
    """Lease the collector the most valuable account they may work now, or None.

    A callback of theirs that has come due comes first; then their queues in order, skipping
    accounts whose debtor is outside calling hours right now. Whatever the collector held
    before is released (their own call on it is logged by then)."""
    now = now or timezone.now()
    expires_at = now + lease_length()
    queues = queues_of(collector, agency)
    if connection.vendor == "postgresql":
        return _claim_next_sql(agency.pk, collector.pk, queues, now, expires_at)
    calling_hours = callable_rule(agency.pk, now)
    with transaction.atomic():
        account_release_claims(collector=collector, now=now)
        account = _due_callback_account(collector, now)
        if account is not None:
            return _lease(account, None, collector, expires_at)
        for queue in queues:
            account = _lock_first(queue_accounts(queue, collector=collector, now=now)
                                  .filter(workable_now(now), calling_hours))
            if account is not None:
                return _lease(account, queue, collector, expires_at)
    return None


def _claim_next_sql(agency_id, collector_id, queues, now, expires_at) -> Claim | None:
    """The same claim in plain SQL (claim_sql), for PostgreSQL."""
    policy = _cached(agency_id, "policy", lambda: policy_for(agency_id))
    zones, today = zones_in_use(agency_id), timezone.localdate(now)
    with claim_sql.cursor() as cursor:
        claimed = claim_sql.claim_next(cursor, agency_id=agency_id, collector_id=collector_id, queues=queues,
                                       now=now, today=today, policy=policy, zones=zones, expires_at=expires_at)
    if claimed is None:
        return None
    found, index = claimed
    queue = None if index is None else queues[index]
    return Claim(account_id=found, queue=queue, expires_at=expires_at)


def _lock_first(queryset):
    """The first account, locked; rows another transaction holds are skipped, not waited for."""
    return queryset.select_for_update(skip_locked=True, of=("self",)).first()


def _due_callback_account(collector, now):
    due = (DebtorAccount.objects.filter(callbacks__collector=collector, callbacks__done_at__isnull=True,
                                        callbacks__due_at__lte=now, status__in=IN_QUEUE_STATUSES)
           .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now) | Q(claimed_by=collector))
           .order_by("callbacks__due_at"))
    return _lock_first(due)


def _lease(account, queue, collector, expires_at) -> Claim:
    DebtorAccount.objects.filter(pk=account.pk).update(claimed_by=collector, claim_expires_at=expires_at)
    account.claimed_by, account.claim_expires_at = collector, expires_at
    return Claim(account_id=account.pk, queue=queue, expires_at=expires_at, _account=account)


def account_release_claims(*, collector, now: datetime | None = None) -> int:
    """Give back whatever the collector holds. An account with nothing scheduled waits
    WORKLIST_SKIP_MINUTES, so "Next account" does not hand the same account straight back."""
    now = now or timezone.now()
    scheduled = Q(next_action_at__gt=now)
    return DebtorAccount.objects.filter(claimed_by=collector).update(
        claimed_by=None, claim_expires_at=None,
        next_action_at=Case(When(scheduled, then=F("next_action_at")),
                            default=Value(now + timedelta(minutes=settings.WORKLIST_SKIP_MINUTES))),
        priority=Case(When(scheduled, then=F("priority")), default=F("priority") + WAITING_PRIORITY))


def account_extend_claim(account, collector, now: datetime | None = None) -> None:
    """Working on an account keeps its lease fresh."""
    now = now or timezone.now()
    DebtorAccount.objects.filter(pk=account.pk, claimed_by=collector).update(claim_expires_at=now + lease_length())


def current_claim(collector, now: datetime | None = None):
    now = now or timezone.now()
    return (DebtorAccount.objects.filter(claimed_by=collector, claim_expires_at__gt=now)
            .select_related("client").first())


def due_callbacks(collector, *, now: datetime | None = None, limit: int = 20):
    now = now or timezone.now()
    return list(Callback.objects.filter(collector=collector, done_at__isnull=True,
                                        due_at__lte=now + timedelta(hours=2))
                .select_related("account").order_by("due_at")[:limit])
