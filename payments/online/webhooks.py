"""Stripe's webhooks for one agency: POST /stripe/webhook/<agency slug>/.

`stripe_webhook_receive` verifies the Stripe-Signature header with that agency's signing secret
(stripe.Webhook.construct_event), then handles the event once: its id is recorded (StripeEvent,
unique per agency) in the same transaction as what it posts, so a replayed or re-sent event does
nothing, and an event whose handling fails leaves no record and is handled when Stripe sends it
again.

    payment_intent.succeeded   the payment is posted (payment_post, key stripe:<PaymentIntent>):
                               once, whether the debtor's return page posted it first or not
    charge.refunded            each refund of the charge becomes a card-refund reversal
                               (payment_reverse, key stripe-refund:<refund id>)
    charge.dispute.created     a chargeback reversal of the disputed amount (key stripe-dispute:<id>);
                               an inquiry (status warning_*) takes no money and posts nothing
    charge.dispute.funds_withdrawn  the same chargeback (an inquiry that became one), once
    charge.dispute.closed      won: the money came back, posted as a payment again (key
                               stripe-dispute-won:<id>; money the account cannot take is audited
                               as stripe.payment_not_posted); lost: the chargeback stands; won
                               before its created event arrived: that event then posts nothing
    anything else              recorded and ignored

Out of order: a refund or dispute of a payment not posted yet (its payment_intent.succeeded is
late or lost) first posts the payment from the PaymentIntent as Stripe has it, then reverses it.
"""
import logging
from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.db import IntegrityError, transaction

from accounts.models import Agency
from collections_work.models import DebtorAccount
from payments.models import Payment, Reversal, StripeEvent
from payments.online import stripe_api
from payments.online.services import online_payment_record, stripe_account_of
from payments.posting.services import payment_post, payment_reverse
from portal.audit import audit_record
from portal.errors import DomainError
from portal.tenancy import tenant_scope

logger = logging.getLogger(__name__)


class WebhookRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class RetryLater(Exception):
    """The event cannot be handled now (Stripe unreachable); Stripe should send it again."""


@dataclass(frozen=True)
class Handled:
    event_id: str
    type: str
    outcome: str
    duplicate: bool = False


def stripe_webhook_receive(*, agency_slug: str, payload: bytes, signature: str) -> Handled:
    """Verify and handle one webhook delivery. Raises WebhookRefused(404) for an agency without
    Stripe, WebhookRefused(400) for a bad signature or body, RetryLater when Stripe must resend."""
    agency = Agency.objects.filter(slug=agency_slug).first()
    if agency is None:
        raise WebhookRefused(404, "No such agency.")
    with tenant_scope(agency):
        stripe_account = stripe_account_of(agency)
        if stripe_account is None:
            raise WebhookRefused(404, "This agency has not connected Stripe.")
        try:
            event = stripe.Webhook.construct_event(payload, signature or "", stripe_account.webhook_secret)
        except stripe.SignatureVerificationError:
            raise WebhookRefused(400, "The signature does not match this agency's webhook signing secret.") from None
        except ValueError:
            raise WebhookRefused(400, "The body is not a Stripe event.") from None
        event = stripe_api.plain(event)
        return _handle_once(agency, stripe_account, event)


def _handle_once(agency, stripe_account, event) -> Handled:
    event_id, kind = event.get("id") or "", event.get("type") or ""
    if not event_id:
        raise WebhookRefused(400, "The event has no id.")
    if StripeEvent.objects.filter(event_id=event_id).exists():
        return Handled(event_id, kind, "already processed", duplicate=True)
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(agency=agency, event_id=event_id[:100], type=kind[:100])
            outcome = _dispatch(agency, stripe_account, kind, (event.get("data") or {}).get("object") or {})
            StripeEvent.objects.filter(pk=record.pk).update(outcome=outcome[:300])
    except IntegrityError:  # the same event delivered twice at once: the other delivery handled it
        if StripeEvent.objects.filter(event_id=event_id).exists():
            return Handled(event_id, kind, "already processed", duplicate=True)
        raise
    return Handled(event_id, kind, outcome)


