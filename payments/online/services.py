"""Online card payments: an agency's Stripe keys, and the debtor paying from the secure link.

How a payment goes (the same against Stripe and against localstripe in tests and `up`):

1. `card_setup_start`: a SetupIntent (with a Customer when the debtor saves the card for the
   plan's automatic payments); the page's card element collects the card into it with
   stripe.js's `confirmCardSetup`, so card numbers never reach the portal.
2. `online_payment_charge`: the server checks that SetupIntent is this link's, works out the
   amount again (an installment, the balance or another amount up to it), and creates and
   confirms the PaymentIntent (amount in the currency's minor units, currency, metadata: agency, client, account,
   link, installment) with that card. A card the bank wants authenticated comes back as
   `requires_action` and the page finishes it with stripe.js's `confirmCardPayment`.
3. `online_payment_record`: a succeeded PaymentIntent is posted through payment_post with the
   key `stripe:<PaymentIntent id>`, by the return page, the webhook or both: exactly once.

A declined card raises DomainError with the issuer's message; nothing is recorded.
"""
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import permissions
from collections_work.debtor_accounts.money import parse_money
from collections_work.models import DebtorAccount
from collections_work.compliance import opt_out_link
from payments.links.services import debtor_email_of
from payments.models import (
    AutopayCard, CardCharge, Installment, Payment, PaymentPlan, StripeAccount,
)
from payments.online import stripe_api
from payments.limits import latest_payment_date
from payments.posting.services import Posted, payment_post
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.tenancy import tenant_scope

logger = logging.getLogger(__name__)

NOT_CONNECTED = "Card payments are not available for this account yet. Contact the agency to pay another way."


class StripeUnavailable(DomainError):
    """Stripe (or the network to it) did not answer; nothing was charged or recorded."""


# --- The agency's keys ---------------------------------------------------------------------------

PUBLISHABLE = re.compile(r"^pk_(test|live)_[A-Za-z0-9_]{4,240}$")
SECRET = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{4,240}$")
WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9_+/=]{4,240}$")


def stripe_account_of(agency) -> StripeAccount | None:
    return StripeAccount.objects.filter(agency_id=getattr(agency, "pk", agency)).first()


def stripe_account_connect(*, agency, actor, publishable_key: str, secret_key: str = "", webhook_secret: str = "",
                           verify: bool = True) -> StripeAccount:
    """Connect the agency's Stripe account, or replace some of its keys (an empty secret keeps the
    saved one). The secret key is checked with Stripe first (`verify`). The secrets are stored
    encrypted and never written to the audit log, which records their last 4 characters.
    Raises NotAllowed for anyone but an agency admin, DomainError naming the field otherwise."""
    permissions.require(permissions.can_administer_agency(actor), "Only agency admins connect Stripe.")
    publishable_key, secret_key, webhook_secret = (value.strip() for value in
                                                   (publishable_key, secret_key or "", webhook_secret or ""))
    existing = stripe_account_of(agency)
    if not PUBLISHABLE.match(publishable_key):
        raise DomainError("A publishable key starts with pk_test_ or pk_live_.", field="publishable_key")
    if secret_key and not SECRET.match(secret_key):
        raise DomainError("A secret key starts with sk_test_, sk_live_ (or a restricted rk_...).", field="secret_key")
    if webhook_secret and not WEBHOOK_SECRET.match(webhook_secret):
        raise DomainError("A webhook signing secret starts with whsec_.", field="webhook_secret")
    if existing is None and not secret_key:
        raise DomainError("Enter the secret key.", field="secret_key")
    if existing is None and not webhook_secret:
        raise DomainError("Enter the webhook signing secret.", field="webhook_secret")
    effective_secret = secret_key or existing.secret_key
    if ("_live_" in publishable_key) != ("_live_" in effective_secret):
        raise DomainError("The publishable key and the secret key are from different modes (test and live).",
                          field="secret_key" if secret_key else "publishable_key")
    if secret_key and verify:
        _check_secret_key(secret_key)
    with transaction.atomic():
        account = existing or StripeAccount(agency_id=getattr(agency, "pk", agency))
        before = None if existing is None else _audit_view(existing)
        account.publishable_key = publishable_key
        if secret_key:
            account.set_secret_key(secret_key)
        if webhook_secret:
            account.set_webhook_secret(webhook_secret)
        account.updated_by = actor
        account.save()
        audit_record(action="stripe.connected" if existing is None else "stripe.keys_replaced", actor=actor,
                     agency=agency, obj=account, before=before,
                     after={**_audit_view(account), "replaced": [name for name, value in (
                         ("publishable_key", existing is None or publishable_key != existing.publishable_key),
                         ("secret_key", bool(secret_key)), ("webhook_secret", bool(webhook_secret))) if value]})
    return account


