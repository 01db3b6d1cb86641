"""The outbox's rows: every email the agency's portal recorded and every letter, in one list with
one set of states (scheduled, deferred, sent, failed, cancelled), newest first."""
from django.db.models import CharField, Case, DateTimeField, F, IntegerField, OuterRef, Q, Subquery, Value, When

from collections_work.models import DebtorAccount, Letter
from portal.models import OutboundEmail

STATES = [("scheduled", "Scheduled"), ("deferred", "Deferred"), ("sent", "Sent"), ("failed", "Failed"),
          ("cancelled", "Cancelled")]
CHANNELS = [("email", "Email"), ("letter", "Letter")]
EMAIL_STATE = {OutboundEmail.Status.PENDING: "scheduled", OutboundEmail.Status.SENDING: "scheduled",
               OutboundEmail.Status.DEFERRED: "deferred",
               OutboundEmail.Status.SENT: "sent", OutboundEmail.Status.FAILED: "failed",
               OutboundEmail.Status.CANCELLED: "cancelled"}
# A letter's state by its status, and a queued letter the last print batch held back (an open
# dispute: its hold_reason) is deferred.
_HELD = Q(status=Letter.Status.QUEUED) & ~Q(hold_reason="")
LETTER_STATE = {"scheduled": Q(status__in=[Letter.Status.QUEUED, Letter.Status.PRINTING]) & ~_HELD,
                "deferred": _HELD, "sent": Q(status__in=[Letter.Status.MAILED, Letter.Status.EMAILED]),
                "cancelled": Q(status=Letter.Status.CANCELLED)}
# The columns both kinds share, in union order.
COLUMNS = ["channel", "row_id", "created", "state", "recipient", "title", "detail", "until", "done_at", "tries",
           "account_ref", "reference"]


def _state(mapping, field):
    return Case(*[When(**{field: status}, then=Value(state)) for status, state in mapping.items()],
                default=Value("scheduled"), output_field=CharField())


def _columns(queryset, **columns):
    """Every column an annotation, added in COLUMNS order in both halves of the UNION (model
    fields and annotations would otherwise be selected in different orders)."""
    return queryset.order_by().annotate(**{name: columns[name] for name in COLUMNS}).values(*COLUMNS)


def outbox_emails():
    return _columns(
        OutboundEmail.objects.all(),
        channel=Value("email", output_field=CharField()), row_id=F("pk"), created=F("created_at"),
        state=_state(EMAIL_STATE, "status"), recipient=F("to"), title=F("subject"),
        detail=Case(When(status=OutboundEmail.Status.FAILED, then=F("last_error")),
                    When(status=OutboundEmail.Status.SENDING, then=Value("sending")), default=F("hold_reason"),
                    output_field=CharField()),
        until=Case(When(status__in=[OutboundEmail.Status.DEFERRED, OutboundEmail.Status.PENDING],
                        then=F("next_attempt_at")), default=Value(None), output_field=DateTimeField()),
        done_at=F("sent_at"), tries=F("attempts"), account_ref=F("account_id"),
        reference=Subquery(DebtorAccount.objects.filter(pk=OuterRef("account_id")).values("client_reference")[:1]))


def outbox_letters():
    return _columns(
        Letter.objects.all(),
        channel=Value("letter", output_field=CharField()), row_id=F("pk"), created=F("created_at"),
        state=Case(*[When(rule, then=Value(state)) for state, rule in LETTER_STATE.items()],
                   default=Value("scheduled"), output_field=CharField()),
        recipient=F("account__debtor_name"), title=F("kind"),
        detail=Case(When(status=Letter.Status.CANCELLED, then=F("cancel_reason")), default=F("hold_reason"),
                    output_field=CharField()), until=Value(None, output_field=DateTimeField()), done_at=F("sent_at"),
        tries=Value(0, output_field=IntegerField()), account_ref=F("account_id"), reference=F("account__client_reference"))


def outbox_rows(*, state: str = "", channel: str = "", query: str = ""):
    """The outbox in the current tenant scope, filtered by state, channel and a search in the
    recipient, the subject and the account's reference. Returns a values queryset (dicts with
    COLUMNS), newest first."""
    query = (query or "").strip()
    parts = []
    if channel in ("", "email"):
        emails = outbox_emails()
        if state:
            emails = emails.filter(status__in=[s for s, name in EMAIL_STATE.items() if name == state])
        if query:
            refs = DebtorAccount.objects.filter(client_reference__icontains=query).values("pk")
            emails = emails.filter(Q(to__icontains=query) | Q(subject__icontains=query) | Q(account_id__in=refs))
        parts.append(emails)
    if channel in ("", "letter"):
        letters = outbox_letters()
        if state:
            letters = letters.filter(LETTER_STATE.get(state, Q(pk__in=[])))
        if query:
            letters = letters.filter(Q(account__debtor_name__icontains=query)
                                     | Q(account__client_reference__icontains=query))
        parts.append(letters)
    rows = parts[0] if len(parts) == 1 else parts[0].union(parts[1], all=True)
    return rows.order_by("-created", "-row_id")


def outbox_counts() -> dict[str, int]:
    """How many rows are in each state (both channels), for the filter's labels."""
    counts = {state: 0 for state, _label in STATES}
    for status, state in EMAIL_STATE.items():
        counts[state] += OutboundEmail.objects.filter(status=status).count()
    for state, rule in LETTER_STATE.items():
        counts[state] += Letter.objects.filter(rule).count()
    return counts
