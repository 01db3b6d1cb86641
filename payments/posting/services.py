"""Posting payments and reversals (keyword-only, one transaction, audited).

`payment_post` is the one way money reaches an account, whoever reports it (staff, the client,
the debtor online, automatic plan payments, the API, a lockbox file): under the account's row
lock it checks the idempotency key, splits the amount over fees, interest and principal in the
client's order (the kernel, debtor_accounts.actions), pays the plan's oldest installments first,
takes the commission the client's terms set, completes the plan (a settlement writes off the
rest), and posts the trust ledger entry, the timeline entry and the audit event.
`payment_reverse` undoes part or all of a payment the same way, in reverse.
"""
import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import AllocationOrder, ContractTerms
from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.money import parse_money
from collections_work.models import DebtorAccount
from payments.ledger import services as ledger
from payments.limits import EARLIEST_PAYMENT_DATE, latest_payment_date
from payments.models import Installment, InstallmentAllocation, Payment, PaymentPlan, Reversal
from payments.posting import reads
from portal import rows
from portal.audit import audit_record
from portal.errors import DomainError
from portal.text import date_text

CENTS = Decimal("0.01")
Status = DebtorAccount.Status


class IdempotencyConflict(DomainError):
    """The key was used before for a different payment."""


def _fingerprint(*parts) -> str:
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


@dataclass(frozen=True)
class Posted:
    payment: Payment
    replayed: bool  # True: the key had been used for this same payment; nothing new was posted


KEY_LENGTH = 200  # Payment.idempotency_key and Reversal.idempotency_key


def stored_key(idempotency_key: str | None) -> str | None:
    """The idempotency key as stored: stripped, None when empty. A key longer than the column
    keeps its start and ends in the SHA-256 of the whole key, so two long keys that differ only
    after character 200 stay two keys (cutting them would make the second a replay of the first)."""
    key = (idempotency_key or "").strip()
    if len(key) <= KEY_LENGTH:
        return key or None
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:KEY_LENGTH - len(digest) - 8]}:sha256:{digest}"


def payment_post(*, agency, actor, account, amount, received_on: date, method: str, source: str,
                 received_by: str = Payment.ReceivedBy.AGENCY, reference: str = "", note: str = "",
                 idempotency_key: str | None = None, processor_reference: str | None = None, now=None) -> Posted:
    """Post a payment of `amount` (Decimal or string, cents) received on `received_on`.

    Returns Posted(payment, replayed). The same `idempotency_key` again with the same account,
    amount, method, date and receiver returns the first payment (replayed=True); with anything
    different it raises IdempotencyConflict. Raises DomainError (naming the field) for a bad
    amount, a date in the future, an unknown method, an amount over the balance (the message
    gives it), a date before 2000 (EARLIEST_PAYMENT_DATE) or an account that takes no payment. Who may post is the caller's concern (the
    views and the API check roles); the services below them trust their actor."""
    now = now or timezone.now()
    amount = parse_money(amount)
    if method not in Payment.Method.values:
        raise DomainError("Choose how the payment was made.", field="method")
    if received_by not in Payment.ReceivedBy.values:
        raise DomainError("Choose who received the payment.", field="received_by")
    if not isinstance(received_on, date) or received_on > latest_payment_date(agency, now):
        raise DomainError("The payment date cannot be in the future.", field="received_on")
    if received_on < EARLIEST_PAYMENT_DATE:  # 0001-01-01, 1900-01-01: another system's empty date
        raise DomainError(f"The payment date {date_text(received_on)} is before {date_text(EARLIEST_PAYMENT_DATE)}: "
                          "check the date.", field="received_on")
    key = stored_key(idempotency_key)
    fingerprint = _fingerprint(account.pk, amount, method, received_on.isoformat(), received_by)
    try:
        with transaction.atomic():
            # The lock and the key's earlier use in one statement, then the client's terms (they
            # decide the split and the fee): reads.account_for_post. The agency is the caller's.
            locked = reads.account_for_post(getattr(account, "pk", account), key=key, now=now)
            if locked.key_payment_id is not None:
                return _replay(Payment.objects.select_related("account").get(pk=locked.key_payment_id), fingerprint)
            if (earlier := _legacy_replay(idempotency_key, fingerprint)) is not None:
                return Posted(earlier, replayed=True)
            with rows.batched():  # the post's writes go in one round trip (PostgreSQL)
                payment = _post(agency, actor, locked, amount, received_on, method, received_by, source,
                                reference, note, key, fingerprint, processor_reference, now)
    except IntegrityError:  # the same key on another account at the same moment
        earlier = _payment_with_key(key) if key else None
        if earlier is None:
            raise
        return _replay(earlier, fingerprint)
    return Posted(payment, replayed=False)


