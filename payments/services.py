"""Services for payments and offers (keyword-only, one transaction, audited). Every change to an
account's money or status goes through the debtor-account kernel (debtor_accounts.actions)."""
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts import permissions
from accounts.models import ContractTerms
from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.money import parse_money
from collections_work.models import DebtorAccount
from payments.models import Payment, PlanOffer
from portal.audit import audit_record
from portal.errors import DomainError


def payment_report_direct(*, agency, actor, account, amount, received_on: date, reference: str = "",
                          note: str = "") -> Payment:
    """A client admin reports money the debtor paid straight to the client.

    The account's paid amount grows and its balance shrinks by the amount (never below zero: a
    larger amount is refused); it becomes Paid in full at zero. The payment, the timeline entry
    and the audit event are written together or not at all."""
    permissions.require(permissions.can_report_direct_payment(actor, account),
                        "Only the client's administrators can report a direct payment.")
    amount = parse_money(amount)
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
        account = actions.account_lock(account)
        before = {"paid": str(account.paid), "balance": str(account.balance), "status": account.status,
                  "last_payment_date": account.last_payment_date.isoformat() if account.last_payment_date else None}
        credited_to = actions.payment_apply(account, amount=amount, received_on=received_on)
        payment = Payment.objects.create(
            agency=agency, client=account.client, account=account, amount=amount, received_on=received_on,
            method=Payment.Method.DIRECT_TO_CLIENT, reference=reference, note=note, reported_by=actor,
            credited_to=credited_to)
        summary = f"Direct payment reported: {amount:,.2f} {account.currency} received on {received_on:%b %d, %Y}"
        if account.status == DebtorAccount.Status.PAID:
            summary += " (paid in full)"
        events.payment_recorded(account, actor=actor, summary=summary, body="\n".join(filter(None, [
            f"Reference: {reference}" if reference else "", note])))
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
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff make offers.")
    if kind not in PlanOffer.Kind.values:
        raise DomainError("Choose the kind of offer.", field="kind")
    total_amount = parse_money(total_amount, field="total_amount")
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
        account = actions.account_lock(account)
        if account.status in actions.NO_PAYMENTS_STATUSES or account.balance <= 0:
            raise DomainError("This account has nothing left to collect.", field="kind")
        actions.check_not_disputed(account, "making an offer")
        if total_amount > account.balance:
            raise DomainError(f"The offer is more than the balance of {account.balance:,.2f}.", field="total_amount")
        if kind == PlanOffer.Kind.SETTLEMENT_IN_FULL and total_amount != account.balance:
            raise DomainError(f"A settlement in full is the whole balance, {account.balance:,.2f}.",
                              field="total_amount")
        offer = PlanOffer.objects.create(agency=agency, client=account.client, account=account, kind=kind,
                                         total_amount=total_amount, installment_count=count,
                                         first_due_date=first_due_date, created_by=actor)
        events.offer_recorded(
            account, actor=actor,
            summary=f"Offer started (draft): {offer.get_kind_display()}, {total_amount:,.2f} {account.currency}"
                    f"{f' in {count} installments' if count > 1 else ''} from {first_due_date:%b %d, %Y}")
        audit_record(action="offer.started", actor=actor, agency=agency, client=account.client, obj=offer,
                     after={"kind": kind, "total": str(total_amount), "installments": count})
    return offer
