"""Services for payments (keyword-only, one transaction, audited)."""
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from accounts.models import ContractTerms, Role
from collections_work import scoring
from collections_work.models import Activity, DebtorAccount
from collections_work.work_services import check_not_disputed, promises_apply_payment
from payments.models import Payment, PlanOffer
from portal.audit import audit_record
from portal.errors import DomainError, NotAllowed
from portal.text import has_non_ascii_digit

CENTS = Decimal("0.01")
NO_PAYMENTS_STATUSES = {DebtorAccount.Status.PAID, DebtorAccount.Status.CLOSED}


def _money(amount) -> Decimal:
    """A positive amount in cents; more than two decimals is a typing mistake, not a rounding job."""
    if has_non_ascii_digit(amount):  # Decimal() reads "٣٤٥" as 345 (portal/text.py)
        raise DomainError("Enter the amount with the digits 0-9, like 125.50.", field="amount")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError("Enter the amount as a number, like 125.50.", field="amount") from None
    if not value.is_finite():
        raise DomainError("Enter the amount as a number, like 125.50.", field="amount")
    if value.quantize(CENTS, rounding=ROUND_HALF_UP) != value:
        raise DomainError("Enter the amount in dollars and cents (at most two decimals).", field="amount")
    if value <= 0:
        raise DomainError("The amount must be more than zero.", field="amount")
    return value.quantize(CENTS)


def payment_report_direct(*, agency, actor, account, amount, received_on: date, reference: str = "",
                          note: str = "") -> Payment:
    """A client admin reports money the debtor paid straight to the client.

    The account's paid amount grows and its balance shrinks by the amount (never below zero: a
    larger amount is refused); it becomes Paid in full at zero. The payment, the timeline entry
    and the audit event are written together or not at all."""
    membership = getattr(actor, "membership", None)
    if membership is None or membership.role != Role.CLIENT_ADMIN or membership.client_id != account.client_id:
        raise NotAllowed("Only the client's administrators can report a direct payment.")
    amount = _money(amount)
    if not isinstance(received_on, date):
        raise DomainError("Enter the date the payment was received.", field="received_on")
    if received_on > timezone.localdate():
        raise DomainError("The payment date cannot be in the future.", field="received_on")
    reference, note = (reference or "").strip(), (note or "").strip()
    if len(reference) > 100:
        raise DomainError("Keep the reference under 100 characters.", field="reference")
    if len(note) > 300:
        raise DomainError("Keep the note under 300 characters.", field="note")

    with transaction.atomic():
        account = DebtorAccount.objects.select_for_update().get(pk=account.pk)
        if account.status in NO_PAYMENTS_STATUSES:
            raise DomainError(f"This account is {account.get_status_display().lower()}: "
                              "it cannot take another payment.", field="amount")
        if amount > account.balance:
            raise DomainError(f"The amount is more than the balance of {account.balance:,.2f} {account.currency}. "
                              "Report at most the balance.", field="amount")
        before = {"paid": str(account.paid), "balance": str(account.balance), "status": account.status,
                  "last_payment_date": account.last_payment_date.isoformat() if account.last_payment_date else None}
        credited_to = promises_apply_payment(account=account, amount=amount)
        payment = Payment.objects.create(
            agency=agency, client=account.client, account=account, amount=amount, received_on=received_on,
            method=Payment.Method.DIRECT_TO_CLIENT, reference=reference, note=note, reported_by=actor,
            credited_to=credited_to)
        account.paid += amount
        account.balance -= amount
        if account.last_payment_date is None or received_on > account.last_payment_date:
            account.last_payment_date = received_on
        update = ["paid", "balance", "last_payment_date", "updated_at"]
        if account.balance == 0:
            account.status = DebtorAccount.Status.PAID
            account.hold_reason = ""
            update += ["status", "hold_reason"]
        account.save(update_fields=update)
        scoring.account_rescore(account)
        summary = f"Direct payment reported: {amount:,.2f} {account.currency} received on {received_on:%b %d, %Y}"
        if account.status == DebtorAccount.Status.PAID:
            summary += " (paid in full)"
        Activity.objects.create(
            agency_id=account.agency_id, client_id=account.client_id, account=account, kind=Activity.Kind.PAYMENT,
            actor=actor, summary=summary[:300], body="\n".join(filter(None, [
                f"Reference: {reference}" if reference else "", note])),
            client_visible=True, occurred_at=timezone.now())
        audit_record(action="payment.direct_reported", actor=actor, agency=agency, client=account.client,
                     obj=payment, before=before,
                     after={"account": account.pk, "amount": str(amount), "received_on": received_on.isoformat(),
                            "paid": str(account.paid), "balance": str(account.balance), "status": account.status,
                            "last_payment_date": account.last_payment_date.isoformat()})
    return payment


