"""The one schedule of a plan: every due date and amount. The offer form, the debtor's plan
builder and the agreement all draw it from here, so what the debtor signs is what was shown."""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from dateutil.relativedelta import relativedelta

from portal.errors import DomainError

CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_PAYMENTS = 120
STEP = {"weekly": timedelta(weeks=1), "biweekly": timedelta(weeks=2)}


@dataclass(frozen=True)
class ScheduledPayment:
    number: int  # 1-based, the down payment first when there is one
    due_date: date
    amount: Decimal
    is_down_payment: bool = False


def due_date(first: date, frequency: str, index: int) -> date:
    """The `index`-th (0-based) due date from `first`. Monthly dates keep the first date's day
    where the month has it and fall back to the month's last day otherwise (Jan 31 -> Feb 28 or
    29 -> Mar 31), counted from `first` each time so a short month never shifts later dates."""
    if frequency == "monthly":
        return first + relativedelta(months=index)
    if frequency not in STEP:
        raise DomainError(f"Unknown frequency “{frequency}”.", field="frequency")
    return first + STEP[frequency] * index


def build_schedule(*, total: Decimal, first_due: date, frequency: str = "monthly", count: int | None = None,
                   amount: Decimal | None = None, down_payment: Decimal = ZERO) -> list[ScheduledPayment]:
    """Every payment of a plan for `total` (Decimal, cents).

    A `down_payment` (> 0) is due on `first_due` and the installments follow one period later;
    without one the first installment is due on `first_due`. Give either `count` installments
    (equal amounts rounded down to the cent, the last takes the remainder so the sum is exactly
    the total) or the installment `amount` (as many as needed, the last one smaller when the
    total does not divide). A single payment is `count=1`.

    Returns the payments in date order; their amounts add up to `total` exactly. Raises
    DomainError (naming the field) for a total or amounts that cannot make a schedule: nothing
    left after the down payment, neither or both of count and amount, an amount of zero, or
    more than MAX_PAYMENTS installments.
    """
    total, down_payment = Decimal(total), Decimal(down_payment or ZERO)
    if total <= 0:
        raise DomainError("The total must be more than zero.", field="total_amount")
    if down_payment < 0 or down_payment >= total:
        raise DomainError("The down payment must be less than the total.", field="down_payment")
    if (count is None) == (amount is None):
        raise DomainError("Give the number of installments or the installment amount.", field="installment_count")
    rest = total - down_payment
    amounts = _split_by_count(rest, count) if count is not None else _split_by_amount(rest, Decimal(amount))
    payments = []
    if down_payment > 0:
        payments.append(ScheduledPayment(1, first_due, down_payment, is_down_payment=True))
    offset = 1 if down_payment > 0 else 0
    for index, value in enumerate(amounts):
        payments.append(ScheduledPayment(len(payments) + 1, due_date(first_due, frequency, index + offset), value))
    return payments


def _split_by_count(rest: Decimal, count: int) -> list[Decimal]:
    if not 1 <= count <= MAX_PAYMENTS:
        raise DomainError(f"A plan has 1 to {MAX_PAYMENTS} installments.", field="installment_count")
    each = (rest / count).quantize(CENTS, rounding=ROUND_DOWN)
    if each <= 0:
        raise DomainError("That many installments would be less than a cent each.", field="installment_count")
    return [each] * (count - 1) + [rest - each * (count - 1)]


def _split_by_amount(rest: Decimal, amount: Decimal) -> list[Decimal]:
    if amount <= 0:
        raise DomainError("The installment amount must be more than zero.", field="installment_amount")
    count = int((rest / amount).to_integral_value(rounding=ROUND_UP))
    if count > MAX_PAYMENTS:
        raise DomainError(f"At {amount:,.2f} the plan would need {count} installments; the most is {MAX_PAYMENTS}.",
                          field="installment_amount")
    return [amount] * (count - 1) + [rest - amount * (count - 1)]


def plan_months(payments: list[ScheduledPayment], frequency: str) -> int:
    """How many months the plan runs: from the first due date to one period after the last,
    rounded up to whole months (12 monthly installments run 12 months; 8 weekly ones, 2)."""
    first = payments[0].due_date
    end = due_date(payments[-1].due_date, frequency, 1)
    span = relativedelta(end, first)
    return span.years * 12 + span.months + (1 if span.days > 0 else 0)
