"""Automatic plan payments: charging the card a debtor saved for their plan, off-session.

The scheduler (a later issue) calls `plan_autopay_charge(installment)` on due dates; this module
does not decide when.
"""
import logging

from django.db import IntegrityError, transaction

from payments.models import AutopayAttempt, AutopayCard, Installment, Payment, PaymentPlan
from payments.online import stripe_api
from payments.online.services import NOT_CONNECTED, online_payment_record, stripe_account_of
from portal.errors import DomainError
from portal.tenancy import tenant_scope

logger = logging.getLogger(__name__)
Status = AutopayAttempt.Status


def plan_autopay_charge(installment, *, now=None) -> AutopayAttempt | None:
    """Charge the plan's saved card, off-session, for what is left of `installment` (at most the
    balance). One try per call:

    * the try is recorded first (AutopayAttempt, unique per installment and try number, committed)
      and its number makes the Stripe idempotency key `autopay:<installment>:<try>`; the try is
      then worked under its row lock, so two schedulers calling at once charge once;
    * succeeded: posted through payment_post(source=AUTOPAY, key stripe:<PaymentIntent>);
    * declined: the try is marked failed with the issuer's message and nothing is posted; the
      next call makes the next try;
    * Stripe unreachable: the try stays pending and the next call finishes that same try (same
      idempotency key, or the PaymentIntent it already made) instead of charging again.

    Returns the attempt, or None when there is nothing to charge (the installment is paid, the
    plan is not current, no card is saved). Raises DomainError when the agency has no Stripe."""
    with tenant_scope(installment.agency_id):
        installment = Installment.objects.select_related("plan__account__agency").get(pk=installment.pk)
        plan, account = installment.plan, installment.plan.account
        card = AutopayCard.objects.filter(plan=plan, stopped_at__isnull=True).first()
        if plan.status != PaymentPlan.Status.CURRENT or card is None:
            return None
        stripe_account = stripe_account_of(account.agency_id)
        if stripe_account is None:
            raise DomainError(NOT_CONNECTED)
        attempt = _attempt_for(installment, account)
        if attempt is None or attempt.status != Status.PENDING:
            return attempt
        with transaction.atomic():
            locked = AutopayAttempt.objects.select_for_update(skip_locked=True).filter(pk=attempt.pk).first()
            if locked is None or locked.status != Status.PENDING:  # another scheduler has it
                return locked or attempt
            return _charge(locked, installment, account, card, stripe_account)


def _attempt_for(installment, account) -> AutopayAttempt | None:
    last = AutopayAttempt.objects.filter(installment=installment).order_by("-try_number").first()
    if last is not None and last.status in (Status.SUCCEEDED, Status.PENDING):
        return last
    amount = min(installment.remaining, account.balance)
    if amount <= 0:
        return None
    number = last.try_number + 1 if last else 1
    try:
        with transaction.atomic():
            return AutopayAttempt.objects.create(agency_id=installment.agency_id, client_id=installment.client_id,
                                                 installment=installment, try_number=number, amount=amount)
    except IntegrityError:  # made by another scheduler this very moment
        return AutopayAttempt.objects.get(installment=installment, try_number=number)


def _charge(attempt, installment, account, card, stripe_account) -> AutopayAttempt:
    client = stripe_api.client_for(stripe_account.secret_key)
    try:
        if attempt.payment_intent_id:
            intent = client.v1.payment_intents.retrieve(attempt.payment_intent_id)
        else:
            intent = client.v1.payment_intents.create(params={
                "amount": stripe_api.to_cents(attempt.amount), "currency": account.currency.lower(),
                "customer": card.customer_id, "payment_method": card.payment_method_id, "off_session": True,
                "confirm": True, "payment_method_types": ["card"],
                "metadata": {"agency": str(account.agency_id), "client": str(account.client_id),
                             "account": str(account.pk), "plan": str(installment.plan_id),
                             "installment": str(installment.pk), "autopay": "1", "attempt": str(attempt.pk)},
            }, options={"idempotency_key": attempt.idempotency_key})
    except stripe_api.CardError as error:
        intent_id = ((getattr(error, "json_body", None) or {}).get("error") or {}).get("payment_intent", {})
        attempt.status, attempt.error = Status.FAILED, stripe_api.error_message(error)[:300]
        attempt.payment_intent_id = (intent_id.get("id") if isinstance(intent_id, dict) else "") or ""
        attempt.save(update_fields=["status", "error", "payment_intent_id"])
        return attempt
    except stripe_api.StripeError as error:
        logger.warning("Automatic payment try %s left pending: %s", attempt.idempotency_key, error)
        return attempt
    intent = stripe_api.plain(intent)
    attempt.payment_intent_id = intent["id"]
    if intent.get("status") == "succeeded":
        posted = online_payment_record(stripe_account=stripe_account, intent=intent, source=Payment.Source.AUTOPAY,
                                       card_last4=card.last4)
        attempt.status, attempt.payment = Status.SUCCEEDED, posted.payment
    elif intent.get("status") == "processing":
        pass  # stays pending: the webhook posts it when it succeeds, the next call looks again
    else:
        attempt.status = Status.FAILED
        error = intent.get("last_payment_error") or {}
        attempt.error = (error.get("message") or "The bank asked the debtor to confirm this payment; "
                         "they can pay it from their secure link.")[:300]
    attempt.save(update_fields=["status", "error", "payment_intent_id", "payment"])
    return attempt
