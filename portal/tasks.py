"""Background tasks owned by the portal: email delivery, heartbeats, a round-trip probe."""
import logging
from contextlib import contextmanager
import mimetypes
from pathlib import PurePosixPath
import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import BooleanField, Case, F, Q, Value, When
from django.utils import timezone

from portal.mail_bodies import message_bodies
from portal.models import Heartbeat, OutboundEmail
from portal.tenancy import tenant_scope, unscoped

log = logging.getLogger(__name__)
# A queued retry may arrive a little before its time (clocks, broker): it still counts as due.
RETRY_EARLY_TOLERANCE = timedelta(seconds=2)
# An email still "sending" this long after its worker claimed it: the worker died mid-send.
SENDING_STUCK = timedelta(minutes=10)
STUCK_ERROR = ("The worker stopped while sending this email: the mail server may or may not have taken it. "
               "It is not sent again by itself; check with the recipient before resending.")
# At most this many emails re-offered per run of deliver_pending_emails (every minute).
PENDING_BATCH = 5000


def _scope_for(agency_id):
    return tenant_scope(agency_id) if agency_id is not None else unscoped()


class UndeliverableAddress(ValueError):
    """The recipient is no address mail can be sent to (checked before the mail server is asked)."""


def address_problem(address: str) -> str:
    """Why mail cannot be sent to `address` ("" when it can): Django's EmailValidator (an ASCII
    name before the @, international domains allowed). "josé@exämple.com" would otherwise go out
    with an encoded word in the SMTP envelope and be recorded as sent; "a,b@example.com" would
    fail inside the mail library and be retried as if the server were down."""
    try:
        validate_email(address)
    except ValidationError:
        return (f"“{address}” is not an email address mail can be sent to: correct the address, then resend. "
                "Nothing was sent.")
    return ""


