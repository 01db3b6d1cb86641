"""Writing the audit log. Call `audit_record` inside the transaction of the change it records.

Each action code has its words in ACTION_LABELS (the log and its filter show them; a test keeps
every code the code base writes in the table), and an event's object is named for people: a
row that belongs to a debtor account is named by the client's reference ("Dispute on INV-1001"),
not by an internal id.
"""
import contextvars
from decimal import Decimal

from django.db import models

from portal import rows
from portal.models import AuditEvent

# The request's client IP, set by middleware so services need not pass the request around.
request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_ip", default=None)


ACTION_LABELS = {
    # Sign-in and people
    "auth.signed_in": "Signed in",
    "auth.sign_in_failed": "Sign-in failed",
    "auth.ip_locked_out": "Sign-in locked for an address from one IP",
    "auth.unlocked": "Sign-in unlocked by emailed link",
    "invitation.created": "Invitation sent",
    "invitation.accepted": "Invitation accepted",
    "invitation.revoked": "Invitation revoked",
    "membership.activated": "Member activated",
    "membership.role_changed": "Role changed",
    "mfa.totp_added": "Authenticator app added",
    "mfa.totp_removed": "Authenticator app removed",
    "mfa.recovery_codes_added": "Recovery codes created",
    "mfa.recovery_codes_removed": "Recovery codes removed",
    "mfa.webauthn_added": "Security key added",
    "mfa.webauthn_removed": "Security key removed",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    # The agency and its clients
    "agency.settings_changed": "Agency settings changed",
    "client.created": "Client created",
    "client.onboarding.company": "Client onboarding: company details",
    "client.onboarding.contacts": "Client onboarding: contacts",
    "client.onboarding.remittance": "Client onboarding: remittance details",
    "client.onboarding.terms": "Client onboarding: contract terms",
    "terms.updated": "Contract terms changed",
    # Placements
    "placement.uploaded": "File uploaded for placement",
    "placement.mapping_set": "Placement columns mapped",
    "placement.commit_started": "Placement started",
    "placement.completed": "Placement completed",
    "placement.cancelled": "Placement cancelled",
    "placement.read": "Placement file read",
    "placement.refused": "Placement file refused",
    "placement.sheet_chosen": "Placement sheet chosen",
    "placement.resent": "Placement work sent again",
    "placement.stalled_failed": "Placement work stopped",
    # Payment files (bank lockbox, processor exports) through the placement machinery
    "payment_file.uploaded": "Payment file uploaded",
    "payment_file.read": "Payment file read",
    "payment_file.refused": "Payment file refused",
    "payment_file.sheet_chosen": "Payment file sheet chosen",
    "payment_file.mapping_set": "Payment file columns mapped",
    "payment_file.commit_started": "Payment file posting started",
    "payment_file.completed": "Payment file posted",
    "payment_file.cancelled": "Payment file cancelled",
    "payment_file.resent": "Payment file work sent again",
    "payment_file.stalled_failed": "Payment file work stopped",
    # Debtor accounts
    "accounts.exported": "Accounts exported",
    "account.status_changed": "Account status changed",
    "account.note_added": "Note added",
    "account.message_added": "Message to the agency",
    "account.document_added": "Document added",
    "account.call_logged": "Call logged",
    "account.email_sent": "Email sent to the debtor",
    "account.cease_recorded": "Cease-communication recorded",
    "debtor.time_zone_set": "Debtor's time zone set",
    "promise.recorded": "Promise to pay recorded",
    "promise.broken": "Promise to pay broken",
    "callback.scheduled": "Callback scheduled",
    "dispute.opened": "Dispute opened",
    "dispute.resolved": "Dispute resolved",
    "contact.opted_out": "Debtor opted out",
    "payment.direct_reported": "Direct payment reported",
    "offer.started": "Payment offer drafted",
    "offer.created": "Payment offer made",
    "offer.sent": "Payment offer sent",
    "offer.withdrawn": "Payment offer withdrawn",
    "offer.requested_by_debtor": "Debtor asked for a payment plan",
    "plan_rules.changed": "Plan rules changed",
    "plan.accepted": "Payment plan accepted",
    "plan.cancelled": "Payment plan cancelled",
    "agreement.verified": "Signed agreement verified",
    "installment.missed": "Installment missed",
    "payment.reversed": "Payment reversed",
    "autopay.card_saved": "Card saved for automatic payments",
    "autopay.stopped": "Automatic payments stopped",
    "stripe.connected": "Stripe account connected",
    "stripe.payment_not_posted": "Card payment received but not posted",
    # The debtor's secure link
    "link.issued": "Secure link issued",
    "link.verified": "Debtor confirmed identity",
    "link.locked": "Secure link locked after failed identity checks",
    "link.revoked": "Secure link revoked",
    "callback.requested_by_debtor": "Debtor asked for a call back",
    "dispute.opened_by_debtor": "Debtor opened a dispute",
    # The worklist's settings
    "queue.created": "Queue created",
    "queue.changed": "Queue changed",
    "queue.deleted": "Queue deleted",
    "team.created": "Team created",
    "team.changed": "Team changed",
    "template.created": "Email template created",
    "template.changed": "Email template changed",
    "contact_policy.changed": "Contact policy changed",
    # Statements and letters
    "statement.issued": "Remittance statement issued",
    "statement.remitted": "Remittance recorded",
    "letter.created": "Letter made",
    "letter.cancelled": "Letter cancelled before printing (contact policy)",
    "print_batch.made": "Print batch made",
    "print_batch.mailed": "Print batch marked mailed",
    # Scheduled work and the outbox
    "plan.broken": "Payment plan broken",
    "email.resent": "Failed email sent again",
}


def action_label(action: str) -> str:
    """The action in words; a code missing from ACTION_LABELS still reads as words
    ("thing.was_done" -> "Thing was done")."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    words = action.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def object_name(obj: models.Model) -> str:
    """How the log names `obj`: a row of a debtor account by the account's reference (a dispute,
    promise, callback, payment, offer or document: "Dispute on INV-1001"), anything else as it
    names itself."""
    account = getattr(obj, "account", None)
    reference = getattr(account, "client_reference", None)
    if reference:
        return f"{str(obj._meta.verbose_name).capitalize()} on {reference}"
    return str(obj)


def snapshot(obj: models.Model, fields: list[str]) -> dict:
    """A JSON-safe picture of `fields` on `obj`, for before/after in the audit log."""
    picture = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, models.Model):
            value = value.pk
        elif isinstance(value, Decimal):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        picture[name] = value
    return picture


def audit_record(*, action, actor=None, agency=None, client=None, obj=None, before=None, after=None, actor_email=""):
    """Append one event. `actor` may be None for the system or an anonymous visitor; `agency` and
    `client` are instances or ids. Returns the event; inside portal.rows.batched() it is written
    with the batch and its id stays None (nobody reads an audit event's id back)."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return rows.insert(AuditEvent(
        agency_id=getattr(agency, "pk", agency),
        client_id=getattr(client, "pk", client),
        actor=actor,
        actor_email=actor.email if actor is not None else actor_email,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=object_name(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        ip_address=request_ip.get(),
    ), returning=False, scoped=False)  # sign-ins and other events with no tenant in scope