def _audit_view(account) -> dict:
    return {"publishable_key": account.publishable_key, "mode": account.mode,
            "secret_key": f"…{account.secret_key_last4}", "webhook_secret": f"…{account.webhook_secret_last4}"}


def _check_secret_key(secret_key: str) -> None:
    try:
        stripe_api.client_for(secret_key).v1.customers.list(params={"limit": 1})
    except stripe_api.StripeError as error:
        if getattr(error, "http_status", None) in (401, 403):
            raise DomainError("Stripe refused this secret key.", field="secret_key") from None
        raise DomainError(f"Could not reach Stripe to check the secret key ({type(error).__name__}); "
                          "try again.", field="secret_key") from None


# --- What the debtor may pay -----------------------------------------------------------------------

@dataclass(frozen=True)
class PayOptions:
    balance: Decimal
    currency: str
    plan: PaymentPlan | None
    next_installment: Installment | None
    installment_amount: Decimal | None  # what is left of the next installment (at most the balance)
    takes_payment: bool


def pay_options(account) -> PayOptions:
    plan = PaymentPlan.objects.filter(account=account, status=PaymentPlan.Status.CURRENT).first()
    nxt = None
    if plan is not None:
        nxt = (Installment.objects.filter(plan=plan, paid_amount__lt=F("amount")).order_by("due_date", "number")
               .first())
    takes = account.balance > 0 and account.status not in (DebtorAccount.Status.PAID, DebtorAccount.Status.SETTLED,
                                                             DebtorAccount.Status.CLOSED)
    return PayOptions(balance=account.balance, currency=account.currency, plan=plan, next_installment=nxt,
                      installment_amount=min(nxt.remaining, account.balance) if nxt else None, takes_payment=takes)


def pay_amount(account, *, choice: str, other_amount="") -> tuple[Decimal, Installment | None]:
    """(amount, installment) for the debtor's choice: "installment" (what is left of the next one),
    "balance", or "other" (at least 1.00 and at most the balance). Raises DomainError."""
    options = pay_options(account)
    if not options.takes_payment:
        raise DomainError("There is nothing to pay on this account.", field="choice")
    if choice == "installment":
        if options.next_installment is None:
            raise DomainError("Your plan has no installment left to pay.", field="choice")
        return options.installment_amount, options.next_installment
    if choice == "balance":
        return options.balance, None
    if choice == "other":
        try:
            amount = parse_money(other_amount)
        except DomainError as error:
            raise DomainError(error.message, field="other_amount") from None
        if amount < Decimal("1.00"):
            raise DomainError("Pay at least 1.00.", field="other_amount")
        if amount > options.balance:
            raise DomainError(f"Pay at most the balance, {options.balance:,.2f} {options.currency}.",
                              field="other_amount")
        _whole_minor_units(amount, options.currency, field="other_amount")
        return amount, None
    raise DomainError("Choose what to pay.", field="choice")


def _whole_minor_units(amount: Decimal, currency: str, field: str | None = None) -> int:
    """Stripe's amount for `amount` in `currency`; DomainError for a fraction the currency has no
    coin for (12.50 JPY: yen are charged whole)."""
    try:
        return stripe_api.to_minor_units(amount, currency)
    except ValueError:
        raise DomainError(f"{currency} is paid in whole units: enter an amount without cents.", field=field) from None


# --- Paying --------------------------------------------------------------------------------------------

def _connected(agency) -> StripeAccount:
    stripe_account = stripe_account_of(agency)
    if stripe_account is None:
        raise DomainError(NOT_CONNECTED)
    return stripe_account


def _calling(what):
    """Run a Stripe call; a decline becomes DomainError with the issuer's words, anything else
    StripeUnavailable (nothing was charged)."""
    try:
        return what()
    except stripe_api.CardError as error:
        raise DomainError(stripe_api.error_message(error), code="card_declined") from None
    except stripe_api.StripeError as error:
        logger.warning("Stripe call failed: %s", error)
        raise StripeUnavailable(stripe_api.error_message(error), code="stripe_unavailable") from None