def _dispatch(agency, stripe_account, kind, obj) -> str:
    handler = HANDLERS.get(kind)
    if handler is None:
        return "ignored"
    try:
        return handler(agency, stripe_account, obj)
    except DomainError as error:  # the service refused (its own savepoint undid its part): say why
        logger.warning("Stripe event %s on %s refused: %s", kind, obj.get("id"), error.message)
        return f"refused: {error.message}"


def _ours(agency, obj) -> bool:
    return (obj.get("metadata") or {}).get("agency") == str(agency.pk)


def _payment_succeeded(agency, stripe_account, intent) -> str:
    if not _ours(agency, intent):
        return "ignored: not a payment made through this agency's portal"
    try:
        posted = online_payment_record(stripe_account=stripe_account, intent=intent)
    except DomainError as error:
        return _unposted(agency, intent, error)
    return f"payment {posted.payment.pk} {'already posted' if posted.replayed else 'posted'}"


def _unposted(agency, intent, error, what: str = "payment_intent") -> str:
    """Money Stripe took (or gave back, `what` "dispute") that the portal cannot post (say the
    balance was paid meanwhile): kept in the audit log for staff to settle with the debtor (a
    refund from Stripe's dashboard)."""
    audit_record(action="stripe.payment_not_posted", agency=agency, obj=None,
                 after={what: intent.get("id"), "amount": intent.get("amount"),
                        "account": (intent.get("metadata") or {}).get("account"), "reason": error.message})
    logger.warning("Stripe payment %s not posted: %s", intent.get("id"), error.message)
    return f"not posted: {error.message}"


def _payment_for(agency, stripe_account, payment_intent_id) -> Payment | None:
    """The posted payment of a PaymentIntent; when its success event has not been handled yet,
    post it now from the PaymentIntent as Stripe has it. None when it is not this agency's."""
    if not payment_intent_id:
        return None
    payment = Payment.objects.filter(processor_reference=payment_intent_id).first()
    if payment is not None:
        return payment
    try:
        intent = stripe_api.plain(stripe_api.client_for(stripe_account.secret_key).v1.payment_intents.retrieve(
            payment_intent_id))
    except stripe_api.StripeError as error:
        raise RetryLater(f"Stripe did not answer for {payment_intent_id}: {error}") from None
    if not _ours(agency, intent):
        return None
    try:
        return online_payment_record(stripe_account=stripe_account, intent=intent).payment
    except DomainError as error:
        _unposted(agency, intent, error)
        return None


def _intent_of(charge_or_dispute, stripe_account, charge_id=None) -> str:
    intent = charge_or_dispute.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if intent or not charge_id:
        return intent or ""
    try:
        charge = stripe_api.plain(stripe_api.client_for(stripe_account.secret_key).v1.charges.retrieve(charge_id))
    except stripe_api.StripeError as error:
        raise RetryLater(f"Stripe did not answer for {charge_id}: {error}") from None
    return charge.get("payment_intent") or ""


def _charge_refunded(agency, stripe_account, charge) -> str:
    payment = _payment_for(agency, stripe_account, _intent_of(charge, stripe_account))
    if payment is None:
        return "ignored: no payment of this agency for this charge"
    refunds = _refunds_of(stripe_account, charge)
    done = []
    for refund in refunds:
        if refund.get("status") not in (None, "succeeded", "pending"):
            continue
        key = f"stripe-refund:{refund['id']}"
        if Reversal.objects.filter(idempotency_key=key).exists():
            continue
        amount = min(stripe_api.from_minor_units(refund["amount"], refund.get("currency") or _currency(payment)),
                     payment.amount - _reversed(payment))
        if amount <= 0:
            continue
        reversal = payment_reverse(agency=agency, actor=None, payment=payment, kind=Reversal.Kind.CARD_REFUND,
                                   amount=amount, reason=f"Card refund {refund['id']} (Stripe)", idempotency_key=key)
        payment.refresh_from_db()
        done.append(f"{reversal.amount:,.2f}")
    return f"refunds reversed: {', '.join(done)}" if done else "no new refund"


