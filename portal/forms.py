from django import forms

from portal.errors import DomainError
from portal.text import has_non_ascii_digit, is_decimal_comma, plain_number


def add_domain_error(form, error: DomainError) -> None:
    """Show a service's error next to the field it names (or above the form: a hidden field, such
    as a form's idempotency key, shows no errors of its own)."""
    field = error.field if error.field in form.fields and not form.fields[error.field].widget.is_hidden else None
    form.add_error(field, error.message)


def posted_data(request):
    """Form data for a POST (even an empty one, which `request.POST or None` would miss), None for a GET."""
    return request.POST if request.method == "POST" else None


class AmountField(forms.DecimalField):
    """A money (or percentage) field that reads only the digits 0-9 (see portal/text.py: Decimal()
    would read Arabic-Indic or full-width digits as a number), takes commas only as thousands
    separators (1,234.50) and refuses a decimal comma ("12,30") instead of reading it as 1230.

    Drawn as a text box with the decimal keypad, not <input type=number>: Chromium's number box
    drops a comma as a grouping mark, so "12,3" typed there was posted as 123."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {"non_ascii_digits": "Enter the amount with the digits 0-9.",
                              "decimal_comma": "“%(value)s” is not an amount: write cents after a dot, as in 12.30.",
                              "not_plain": "“%(value)s” is not an amount: write it with the digits 0-9 and a dot "
                                           "before the cents, as in 1234.50."}

    def to_python(self, value):
        if has_non_ascii_digit(value):
            raise forms.ValidationError(self.error_messages["non_ascii_digits"], code="non_ascii_digits")
        if isinstance(value, str) and any(char.isdigit() for char in value):  # no digit: "Enter a number."
            plain = plain_number(value)
            if plain is None:  # "1e3", "1_000", "12,30": Decimal() would read the first two
                code = "decimal_comma" if is_decimal_comma(value) else "not_plain"
                raise forms.ValidationError(self.error_messages[code], code=code, params={"value": value.strip()[:30]})
            value = plain
        return super().to_python(value)
