"""What the agency may agree on its own (the client's contract terms) and what a debtor may choose
without asking anyone (the client's self-service plan rules), as plain-language problems.

Both read the schedule (payments.schedule), so a plan is judged on exactly what would be signed.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from accounts.models import ContractTerms
from payments.models import PlanOffer, PlanRule
from payments.schedule import ScheduledPayment, plan_months

CENTS = Decimal("0.01")
DEFAULT_DEFER_DAYS = 30


@dataclass(frozen=True)
class Rule:
    """One balance range's self-service limits (a saved PlanRule or the terms' default)."""

    min_installment: Decimal
    max_months: int
    min_settlement_percent: Decimal
    max_defer_days: int

    def lowest_settlement(self, balance: Decimal) -> Decimal:
        return (balance * self.min_settlement_percent / 100).quantize(CENTS)


def _regular_installment(payments: list[ScheduledPayment]) -> Decimal | None:
    """The installment amount a plan is built on (not the down payment, not the remainder)."""
    regular = [p.amount for p in payments if not p.is_down_payment]
    return regular[0] if len(regular) > 1 else None


def outside_terms(*, terms: ContractTerms | None, kind: str, total: Decimal, balance: Decimal,
                  payments: list[ScheduledPayment], frequency: str) -> list[str]:
    """Where an offer goes beyond what the client's contract terms let the agency agree on its own
    (then the client must approve it): phrases such as "below the settlement floor of 70 %
    (700.00)"; empty when within them (or when the client has no terms on file)."""
    if terms is None:
        return []
    problems = []
    if total < balance or kind == PlanOffer.Kind.LUMP_SUM:
        floor = (balance * terms.settlement_floor_percent / 100).quantize(CENTS)
        if total < floor:
            problems.append(f"below the settlement floor of {terms.settlement_floor_percent.normalize():f} % ({floor:,.2f})")
    if kind == PlanOffer.Kind.INSTALLMENTS:
        if plan_months(payments, frequency) > terms.max_plan_months:
            problems.append(f"longer than the longest plan of {terms.max_plan_months} months")
        installment = _regular_installment(payments)
        if installment is not None and installment < terms.min_installment:
            problems.append(f"installments under the smallest of {terms.min_installment:,.2f}")
    return problems


def rule_for(client, balance: Decimal) -> Rule | None:
    """The self-service rule covering `balance` for `client`: its saved rule for that range, or
    one made from its contract terms when it has saved none; None when nothing covers it."""
    saved = list(PlanRule.objects.filter(client=client).order_by("balance_from"))
    if saved:
        for rule in saved:
            if rule.balance_from <= balance and (rule.balance_to is None or balance <= rule.balance_to):
                return Rule(rule.min_installment, rule.max_months, rule.min_settlement_percent, rule.max_defer_days)
        return None
    terms = ContractTerms.objects.filter(client=client).first()
    if terms is None:
        return None
    return Rule(terms.min_installment, terms.max_plan_months, terms.settlement_floor_percent, DEFAULT_DEFER_DAYS)


def outside_rule(*, rule: Rule | None, total: Decimal, balance: Decimal, payments: list[ScheduledPayment],
                 frequency: str, today: date) -> list[str]:
    """Where a plan the debtor built goes beyond the self-service rule (then it becomes a request
    the agency answers): plain phrases addressed to the debtor; empty when they may accept it."""
    if rule is None:
        return ["the agency sets up plans for this balance itself"]
    problems = []
    if total < balance and total < rule.lowest_settlement(balance):
        problems.append(f"a settlement must be at least {rule.lowest_settlement(balance):,.2f}")
    if len(payments) > 1:
        if plan_months(payments, frequency) > rule.max_months:
            problems.append(f"plans can run at most {rule.max_months} months")
        installment = _regular_installment(payments)
        if installment is not None and installment < rule.min_installment:
            problems.append(f"each payment must be at least {rule.min_installment:,.2f}")
    if payments[0].due_date > today + timedelta(days=rule.max_defer_days):
        problems.append(f"the first payment must be within {rule.max_defer_days} days "
                        f"(by {today + timedelta(days=rule.max_defer_days):%B %-d, %Y})")
    return problems
