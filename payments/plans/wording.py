"""A plan in the debtor's words: what they pay, how often, when, and what it settles.

Staff pages keep offers.services.describe ("Installments, 1,000.00 USD: 100.00 down and 3 monthly
from Jan 31, 2027"); the debtor's pages, the agreement PDF and the agreement email use these:

    "6 monthly payments of 214.57 USD, from December 7, 2026 to May 7, 2027 (the last one 214.60);
     1,287.45 USD in total."
    "A down payment of 100.00 USD on December 11, 2026, then 5 monthly payments of 237.49 USD,
     from January 11, 2027 to May 11, 2027; 1,287.45 USD in total."
    "One payment of 1,000.00 USD on December 7, 2026, accepted in full settlement of the balance
     of 1,287.45 USD."
"""
from decimal import Decimal

from payments.schedule import ScheduledPayment

EVERY = {"monthly": ("monthly payments", ""), "weekly": ("weekly payments", ""),
         "biweekly": ("payments", " every two weeks")}


def _money(amount: Decimal, currency: str = "") -> str:
    return f"{amount:,.2f}" + (f" {currency}" if currency else "")


def _day(payment: ScheduledPayment) -> str:
    return f"{payment.due_date:%B} {payment.due_date.day}, {payment.due_date.year}"


def plan_in_words(payments: list[ScheduledPayment], *, frequency: str, balance: Decimal, currency: str) -> str:
    """One or two sentences a debtor understands, from the schedule itself (so they describe
    exactly what is shown and signed)."""
    total = sum((p.amount for p in payments), Decimal("0.00"))
    settles = ""
    if total < balance:
        settles = f", accepted in full settlement of the balance of {_money(balance, currency)}"
    if len(payments) == 1:
        return f"One payment of {_money(total, currency)} on {_day(payments[0])}{settles}."
    down = payments[0] if payments[0].is_down_payment else None
    regular = payments[1:] if down else payments
    noun, every = EVERY.get(frequency, ("payments", ""))
    first, last = regular[0], regular[-1]
    if len(regular) == 1:
        rest = f"one payment of {_money(first.amount, currency)} on {_day(first)}"
    else:
        rest = (f"{len(regular)} {noun} of {_money(first.amount, currency)}{every}, from {_day(first)} to {_day(last)}"
                + (f" (the last one {_money(last.amount)})" if last.amount != first.amount else ""))
    if down:
        text = f"A down payment of {_money(down.amount, currency)} on {_day(down)}, then {rest}"
    else:
        text = rest[0].upper() + rest[1:]
    return f"{text}; {_money(total, currency)} in total{settles}."


def next_installment(installments):
    """The first installment not yet paid in full, or None."""
    return next((i for i in installments if i.paid_amount < i.amount), None)