def _payment_with_key(key: str):
    """The agency's payment posted under `key`, or None. No ORDER BY (the key is unique per
    agency): with the model's ordering, PostgreSQL may walk the agency's payments by date
    instead of probing the key's unique index. Most keys are new: the probe reads the id alone,
    and only a replay reads the payment."""
    pk = next(iter(Payment.objects.filter(idempotency_key=key).order_by().values_list("pk", flat=True)[:1]), None)
    return None if pk is None else Payment.objects.select_related("account").get(pk=pk)


def _legacy_replay(idempotency_key, fingerprint):
    """A payment posted before long keys were stored hashed (stored_key): under the key's first
    KEY_LENGTH characters, for this same payment. None otherwise (or for a key that fits)."""
    key = (idempotency_key or "").strip()
    if len(key) <= KEY_LENGTH:
        return None
    earlier = _payment_with_key(key[:KEY_LENGTH])
    return earlier if earlier is not None and earlier.fingerprint == fingerprint else None


def _replay(earlier, fingerprint) -> Posted:
    if earlier.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"This payment key was already used for a different payment ({earlier.amount:,.2f} on "
            f"{date_text(earlier.received_on)} to {earlier.account.client_reference}): nothing was posted.",
            field="idempotency_key")
    return Posted(earlier, replayed=True)


def _post(agency, actor, locked, amount, received_on, method, received_by, source, reference, note, key,
          fingerprint, processor_reference, now) -> Payment:
    account, terms = locked.account, locked.terms
    installments = reads.current_installments(account.pk)  # read before the writes, which are held
    order = tuple((terms.allocation_order if terms else AllocationOrder.FEES_FIRST).split(","))
    before = {"paid": str(account.paid), "balance": str(account.balance), "status": account.status}
    allocation, credited_to_id = actions.payment_apply(account, amount=amount, received_on=received_on, order=order,
                                                       now=now, open_promise=locked.open_promise,
                                                       callback_due=locked.callback_due)
    percent = _commission_percent(terms, locked.tiers, account)
    payment = rows.insert(Payment(
        pk=locked.payment_id, agency=agency, client_id=account.client_id, account=account, amount=amount,
        received_on=received_on, method=method, received_by=received_by, source=source,
        reference=(reference or "").strip()[:100], note=(note or "").strip()[:300], idempotency_key=key,
        fingerprint=fingerprint, to_fees=allocation.fees, to_interest=allocation.interest, to_principal=allocation.principal,
        commission_percent=percent, commission=(amount * percent / 100).quantize(CENTS, rounding=ROUND_HALF_UP),
        processor_reference=processor_reference, reported_by=actor if getattr(actor, "pk", None) else None,
        credited_to_id=credited_to_id))
    plan_id = _pay_installments(payment, installments)
    ledger.payment_entry(payment, actor=payment.reported_by, net=ledger.is_net(terms), entry_id=locked.entry_id)
    if plan_id is not None:
        _complete_plan_if_paid(plan_id, installments, account, payment, now)
    events.payment_recorded(account, actor=payment.reported_by, summary=_summary(payment, account),
                            body="\n".join(filter(None, [f"Reference: {payment.reference}" if payment.reference else "",
                                                         payment.note])))
    direct_report = source == Payment.Source.CLIENT and received_by == Payment.ReceivedBy.CLIENT
    audit_record(action="payment.direct_reported" if direct_report else "payment.posted", actor=payment.reported_by,
                 agency=agency, client=account.client_id, obj=payment, before=before,
                 after={"paid": str(account.paid), "account": account.pk, "amount": str(amount), "method": method, "source": source,
                        "received_by": received_by, "commission": str(payment.commission),
                        "balance": str(account.balance), "status": account.status})
    return payment


def _summary(payment, account) -> str:
    who = "Direct payment reported" if payment.received_by == Payment.ReceivedBy.CLIENT else "Payment received"
    summary = f"{who}: {payment.amount:,.2f} {account.currency} {payment.how_paid} on {date_text(payment.received_on)}"
    if account.status == Status.PAID:
        summary += " (paid in full)"
    elif account.status == Status.SETTLED:
        summary += " (settled)"
    return summary


