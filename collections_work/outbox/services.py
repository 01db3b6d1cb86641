"""Outbox actions (keyword-only, one transaction, audited)."""
from django.db import transaction

from accounts import permissions
from portal.audit import audit_record
from portal.errors import DomainError
from portal.models import OutboundEmail
from portal.tasks import deliver_email


def email_resend(*, agency, actor, email_id: int) -> OutboundEmail:
    """Try a failed email again from the start (EMAIL_MAX_ATTEMPTS tries, the contact policy
    asked first). Staff only. Raises DomainError when the email is not failed (it is sent,
    scheduled or deferred already); Http404-like lookups are the view's. Returns the email."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff resend emails.")
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id, agency=agency).first()
        if email is None:
            raise DomainError("No such email.")
        if email.status != OutboundEmail.Status.FAILED:
            raise DomainError(f"This email is {email.get_status_display().lower()}: only a failed email is resent.")
        error = email.last_error
        email.status, email.attempts, email.next_attempt_at = OutboundEmail.Status.PENDING, 0, None
        email.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit_record(action="email.resent", actor=actor, agency=agency, client=email.client, obj=email,
                     before={"status": "failed", "last_error": error[:200]}, after={"status": "pending"})
        transaction.on_commit(lambda: deliver_email.delay(email.pk, agency.pk))
    return email
