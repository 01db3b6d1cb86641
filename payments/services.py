"""Services for payments and offers (keyword-only, one transaction, audited). Every change to an
account's money or status goes through the debtor-account kernel (debtor_accounts.actions)."""
from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts import permissions
from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.money import parse_money
from collections_work.models import DebtorAccount
from payments.models import Payment
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
