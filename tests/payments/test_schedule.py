"""The one schedule function: dates by frequency (month ends included), cents, down payments."""
from datetime import date
from decimal import Decimal

import pytest

from payments.schedule import build_schedule, plan_months
from portal.errors import DomainError

D = Decimal


def amounts(payments):
    return [p.amount for p in payments]


def dates(payments):
    return [p.due_date for p in payments]


@pytest.mark.parametrize("frequency, first, expected", [
    ("weekly", date(2026, 12, 28), [date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 11)]),
    ("biweekly", date(2026, 12, 28), [date(2026, 12, 28), date(2027, 1, 11), date(2027, 1, 25)]),
    ("monthly", date(2027, 1, 31), [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]),
    ("monthly", date(2028, 1, 31), [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]),  # leap year
    ("monthly", date(2026, 12, 15), [date(2026, 12, 15), date(2027, 1, 15), date(2027, 2, 15)]),
    ("monthly", date(2027, 3, 30), [date(2027, 3, 30), date(2027, 4, 30), date(2027, 5, 30)]),
])
def test_due_dates_by_frequency_and_month_end(frequency, first, expected):
    assert dates(build_schedule(total=D("300.00"), first_due=first, frequency=frequency, count=3)) == expected


@pytest.mark.parametrize("total, count, expected", [
    ("100.00", 3, ["33.33", "33.33", "33.34"]),
    ("1000.00", 7, ["142.85"] * 6 + ["142.90"]),
    ("0.05", 5, ["0.01"] * 5),
    ("99.99", 1, ["99.99"]),
    ("250.00", 4, ["62.50"] * 4),
])
def test_by_count_the_last_installment_takes_the_remainder_and_the_sum_is_exact(total, count, expected):
    payments = build_schedule(total=D(total), first_due=date(2027, 1, 1), count=count)
    assert amounts(payments) == [D(value) for value in expected]
    assert sum(amounts(payments)) == D(total)


@pytest.mark.parametrize("total, amount, expected", [
    ("1000.00", "300.00", ["300.00", "300.00", "300.00", "100.00"]),
    ("900.00", "300.00", ["300.00"] * 3),
    ("100.00", "33.33", ["33.33", "33.33", "33.33", "0.01"]),
])
def test_by_amount_the_last_installment_is_what_is_left(total, amount, expected):
    payments = build_schedule(total=D(total), first_due=date(2027, 1, 1), amount=D(amount))
    assert amounts(payments) == [D(value) for value in expected] and sum(amounts(payments)) == D(total)


def test_a_down_payment_comes_first_and_the_installments_follow_one_period_later():
    payments = build_schedule(total=D("1000.00"), first_due=date(2027, 1, 31), frequency="monthly", count=3,
                              down_payment=D("100.00"))
    assert [(p.number, p.due_date, p.amount, p.is_down_payment) for p in payments] == [
        (1, date(2027, 1, 31), D("100.00"), True),
        (2, date(2027, 2, 28), D("300.00"), False),
        (3, date(2027, 3, 31), D("300.00"), False),
        (4, date(2027, 4, 30), D("300.00"), False),
    ]


@pytest.mark.parametrize("arguments, field", [
    ({"total": D("0")}, "total_amount"),
    ({"down_payment": D("500.00")}, "down_payment"),
    ({"count": None}, "installment_count"),
    ({"count": 0}, "installment_count"),
    ({"count": 121}, "installment_count"),
    ({"count": None, "amount": D("1.00")}, "installment_amount"),  # 500 installments
    ({"count": None, "amount": D("0")}, "installment_amount"),
    ({"amount": D("10.00")}, "installment_count"),  # both given
])
def test_impossible_schedules_say_which_field(arguments, field):
    given = {"total": D("500.00"), "first_due": date(2027, 1, 1), "count": 5} | arguments
    with pytest.raises(DomainError) as refused:
        build_schedule(**given)
    assert refused.value.field == field


@pytest.mark.parametrize("frequency, count, months", [("monthly", 12, 12), ("monthly", 1, 1), ("weekly", 8, 2),
                                                      ("biweekly", 6, 3), ("weekly", 52, 12)])
def test_plan_length_in_months(frequency, count, months):
    payments = build_schedule(total=D("1200.00"), first_due=date(2027, 1, 15), frequency=frequency, count=count)
    assert plan_months(payments, frequency) == months
