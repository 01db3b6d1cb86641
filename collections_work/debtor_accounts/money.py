"""The one parser for an amount a person types or a client's system sends (forms, services, API).

Files placed by upload have their own formats (1.234,56, currency signs, accounting
negatives) and are read by placements.intake.values; what comes out there is checked against
the same limits.
"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from portal.errors import DomainError
from portal.text import has_non_ascii_digit, is_decimal_comma, plain_number

CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
LARGEST = Decimal("999999999999.99")  # what a money column (14 digits, 2 decimals) holds


def parse_money(value, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """A positive amount in cents, from a Decimal, an int or a string like "125.50" or "1,234.50".

    Returns a Decimal with two decimals. Raises DomainError naming `field` when the value is not
    a plain number (non-ASCII digits, NaN, Infinity, "1e3", "1_000" and a decimal comma included), has more than two decimals (a
    typing mistake, not a rounding job), is zero (unless `allow_zero`) or negative, or is more
    than a money column holds (999,999,999,999.99).
    """
    if isinstance(value, bool):
        raise DomainError("Enter the amount as a number, like 125.50.", field=field)
    if has_non_ascii_digit(value):  # Decimal() reads "٣٤٥" as 345 (portal/text.py)
        raise DomainError("Enter the amount with the digits 0-9, like 125.50.", field=field)
    text = value if isinstance(value, (Decimal, int)) else str(value if value is not None else "").strip()
    if isinstance(text, str):
        plain = plain_number(text)  # not "1e3", "1_000", "Infinity", which Decimal() reads
        if plain is None and is_decimal_comma(text):
            raise DomainError(f"“{text[:30]}” is not an amount: write cents after a dot, as in 12.30.", field=field)
        if plain is None:
            raise DomainError("Enter the amount as a number, like 125.50.", field=field)
        text = plain
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError, TypeError):
        raise DomainError("Enter the amount as a number, like 125.50.", field=field) from None
    if not amount.is_finite():
        raise DomainError("Enter the amount as a number, like 125.50.", field=field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise DomainError("The amount must be more than zero.", field=field)
    if amount > LARGEST:  # before quantize, which fails on numbers past its precision
        raise DomainError(f"The amount is more than {LARGEST:,}.", field=field)
    if amount.quantize(CENTS, rounding=ROUND_HALF_UP) != amount:
        raise DomainError("Enter the amount in dollars and cents (at most two decimals).", field=field)
    return amount.quantize(CENTS)


# Currencies (ISO 4217 codes, names and symbols) live in portal.currency, below every app, so
# the client's settings can offer them too; re-exported here for the code that parses amounts.
from portal.currency import (  # noqa: E402,F401
    DEFAULT_CURRENCY, by_use, currencies_named_by, currency_choices, is_currency, uses_symbol,
)
