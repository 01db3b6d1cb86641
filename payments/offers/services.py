"""Offers (keyword-only, one transaction, audited): a collector builds one, the client approves
or declines one beyond its terms, staff send it by secure link or withdraw it.

Every step writes the account's timeline (debtor_accounts.events) and the audit log."""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts import permissions
from accounts.models import ContractTerms
from collections_work.debtor_accounts import actions, events
from collections_work.debtor_accounts.money import parse_money
from payments.links.services import link_issue
from payments.models import PlanOffer, PlanRule, SecureLink
from payments.offers import rules
from payments.schedule import ScheduledPayment, build_schedule
from portal.audit import audit_record
from portal.errors import DomainError
from portal.text import date_text

CENT = Decimal("0.01")
FIRST_DUE_WITHIN_DAYS = 60
LONGEST_PLAN_INSTALLMENTS = 60
Status = PlanOffer.Status


@dataclass(frozen=True)
class Proposal:
    """A checked offer before it is saved: its schedule and where it goes beyond the terms."""

    kind: str
    total: Decimal
    frequency: str
    down_payment: Decimal
    first_due_date: date
    payments: list[ScheduledPayment]
    outside_terms: list[str]
    installment_amount: Decimal | None = None  # when built by amount rather than by count

    @property
    def installment_count(self) -> int:
        return len([p for p in self.payments if not p.is_down_payment])


def offer_schedule(offer) -> list[ScheduledPayment]:
    """The schedule of a saved offer (the same function that showed it before it was saved)."""
    by_amount = offer.installment_amount is not None
    return build_schedule(total=offer.total_amount, first_due=offer.first_due_date, frequency=offer.frequency,
                          count=None if by_amount else offer.installment_count,
                          amount=offer.installment_amount if by_amount else None, down_payment=offer.down_payment)


def offer_check(*, account, kind, total_amount, first_due_date, frequency="monthly", installment_count=None,
                installment_amount=None, down_payment=None, today: date | None = None) -> Proposal:
    """Check an offer on a locked or fresh `account` and build its schedule, saving nothing.

    Amounts are Decimals or strings in cents; give `installment_count` or `installment_amount`
    for installments (a settlement is one payment). Raises DomainError naming the field for an
    offer that makes no sense: an unknown kind, a total over the balance, a settlement in full
    that is not the balance, a first payment not within FIRST_DUE_WITHIN_DAYS, 2 to
    LONGEST_PLAN_INSTALLMENTS installments, or a disputed or closed account."""
    today = today or timezone.localdate()
    frequency = frequency or "monthly"
    if kind not in PlanOffer.Kind.values:
        raise DomainError("Choose the kind of offer.", field="kind")
    total = parse_money(total_amount, field="total_amount")
    down = parse_money(down_payment, field="down_payment", allow_zero=True) if down_payment not in (None, "") else Decimal("0.00")
    if not isinstance(first_due_date, date) or not today <= first_due_date <= today + timedelta(days=FIRST_DUE_WITHIN_DAYS):
        raise DomainError(f"The first payment must be due between today and {FIRST_DUE_WITHIN_DAYS} days from now.",
                          field="first_due_date")
    if account.status in actions.NO_PAYMENTS_STATUSES or account.balance <= 0:
        raise DomainError("This account has nothing left to collect.", field="kind")
    actions.check_not_disputed(account, "making an offer")
    if total > account.balance:
        raise DomainError(f"The offer is more than the balance of {account.balance:,.2f}.", field="total_amount")
    if kind == PlanOffer.Kind.SETTLEMENT_IN_FULL and total != account.balance:
        raise DomainError(f"A settlement in full is the whole balance, {account.balance:,.2f}.", field="total_amount")
    amount = None
    if kind == PlanOffer.Kind.INSTALLMENTS:
        count, amount = _installments(installment_count, installment_amount)
    else:
        if (installment_count or 1) != 1 or installment_amount not in (None, "") or down:
            raise DomainError("A settlement is paid at once: 1 payment, no down payment.", field="installment_count")
        count = 1
    payments = build_schedule(total=total, first_due=first_due_date, frequency=frequency, count=count, amount=amount,
                              down_payment=down)
    if kind == PlanOffer.Kind.INSTALLMENTS and not 2 <= len(payments) <= LONGEST_PLAN_INSTALLMENTS + 1:
        raise DomainError(f"An installment plan has 2 to {LONGEST_PLAN_INSTALLMENTS} installments.",
                          field="installment_count")
    terms = ContractTerms.objects.filter(client_id=account.client_id).first()
    problems = rules.outside_terms(terms=terms, kind=kind, total=total, balance=account.balance, payments=payments,
                                   frequency=frequency)
    return Proposal(kind, total, frequency, down, first_due_date, payments, problems, amount)