def _commission_percent(terms, tiers, account) -> Decimal:
    """The contingency fee by the account's age at placement (days past due when placed)."""
    if terms is None:
        return Decimal("0.00")
    since = account.delinquency_date or account.due_date or timezone.localdate(account.placed_at)
    return terms.fee_percent_for_age(max((timezone.localdate(account.placed_at) - since).days, 0), tiers)


def _current_plan(account):
    return PaymentPlan.objects.filter(account=account, status=PaymentPlan.Status.CURRENT).first()


def _pay_installments(payment, installments):
    """The oldest installments first; a partly paid one stays partly paid. `installments`: the
    current plan's, oldest due first, locked (reads.current_installments); they are updated in
    place. Returns the plan's id, or None with no installments."""
    if not installments:
        return None
    left = payment.amount
    for installment in installments:
        if left <= 0:
            break
        part = min(left, installment.remaining)
        if part <= 0:
            continue
        installment.paid_amount += part
        rows.update(installment, ["paid_amount"])
        rows.insert(InstallmentAllocation(agency_id=payment.agency_id, client_id=payment.client_id,
                                          payment=payment, installment=installment, amount=part), returning=False)
        left -= part
    return installments[0].plan_id


def _complete_plan_if_paid(plan_id, installments, account, payment, now):
    """Every installment of the current plan `plan_id` paid: the plan is completed; a settlement
    writes off what is left. `installments` are all the plan's, locked and up to date."""
    if any(installment.paid_amount < installment.amount for installment in installments):
        if account.status == Status.ACTIVE:
            _back_on_plan(account, now)
        return
    PaymentPlan.objects.filter(pk=plan_id).update(status=PaymentPlan.Status.COMPLETED, ended_at=now,
                                                  end_reason="Every installment paid")
    if account.balance > 0:  # a settlement: the client accepted less than the balance
        write_off = account.balance
        actions.settlement_write_off(account, amount=write_off, now=now)
        ledger.settlement_entry(account, amount=write_off, effective_on=payment.received_on)
        events.payment_recorded(account, actor=None, summary=f"Settlement completed: {write_off:,.2f} "
                                f"{account.currency} written off as agreed; the account is settled")
    else:
        events.payment_recorded(account, actor=None, summary="Payment plan completed")


def _back_on_plan(account, now):
    """A missed installment caught up: the account leaves the queues again."""
    if not Installment.objects.filter(plan__account=account, plan__status=PaymentPlan.Status.CURRENT,
                                      missed_at__isnull=False, paid_amount__lt=F("amount")).exists():
        actions.status_change(account, to=Status.PLAN, by=actions.By.SYSTEM, actor=None, now=now,
                              reason="missed installments paid", summary="Missed installments paid: back on the plan")


# --- Reversals -----------------------------------------------------------------------------------

REVERSAL_WORDS = {Reversal.Kind.RETURNED_ACH: "returned by the bank", Reversal.Kind.BOUNCED_CHECK: "bounced",
                  Reversal.Kind.CARD_REFUND: "refunded", Reversal.Kind.CHARGEBACK: "charged back"}


def payment_reverse(*, agency, actor, payment, kind: str, amount, reason: str, return_code: str = "",
                    idempotency_key: str | None = None, now=None) -> Reversal:
    """Take back `amount` (the whole payment when None) of a payment: a returned ACH debit (with
    its return code), a bounced check, a card refund or a chargeback.

    The allocation is undone (installments reopen, the last paid part first), a paid or settled
    account reopens (back on its plan if one is current), the commission on that part is
    reversed, and the ledger, timeline and audit log say why. The same `idempotency_key` again
    returns the first reversal. Raises DomainError for more than what is left of the payment,
    an unknown kind, a missing reason, or an ACH return without its code."""
    now = now or timezone.now()
    if kind not in Reversal.Kind.values:
        raise DomainError("Choose what happened to the payment.", field="kind")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why; it goes on the account's timeline.", field="reason")
    return_code = (return_code or "").strip().upper()[:10]
    if kind == Reversal.Kind.RETURNED_ACH and not return_code:
        raise DomainError("Give the bank's return code (R01, R02...).", field="return_code")
    key = stored_key(idempotency_key)
    with transaction.atomic():
        account = actions.account_lock(payment.account_id)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if key and (earlier := Reversal.objects.filter(idempotency_key=key).first()) is not None:
            return earlier
        left = payment.amount - payment.reversed_amount
        if left <= 0:
            raise DomainError("This payment was already reversed in full.", field="amount")
        amount = left if amount in (None, "") else parse_money(amount)
        if amount > left:
            raise DomainError(f"At most {left:,.2f} of this payment is left to reverse.", field="amount")
        return _reverse(agency, actor, account, payment, kind, amount, reason, return_code, key, now)


