"""Payment plans (keyword-only, one transaction, audited): the debtor builds one or accepts an
offer and e-signs it; staff cancel one; the daily check notices a missed installment.

Accepting writes, together or not at all: the plan and its installments (from the one schedule
function), the evidence of the e-signature with the agreement PDF and its SHA-256, the offer's
status, the account's move onto a plan (the kernel's transition table), the timeline and the
audit log; the signed agreement is then emailed to the debtor.
"""
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts import permissions
from collections_work.debtor_accounts.local_day import account_today as debtor_today
from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.actions import By
from collections_work.debtor_accounts.money import parse_money
from collections_work.models import DebtorAccount
from collections_work.compliance import opt_out_link
from collections_work.worklist.services import debtor_follow_up
from payments.links.services import debtor_email_of, link_check_usable
from payments.models import AcceptanceEvidence, Installment, PaymentPlan, PlanOffer
from payments.offers import rules
from payments.offers.services import describe, offer_schedule
from payments.plans import agreements
from payments.plans.wording import plan_in_words
from payments.schedule import ScheduledPayment, build_schedule
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.tenancy import tenant_scope
from portal.text import date_text, visible_text_error

MISSED_PAYMENT_TEXT = (
    "If a payment is not made by its due date, the plan may be cancelled and the full remaining balance "
    "becomes due again; the agency will contact you first. Payments already made stay credited to the account.")


@dataclass(frozen=True)
class DebtorPlan:
    """A plan the debtor built on their page, checked against the client's self-service rules."""

    kind: str
    total: Decimal
    frequency: str
    first_due_date: date
    payments: list[ScheduledPayment]
    problems: list[str]  # empty: inside the rules, may be accepted at once


def debtor_plan_check(*, account, kind: str, first_due_date: date, monthly_amount=None, months=None,
                      settle_amount=None, today: date | None = None) -> DebtorPlan:
    """A plan the debtor built: "installments" (monthly, the whole balance, by a monthly amount
    or a number of months) or "settlement" (one payment of `settle_amount`). Returns it with
    where it goes beyond the self-service rules. Raises DomainError naming the field for input
    that cannot make a plan (no amount, a date in the past, more than the balance)."""
    today = today or debtor_today(account)
    if not isinstance(first_due_date, date) or first_due_date < today:
        raise DomainError("Choose a first payment date from today on.", field="first_due_date")
    balance = account.balance
    if kind == "settlement":
        total = parse_money(settle_amount, field="settle_amount")
        if total > balance:
            raise DomainError(f"That is more than the balance of {balance:,.2f}.", field="settle_amount")
        payments = build_schedule(total=total, first_due=first_due_date, count=1)
        offer_kind = PlanOffer.Kind.SETTLEMENT_IN_FULL if total == balance else PlanOffer.Kind.LUMP_SUM
    elif kind == "installments":
        if monthly_amount in (None, "") and months in (None, ""):
            raise DomainError("Choose a monthly amount or a number of months.", field="monthly_amount")
        amount = parse_money(monthly_amount, field="monthly_amount") if monthly_amount not in (None, "") else None
        count = None if amount is not None else int(months)
        payments = build_schedule(total=balance, first_due=first_due_date, frequency="monthly", count=count,
                                  amount=amount)
        total, offer_kind = balance, PlanOffer.Kind.INSTALLMENTS
    else:
        raise DomainError("Choose a plan or a settlement.", field="kind")
    problems = rules.outside_rule(rule=rules.rule_for(account.client, balance), total=total, balance=balance,
                                  payments=payments, frequency="monthly", today=today)
    return DebtorPlan(offer_kind, total, "monthly", first_due_date, payments, problems)


def _offer_from_debtor_plan(account, plan: DebtorPlan, status, note="") -> PlanOffer:
    return PlanOffer.objects.create(
        agency_id=account.agency_id, client=account.client, account=account, kind=plan.kind, total_amount=plan.total,
        installment_count=len(plan.payments), first_due_date=plan.first_due_date, frequency=plan.frequency,
        status=status, note=note, outside_terms=plan.problems)