PLAN_LONGEST_INSTALLMENTS = 60
PLAN_FIRST_DUE_WITHIN_DAYS = 60


def offer_outside_terms(offer, balance) -> list[str]:
    """Where a draft offer goes beyond what the client's contract terms let the agency agree on its
    own (the client must then approve it): plain phrases, empty when it is within them."""
    terms = ContractTerms.objects.filter(client_id=offer.client_id).first()
    if terms is None:
        return []
    problems = []
    if offer.kind in (PlanOffer.Kind.LUMP_SUM, PlanOffer.Kind.SETTLEMENT_IN_FULL):
        floor = (balance * terms.settlement_floor_percent / 100).quantize(Decimal("0.01"))
        if offer.total_amount < floor:
            problems.append(f"below the settlement floor of {terms.settlement_floor_percent.normalize():f} % ({floor:,.2f})")
    else:
        if offer.installment_count > terms.max_plan_months:
            problems.append(f"longer than the longest plan of {terms.max_plan_months} months")
        if offer.total_amount / offer.installment_count < terms.min_installment:
            problems.append(f"installments under the smallest of {terms.min_installment:,.2f}")
    return problems


def plan_offer_start(*, agency, actor, account, kind, total_amount, installment_count, first_due_date) -> PlanOffer:
    """A collector starts a payment-plan or settlement offer: recorded as a draft on the account.

    Checking it against the client's terms, the client's approval and the debtor's acceptance
    come with the payment-plan work; here the proposal itself must make sense."""
    membership = getattr(actor, "membership", None)
    if membership is None or not membership.is_staff_role:
        raise NotAllowed("Only agency staff make offers.")
    if kind not in PlanOffer.Kind.values:
        raise DomainError("Choose the kind of offer.", field="kind")
    total_amount = _money(total_amount)
    today = timezone.localdate()
    if not isinstance(first_due_date, date) or not today <= first_due_date <= today + timedelta(
            days=PLAN_FIRST_DUE_WITHIN_DAYS):
        raise DomainError(f"The first payment must be due between today and {PLAN_FIRST_DUE_WITHIN_DAYS} days from now.",
                          field="first_due_date")
    count = installment_count or 1
    if kind == PlanOffer.Kind.INSTALLMENTS and not 2 <= count <= PLAN_LONGEST_INSTALLMENTS:
        raise DomainError(f"An installment plan has 2 to {PLAN_LONGEST_INSTALLMENTS} installments.",
                          field="installment_count")
    if kind != PlanOffer.Kind.INSTALLMENTS and count != 1:
        raise DomainError("A settlement is paid at once: 1 installment.", field="installment_count")
    with transaction.atomic():
        account = DebtorAccount.objects.select_for_update().get(pk=account.pk)
        if account.status in NO_PAYMENTS_STATUSES or account.balance <= 0:
            raise DomainError("This account has nothing left to collect.", field="kind")
        check_not_disputed(account, "making an offer")
        if total_amount > account.balance:
            raise DomainError(f"The offer is more than the balance of {account.balance:,.2f}.", field="total_amount")
        if kind == PlanOffer.Kind.SETTLEMENT_IN_FULL and total_amount != account.balance:
            raise DomainError(f"A settlement in full is the whole balance, {account.balance:,.2f}.",
                              field="total_amount")
        offer = PlanOffer.objects.create(agency=agency, client=account.client, account=account, kind=kind,
                                         total_amount=total_amount, installment_count=count,
                                         first_due_date=first_due_date, created_by=actor)
        Activity.objects.create(
            agency_id=account.agency_id, client_id=account.client_id, account=account, kind=Activity.Kind.OFFER,
            actor=actor, client_visible=False, occurred_at=timezone.now(),
            summary=f"Offer started (draft): {offer.get_kind_display()}, {total_amount:,.2f} {account.currency}"
                    f"{f' in {count} installments' if count > 1 else ''} from {first_due_date:%b %d, %Y}")
        audit_record(action="offer.started", actor=actor, agency=agency, client=account.client, obj=offer,
                     after={"kind": kind, "total": str(total_amount), "installments": count})
    return offer