def _reverse(agency, actor, account, payment, kind, amount, reason, return_code, key, now) -> Reversal:
    terms = ContractTerms.objects.filter(client_id=account.client_id).first()
    order = tuple((terms.allocation_order if terms else AllocationOrder.FEES_FIRST).split(","))
    remaining_parts = actions.Allocation(
        fees=payment.to_fees - _reversed(payment, "from_fees"), interest=payment.to_interest - _reversed(payment, "from_interest"),
        principal=payment.to_principal - _reversed(payment, "from_principal"))
    parts = actions.undo_order(remaining_parts, amount, order)
    commission_left = payment.commission - _reversed(payment, "commission")
    if amount == payment.amount - payment.reversed_amount:
        commission = commission_left  # the last of the payment: every cent of its commission goes back
    else:
        commission = (payment.commission * amount / payment.amount).quantize(CENTS, rounding=ROUND_HALF_UP)
        commission = min(commission, commission_left)
    reversal = Reversal.objects.create(
        agency=agency, client=account.client, payment=payment, kind=kind, amount=amount, return_code=return_code,
        reason=reason[:300], from_fees=parts.fees, from_interest=parts.interest, from_principal=parts.principal,
        commission=commission, idempotency_key=key, created_by=actor if getattr(actor, "pk", None) else None)
    Payment.objects.filter(pk=payment.pk).update(reversed_amount=F("reversed_amount") + amount)
    plan = _undo_installments(reversal, payment, amount)
    if account.status == Status.SETTLED and account.adjusted > 0:  # the settlement is no longer paid
        write_off = account.adjusted
        actions.settlement_undo(account, amount=write_off, reopen_to=Status.PLAN if plan else Status.ACTIVE, now=now)
        ledger.settlement_entry(account, amount=write_off, effective_on=agency.local_date(now), undo=True)
    actions.payment_undo(account, parts=parts, reopen_to=Status.PLAN if plan else Status.ACTIVE, now=now)
    ledger.reversal_entry(reversal, actor=reversal.created_by)
    code = f" ({return_code})" if return_code else ""
    events.payment_recorded(account, actor=reversal.created_by,
                            summary=f"Payment of {payment.amount:,.2f} on {date_text(payment.received_on)} "
                                    f"{REVERSAL_WORDS[kind]}{code}: {amount:,.2f} {account.currency} taken back",
                            body=reason)
    audit_record(action="payment.reversed", actor=reversal.created_by, agency=agency, client=account.client,
                 obj=reversal, after={"payment": payment.pk, "kind": kind, "amount": str(amount),
                                      "return_code": return_code, "commission": str(commission),
                                      "balance": str(account.balance), "status": account.status})
    return reversal


def _reversed(payment, field) -> Decimal:
    """What earlier reversals of `payment` took back of `field`."""
    return Reversal.objects.filter(payment=payment).aggregate(total=Sum(field))["total"] or Decimal("0.00")


def _undo_installments(reversal, payment, amount):
    """Take `amount` back from the installments this payment paid, the latest first; a completed
    plan is current again. Returns the plan when one is (again) current."""
    left = amount
    allocations = (InstallmentAllocation.objects.filter(payment=payment).select_related("installment__plan")
                   .order_by("-installment__due_date", "-installment__number"))
    net = {}
    for allocation in allocations:
        net[allocation.installment_id] = net.get(allocation.installment_id, Decimal("0.00")) + allocation.amount
    plan = None
    for allocation in allocations:
        if left <= 0 or allocation.reversal_id is not None:
            continue
        installment = allocation.installment
        part = min(left, net[installment.pk])
        if part <= 0:
            continue
        net[installment.pk] -= part
        Installment.objects.filter(pk=installment.pk).update(paid_amount=F("paid_amount") - part)
        InstallmentAllocation.objects.create(agency_id=payment.agency_id, client=payment.client, payment=payment,
                                             reversal=reversal, installment=installment, amount=-part)
        left -= part
        plan = installment.plan
    if plan is not None and plan.status == PaymentPlan.Status.COMPLETED:
        PaymentPlan.objects.filter(pk=plan.pk).update(status=PaymentPlan.Status.CURRENT, ended_at=None, end_reason="")
        plan.status = PaymentPlan.Status.CURRENT
    current = _current_plan(payment.account) if plan is None else plan
    return current if current is not None and current.status == PaymentPlan.Status.CURRENT else None
