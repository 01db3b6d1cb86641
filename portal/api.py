"""One mapping from domain errors to HTTP errors for the REST API, and the fields the APIs share
for what people and systems type (amounts, dates)."""
import re
from datetime import date

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.dependencies import is_dependency_down
from portal.errors import DomainError, NotAllowed
from portal.errors_views import DEPENDENCY_DOWN, RETRY_AFTER_SECONDS
from portal.text import has_non_ascii_digit, plain_number


def exception_handler(exc, context):
    """Domain errors as 400/403, a dependency that is down as 503, the rest as DRF words them.
    Anything else propagates to handler500, which answers JSON under /api/ too."""
    if is_dependency_down(exc):
        response = Response({"detail": DEPENDENCY_DOWN}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, NotAllowed):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DomainError):
        key = exc.field or "non_field_errors"
        return Response({key: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class IsoDate(serializers.DateField):
    """A date sent as YYYY-MM-DD, as the docs say. Python reads "20261130" too, and called
    "2026-02-29" a wrong format when it is a day that does not exist."""

    default_error_messages = {"not_iso": "Send the date as YYYY-MM-DD, such as 2026-11-30 (not \"{value}\").",
                              "no_such_day": "{value} is not a day of the calendar."}

    def to_internal_value(self, value):
        if isinstance(value, str):
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
                self.fail("not_iso", value=str(value)[:30])
            try:
                date.fromisoformat(value.strip())
            except ValueError:
                self.fail("no_such_day", value=value.strip())
        return super().to_internal_value(value)


class AmountInput(serializers.DecimalField):
    """An amount in a query or body: a JSON number, or a string written as people write amounts
    ("1234.50", "1,234.50"). Decimal() alone would also read Arabic-Indic "٣٤٥" as 345 and "1e3"
    as 1000 (portal/text.py)."""

    default_error_messages = {"non_ascii_digits": "Send the amount with the digits 0-9.",
                              "not_plain": "Send the amount as digits with a dot before the cents, such as "
                                           "\"1234.50\" (not \"{value}\")."}

    def to_internal_value(self, data):
        if has_non_ascii_digit(data):
            self.fail("non_ascii_digits")
        if isinstance(data, str):
            plain = plain_number(data)
            if plain is None:
                self.fail("not_plain", value=data.strip()[:30])
            data = plain
        return super().to_internal_value(data)
