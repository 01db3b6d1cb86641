"""Posting to the trust ledger: one balanced journal entry per payment, reversal, settlement
adjustment and remittance, inside the caller's transaction.

The lines for money the agency received (trust cash) and for money the client received directly:

    received by the agency, net remittance    Dr trust cash A; Cr payable to client A - C;
                                              Cr commission income C
    received by the agency, gross remittance  Dr trust cash A; Cr payable to client A;
                                              Dr commission receivable C; Cr commission income C
    received directly by the client           Dr collected by the client A; Cr claims collected A;
                                              Dr commission receivable C; Cr commission income C
    a reversal                                the same lines, debit and credit swapped, for its part
    a settlement adjustment                   Dr settlement discounts X; Cr claims collected X
    a remittance to the client                Dr payable to client R; Cr trust cash R

(A: amount, C: the commission on it.) Amounts are Decimal cents; an entry whose debits and
credits differ is refused here and by the database.
"""
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import ContractTerms
from payments.models import Payment
from payments.models.ledger import JournalEntry, JournalLine, LedgerAccount
from portal import rows
from portal.errors import DomainError

L = LedgerAccount
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Line:
    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO


def entry_post(*, agency_id, client, kind, memo: str, effective_on, lines: list[Line], account=None, payment=None,
               reversal=None, actor=None, entry_id: int | None = None) -> JournalEntry:
    """Write one journal entry with its lines (zero lines are left out); `client` is the Client or
    its id; `entry_id`: an id reserved for it (payments.posting.reads), else the database gives
    one. Returns the entry (the lines' ids are not read back). Raises DomainError when the debits
    and credits differ (nothing is written)."""
    client_id = getattr(client, "pk", client)
    lines = [line for line in lines if line.debit or line.credit]
    debits, credits = sum((line.debit for line in lines), ZERO), sum((line.credit for line in lines), ZERO)
    if debits != credits:
        raise DomainError(f"The journal entry does not balance: debits {debits:,.2f}, credits {credits:,.2f}.")
    entry = JournalEntry(pk=entry_id, agency_id=agency_id, client_id=client_id, kind=kind, memo=memo[:300],
                         effective_on=effective_on, account=account, payment=payment, reversal=reversal, posted_by=actor)
    rows.insert(entry)
    rows.insert_many([JournalLine(agency_id=agency_id, client_id=client_id, entry=entry, ledger_account=line.account,
                                  debit=line.debit, credit=line.credit) for line in lines], returning=False)
    return entry


def _money_lines(payment, amount: Decimal, commission: Decimal, net: bool) -> list[Line]:
    """The lines for `amount` of `payment` with `commission`, as received (a reversal swaps them)."""
    if payment.received_by == Payment.ReceivedBy.CLIENT:
        return [Line(L.CLIENT_DIRECT_COLLECTIONS, debit=amount), Line(L.CLAIMS_COLLECTED, credit=amount),
                Line(L.COMMISSION_RECEIVABLE, debit=commission), Line(L.COMMISSION_INCOME, credit=commission)]
    if net:
        return [Line(L.TRUST_CASH, debit=amount), Line(L.CLIENT_PAYABLE, credit=amount - commission),
                Line(L.COMMISSION_INCOME, credit=commission)]
    return [Line(L.TRUST_CASH, debit=amount), Line(L.CLIENT_PAYABLE, credit=amount),
            Line(L.COMMISSION_RECEIVABLE, debit=commission), Line(L.COMMISSION_INCOME, credit=commission)]


def _swap(lines: list[Line]) -> list[Line]:
    return [Line(line.account, debit=line.credit, credit=line.debit) for line in lines]


def is_net(terms) -> bool:
    """Whether the client's contract terms (None: no terms) remit net of the commission."""
    return terms is None or terms.remittance_method == ContractTerms.RemittanceMethod.NET


def _is_net(client) -> bool:
    return is_net(ContractTerms.objects.filter(client=client).only("remittance_method").first())


def payment_entry(payment, *, actor=None, net: bool | None = None, entry_id: int | None = None) -> JournalEntry:
    """The entry for a payment just posted (its commission included). `net`: whether the
    client's terms remit net (is_net), when the caller has them; else they are read. `entry_id`:
    as entry_post."""
    return entry_post(agency_id=payment.agency_id, client=payment.client_id, kind=JournalEntry.Kind.PAYMENT,
                      entry_id=entry_id, account=payment.account, payment=payment, effective_on=payment.received_on, actor=actor,
                      memo=f"Payment {payment.amount:,.2f} on {payment.account.client_reference}, {payment.how_paid}",
                      lines=_money_lines(payment, payment.amount, payment.commission,
                                         _is_net(payment.client) if net is None else net))


def reversal_entry(reversal, *, actor=None) -> JournalEntry:
    """The entry undoing a reversal's part of its payment (and that part's commission)."""
    payment = reversal.payment
    lines = _swap(_money_lines(payment, reversal.amount, reversal.commission, _is_net(payment.client)))
    return entry_post(agency_id=payment.agency_id, client=payment.client, kind=JournalEntry.Kind.REVERSAL,
                      account=payment.account, payment=payment, reversal=reversal,
                      effective_on=payment.agency.local_date(reversal.created_at), actor=actor, lines=lines,
                      memo=f"{reversal.get_kind_display()} {reversal.amount:,.2f} of the payment of "
                           f"{payment.amount:,.2f} on {payment.account.client_reference}")


def settlement_entry(account, *, amount: Decimal, effective_on, undo: bool = False, actor=None) -> JournalEntry:
    """A settlement's write-off of the rest of the balance (or, `undo`, its reinstatement)."""
    lines = [Line(L.SETTLEMENT_DISCOUNTS, debit=amount), Line(L.CLAIMS_COLLECTED, credit=amount)]
    return entry_post(agency_id=account.agency_id, client=account.client_id, account=account, actor=actor,
                      kind=JournalEntry.Kind.SETTLEMENT_ADJUSTMENT, effective_on=effective_on,
                      lines=_swap(lines) if undo else lines,
                      memo=f"Settlement {'reinstated' if undo else 'discount'} {amount:,.2f} on {account.client_reference}")


def remittance_entry(*, client, amount: Decimal, effective_on, memo: str, offset: Decimal = ZERO,
                     actor=None) -> JournalEntry:
    """Money sent from the trust account to the client (`amount`, >= 0), and the commission the
    client owed that was kept from what was payable instead (`offset`, net remittance; negative:
    commission given back, paid out with the amount). A side that comes out negative is written
    on the other side (statements.services.settle_up decides the figures)."""
    return entry_post(agency_id=client.agency_id, client=client, kind=JournalEntry.Kind.REMITTANCE, memo=memo,
                      effective_on=effective_on, actor=actor,
                      lines=[_debit(L.CLIENT_PAYABLE, amount + offset), Line(L.TRUST_CASH, credit=amount),
                             _debit(L.COMMISSION_RECEIVABLE, -offset)])


def _debit(account: str, amount: Decimal) -> Line:
    """A debit of `amount` on `account`, or a credit when it is below zero."""
    return Line(account, debit=amount) if amount >= 0 else Line(account, credit=-amount)