def _metadata(link, installment=None, **extra) -> dict:
    account = link.account
    return {"agency": str(link.agency_id), "client": str(account.client_id), "account": str(account.pk),
            "link": str(link.pk), "installment": str(installment.pk) if installment else "", **extra}


def card_setup_start(*, link, save_card: bool = False) -> dict:
    """A SetupIntent for the card the debtor is about to enter (with a Customer when it is to be
    saved for the plan's automatic payments). Returns {"client_secret", "publishable_key"}."""
    stripe_account = _connected(link.agency)
    client = stripe_api.client_for(stripe_account.secret_key)
    params = {"usage": "on_session", "payment_method_types": ["card"], "metadata": _metadata(link, purpose="pay")}
    if save_card:
        plan = pay_options(link.account).plan
        if plan is None:
            raise DomainError("Only a payment plan's card can be saved for automatic payments.", field="save_card")
        customer = _calling(lambda: client.v1.customers.create(params={
            "name": link.account.debtor_name[:200], "metadata": _metadata(link, plan=str(plan.pk))}))
        params.update(usage="off_session", customer=customer.id)
    setup = _calling(lambda: client.v1.setup_intents.create(params=params))
    return {"client_secret": setup.client_secret, "publishable_key": stripe_account.publishable_key}


@dataclass(frozen=True)
class ChargeResult:
    payment_intent_id: str
    status: str  # "succeeded" or "requires_action" (the page finishes it with confirmCardPayment)
    client_secret: str = ""


def online_payment_charge(*, link, setup_intent_id: str, choice: str, other_amount="", save_card: bool = False,
                          now=None) -> ChargeResult:
    """Charge the card collected in `setup_intent_id` (which must be this link's) the amount of
    the debtor's choice. A succeeded payment is posted at once (online_payment_record). The same
    SetupIntent again returns the first charge. Raises DomainError (the decline message, a bad
    amount) or StripeUnavailable; neither leaves anything recorded."""
    account = link.account
    amount, installment = pay_amount(account, choice=choice, other_amount=other_amount)
    stripe_account = _connected(link.agency)
    client = stripe_api.client_for(stripe_account.secret_key)
    setup = stripe_api.plain(_calling(lambda: client.v1.setup_intents.retrieve(setup_intent_id)))
    if (setup.get("metadata") or {}).get("link") != str(link.pk) or setup.get("status") != "succeeded" \
            or not setup.get("payment_method"):
        raise DomainError("This card was not confirmed on this page. Enter it again.")
    try:
        with transaction.atomic():
            charge = CardCharge.objects.create(agency_id=link.agency_id, client_id=account.client_id, account=account,
                                               link=link, setup_intent_id=setup_intent_id, amount=amount)
    except IntegrityError:  # the same card submitted twice: the first charge stands
        earlier = CardCharge.objects.filter(setup_intent_id=setup_intent_id, link=link).first()
        if earlier is None or not earlier.payment_intent_id:
            raise DomainError("This payment is already being processed. Wait a moment and reload the page.") from None
        intent = stripe_api.plain(_calling(lambda: client.v1.payment_intents.retrieve(earlier.payment_intent_id)))
        return _after_charge(stripe_account, intent)
    payment_method, customer = setup["payment_method"], setup.get("customer")
    if isinstance(payment_method, dict):
        payment_method = payment_method["id"]
    params = {"amount": _whole_minor_units(amount, account.currency), "currency": account.currency.lower(),
              "payment_method": payment_method, "payment_method_types": ["card"], "confirm": True,
              "metadata": _metadata(link, installment)}
    if customer:
        params["customer"] = customer if isinstance(customer, str) else customer["id"]
    try:
        intent = stripe_api.plain(_calling(lambda: client.v1.payment_intents.create(
            params=params, options={"idempotency_key": f"portal-pay:{setup_intent_id}"})))
    except DomainError:
        CardCharge.objects.filter(pk=charge.pk).delete()  # declined or not sent: nothing stays recorded
        raise
    CardCharge.objects.filter(pk=charge.pk).update(payment_intent_id=intent["id"])
    if save_card and customer:
        card_save(link=link, stripe_account=stripe_account, payment_method_id=payment_method,
                  customer_id=params["customer"], now=now)
    return _after_charge(stripe_account, intent)


