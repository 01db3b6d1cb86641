"""Automatic plan payments: charging the card a debtor saved for their plan, off-session.

When (the agency's settings, the debtor's day; `autopay_try_due`):
    try 1      on the installment's due date, at `Agency.autopay_hour` in the debtor's time zone
               (unknown zone: once that hour has come in every candidate US zone);
    try n + 1  after try n was declined, `Agency.autopay_retry_days` later at the same hour, up to
               `Agency.autopay_max_tries` tries;
    a try left pending (Stripe unreachable) is finished by the next run, with the same key.
Beat runs `payments.tasks.autopay_due` every 15 minutes; it charges every installment whose try is
due (`autopay_run`). A declined try emails the debtor a notice with a fresh secure link, once per
try (`autopay_decline_notify`).
"""
import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from collections_work.compliance import send_decision
from collections_work.debtor_accounts import events
from collections_work.debtor_accounts.local_day import debtor_today, latest_date_anywhere, start_of_day
from collections_work.compliance import opt_out_link
from payments.links.services import debtor_email_of, link_make
from portal.emails import email_schedule

from payments.models import AutopayAttempt, AutopayCard, Installment, Payment, PaymentPlan
from payments.online import stripe_api
from payments.online.services import NOT_CONNECTED, online_payment_record, stripe_account_of
from portal.errors import DomainError
from portal.tenancy import tenant_scope
from portal.text import date_text

logger = logging.getLogger(__name__)
Status = AutopayAttempt.Status


