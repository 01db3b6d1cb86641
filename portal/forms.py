from django import forms

from portal.errors import DomainError
from portal.text import has_non_ascii_digit


def add_domain_error(form, error: DomainError) -> None:
    """Show a service's error next to the field it names (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def posted_data(request):
    """Form data for a POST (even an empty one, which `request.POST or None` would miss), None for a GET."""
    return request.POST if request.method == "POST" else None


class AmountField(forms.DecimalField):
    """A money field that reads only the digits 0-9 (see portal/text.py: Decimal() would read
    Arabic-Indic or full-width digits as a number)."""

    default_error_messages = {"non_ascii_digits": "Enter the amount with the digits 0-9."}

    def to_python(self, value):
        if has_non_ascii_digit(value):
            raise forms.ValidationError(self.error_messages["non_ascii_digits"], code="non_ascii_digits")
        return super().to_python(value)