def _after_charge(stripe_account, intent) -> ChargeResult:
    status = intent.get("status")
    if status == "succeeded":
        online_payment_record(stripe_account=stripe_account, intent=intent)
        return ChargeResult(intent["id"], "succeeded")
    if status in ("requires_action", "requires_confirmation"):
        return ChargeResult(intent["id"], "requires_action", intent.get("client_secret", ""))
    CardCharge.objects.filter(payment_intent_id=intent["id"]).delete()  # failed: nothing stays recorded
    raise DomainError(_failure_message(intent), code="card_declined")


def _failure_message(intent) -> str:
    error = intent.get("last_payment_error") or {}
    return error.get("message") or "The payment did not go through. Nothing was charged."


def payment_intent_fetch(*, link, payment_intent_id: str) -> dict:
    """The PaymentIntent made on this link's page (DomainError for any other)."""
    stripe_account = _connected(link.agency)
    client = stripe_api.client_for(stripe_account.secret_key)
    intent = stripe_api.plain(_calling(lambda: client.v1.payment_intents.retrieve(payment_intent_id)))
    if (intent.get("metadata") or {}).get("link") != str(link.pk):
        raise DomainError("No such payment on this page.", code="not_found")
    return intent


def online_payment_settle(*, link, payment_intent_id: str):
    """The return page: the PaymentIntent as Stripe has it now; a succeeded one is posted (the
    webhook may have done it already: the same key makes it once). Returns (intent, Payment or None)."""
    intent = payment_intent_fetch(link=link, payment_intent_id=payment_intent_id)
    if intent.get("status") != "succeeded":
        return intent, None
    return intent, online_payment_record(stripe_account=_connected(link.agency), intent=intent).payment


def online_payment_record(*, stripe_account, intent: dict, source: str = Payment.Source.ONLINE, card_last4: str = ""):
    """Post a succeeded PaymentIntent (a plain dict) once: payment_post with the key
    `stripe:<id>` and the PaymentIntent id as the processor reference. The date is the agency's
    calendar day when the PaymentIntent was made (`created`, so every caller posts the same
    payment; a card paid at 9 pm in New York belongs to that day's books and month, not to
    tomorrow's UTC date). A PaymentIntent already posted is returned as it was (replayed=True),
    whatever date an earlier version of this rule gave it. The debtor gets a receipt email.
    Returns payment_post's Posted. Raises DomainError when the PaymentIntent is not this
    agency's, has not succeeded, or the account cannot take it."""
    metadata = intent.get("metadata") or {}
    if intent.get("status") != "succeeded":
        raise DomainError("This card payment has not succeeded.")
    if metadata.get("agency") != str(stripe_account.agency_id):
        raise DomainError("This card payment belongs to another agency.", code="not_ours")
    account = DebtorAccount.objects.filter(pk=metadata.get("account")).select_related("client", "agency").first()
    if account is None:
        raise DomainError("This card payment names no account of the agency.", code="not_ours")
    if (intent.get("currency") or "").upper() != account.currency.upper():
        raise DomainError(f"This card payment is in {intent.get('currency')}, the account in {account.currency}.")
    if metadata.get("autopay"):
        source = Payment.Source.AUTOPAY
    key = f"stripe:{intent['id']}"
    if (earlier := Payment.objects.filter(idempotency_key=key).order_by().first()) is not None:
        return Posted(earlier, replayed=True)  # one PaymentIntent is one payment: nothing to compare
    now = timezone.now()
    created = datetime.fromtimestamp(int(intent.get("created") or now.timestamp()), tz=dt_timezone.utc)
    last4 = card_last4 or _card_last4(stripe_account, intent)
    # The payment and its receipt email commit together (the send log hands the email to the worker
    # after commit): a worker lost in between cannot leave a posted payment without its receipt.
    with transaction.atomic():
        posted = payment_post(
            agency=account.agency, actor=None, account=account, amount=stripe_api.from_minor_units(intent["amount"], account.currency),
            received_on=min(account.agency.local_date(created), latest_payment_date(account.agency, now)),
            method=Payment.Method.CARD, source=source,
            reference=f"Card ending {last4}" if last4 else "Card payment (Stripe)",
            note="Automatic plan payment" if source == Payment.Source.AUTOPAY else "Paid online by the debtor",
            idempotency_key=key, processor_reference=intent["id"])
        if not posted.replayed:
            receipt_email(posted.payment.pk, posted.payment.agency_id)
    return posted