def debtor_plan_request(*, link, plan: DebtorPlan, note: str = "", now=None) -> PlanOffer:
    """A plan outside the self-service rules becomes a request the agency answers: an offer
    REQUESTED by the debtor, and a follow-up due now in the collector's worklist."""
    now = now or timezone.now()
    link_check_usable(link, now)
    account = link.account
    with transaction.atomic():
        offer = _offer_from_debtor_plan(account, plan, PlanOffer.Status.REQUESTED, (note or "").strip()[:2000])
        debtor_follow_up(account=account, due_at=now, note=f"Plan request: {describe(offer)}", now=now,
                         summary=f"The debtor asked for a plan: {describe(offer)} (outside the self-service rules: "
                                 + "; ".join(plan.problems) + ")")
        audit_record(action="offer.requested_by_debtor", agency=account.agency, client=account.client, obj=offer,
                     after={"problems": plan.problems})
    return offer


def _check_signature(typed_name: str, consented: bool) -> str:
    """The typed name as signed (spaces collapsed). Raises DomainError without consent, for less
    than two characters, or for an invisible or control character: a signature stored with a
    zero-width space is not the name the agreement shows."""
    typed_name = " ".join((typed_name or "").split())
    if not consented:
        raise DomainError("Tick the box to agree to sign electronically.", field="consent")
    if len(typed_name) < 2:
        raise DomainError("Type your full name to sign.", field="typed_name")
    if (problem := visible_text_error("Your name", typed_name)) is not None:
        raise DomainError(problem + ".", field="typed_name")
    return typed_name[:200]


def plan_accept(*, link, offer: PlanOffer | None = None, debtor_plan: DebtorPlan | None = None, typed_name: str,
                consented: bool, ip: str | None, user_agent: str, facts: list[str], now=None) -> AcceptanceEvidence:
    """The debtor e-signs: an offer sent to them on this link's account, or a plan they built
    inside the self-service rules. Returns the evidence (its PDF stored, its hash recorded).

    Raises DomainError when consent or the typed name is missing, the offer is not one sent to
    this account, a built plan is outside the rules, the account is disputed or not on a status
    a plan may start from, or a plan is already current; LinkUnavailable for a dead link."""
    now = now or timezone.now()
    typed_name = _check_signature(typed_name, consented)
    link_check_usable(link, now)
    with transaction.atomic():
        account = actions.account_lock(link.account_id)
        offer = _offer_to_accept(account, offer, debtor_plan)
        actions.check_not_disputed(account, "accepting a plan")
        if PaymentPlan.objects.filter(account=account, status=PaymentPlan.Status.CURRENT).exists():
            raise DomainError("A payment plan is already in place on this account.")
        if not actions.may_move(account.status, DebtorAccount.Status.PLAN, By.SYSTEM):
            raise DomainError(f"This account is {account.get_status_display().lower()}: contact the agency.")
        plan = _plan_from(account, offer, now)
        evidence = _sign(link, account, offer, plan, typed_name, ip, user_agent, facts, now)
        offer.status = PlanOffer.Status.ACCEPTED
        offer.save(update_fields=["status"])
        _withdraw_other_offers(account, offer, now)
        actions.status_change(account, to=DebtorAccount.Status.PLAN, by=By.SYSTEM, actor=None, now=now,
                              reason=f"e-signed by {typed_name}",
                              summary=f"Plan accepted and e-signed by {typed_name}: {describe(offer)}")
        audit_record(action="plan.accepted", agency=account.agency, client=account.client, obj=plan,
                     after={"offer": offer.pk, "evidence": str(evidence.reference), "sha256": evidence.agreement_sha256})
        _email_agreement(evidence)  # recorded with the plan (one commit), sent after it
    return evidence


OPEN_OFFER_STATUSES = (PlanOffer.Status.DRAFT, PlanOffer.Status.AWAITING_CLIENT, PlanOffer.Status.APPROVED,
                      PlanOffer.Status.SENT, PlanOffer.Status.REQUESTED)