def _installments(count, amount):
    if amount not in (None, ""):
        if count not in (None, "", 1):
            raise DomainError("Give the number of installments or their amount, not both.", field="installment_amount")
        return None, parse_money(amount, field="installment_amount")
    if count in (None, "") or not 2 <= int(count) <= LONGEST_PLAN_INSTALLMENTS:
        raise DomainError(f"An installment plan has 2 to {LONGEST_PLAN_INSTALLMENTS} installments.",
                          field="installment_count")
    return int(count), None


def offer_create(*, agency, actor, account, kind, total_amount, first_due_date, frequency="monthly",
                 installment_count=None, installment_amount=None, down_payment=None, note="") -> PlanOffer:
    """A collector's offer (see offer_check for the input and its errors). Within the client's
    terms it is ready to send; beyond them it waits for the client, `outside_terms` saying where.
    Raises NotAllowed for anyone but agency staff."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff make offers.")
    frequency = frequency or "monthly"
    with transaction.atomic():
        account = actions.account_lock(account)
        proposal = offer_check(account=account, kind=kind, total_amount=total_amount, first_due_date=first_due_date,
                               frequency=frequency, installment_count=installment_count,
                               installment_amount=installment_amount, down_payment=down_payment)
        offer = PlanOffer.objects.create(
            agency=agency, client=account.client, account=account, kind=kind, total_amount=proposal.total,
            installment_count=proposal.installment_count, installment_amount=proposal.installment_amount,
            first_due_date=first_due_date, frequency=frequency,
            down_payment=proposal.down_payment, outside_terms=proposal.outside_terms, note=(note or "").strip(),
            status=Status.AWAITING_CLIENT if proposal.outside_terms else Status.DRAFT, created_by=actor)
        events.offer_recorded(account, actor=actor, summary=f"Offer made: {describe(offer)}"
                              + (" — waits for the client: " + "; ".join(proposal.outside_terms)
                                 if proposal.outside_terms else " — ready to send"))
        audit_record(action="offer.created", actor=actor, agency=agency, client=account.client, obj=offer,
                     after={"kind": kind, "total": str(proposal.total), "installments": offer.installment_count,
                            "frequency": frequency, "status": offer.status})
    return offer


def describe(offer) -> str:
    """"Installments, 1,000.00 USD: 100.00 down and 3 monthly from Jan 31, 2027" and the like."""
    currency = offer.account.currency
    if offer.kind != PlanOffer.Kind.INSTALLMENTS:
        return f"{offer.get_kind_display()} of {offer.total_amount:,.2f} {currency} by {date_text(offer.first_due_date)}"
    down = f"{offer.down_payment:,.2f} down and " if offer.down_payment else ""
    return (f"{offer.get_kind_display()}, {offer.total_amount:,.2f} {currency}: {down}{offer.installment_count} "
            f"{offer.get_frequency_display().lower()} from {date_text(offer.first_due_date)}")


def _decide(*, agency, actor, offer, note, to, verb) -> PlanOffer:
    permissions.require(permissions.can_recall_or_hold(actor, offer.account),
                        "Only the client's admins approve or decline offers.")
    note = (note or "").strip()
    if to == Status.DECLINED and not note:
        raise DomainError("Say why, so the collector can offer something else.", field="note")
    with transaction.atomic():
        offer = PlanOffer.objects.select_for_update().select_related("account").get(pk=offer.pk)
        if offer.status != Status.AWAITING_CLIENT:
            raise DomainError(f"This offer is {offer.get_status_display().lower()}: there is nothing to decide.")
        offer.status, offer.decided_by, offer.decided_at, offer.decision_note = to, actor, timezone.now(), note
        offer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        events.offer_recorded(offer.account, actor=actor, client_visible=True,
                              summary=f"Offer {verb} by the client: {describe(offer)}" + (f". {note}" if note else ""))
        audit_record(action=f"offer.{verb}", actor=actor, agency=agency, client=offer.client, obj=offer,
                     after={"note": note})
    return offer


def offer_approve(*, agency, actor, offer, note="") -> PlanOffer:
    """The client admin approves an offer beyond its terms; the collector may then send it."""
    return _decide(agency=agency, actor=actor, offer=offer, note=note, to=Status.APPROVED, verb="approved")


def offer_decline(*, agency, actor, offer, note) -> PlanOffer:
    """The client admin declines an offer beyond its terms, saying why (required)."""
    return _decide(agency=agency, actor=actor, offer=offer, note=note, to=Status.DECLINED, verb="declined")


def offer_withdraw(*, agency, actor, offer, now=None) -> PlanOffer:
    """Staff withdraw an offer not yet accepted; its links stop working."""
    permissions.require(permissions.can_work_accounts(actor), "Only agency staff withdraw offers.")
    now = now or timezone.now()
    with transaction.atomic():
        offer = PlanOffer.objects.select_for_update().select_related("account").get(pk=offer.pk)
        if offer.status in (Status.ACCEPTED, Status.WITHDRAWN, Status.EXPIRED):
            raise DomainError(f"This offer is {offer.get_status_display().lower()}.")
        offer.status = Status.WITHDRAWN
        offer.save(update_fields=["status"])
        SecureLink.objects.filter(offer=offer, revoked_at__isnull=True).update(revoked_at=now, revoked_by=actor)
        events.offer_recorded(offer.account, actor=actor, summary=f"Offer withdrawn: {describe(offer)}")
        audit_record(action="offer.withdrawn", actor=actor, agency=agency, client=offer.client, obj=offer)
    return offer


def offer_send(*, agency, actor, offer, channel: str, now=None) -> tuple[PlanOffer, str]:
    """Send an offer that is ready (within terms, or approved by the client) to the debtor by a
    new secure link: emailed now if the contact policy allows it, or made for a letter.
    Returns (offer, the link's URL: shown once to staff for a letter). Raises DomainError for an
    offer that may not be sent, or with the policy's words when an email may not go now."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = PlanOffer.objects.select_for_update().select_related("account").get(pk=offer.pk)
        if not offer.can_be_sent:
            raise DomainError(f"This offer is {offer.get_status_display().lower()}: it cannot be sent.")
        account = actions.account_lock(offer.account_id)
        actions.check_not_disputed(account, "sending an offer")
        _link, url = link_issue(agency=agency, actor=actor, account=account, offer=offer, channel=channel, now=now)
        offer.status, offer.sent_at = Status.SENT, now
        offer.save(update_fields=["status", "sent_at"])
        audit_record(action="offer.sent", actor=actor, agency=agency, client=offer.client, obj=offer,
                     after={"channel": channel})
    return offer, url


RULE_FIELDS = ("balance_from", "balance_to", "min_installment", "max_months", "min_settlement_percent",
               "max_defer_days")


def plan_rules_save(*, agency, actor, client, rules: list[dict]) -> list[PlanRule]:
    """Replace a client's self-service plan rules. `rules` are dicts of RULE_FIELDS; sorted by
    `balance_from` they must start at 0, follow each other without gap or overlap (the next
    range starts one cent after the last one ends) and the last has no upper bound, so every
    balance has exactly one rule. Raises NotAllowed for anyone but an agency admin, DomainError
    saying which range is wrong."""
    permissions.require(permissions.can_administer_agency(actor), "Only agency admins change plan rules.")
    ranges = sorted(rules, key=lambda rule: rule["balance_from"])
    _check_ranges(ranges)
    with transaction.atomic():
        before = list(PlanRule.objects.filter(client=client).values(*RULE_FIELDS))
        PlanRule.objects.filter(client=client).delete()
        saved = PlanRule.objects.bulk_create(PlanRule(agency=agency, client=client, **{name: rule[name] for name in
                                                                                       RULE_FIELDS}) for rule in ranges)
        audit_record(action="plan_rules.changed", actor=actor, agency=agency, client=client, obj=client,
                     before={"rules": [{k: str(v) for k, v in rule.items()} for rule in before]},
                     after={"rules": [{k: str(rule[k]) for k in RULE_FIELDS} for rule in ranges]})
    return saved


def _check_ranges(ranges):
    if not ranges:
        raise DomainError("Keep at least one rule (from 0.00 with no upper bound).")
    if ranges[0]["balance_from"] != 0:
        raise DomainError("The first range must start at 0.00 so every balance has a rule.")
    for number, (rule, following) in enumerate(zip(ranges, ranges[1:] + [None]), start=1):
        upper = rule["balance_to"]
        if upper is not None and upper < rule["balance_from"]:
            raise DomainError(f"Range {number}: “up to” is below “from”.")
        if following is None and upper is not None:
            raise DomainError("The last range must have no upper bound so larger balances have a rule.")
        if following is not None and (upper is None or following["balance_from"] != upper + CENT):
            start = f" ({upper + CENT:,.2f})" if upper is not None else ""
            raise DomainError(f"Range {number + 1} must start one cent after range {number} ends{start}; "
                              "ranges may not overlap or leave gaps.")


def offers_expire(now=None) -> int:
    """Offers sent whose every link has expired (or was revoked) are EXPIRED; returns how many."""
    now = now or timezone.now()
    sent = PlanOffer.objects.filter(status=Status.SENT).exclude(
        links__revoked_at__isnull=True, links__locked_at__isnull=True, links__expires_at__gt=now)
    expired = 0
    for offer in sent.select_related("account"):
        with transaction.atomic():
            if PlanOffer.objects.filter(pk=offer.pk, status=Status.SENT).update(status=Status.EXPIRED):
                events.offer_recorded(offer.account, actor=None, at=now, summary=f"Offer expired: {describe(offer)}")
                expired += 1
    return expired
