"""Services for payments and offers (keyword-only, one transaction, audited). Every change to an
account's money or status goes through the debtor-account kernel (debtor_accounts.actions)."""
from datetime import date


from accounts import permissions
from collections_work.debtor_accounts.money import parse_money
from payments.models import Payment
from payments.posting.services import payment_post
from portal.errors import DomainError


def payment_report_direct(*, agency, actor, account, amount, received_on: date, reference: str = "",
                          note: str = "", idempotency_key: str | None = None) -> Payment:
    """A client admin reports money the debtor paid straight to the client.

    Posted like every payment (payments.posting.services.payment_post): the balance shrinks by
    the amount (a larger amount is refused), the agency's commission is due from the client, the
    account is Paid in full at zero. The same `idempotency_key` again returns the payment it
    recorded (a form sent twice). Returns the payment."""
    permissions.require(permissions.can_report_direct_payment(actor, account),
                        "Only the client's administrators can report a direct payment.")
    amount = parse_money(amount)
    if not isinstance(received_on, date):
        raise DomainError("Enter the date the payment was received.", field="received_on")
    # A date in the future (the agency's or UTC's) or before 2000: payment_post refuses it.
    reference, note = (reference or "").strip(), (note or "").strip()
    if len(reference) > 100:
        raise DomainError("Keep the reference under 100 characters.", field="reference")
    if len(note) > 300:
        raise DomainError("Keep the note under 300 characters.", field="note")

    return payment_post(agency=agency, actor=actor, account=account, amount=amount, received_on=received_on,
                        method=Payment.Method.DIRECT_TO_CLIENT, received_by=Payment.ReceivedBy.CLIENT,
                        source=Payment.Source.CLIENT, reference=reference, note=note,
                        idempotency_key=idempotency_key).payment
