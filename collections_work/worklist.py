"""Queues and claiming: which open accounts a queue holds, and "Next account".

A claim is a lease. `account_claim_next` picks the best account in the collector's queues
with `SELECT ... FOR UPDATE SKIP LOCKED`, so two collectors pressing at the same moment lock
different rows, and stamps `claimed_by`/`claim_expires_at` in the same short transaction. The
lease, not the row lock, keeps the account the collector's while they work it; when it
expires (they walked away) the account is claimable again without anyone releasing it.

Open accounts (new or in collection) are each in at least one queue: every agency has a default
queue with no rules that every collector works, last.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from collections_work.compliance import callable_now
from collections_work.models import Callback, DebtorAccount, Queue
from collections_work.scoring import WAITING_PRIORITY
from collections_work.selectors import age_bucket_range

OPEN_STATUSES = (DebtorAccount.Status.NEW, DebtorAccount.Status.ACTIVE)
DEFAULT_QUEUE_NAME = "All open accounts"
ORDERINGS = {
    Queue.Order.SCORE: ("-priority", "id"),
    Queue.Order.BALANCE: ("-balance", "id"),
    Queue.Order.OLDEST: ("delinquency_date", "id"),
}


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


def queue_rules(queue: Queue, *, collector=None, now: datetime | None = None) -> Q:
    """The queue's rules as a filter on DebtorAccount (open accounts only)."""
    now = now or timezone.now()
    rules = Q(status__in=queue.statuses or OPEN_STATUSES)
    client_ids = [client.pk for client in queue.clients.all()]
    if client_ids:
        rules &= Q(client_id__in=client_ids)
    if queue.balance_min is not None:
        rules &= Q(balance__gte=queue.balance_min)
    if queue.balance_max is not None:
        rules &= Q(balance__lte=queue.balance_max)
    if queue.age_buckets:
        today = timezone.localdate(now)
        age = Q()
        for bucket in queue.age_buckets:
            age |= age_bucket_range(bucket, today)
        rules &= age
    if queue.time_zones:
        rules &= Q(debtor__time_zone__in=queue.time_zones)
    rules &= _assignment_rule(queue, collector)
    if queue.due_only:
        rules &= Q(next_action_at__lte=now)
    return rules


def _assignment_rule(queue, collector) -> Q:
    if queue.assignment == Queue.Assignment.MINE:
        return Q(assigned_collector=collector) if collector is not None else Q(assigned_collector__isnull=False)
    if queue.assignment == Queue.Assignment.UNASSIGNED:
        return Q(assigned_collector__isnull=True)
    if queue.assignment == Queue.Assignment.COLLECTOR:
        return Q(assigned_collector_id=queue.assigned_collector_id)
    return Q()


def workable_now(now: datetime) -> Q:
    """Not leased to anyone, and not waiting for a later time."""
    return ((Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now))
            & (Q(next_action_at__isnull=True) | Q(next_action_at__lte=now)))


def queue_accounts(queue: Queue, *, collector=None, now: datetime | None = None):
    """The accounts in a queue, in its order (leased and waiting ones included)."""
    return DebtorAccount.objects.filter(queue_rules(queue, collector=collector, now=now)).order_by(
        *ORDERINGS[queue.order])


def queues_of(collector, agency) -> list[Queue]:
    """The queues a collector works, in the order they are worked (the default queue last)."""
    default_queue_for(agency)
    teams = collector.worklist_teams.values("pk")
    return list(Queue.objects.filter(Q(all_collectors=True) | Q(collectors=collector) | Q(teams__in=teams))
                .distinct().prefetch_related("clients").order_by("is_default", "position", "id"))


@dataclass
class Claim:
    account: DebtorAccount
    queue: Queue | None  # None: the collector's own callback came due
    expires_at: datetime


def account_claim_next(*, agency, collector, now: datetime | None = None) -> Claim | None:
    """Lease the collector the most valuable account they may work now, or None.

    A callback of theirs that has come due comes first; then their queues in order, skipping
    accounts whose debtor is outside calling hours right now. Whatever the collector held
    before is released (their own call on it is logged by then)."""
    now = now or timezone.now()
    expires_at = now + lease_length()
    with transaction.atomic():
        account_release_claims(collector=collector, now=now)
        callback_account = _due_callback_account(collector, now)
        if callback_account is not None:
            return _lease(callback_account, None, collector, expires_at)
        callable_rule = callable_now(agency.pk, now)
        for queue in queues_of(collector, agency):
            account_id = _lock_first(queue_accounts(queue, collector=collector, now=now)
                                     .filter(workable_now(now), callable_rule))
            if account_id is not None:
                return _lease(account_id, queue, collector, expires_at)
    return None


def _lock_first(queryset):
    """The first row's id, locked; rows another transaction holds are skipped, not waited for."""
    return queryset.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True).first()


def _due_callback_account(collector, now):
    due = (DebtorAccount.objects.filter(callbacks__collector=collector, callbacks__done_at__isnull=True,
                                        callbacks__due_at__lte=now, status__in=OPEN_STATUSES)
           .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now) | Q(claimed_by=collector))
           .order_by("callbacks__due_at"))
    return _lock_first(due)


def _lease(account_id, queue, collector, expires_at) -> Claim:
    DebtorAccount.objects.filter(pk=account_id).update(claimed_by=collector, claim_expires_at=expires_at)
    account = DebtorAccount.objects.select_related("client", "debtor").get(pk=account_id)
    return Claim(account=account, queue=queue, expires_at=expires_at)


def account_release_claims(*, collector, now: datetime | None = None) -> int:
    """Give back whatever the collector holds. An account with nothing scheduled waits
    WORKLIST_SKIP_MINUTES, so "Next account" does not hand the same account straight back."""
    now = now or timezone.now()
    held = DebtorAccount.objects.filter(claimed_by=collector)
    unscheduled = held.filter(Q(next_action_at__isnull=True) | Q(next_action_at__lte=now))
    count = unscheduled.update(claimed_by=None, claim_expires_at=None,
                               next_action_at=now + timedelta(minutes=settings.WORKLIST_SKIP_MINUTES),
                               priority=F("priority") + WAITING_PRIORITY)
    return count + held.update(claimed_by=None, claim_expires_at=None)


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