def _withdraw_other_offers(account, accepted, now):
    """A plan is in place: the account's other open offers are withdrawn (nobody may accept,
    approve or send a second plan). Their links keep working: a link opens the account, and the
    debtor who built their own plan from an offer's link goes on using it to see and pay the plan."""
    others = PlanOffer.objects.filter(account=account, status__in=OPEN_OFFER_STATUSES).exclude(pk=accepted.pk)
    ids = list(others.values_list("pk", flat=True))
    if ids:
        PlanOffer.objects.filter(pk__in=ids).update(status=PlanOffer.Status.WITHDRAWN)
        events.offer_recorded(account, actor=None, at=now,
                              summary=f"{len(ids)} other open offer{'s' if len(ids) > 1 else ''} withdrawn: a plan "
                                      "is in place")


def _offer_to_accept(account, offer, debtor_plan) -> PlanOffer:
    if (offer is None) == (debtor_plan is None):
        raise DomainError("Choose the offer or the plan to accept.")
    if debtor_plan is not None:
        if debtor_plan.problems:
            raise DomainError("This plan is outside what you may choose online: send it as a request instead.")
        return _offer_from_debtor_plan(account, debtor_plan, PlanOffer.Status.SENT,
                                       "Built by the debtor within the self-service rules")
    offer = PlanOffer.objects.select_for_update().filter(pk=offer.pk, account=account).first()
    if offer is None or offer.status != PlanOffer.Status.SENT:
        raise DomainError("This offer is no longer open. Contact the agency.")
    return offer


def _plan_from(account, offer, now) -> PaymentPlan:
    plan = PaymentPlan.objects.create(agency_id=account.agency_id, client=account.client, account=account, offer=offer,
                                      kind=offer.kind, total_amount=offer.total_amount, frequency=offer.frequency,
                                      accepted_at=now)
    Installment.objects.bulk_create(
        Installment(agency_id=account.agency_id, client=account.client, plan=plan, number=payment.number,
                    due_date=payment.due_date, amount=payment.amount, is_down_payment=payment.is_down_payment)
        for payment in offer_schedule(offer))
    return plan


def _sign(link, account, offer, plan, typed_name, ip, user_agent, facts, now) -> AcceptanceEvidence:
    """Render the agreement once with the evidence reference in it, store it, record its hash."""
    reference = uuid.uuid4()
    disclosure = agreements.esign_disclosure(account.agency)
    pdf = agreements.render_agreement_pdf(agreement_context(account, offer, plan, typed_name, now, reference))
    evidence = AcceptanceEvidence(
        reference=reference, agency_id=account.agency_id, client=account.client, account=account, link=link,
        offer=offer, plan=plan, typed_name=typed_name, consented=True, disclosure_version=disclosure.version,
        disclosure_sha256=disclosure.sha256, accepted_at=now, ip_address=ip or None, user_agent=(user_agent or "")[:500],
        identity_facts=list(facts), agreement_sha256=agreements.sha256_of(pdf))
    evidence.agreement_pdf.save("agreement.pdf", ContentFile(pdf), save=False)
    evidence.save(force_insert=True)
    return evidence


def agreement_context(account, offer, plan, typed_name, signed_at, reference) -> dict:
    """What the agreement PDF shows (also used by the bench to time the render)."""
    agency = account.agency
    payments = offer_schedule(offer)
    return {"agency": agency, "client": account.client, "account": account, "debtor": account.debtor,
            "offer": offer, "plan": plan, "payments": payments, "describe": describe(offer),
            # the settlement, if any, is spelt out by the template's own sentence
            "in_words": plan_in_words(payments, frequency=offer.frequency, balance=offer.total_amount,
                                      currency=account.currency),
            "typed_name": typed_name, "signed_at": signed_at, "reference": reference,
            "missed_payment_text": MISSED_PAYMENT_TEXT,
            "consumer": account.debt_purpose != "commercial", "disclosure": agreements.esign_disclosure(agency)}


def _email_agreement(evidence):
    """Record the signed agreement's email to the debtor (in the acceptance's transaction; the
    send log hands it to the worker after commit), in the evidence's own tenant scope."""
    with tenant_scope(evidence.agency_id):
        contact = debtor_email_of(evidence.account)
        if contact is not None:
            _send_agreement(evidence, contact)


