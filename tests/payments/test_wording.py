"""A plan in the debtor's words (payments.plans.wording): read from the schedule itself."""
from datetime import date
from decimal import Decimal

import pytest

from payments.plans.wording import next_installment, plan_in_words
from payments.schedule import build_schedule

D = Decimal
BALANCE = D("1287.45")


@pytest.mark.parametrize("schedule, frequency, expected", [
    (dict(total=BALANCE, first_due=date(2026, 12, 7), count=6), "monthly",
     "6 monthly payments of 214.57 USD, from December 7, 2026 to May 7, 2027 (the last one 214.60); "
     "1,287.45 USD in total."),
    (dict(total=D("1200.00"), first_due=date(2027, 1, 31), count=4), "monthly",  # month ends: Apr 30
     "4 monthly payments of 300.00 USD, from January 31, 2027 to April 30, 2027; 1,200.00 USD in total."),
    (dict(total=BALANCE, first_due=date(2026, 12, 11), count=5, down_payment=D("100.00")), "monthly",
     "A down payment of 100.00 USD on December 11, 2026, then 5 monthly payments of 237.49 USD, from "
     "January 11, 2027 to May 11, 2027; 1,287.45 USD in total."),
    (dict(total=D("400.00"), first_due=date(2026, 12, 1), frequency="biweekly", count=4), "biweekly",
     "4 payments of 100.00 USD every two weeks, from December 1, 2026 to January 12, 2027; 400.00 USD in total."),
    (dict(total=D("900.00"), first_due=date(2026, 12, 7), count=1, down_payment=D("100.00")), "monthly",
     "A down payment of 100.00 USD on December 7, 2026, then one payment of 800.00 USD on January 7, 2027; "
     "900.00 USD in total, accepted in full settlement of the balance of 1,287.45 USD."),
    (dict(total=BALANCE, first_due=date(2026, 12, 7), count=1), "monthly",
     "One payment of 1,287.45 USD on December 7, 2026."),
    (dict(total=D("1000.00"), first_due=date(2026, 12, 7), count=1), "monthly",
     "One payment of 1,000.00 USD on December 7, 2026, accepted in full settlement of the balance of 1,287.45 USD."),
])
def test_a_plan_in_words(schedule, frequency, expected):
    """Plans for the whole balance say what they add up to; one for less says what it settles."""
    balance = schedule["total"] if "settlement" not in expected else BALANCE
    assert plan_in_words(build_schedule(**schedule), frequency=frequency, balance=balance, currency="USD") == expected


def test_the_next_installment_is_the_first_not_paid_in_full():
    class Installment:
        def __init__(self, amount, paid):
            self.amount, self.paid_amount = D(amount), D(paid)

    first, second, third = Installment("100", "100"), Installment("100", "40"), Installment("100", "0")
    assert next_installment([first, second, third]) is second
    assert next_installment([first]) is None
