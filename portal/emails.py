"""Email sending through the send log (OutboundEmail).

`email_schedule` records the message under a unique key in the caller's transaction and hands
it to the worker after commit. The worker marks it sent under a row lock, so a retry or a second
scheduler finds it sent and does nothing. A beat task re-offers anything left pending.

Secrets in links (invitation tokens, sign-in unlock links, opt-out links) must not rest in the
send log: callers pass them as `secrets`, the stored bodies hold a placeholder in their place,
the secret values wait in `secret_values` only until the message is sent (or given up), and
`portal.mail_bodies.message_bodies` puts them back into the message that leaves.
"""
import logging

from django.db import transaction
from django.template.loader import render_to_string

from portal.mail_bodies import secret_placeholder
from portal.models import OutboundEmail
from portal.tasks import deliver_email
from portal.tenancy import unscoped

logger = logging.getLogger(__name__)


def email_schedule(*, key: str, to: str, subject: str, template: str, context: dict, agency=None,
                   client=None, secrets: dict | None = None, attachment: str = "") -> OutboundEmail:
    """Record an email in the send log and hand it to the worker after commit.

    Inputs: `key` (unique: the same key again returns the first email and sends nothing),
    the recipient, subject, template name (`emails/<template>.txt` and `.html`) and its context;
    `secrets` ({context name: value}) are context values that must not be stored with the bodies
    (link tokens): the bodies are rendered with a placeholder and the values kept apart until sent;
    `attachment` names a stored file (media storage) sent with the message.
    Returns the OutboundEmail (pending)."""
    secrets = dict(secrets or {})
    context = {**context, **{name: secret_placeholder(name) for name in secrets}}
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
        secret_values=secrets,
    )
    email.save(force_insert=True)
    agency_id = agency.pk if agency is not None else None

    def hand_to_worker():
        try:
            deliver_email.delay(email.pk, agency_id)
        except Exception:  # noqa: BLE001 - the broker is unreachable; the email is saved and pending,
            # so beat's deliver_pending_emails sends it within a minute: the user's action succeeded.
            logger.warning("Could not hand email %s to the worker now; it stays pending", email.pk, exc_info=True)

    transaction.on_commit(hand_to_worker)
    return email
