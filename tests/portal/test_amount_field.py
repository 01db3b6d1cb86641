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
