"""Background tasks owned by the portal: email delivery, heartbeats, a round-trip probe."""
import logging
import mimetypes
from pathlib import PurePosixPath

from celery import shared_task
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from portal.mail_bodies import message_bodies
from portal.models import Heartbeat, OutboundEmail
from portal.tenancy import tenant_scope, unscoped

log = logging.getLogger(__name__)


def _scope_for(agency_id):
    return tenant_scope(agency_id) if agency_id is not None else unscoped()


@shared_task(bind=True, max_retries=5, default_retry_delay=30)
def deliver_email(self, email_id: int, agency_id: int | None):
    """Send one logged email unless it was sent already."""
    with _scope_for(agency_id), transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status == OutboundEmail.Status.SENT:
            return "skipped"
        body_text, body_html = message_bodies(email)
        message = EmailMultiAlternatives(email.subject, body_text, settings.DEFAULT_FROM_EMAIL, [email.to])
        if body_html:
            message.attach_alternative(body_html, "text/html")
        if email.attachment:
            _attach(message, email.attachment)
        email.attempts += 1
        try:
            message.send()
        except Exception as exc:  # network errors: keep it pending and retry
            email.last_error = str(exc)[:2000]
            email.save(update_fields=["attempts", "last_error"])
            log.warning("Email %s failed: %s", email_id, exc)
            raise self.retry(exc=exc)
        email.status = OutboundEmail.Status.SENT
        email.sent_at = timezone.now()
        email.secret_values = {}  # sent: the link's secret leaves the send log
        email.save(update_fields=["status", "sent_at", "attempts", "secret_values"])
        return "sent"


def _attach(message, name: str) -> None:
    """A stored file (media storage name) goes with the message under its own file name."""
    with default_storage.open(name, "rb") as handle:
        message.attach(PurePosixPath(name).name, handle.read(), mimetypes.guess_type(name)[0] or "application/octet-stream")


@shared_task
def deliver_pending_emails():
    """Re-offer emails whose hand-off was lost (worker down at commit time)."""
    cutoff = timezone.now() - timezone.timedelta(minutes=2)
    with unscoped():
        pending = list(
            OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING, created_at__lt=cutoff, attempts__lt=5)
            .values_list("pk", "agency_id")[:500]
        )
    for email_id, agency_id in pending:
        deliver_email.delay(email_id, agency_id)
    return len(pending)


@shared_task
def record_heartbeat(name: str = "beat"):
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
    return name


@shared_task
def echo(value):
    """Round-trip probe: the worker records that it ran and returns its input."""
    record_heartbeat("worker")
    return value
