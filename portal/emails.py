"""Email sending through the send log (OutboundEmail).

`email_schedule` records the message under a unique key in the caller's transaction and hands
it to the worker after commit. The worker marks it sent under a row lock, so a retry or a second
scheduler finds it sent and does nothing. A beat task re-offers anything left pending.

Secrets in links (invitation tokens, sign-in unlock links, opt-out links) must not rest in the
send log: callers pass them as `secrets`, the stored bodies hold a placeholder in their place,
the secret values wait in `secret_values` only until the message is sent (or given up), and
`message_bodies` puts them back into the message that leaves.
"""
import html
import logging

from django.db import transaction
from django.template.loader import render_to_string

from portal.models import OutboundEmail
from portal.tenancy import unscoped

logger = logging.getLogger(__name__)


def secret_placeholder(name: str) -> str:
    """What a stored body shows where the secret `name` was: readable, and unlike anything a
    template renders, so putting the secret back replaces only it."""
    return f"[secret {name}: not kept in the send log]"


def message_bodies(email: OutboundEmail) -> tuple[str, str]:
    """(text, html) of `email` as it is sent: its stored bodies with the secrets put back."""
    text, body_html = email.body_text, email.body_html
    for name, value in (email.secret_values or {}).items():
        text = text.replace(secret_placeholder(name), value)
        body_html = body_html.replace(secret_placeholder(name), html.escape(value))
    return text, body_html


def email_schedule(*, key: str, to: str, subject: str, template: str, context: dict, agency=None,
                   client=None, secrets: dict | None = None) -> OutboundEmail:
    """Record an email in the send log and hand it to the worker after commit.

    Inputs: `key` (unique: the same key again returns the first email and sends nothing),
    the recipient, subject, template name (`emails/<template>.txt` and `.html`) and its context;
    `secrets` ({context name: value}) are context values that must not be stored with the bodies
    (link tokens): the bodies are rendered with a placeholder and the values kept apart until sent.
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
        secret_values=secrets,
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