def _send_agreement(evidence, contact):
    account = evidence.account
    email_schedule(key=f"agreement:{evidence.reference}", to=contact.value, template="debtor_agreement",
                   subject=f"Your signed payment agreement with {account.agency.name}", agency=account.agency,
                   client=account.client, attachment=evidence.agreement_pdf.name,
                   secrets={"opt_out_link": opt_out_link(contact)},
                   context={"account": account, "agency": account.agency, "evidence": evidence,
                            "consumer": account.debt_purpose != "commercial",
                            "describe": plan_in_words(offer_schedule(evidence.offer), frequency=evidence.offer.frequency,
                                                      balance=account.balance, currency=account.currency)})


def agreement_verify(*, agency, actor, account, uploaded_file) -> AcceptanceEvidence | None:
    """Staff check a PDF a debtor sent back: the evidence whose stored SHA-256 it matches on this
    account, or None (any change to the file, even one byte, is no match). Audited either way."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff verify agreements.")
    digest = agreements.sha256_of(uploaded_file.read())
    match = AcceptanceEvidence.objects.filter(account=account, agreement_sha256=digest).first()
    audit_record(action="agreement.verified", actor=actor, agency=agency, client=account.client, obj=account,
                 after={"sha256": digest, "match": str(match.reference) if match else None})
    return match


def plan_cancel(*, agency, actor, plan, reason: str, now=None) -> PaymentPlan:
    """Staff cancel a current plan, saying why; the account goes back into collection."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff cancel plans.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason; it goes on the account's timeline.", field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        account = actions.account_lock(plan.account_id)
        plan = PaymentPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status != PaymentPlan.Status.CURRENT:
            raise DomainError(f"This plan is {plan.get_status_display().lower()}.")
        plan.status, plan.ended_at, plan.end_reason, plan.ended_by = PaymentPlan.Status.CANCELLED, now, reason[:300], actor
        plan.save(update_fields=["status", "ended_at", "end_reason", "ended_by"])
        if account.status == DebtorAccount.Status.PLAN:
            actions.status_change(account, to=DebtorAccount.Status.ACTIVE, by=By.STAFF, actor=actor, reason=reason,
                                  now=now, summary=f"Payment plan cancelled: {reason}")
        else:
            events.status_changed(account, actor=actor, summary=f"Payment plan cancelled: {reason}", at=now)
        audit_record(action="plan.cancelled", actor=actor, agency=agency, client=account.client, obj=plan,
                     after={"reason": reason})
    return plan


def plans_mark_missed(now=None) -> int:
    """Installments unpaid after their due date (the debtor's local day) are missed: the account
    leaves its plan status and returns to the queues, the timeline saying which installment.
    Each installment is noticed once. Returns how many were marked."""
    now = now or timezone.now()
    marked = 0
    due = (Installment.objects.filter(plan__status=PaymentPlan.Status.CURRENT, missed_at__isnull=True,
                                      due_date__lt=timezone.localdate(now) + timedelta(days=1))
           .select_related("plan__account__debtor").order_by("due_date"))
    for installment in due:
        account = installment.plan.account
        if installment.paid_amount >= installment.amount or installment.due_date >= debtor_today(account, now):
            continue
        with transaction.atomic():
            if Installment.objects.filter(pk=installment.pk, missed_at__isnull=True).update(missed_at=now) == 0:
                continue
            account = actions.account_lock(account)
            summary = (f"Installment #{installment.number} of {installment.amount:,.2f} due "
                       f"{date_text(installment.due_date)} was missed")
            if account.status == DebtorAccount.Status.PLAN:
                actions.status_change(account, to=DebtorAccount.Status.ACTIVE, by=By.SYSTEM, actor=None, now=now,
                                      reason="installment missed", summary=summary)
            else:
                events.status_changed(account, actor=None, summary=summary, at=now)
            audit_record(action="installment.missed", agency=account.agency, client=account.client, obj=installment)
            marked += 1
    return marked


