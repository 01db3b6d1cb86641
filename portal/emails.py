"""Email sending through the send log (OutboundEmail).

`email_schedule` records the message under a unique key in the caller's transaction and hands
it to the worker after commit. The worker marks it sent under a row lock, so a retry or a second
scheduler finds it sent and does nothing. A beat task re-offers anything left pending.
"""
import logging

from django.db import transaction
from django.template.loader import render_to_string

from portal.models import OutboundEmail
from portal.tenancy import unscoped

logger = logging.getLogger(__name__)


def email_schedule(*, key: str, to: str, subject: str, template: str, context: dict, agency=None,
                   client=None, secrets: dict | None = None, attachment: str = "") -> OutboundEmail:
    context = {**context, **(secrets or {})}  # link tokens (kept out of the stored bodies: see the send log)
    with unscoped():  # the key is global; look it up across tenants
        existing = OutboundEmail.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    email = OutboundEmail(
        agency=agency,
        client=client,
        idempotency_key=key,
        to=to,
        subject=subject,
        body_text=render_to_string(f"emails/{template}.txt", context),
        body_html=render_to_string(f"emails/{template}.html", context),
        attachment=attachment,
    )
    email.save(force_insert=True)
    agency_id = agency.pk if agency is not None else None

    def hand_to_worker():
        from portal.tasks import deliver_email

        try:
            deliver_email.delay(email.pk, agency_id)
        except Exception:  # noqa: BLE001 - the broker is unreachable; the email is saved and pending,
            # so beat's deliver_pending_emails sends it within a minute: the user's action succeeded.
            logger.warning("Could not hand email %s to the worker now; it stays pending", email.pk, exc_info=True)

    transaction.on_commit(hand_to_worker)
    return email
