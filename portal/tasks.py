"""Background tasks owned by the portal: email delivery, heartbeats, a round-trip probe."""
import logging
import mimetypes
from pathlib import PurePosixPath
import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.mail_bodies import message_bodies
from portal.models import Heartbeat, OutboundEmail
from portal.tenancy import tenant_scope, unscoped

log = logging.getLogger(__name__)
# A queued retry may arrive a little before its time (clocks, broker): it still counts as due.
RETRY_EARLY_TOLERANCE = timedelta(seconds=2)


def _scope_for(agency_id):
    return tenant_scope(agency_id) if agency_id is not None else unscoped()


def _permanent(exc) -> bool:
    """A 5xx answer about the recipient or the message: trying again cannot help. Connection
    errors, timeouts, 4xx answers and refused credentials (fixed by an administrator) may pass."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _describe(exc) -> str:
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


@shared_task(name="portal.tasks.deliver_email")
def deliver_email(email_id: int, agency_id: int | None):
    """Send one logged email unless it was sent (or given up) already, or its next try is not due.

    The send happens under the row's lock, so a second task for the same email waits and then
    finds it sent. A failed try is recorded in the same transaction, which then commits (nothing
    is raised inside it): the attempt count, the server's answer and the time of the next try
    stay in the send log. After EMAIL_MAX_ATTEMPTS tries, or at once on a permanent refusal, the
    email is failed; otherwise its next try is queued with a backoff (and beat's
    deliver_pending_emails re-offers it should that message be lost)."""
    with _scope_for(agency_id), transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutboundEmail.Status.PENDING:
            return "skipped"
        now = timezone.now()
        if email.next_attempt_at is not None and email.next_attempt_at > now + RETRY_EARLY_TOLERANCE:
            return "not yet"
        body_text, body_html = message_bodies(email)
        message = EmailMultiAlternatives(email.subject, body_text, settings.DEFAULT_FROM_EMAIL, [email.to])
        if body_html:
            message.attach_alternative(body_html, "text/html")
        if email.attachment:
            _attach(message, email.attachment)
        email.attempts += 1
        try:
            message.send()
        except Exception as exc:  # noqa: BLE001 - every failure is recorded; the kind decides what next
            email.last_error = _describe(exc)[:2000]
            if _permanent(exc) or email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                email.status, email.next_attempt_at = OutboundEmail.Status.FAILED, None
            else:
                email.next_attempt_at = now + retry_delay(email.attempts)
            email.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            log.warning("Email %s: try %s failed (%s)%s", email_id, email.attempts, email.last_error,
                        "" if email.next_attempt_at is None else f"; next try at {email.next_attempt_at:%H:%M:%S}")
        else:
            email.status, email.sent_at, email.next_attempt_at = OutboundEmail.Status.SENT, timezone.now(), None
            email.secret_values = {}  # sent: the link's secret leaves the send log
            email.save(update_fields=["status", "sent_at", "attempts", "next_attempt_at", "secret_values"])
            return "sent"
    # The failure is committed; queue the next try outside the transaction.
    if email.status == OutboundEmail.Status.FAILED:
        return "failed"
    try:
        deliver_email.apply_async((email_id, agency_id), countdown=(email.next_attempt_at - now).total_seconds())
    except Exception:  # noqa: BLE001 - the broker is unreachable: beat's deliver_pending_emails re-offers it
        log.warning("Could not queue the next try of email %s; beat will re-offer it", email_id, exc_info=True)
    return "retry"


def _attach(message, name: str) -> None:
    """A stored file (media storage name) goes with the message under its own file name."""
    with default_storage.open(name, "rb") as handle:
        message.attach(PurePosixPath(name).name, handle.read(), mimetypes.guess_type(name)[0] or "application/octet-stream")


@shared_task(name="portal.tasks.deliver_pending_emails")
def deliver_pending_emails():
    """Re-offer pending emails whose hand-off to the worker was lost (worker or broker down at
    commit time, or a queued retry lost): never tried and older than two minutes, or a retry
    that is two minutes overdue."""
    now = timezone.now()
    lost = now - timedelta(minutes=2)
    with unscoped():
        pending = list(
            OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING)
            .filter(Q(attempts=0, created_at__lt=lost) | Q(next_attempt_at__lte=lost))
            .values_list("pk", "agency_id")[:500]
        )
    for email_id, agency_id in pending:
        deliver_email.delay(email_id, agency_id)
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
