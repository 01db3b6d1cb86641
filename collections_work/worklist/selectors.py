"""Reads for the worklist pages: queue sizes and the supervisor's per-collector figures."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Min, Q
from django.utils import timezone

from accounts import permissions
from accounts.models import Membership, Role
from collections_work.debtor_accounts.actions import IN_QUEUE_STATUSES
from collections_work.worklist import claim
from collections_work.compliance import CONVERSATION_OUTCOMES
from collections_work.models import Activity, DebtorAccount, Promise, Queue
from collections_work.worklist.services import email_key
from portal.models import OutboundEmail

# Payments are a later app that builds on this one; it registers a function
# (start: date, end: date) -> {user_id: Decimal} here (payments.apps), so this module never imports it.
COLLECTED_AMOUNT_SOURCES = []
QUEUE_PAGE_SIZE = 25
CAPPED_COUNT = 1000
WORKED_KINDS = (Activity.Kind.CALL, Activity.Kind.EMAIL, Activity.Kind.NOTE, Activity.Kind.STATUS,
                Activity.Kind.LETTER, Activity.Kind.PROMISE, Activity.Kind.CALLBACK, Activity.Kind.OFFER)


@dataclass
class QueueSize:
    queue: Queue
    total: int
    workable: int
    oldest_untouched: datetime | None


def queue_sizes(agency, now: datetime | None = None) -> list[QueueSize]:
    """Every queue of the agency with its size, how many can be worked now, and the oldest
    placed account nobody has worked yet."""
    now = now or timezone.now()
    claim.default_queue_for(agency)
    sizes = []
    for queue in Queue.objects.prefetch_related("clients", "collectors", "teams"):
        figures = DebtorAccount.objects.filter(claim.queue_rules(queue, now=now)).aggregate(
            total=Count("pk"), workable=Count("pk", filter=claim.workable_now(now)),
            oldest=Min("placed_at", filter=Q(last_worked_at__isnull=True)))
        sizes.append(QueueSize(queue, figures["total"], figures["workable"], figures["oldest"]))
    return sizes


def open_accounts_outside_queues(agency) -> int:
    """Open accounts that no queue holds: always 0 while the default queue exists."""
    queues = list(Queue.objects.prefetch_related("clients"))
    in_some = Q(pk__in=[])
    for queue in queues:
        in_some |= claim.queue_rules(queue)
    return DebtorAccount.objects.filter(status__in=IN_QUEUE_STATUSES).exclude(in_some).count()


def capped_count(queryset, cap: int = CAPPED_COUNT) -> tuple[int, bool]:
    """Count at most `cap` rows: a collector needs "1,000+", not a full scan of a big queue."""
    count = len(queryset.order_by().values_list("pk", flat=True)[:cap + 1])
    return min(count, cap), count > cap


@dataclass
class CollectorFigures:
    user: object
    worked: int = 0
    right_party_contacts: int = 0
    promises_made: int = 0
    promises_kept: int = 0
    collected: Decimal = field(default_factory=lambda: Decimal("0.00"))


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (timezone.make_aware(datetime.combine(start, time.min)),
            timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)))


def collector_figures(start: date, end: date) -> list[CollectorFigures]:
    """What each collector did from `start` to `end` (inclusive, the agency's days)."""
    since, until = _bounds(start, end)
    people = {m.user_id: CollectorFigures(m.user) for m in Membership.objects.select_related("user").filter(
        role__in=permissions.STAFF).order_by("user__first_name", "user__email")}
    activities = Activity.objects.filter(actor_id__in=people, occurred_at__gte=since, occurred_at__lt=until)
    for row in activities.values("actor_id").annotate(
            worked=Count("account_id", distinct=True, filter=Q(kind__in=WORKED_KINDS)),
            rpc=Count("pk", filter=Q(kind=Activity.Kind.CALL, outcome__in=CONVERSATION_OUTCOMES))):
        people[row["actor_id"]].worked, people[row["actor_id"]].right_party_contacts = row["worked"], row["rpc"]
    for row in Promise.objects.filter(made_by_id__in=people, created_at__gte=since, created_at__lt=until).values(
            "made_by_id").annotate(n=Count("pk")):
        people[row["made_by_id"]].promises_made = row["n"]
    for row in Promise.objects.filter(made_by_id__in=people, status=Promise.Status.KEPT, resolved_at__gte=since,
                                      resolved_at__lt=until).values("made_by_id").annotate(n=Count("pk")):
        people[row["made_by_id"]].promises_kept = row["n"]
    for source in COLLECTED_AMOUNT_SOURCES:
        for user_id, amount in source(start, end).items():
            if user_id in people:
                people[user_id].collected += amount
    return [figures for figures in people.values() if figures.user.membership.role == Role.COLLECTOR
            or figures.worked or figures.promises_made]


def email_deliveries(activities) -> dict:
    """{activity id: its OutboundEmail} for the email entries among `activities`: whether each
    email left, is waiting for another try, or failed, and the mail server's answer."""
    keys = {email_key(a.pk): a.pk for a in activities if a.kind == Activity.Kind.EMAIL}
    if not keys:
        return {}
    return {keys[email.idempotency_key]: email for email in OutboundEmail.objects.filter(idempotency_key__in=keys)}