def _card_last4(stripe_account, intent) -> str:
    """The card's last 4 digits, for the payment's reference (best effort: never blocks a post)."""
    payment_method = intent.get("payment_method")
    if isinstance(payment_method, dict):
        return ((payment_method.get("card") or {}).get("last4")) or ""
    if not payment_method:
        return ""
    try:
        found = stripe_api.plain(stripe_api.client_for(stripe_account.secret_key).v1.payment_methods.retrieve(
            payment_method))
    except stripe_api.StripeError:
        return ""
    return (found.get("card") or {}).get("last4") or found.get("last4") or ""


# --- Receipts -------------------------------------------------------------------------------------

def receipt_of(payment) -> dict:
    """What a receipt shows: the payment, the account's balance now, the plan's next installment."""
    account = DebtorAccount.objects.select_related("client", "agency").get(pk=payment.account_id)
    options = pay_options(account)
    return {"payment": payment, "account": account, "agency": account.agency, "balance": account.balance,
            "next_installment": options.next_installment, "plan": options.plan}


def receipt_email(payment_id, agency_id) -> None:
    """Record the debtor's receipt email for the payment (once per payment: the send log's key);
    the send log hands it to the worker after commit."""
    with tenant_scope(agency_id):
        payment = Payment.objects.filter(pk=payment_id).first()
        if payment is None:
            return
        context = receipt_of(payment)
        contact = debtor_email_of(context["account"])
        if contact is None:
            return
        email_schedule(key=f"receipt:{payment.pk}", to=contact.value, template="debtor_receipt",
                       subject=f"Receipt: {payment.amount:,.2f} {context['account'].currency} paid to "
                               f"{context['agency'].name}",
                       agency=context["agency"], client=context["account"].client,
                       context=context | {"consumer": context["account"].debt_purpose != "commercial"},
                       secrets={"opt_out_link": opt_out_link(contact)})


# --- Saving the card for the plan's automatic payments ------------------------------------------------

def card_save(*, link, stripe_account, payment_method_id: str, customer_id: str, now=None) -> AutopayCard:
    """Keep the card (attached to its Customer) for the current plan's automatic payments."""
    now = now or timezone.now()
    plan = pay_options(link.account).plan
    if plan is None:
        raise DomainError("Only a payment plan's card can be saved for automatic payments.", field="save_card")
    client = stripe_api.client_for(stripe_account.secret_key)
    method = stripe_api.plain(_calling(lambda: client.v1.payment_methods.retrieve(payment_method_id)))
    if method.get("customer") != customer_id:  # Stripe attaches it on setup; localstripe does not
        method = stripe_api.plain(_calling(lambda: client.v1.payment_methods.attach(
            payment_method_id, params={"customer": customer_id})))
    card = method.get("card") or {}
    with transaction.atomic():
        saved, _created = AutopayCard.objects.update_or_create(plan=plan, defaults={
            "agency_id": link.agency_id, "client_id": link.account.client_id, "customer_id": customer_id,
            "payment_method_id": payment_method_id, "brand": (card.get("brand") or "")[:30],
            "last4": (card.get("last4") or "")[:4], "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"), "link": link, "saved_at": now, "stopped_at": None})
        audit_record(action="autopay.card_saved", agency=link.agency, client=link.account.client, obj=saved,
                     after={"plan": plan.pk, "card": f"{saved.brand} …{saved.last4}", "account": link.account_id})
    return saved


def autopay_stop(*, link, now=None) -> None:
    """The debtor turns automatic payments off: the saved card is no longer charged."""
    plan = pay_options(link.account).plan
    card = AutopayCard.objects.filter(plan=plan, stopped_at__isnull=True).first() if plan else None
    if card is None:
        return
    with transaction.atomic():
        AutopayCard.objects.filter(pk=card.pk).update(stopped_at=now or timezone.now())
        audit_record(action="autopay.stopped", agency=link.agency, client=link.account.client, obj=card,
                     after={"plan": plan.pk, "account": link.account_id})
