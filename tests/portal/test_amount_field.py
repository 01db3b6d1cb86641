"""Money typed by people: thousands separators are read, a decimal comma is refused with why."""
from decimal import Decimal

import pytest
from django import forms

from portal.forms import AmountField


@pytest.mark.parametrize("typed, amount", [("1,234.50", "1234.50"), ("12,345,678", "12345678"), (" 75.00 ", "75.00"),
                                           ("-1,000", "-1000")])
def test_thousands_separators_are_read(typed, amount):
    assert AmountField(decimal_places=2, max_digits=14).clean(typed) == Decimal(amount)


@pytest.mark.parametrize("typed", ["12,3", "12,30", "1.234,50", "12,3x", "1,23,456.00", ",5", "0,500", "000,250"])
def test_a_decimal_comma_or_a_misplaced_one_is_refused_saying_how_to_write_it(typed):
    with pytest.raises(forms.ValidationError) as refused:
        AmountField(decimal_places=2, max_digits=14).clean(typed)
    assert "write cents after a dot" in str(refused.value) and typed.strip() in str(refused.value)


def test_the_field_is_a_text_box_on_the_decimal_keypad():
    html = forms.Form.__class__("F", (forms.Form,), {"amount": AmountField()})().as_p()
    assert 'type="text"' in html and 'inputmode="decimal"' in html and 'type="number"' not in html


# Decimal() reads all of these; a form that handed it what was typed posted 1,000.00 for "1e3",
# and the debtor's pay page charged a card 100.00 for "1e2".
NOT_PLAIN = ["1e3", "1E1", "5.5e1", "1e-2", "1_000", "1_0", "Infinity", "NaN", "$100", "0x10", "1 000", "--5"]


@pytest.mark.parametrize("typed", NOT_PLAIN)
def test_exponents_underscores_and_other_things_decimal_reads_are_refused_by_the_form(typed):
    with pytest.raises(forms.ValidationError) as refused:
        AmountField(decimal_places=2, max_digits=14).clean(typed)
    digits = any(char.isdigit() for char in typed)
    assert ("is not an amount" if digits else "Enter a number") in str(refused.value)


@pytest.mark.parametrize("typed", NOT_PLAIN)
def test_and_by_the_one_parser_services_and_the_debtor_pages_use(typed):
    from collections_work.debtor_accounts.money import parse_money
    from portal.errors import DomainError

    with pytest.raises(DomainError, match="as a number"):
        parse_money(typed)


@pytest.mark.parametrize("typed", NOT_PLAIN)
def test_and_by_the_api(typed):
    from rest_framework import serializers

    from portal.api import AmountInput

    with pytest.raises(serializers.ValidationError, match="digits with a dot"):
        AmountInput(max_digits=14, decimal_places=2).run_validation(typed)


def test_plain_amounts_still_read_everywhere():
    from collections_work.debtor_accounts.money import parse_money
    from portal.api import AmountInput

    assert parse_money("1,234.50") == parse_money(" 1234.5 ") == Decimal("1234.50")
    assert AmountInput(max_digits=14, decimal_places=2).run_validation("1,234.50") == Decimal("1234.50")
    assert AmountInput(max_digits=14, decimal_places=2).run_validation(12) == Decimal("12")
    assert AmountField(decimal_places=2, max_digits=14).clean(".50") == Decimal("0.50")