def plan_autopay_charge(installment, *, try_number: int | None = None, now=None) -> AutopayAttempt | None:
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
    plan is not current, no card is saved). With `try_number` (the scheduler's), only that try is
    made or finished: a task delivered twice after the try was declined finds it made and does not
    charge again. Raises DomainError when the agency has no Stripe."""
    with tenant_scope(installment.agency_id):
        installment = Installment.objects.select_related("plan__account__agency").get(pk=installment.pk)
        plan, account = installment.plan, installment.plan.account
        card = AutopayCard.objects.filter(plan=plan, stopped_at__isnull=True).first()
        if plan.status != PaymentPlan.Status.CURRENT or card is None:
            return None
        stripe_account = stripe_account_of(account.agency_id)
        if stripe_account is None:
            raise DomainError(NOT_CONNECTED)
        attempt = _attempt_for(installment, account, try_number)
        if attempt is None or attempt.status != Status.PENDING:
            return attempt
        with transaction.atomic():
            locked = AutopayAttempt.objects.select_for_update(skip_locked=True).filter(pk=attempt.pk).first()
            if locked is None or locked.status != Status.PENDING:  # another scheduler has it
                return locked or attempt
            return _charge(locked, installment, account, card, stripe_account)


def _attempt_for(installment, account, try_number=None) -> AutopayAttempt | None:
    last = AutopayAttempt.objects.filter(installment=installment).order_by("-try_number").first()
    if last is not None and last.status in (Status.SUCCEEDED, Status.PENDING):
        return last
    amount = min(installment.remaining, account.balance)
    if amount <= 0:
        return None
    number = last.try_number + 1 if last else 1
    if try_number is not None and number != try_number:  # that try was made already (or is not the next)
        return last
    try:
        with transaction.atomic():
            return AutopayAttempt.objects.create(agency_id=installment.agency_id, client_id=installment.client_id,
                                                 installment=installment, try_number=number, amount=amount)
    except IntegrityError:  # made by another scheduler this very moment
        return AutopayAttempt.objects.get(installment=installment, try_number=number)


def _charge(attempt, installment, account, card, stripe_account) -> AutopayAttempt:
    client = stripe_api.client_for(stripe_account.secret_key)
    try:
        units = stripe_api.to_minor_units(attempt.amount, account.currency)
    except ValueError:  # a fraction of a yen (say) cannot be charged: the debtor pays it from the link
        attempt.status = Status.FAILED
        attempt.error = f"{attempt.amount} {account.currency} has a fraction this currency cannot be charged in."
        attempt.save(update_fields=["status", "error"])
        return attempt
    try:
        if attempt.payment_intent_id:
            intent = client.v1.payment_intents.retrieve(attempt.payment_intent_id)
        else:
            intent = client.v1.payment_intents.create(params={
                "amount": units, "currency": account.currency.lower(),
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


# --- When: the scheduler's side -----------------------------------------------------------------

def _morning(zone: str, day, hour: int) -> datetime:
    """The instant it is `hour` o'clock on `day` for the debtor (every candidate zone when unknown)."""
    return start_of_day(zone, day) + timedelta(hours=hour)


def autopay_try_due(installment, *, now=None) -> int | None:
    """The number of the try to make for `installment` at `now`, or None when none is due: the
    first on the due date's morning, each next one `autopay_retry_days` after the debtor's day of
    a declined try, at most `autopay_max_tries`; a pending try is due again at once (finished with
    its own key). `installment` needs plan__account__agency loaded."""
    now = now or timezone.now()
    account = installment.plan.account
    agency, zone = account.agency, account.debtor_time_zone
    if installment.remaining <= 0:
        return None
    last = installment.autopay_attempts.order_by("-try_number").first()
    if last is None:
        return 1 if now >= _morning(zone, installment.due_date, agency.autopay_hour) else None
    if last.status == Status.PENDING:
        return last.try_number
    if last.status == Status.SUCCEEDED or last.try_number >= agency.autopay_max_tries:
        return None
    retry_day = debtor_today(zone, last.created_at) + timedelta(days=agency.autopay_retry_days)
    return last.try_number + 1 if now >= _morning(zone, retry_day, agency.autopay_hour) else None


def installments_for_autopay(now=None):
    """Installments (in the open tenant scope) that may have a try due: unpaid, due by now
    anywhere, of a current plan with a saved card that was not stopped. A superset, refined by
    autopay_try_due."""
    now = now or timezone.now()
    return (Installment.objects.filter(plan__status=PaymentPlan.Status.CURRENT, plan__autopay_card__isnull=False,
                                       plan__autopay_card__stopped_at__isnull=True,
                                       due_date__lte=latest_date_anywhere(now), paid_amount__lt=F("amount"))
            .select_related("plan__account__agency", "plan__account__debtor").order_by("due_date", "id"))


def autopay_run(*, now=None) -> dict:
    """Charge every installment (in the open tenant scope) whose try is due now; notify the
    debtor of each declined try. Safe to run any number of times, by two schedulers at once:
    a try is made once (its row), charged once (its row lock and idempotency key), notified
    once (the email's key). Returns counts {"charged", "declined", "pending"}."""
    now = now or timezone.now()
    counts = {"charged": 0, "declined": 0, "pending": 0}
    for installment in installments_for_autopay(now):
        number = autopay_try_due(installment, now=now)
        if number is None:
            continue
        try:
            attempt = plan_autopay_charge(installment, try_number=number, now=now)
        except DomainError as error:  # the agency disconnected Stripe: nothing can be charged
            logger.warning("Automatic payments of agency %s skipped: %s", installment.agency_id, error.message)
            return counts
        if attempt is None or attempt.try_number != number:
            continue
        if attempt.status == Status.SUCCEEDED:
            counts["charged"] += 1
        elif attempt.status == Status.FAILED:
            counts["declined"] += 1
            autopay_decline_notify(attempt, now=now)
        else:
            counts["pending"] += 1
    return counts


def autopay_decline_notify(attempt, *, now=None) -> None:
    """Tell the debtor their saved card was declined for an installment, with a fresh secure link
    to pay another way, and when the next try is (if any). Once per try: the email's key is
    `autopay-declined:<installment>:<try>`; the timeline says whether the debtor was emailed."""
    now = now or timezone.now()
    key = f"autopay-declined:{attempt.installment_id}:{attempt.try_number}"
    installment = Installment.objects.select_related("plan__account__agency", "plan__account__client").get(
        pk=attempt.installment_id)
    account = installment.plan.account
    agency = account.agency
    with transaction.atomic():
        # Under the try's lock, so two schedulers agree on "notified already".
        locked = AutopayAttempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.notified_at is not None:
            return
        locked.notified_at = now
        locked.save(update_fields=["notified_at"])
        tries_left = agency.autopay_max_tries - attempt.try_number
        next_try = (debtor_today(account.debtor_time_zone, now) + timedelta(days=agency.autopay_retry_days)
                    if tries_left > 0 else None)
        email = debtor_email_of(account)
        # Only a message that may never go (opt-out, cease) is dropped; one that must wait (the
        # debtor's night, a dispute) is recorded and the worker's contact-policy check defers it.
        allowed = email is not None and send_decision(account=account, channel="email", contact=email,
                                                      at=now).action != "cancel"
        summary = (f"Automatic payment of {attempt.amount:,.2f} for installment #{installment.number} declined "
                   f"({attempt.error or 'no reason given'})")
        if allowed:
            _link, url = link_make(account=account, channel="email", sent_to=email.value, now=now)
            email_schedule(key=key, to=email.value, template="autopay_declined", agency=agency, client=account.client,
                           account=account, kind="autopay_declined",
                           subject=f"Your payment for account {account.client_reference} did not go through",
                           context={"account": account, "agency": agency, "installment": installment,
                                    "attempt": attempt, "next_try": next_try,
                                    "consumer": account.debt_purpose != "commercial"},
                           secrets={"link": url, "opt_out_link": opt_out_link(email)})
            summary += f"; the debtor was emailed at {email.value}"
        else:
            summary += "; no email may go to the debtor (none on file, opted out, or a cease request)"
        summary += f"; next try on {date_text(next_try)}" if next_try else "; no more automatic tries"
        events.payment_recorded(account, actor=None, summary=summary[:300], at=now)