def _refunds_of(stripe_account, charge) -> list[dict]:
    """The charge's refunds: from the event when it lists them all, else from Stripe (newer API
    versions leave them out of the charge)."""
    listed = charge.get("refunds") or {}
    if isinstance(listed, dict) and listed.get("data") is not None and not listed.get("has_more"):
        return listed["data"]
    try:
        found = stripe_api.client_for(stripe_account.secret_key).v1.refunds.list(
            params={"charge": charge["id"], "limit": 100})
    except stripe_api.StripeError as error:
        raise RetryLater(f"Stripe did not answer for the refunds of {charge.get('id')}: {error}") from None
    return [stripe_api.plain(refund) for refund in found.data]


def _reversed(payment) -> Decimal:
    return Payment.objects.values_list("reversed_amount", flat=True).get(pk=payment.pk)


def _currency(payment) -> str:
    return DebtorAccount.objects.values_list("currency", flat=True).get(pk=payment.account_id)


def _dispute_created(agency, stripe_account, dispute) -> str:
    """A dispute opened. An inquiry (status warning_*) takes no money: nothing is posted; should
    it become a chargeback, charge.dispute.funds_withdrawn posts it."""
    if (dispute.get("status") or "").startswith("warning_"):
        return "inquiry: no money taken, nothing posted"
    return _chargeback(agency, stripe_account, dispute)


def _chargeback(agency, stripe_account, dispute) -> str:
    """The disputed amount reversed as a chargeback, once per dispute (created and
    funds_withdrawn share the key), unless the dispute was won before this event arrived."""
    if StripeEvent.objects.filter(type="charge.dispute.closed", outcome=_won_first(dispute)).exists():
        return "dispute already won: no chargeback"
    payment = _payment_for(agency, stripe_account, _intent_of(dispute, stripe_account, dispute.get("charge")))
    if payment is None:
        return "ignored: no payment of this agency for this dispute"
    key = f"stripe-dispute:{dispute.get('id')}"
    if Reversal.objects.filter(idempotency_key=key).exists():
        return "chargeback already posted"
    left = payment.amount - _reversed(payment)
    disputed = stripe_api.from_minor_units(dispute.get("amount") or 0, dispute.get("currency") or _currency(payment))
    amount = min(disputed, left)
    if amount <= 0:
        return "nothing left of the payment to reverse"
    reason = dispute.get("reason") or "unspecified"
    reversal = payment_reverse(agency=agency, actor=None, payment=payment, kind=Reversal.Kind.CHARGEBACK,
                               amount=amount, reason=f"Card dispute {dispute.get('id')} ({reason}), Stripe",
                               idempotency_key=key)
    return f"chargeback of {reversal.amount:,.2f} posted"


def _won_first(dispute) -> str:
    """The recorded outcome of a won dispute whose chargeback was not posted yet: a late
    charge.dispute.created for it must post nothing."""
    return f"dispute {dispute.get('id')} won before its chargeback was posted"


def _dispute_closed(agency, stripe_account, dispute) -> str:
    status = dispute.get("status")
    if status == "warning_closed":
        return "inquiry closed: no money was taken"
    if status != "won":
        return f"dispute {status or 'closed'}: the chargeback stands"
    chargeback = Reversal.objects.filter(idempotency_key=f"stripe-dispute:{dispute.get('id')}").select_related(
        "payment__account__agency").first()
    if chargeback is None:
        return _won_first(dispute)
    payment = chargeback.payment
    try:
        posted = payment_post(agency=agency, actor=None, account=payment.account, amount=chargeback.amount,
                              received_on=agency.local_date(chargeback.created_at), method=Payment.Method.CARD,
                              source=payment.source, reference=f"Dispute {dispute.get('id')} won",
                              note=f"Card dispute won: the money of payment {payment.pk} came back",
                              idempotency_key=f"stripe-dispute-won:{dispute.get('id')}")
    except DomainError as error:  # say the account was paid off meanwhile: Stripe holds money the books cannot take
        return _unposted(agency, {"id": dispute.get("id"), "amount": dispute.get("amount"),
                                  "metadata": {"account": str(payment.account_id)}}, error, what="dispute")
    return f"dispute won: {posted.payment.amount:,.2f} posted again"


HANDLERS = {
    "payment_intent.succeeded": _payment_succeeded,
    "payment_intent.payment_failed": lambda agency, stripe_account, intent: "payment failed: nothing posted",
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
    # An inquiry that became a chargeback: the money left now (the same key as created: posted once).
    "charge.dispute.funds_withdrawn": _chargeback,
}