def _permanent(exc) -> bool:
    """A 5xx answer about the recipient or the message, or an address no mail server could take:
    trying again cannot help. Connection errors, timeouts, 4xx answers and refused credentials
    (fixed by an administrator) may pass."""
    if isinstance(exc, UndeliverableAddress):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _describe(exc) -> str:
    if isinstance(exc, UndeliverableAddress):
        return str(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{to}: {code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
                         for to, (code, message) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {message}"
    return f"{type(exc).__name__}: {exc}"


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: EMAIL_RETRY_SECONDS, doubling each time."""
    return timedelta(seconds=settings.EMAIL_RETRY_SECONDS * 2 ** max(attempts - 1, 0))


# Safe to run again after a worker dies mid-task: every send happens under the row's lock and is
# marked sent in the same transaction, so the task is acknowledged only after it ran
# (acks_late, the default) and requeued when its worker is lost.
REDELIVER_SAFE = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="portal.tasks.deliver_email", **REDELIVER_SAFE)
def deliver_email(email_id: int, agency_id: int | None):
    """Send one logged email unless it was sent (or given up) already, or its next try is not due.

    Under the row's lock the worker checks the email is still to send and, for a message to a
    debtor (an `account_id`), asks the contact policy (send_gate): not now defers it to the next
    allowed time, never cancels it, each with the reason. Then it claims it ("sending") and
    commits before talking to the mail server, so a second task, a redelivered one or a second
    scheduler finds it claimed or sent and sends nothing (see _send). A failed try is recorded:
    the attempt count, the server's answer and the time of the next try stay in the send log.
    After EMAIL_MAX_ATTEMPTS tries, or at once on a permanent refusal, the email is failed;
    otherwise its next try is queued with a backoff (and beat's deliver_pending_emails re-offers
    it should that message be lost)."""
    return _deliver(email_id, agency_id, connection=None)


@shared_task(name="portal.tasks.deliver_emails", **REDELIVER_SAFE)
def deliver_emails(email_ids: list[int], agency_id: int | None):
    """deliver_email for each of `email_ids` over one SMTP connection (scheduled runs hand their
    messages over in batches). Returns {outcome: count}."""
    from django.core.mail import get_connection

    from portal.send_gate import send_gate

    outcomes = {}
    connection = get_connection()
    try:
        connection.open()  # one SMTP session for the batch (send() would open and close one per email)
        with _scope_for(agency_id), _relaxed_commits():
            now = timezone.now()
            emails = {email.pk: email for email in OutboundEmail._base_manager.filter(pk__in=email_ids)
                      if email.agency_id == agency_id}  # by primary key only (see _by_pk), this tenant's
            waiting = [email for email in emails.values() if _due(email, now) and email.account_id]
            # The contact policy for the whole batch at once; each email is still claimed under its
            # own status check, and a verdict is at most one batch old.
            verdicts = send_gate().decide_many(waiting, now) if waiting else {}
            for email_id in email_ids:
                email, verdict = emails.get(email_id), verdicts.get(email_id)
                if (email is not None and _due(email, now) and not email.attachment
                        and (email.account_id is None or (verdict is not None and verdict.action == "send"))):
                    outcome = _send_claimed(email, connection, agency_id)
                else:
                    outcome = _deliver(email_id, agency_id, connection=connection, verdict=verdict)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        connection.close()
    return outcomes


def _send_claimed(email, connection, agency_id) -> str:
    """The batch's path: claim the email (one statement, only if it is still in the state the
    batch read), then send it (see _send)."""
    message = _message(email, connection)
    claimed = _by_pk(email.pk, status=email.status, attempts=email.attempts).update(
        status=OutboundEmail.Status.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now())
    if not claimed:
        return "skipped"  # another worker has it, or it changed since the batch read it
    return _send(email.pk, agency_id, message, connection)


def _by_pk(pk, **unchanged):
    """The email `pk`, if its fields still have the values `unchanged`, as a queryset to update.

    Found by primary key alone, whatever the planner's statistics: the other conditions are
    wrapped in an expression no index can answer. Right after a run records 100,000 emails the
    statistics still say "pending" is rare, and a plain `status = 'pending'` condition made
    PostgreSQL walk the status index through every pending row for each single-row update (the
    ids come from this tenant's batch; the tenant manager's agency condition would do the same)."""
    same = Case(When(**unchanged, then=Value(True)), default=Value(False), output_field=BooleanField())
    return OutboundEmail._base_manager.filter(pk=pk).alias(unchanged=same).filter(unchanged=True)


def _send(email_id, agency_id, message, connection) -> str:
    """Send a claimed email (status "sending", committed) and record the outcome.

    Exactly once: the claim is committed before the mail server is spoken to, so a second task,
    a redelivered one, a second scheduler or a restarted worker finds it "sending" or "sent" and
    sends nothing. A worker killed between the claim and the record leaves it "sending": it is
    never sent again by itself (the mail server may have taken it); deliver_pending_emails marks
    it failed after SENDING_STUCK with that reason, for staff to check and resend from the outbox."""
    try:
        if problem := address_problem(message.to[0]):
            raise UndeliverableAddress(problem)
        message.send()
    except Exception as exc:  # noqa: BLE001 - every failure is recorded; the kind decides what next
        connection is not None and connection.close()  # a broken session is opened afresh next time
        return _record_failure(email_id, agency_id, exc)
    with _scope_for(agency_id):
        _by_pk(email_id, status=OutboundEmail.Status.SENDING).update(
            status=OutboundEmail.Status.SENT, sent_at=timezone.now(), next_attempt_at=None, hold_reason="",
            secret_values={})  # sent: the link's secret leaves the send log
    return "sent"


@contextmanager
def _relaxed_commits():
    """Batch deliveries commit each email's "sent" without waiting for the WAL flush
    (PostgreSQL's synchronous_commit off, for this batch's session only): each commit is as
    ordered and atomic as ever; only a crash of the database server itself within a fraction of a
    second could forget the last marks and send those emails again. Waiting for a disk flush per
    email would cap a run at the disk's flush rate."""
    from django.db import connection

    relaxed = connection.vendor == "postgresql" and not connection.in_atomic_block
    if relaxed:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        if relaxed:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def _message(email, connection) -> EmailMultiAlternatives:
    body_text, body_html = message_bodies(email)
    message = EmailMultiAlternatives(email.subject, body_text, settings.DEFAULT_FROM_EMAIL, [email.to],
                                     connection=connection)
    if body_html:
        message.attach_alternative(body_html, "text/html")
    if email.attachment:
        _attach(message, email.attachment)
    return message


def _due(email, now) -> bool:
    if email.status == OutboundEmail.Status.PENDING:
        return email.next_attempt_at is None or email.next_attempt_at <= now + RETRY_EARLY_TOLERANCE
    if email.status == OutboundEmail.Status.DEFERRED:
        return email.next_attempt_at is not None and email.next_attempt_at <= now + RETRY_EARLY_TOLERANCE
    return False


def _deliver(email_id: int, agency_id: int | None, connection, verdict=None):
    from portal.send_gate import send_gate

    with _scope_for(agency_id), transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status not in (OutboundEmail.Status.PENDING, OutboundEmail.Status.DEFERRED):
            return "skipped"
        now = timezone.now()
        if not _due(email, now):
            return "not yet"
        if email.account_id is not None:
            verdict = verdict or send_gate().decide(email, now)
            if verdict.action != "send":
                return _hold(email, verdict, now)
        message = _message(email, connection)
        email.status, email.attempts, email.claimed_at = OutboundEmail.Status.SENDING, email.attempts + 1, now
        email.save(update_fields=["status", "attempts", "claimed_at"])
    return _send(email_id, agency_id, message, connection)  # the claim is committed first


def _fail(email, exc, now) -> None:
    """Record a failed try (email.attempts counts it already): failed for good, or the next try."""
    email.last_error = _describe(exc)[:2000]
    if _permanent(exc) or email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
        email.status, email.next_attempt_at = OutboundEmail.Status.FAILED, None
    else:
        email.status, email.next_attempt_at = OutboundEmail.Status.PENDING, now + retry_delay(email.attempts)
    email.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    log.warning("Email %s: try %s failed (%s)%s", email.pk, email.attempts, email.last_error,
                "" if email.next_attempt_at is None else f"; next try at {email.next_attempt_at:%H:%M:%S}")


def _after_failure(email, agency_id, now) -> str:
    """The failure is committed; queue the next try outside the transaction."""
    if email.status == OutboundEmail.Status.FAILED:
        return "failed"
    try:
        deliver_email.apply_async((email.pk, agency_id), countdown=(email.next_attempt_at - now).total_seconds())
    except Exception:  # noqa: BLE001 - the broker is unreachable: beat's deliver_pending_emails re-offers it
        log.warning("Could not queue the next try of email %s; beat will re-offer it", email.pk, exc_info=True)
    return "retry"


def _record_failure(email_id, agency_id, exc) -> str:
    """A claimed send failed: record the try (its attempt is counted already)."""
    with _scope_for(agency_id), transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutboundEmail.Status.SENDING:
            return "skipped"
        now = timezone.now()
        _fail(email, exc, now)
    return _after_failure(email, agency_id, now)


def _hold(email, verdict, now) -> str:
    """Defer (until the next allowed time) or cancel a message the contact policy holds back; the
    account's timeline hears of it once per new reason, not at every re-check. No countdown is
    queued (a deferral can be hours, longer than the broker's visibility timeout): beat's
    deliver_pending_emails offers it again once its time comes."""
    from portal.send_gate import send_gate

    status = OutboundEmail.Status.DEFERRED if verdict.action == "defer" else OutboundEmail.Status.CANCELLED
    news = (email.status, email.hold_reason) != (status, verdict.reason)
    email.status, email.hold_reason = status, verdict.reason[:500]
    email.next_attempt_at = verdict.until if status == OutboundEmail.Status.DEFERRED else None
    if status == OutboundEmail.Status.CANCELLED:
        email.secret_values = {}
    email.save(update_fields=["status", "hold_reason", "next_attempt_at", "secret_values"])
    if news:
        send_gate().record(email, verdict, now)
    return status


def _attach(message, name: str) -> None:
    """A stored file (media storage name) goes with the message under its own file name."""
    with default_storage.open(name, "rb") as handle:
        message.attach(PurePosixPath(name).name, handle.read(), mimetypes.guess_type(name)[0] or "application/octet-stream")


@shared_task(name="portal.tasks.deliver_pending_emails")
def deliver_pending_emails():
    """Re-offer emails whose time has come but whose hand-off was lost (worker or broker down at
    commit time, a worker killed with its batch, or a queued retry lost): never tried and older
    than EMAIL_HANDOFF_LOST_SECONDS (2 minutes), a retry that much overdue, or a deferred message
    whose next allowed time has come."""
    now = timezone.now()
    lost = now - timedelta(seconds=settings.EMAIL_HANDOFF_LOST_SECONDS)
    with unscoped():
        # Claimed by a worker that then died mid-send: the mail server may have taken it, so it
        # is never sent again by itself; staff see why in the outbox and may resend it.
        OutboundEmail.objects.filter(status=OutboundEmail.Status.SENDING, claimed_at__lt=now - SENDING_STUCK).update(
            status=OutboundEmail.Status.FAILED, next_attempt_at=None, last_error=STUCK_ERROR)
        pending = list(
            OutboundEmail.objects.filter(
                Q(status=OutboundEmail.Status.PENDING, attempts=0, next_attempt_at__isnull=True, created_at__lt=lost)
                | Q(status=OutboundEmail.Status.PENDING, next_attempt_at__lte=lost)
                | Q(status=OutboundEmail.Status.DEFERRED, next_attempt_at__lte=now))
            .order_by("next_attempt_at", "pk").values_list("pk", "agency_id")[:PENDING_BATCH]
        )
    by_agency = {}
    for email_id, agency_id in pending:
        by_agency.setdefault(agency_id, []).append(email_id)
    for agency_id, ids in by_agency.items():
        for start in range(0, len(ids), 200):
            deliver_emails.delay(ids[start:start + 200], agency_id)
    return len(pending)


@shared_task(name="portal.tasks.record_heartbeat")
def record_heartbeat(name: str = "beat"):
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
    return name


@shared_task(name="portal.tasks.echo")
def echo(value):
    """Round-trip probe: the worker records that it ran and returns its input."""
    record_heartbeat("worker")
    return value
