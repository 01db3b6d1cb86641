"""Parsers for the values in a placement row. Each returns the parsed value or raises
ValueError with a plain message; the row validator adds the column and row."""
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from portal.text import NON_ASCII_DIGITS, has_non_ascii_digit

CENTS = Decimal("0.01")
AMOUNT_FORMATS = {
    "dot": ("1,234.56 (dot for decimals)", ",", "."),
    "comma": ("1.234,56 (comma for decimals)", ".", ","),
}
DATE_FORMATS = {
    "%Y-%m-%d": "YYYY-MM-DD",
    "%m/%d/%Y": "MM/DD/YYYY (US)",
    "%d/%m/%Y": "DD/MM/YYYY",
    "%d.%m.%Y": "DD.MM.YYYY",
    "%Y/%m/%d": "YYYY/MM/DD",
    "%m-%d-%Y": "MM-DD-YYYY",
    "%d-%m-%Y": "DD-MM-YYYY",
}
_CURRENCY = re.compile(r"[$€£¥]|\b(USD|EUR|GBP|CAD)\b", re.IGNORECASE)
# re.ASCII: \d is 0-9 only; by default it also matches other scripts' digits ("٣٤٥"), which
# Decimal() would then read as 345 (portal/text.py).
_PLAIN_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NON_DIGIT = re.compile(r"\D", re.ASCII)
_ISO_TIME = re.compile(r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?", re.ASCII)  # what may follow an ISO date
_AMOUNT_CHARS = re.compile(r"[\d,.$]+", re.ASCII)  # the usual amount: digits, separators, a dollar sign


def cell_text(value) -> str:
    """A cell as trimmed text (XLSX cells may be numbers, dates or None)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def parse_amount(value, amount_format: str = "dot") -> Decimal:
    """`1234.5`, `$1,234.56`, `(12.00)` (negative), or `1.234,56` with the comma format."""
    if isinstance(value, bool):
        raise ValueError("is not an amount")
    if isinstance(value, (int, float, Decimal)):
        try:
            return Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise ValueError("is not an amount") from None
    text = str(value).strip()
    if has_non_ascii_digit(text):
        raise ValueError(f"is not an amount: {NON_ASCII_DIGITS}")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    text = _CURRENCY.sub("", text).strip()
    if text.startswith("-"):
        negative, text = not negative, text[1:].strip()
    label, thousands, decimal_mark = AMOUNT_FORMATS[amount_format]
    grouped = text.replace(" ", "").replace("\u00a0", "")
    text = grouped.replace(thousands, "")
    if decimal_mark != ".":
        text = text.replace(decimal_mark, ".")
    if not _PLAIN_AMOUNT.match(text):
        raise ValueError("is not an amount")
    if not _grouped_right(grouped, thousands, decimal_mark):
        raise ValueError(f"is not an amount: '{thousands}' only separates thousands in {label.split(' (')[0]}")
    try:
        amount = Decimal(text).quantize(CENTS)
    except InvalidOperation:  # more digits than the decimal context holds ("1" * 40)
        raise ValueError("is not an amount") from None
    return -amount if negative else amount


def _grouped_right(text: str, thousands: str, decimal_mark: str) -> bool:
    """Whether the thousands separators of `text` stand every three digits left of the decimal
    mark: "12,50" in the 1,234.56 format is a decimal comma the client meant, not 1,250."""
    if thousands not in text:
        return True
    whole, _, fraction = text.partition(decimal_mark)
    groups = whole.split(thousands)
    return (thousands not in fraction and 1 <= len(groups[0]) <= 3
            and all(len(group) == 3 for group in groups[1:]))


def plain_amount_parser(amount_format: str):
    """A parser for amount text made only of digits, separators and "$" (nearly every cell) that
    gives what parse_amount gives without its regular expressions, or None when parse_amount
    must decide (and word the error)."""
    thousands, decimal_mark = AMOUNT_FORMATS[amount_format][1:]

    def parse(text: str) -> Decimal | None:
        if _AMOUNT_CHARS.fullmatch(text) is None:
            return None
        cleaned = text.replace("$", "")
        if thousands in cleaned:
            if not _grouped_right(cleaned, thousands, decimal_mark):
                return None
            cleaned = cleaned.replace(thousands, "")
        if decimal_mark != ".":
            cleaned = cleaned.replace(decimal_mark, ".")
        # Past 15 characters the amount is over the limit (or padded): parse_amount words it.
        if len(cleaned) > 15 or _PLAIN_AMOUNT.match(cleaned) is None:
            return None
        return Decimal(cleaned).quantize(CENTS)
    return parse


def parse_date(value, date_format: str = "%m/%d/%Y") -> date:
    """ISO dates always; otherwise the client's chosen format. XLSX date cells pass through."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) >= 10 and text[4] == "-":
            if _ISO_TIME.fullmatch(text[10:]) is None:  # "2024-01-05 00:00" yes, "2024-01-05junk" no
                raise ValueError(text)
            return date.fromisoformat(text[:10])
        return _strptime(text, date_format)
    except ValueError:
        expected = DATE_FORMATS.get(date_format, date_format).split(" (")[0]
        allowed = "YYYY-MM-DD" if expected == "YYYY-MM-DD" else f"YYYY-MM-DD or {expected}"
        raise ValueError(f"is not a date (expected {allowed})") from None


def _strptime(text: str, date_format: str) -> date:
    return datetime.strptime(text, date_format).date()


def fixed_width_date_parser(date_format: str):
    """For a format of DATE_FORMATS (two 2-digit fields and a 4-digit year, one separator): a
    function that parses a 10-character all-ASCII-digit date like strptime does, ~10x faster, and
    returns None for anything else (the caller then uses parse_date, which decides and words the
    error). None if the format is not of that shape."""
    separator = date_format[2:3]
    parts = date_format.split(separator) if separator else []
    if len(date_format) != 8 or sorted(parts) != ["%Y", "%d", "%m"]:
        return None
    spans, start = {}, 0
    for part in parts:
        width = 4 if part == "%Y" else 2
        spans[part] = slice(start, start + width)
        start += width + 1
    year, month, day = spans["%Y"], spans["%m"], spans["%d"]
    first, second = sorted(span.stop for span in spans.values())[:2]

    def parse(text: str) -> date | None:
        if len(text) != 10 or text[first] != separator or text[second] != separator or not text.isascii():
            return None
        y, m, d = text[year], text[month], text[day]
        if not (y.isdigit() and m.isdigit() and d.isdigit()):
            return None
        try:
            return date(int(y), int(m), int(d))
        except ValueError:
            return None
    return parse


def parse_email(value: str) -> str:
    text = value.strip().lower()
    # Length first: the pattern backtracks quadratically on a long cell like "a@b.b.b...b@".
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValueError("is not an email address")
    return text


def parse_phone(value: str) -> str:
    text = value.strip()
    digits = _NON_DIGIT.sub("", text)
    if not 7 <= len(digits) <= 15:
        raise ValueError("is not a phone number (7 to 15 digits)")
    return ("+" if text.startswith("+") else "") + digits


def tax_id_last4(value: str) -> str:
    """Only the last four digits are ever kept."""
    digits = _NON_DIGIT.sub("", value)
    if len(digits) < 4:
        raise ValueError("is not a tax ID (needs at least 4 digits)")
    return digits[-4:]


PURPOSES = {"commercial": "commercial", "business": "commercial", "b2b": "commercial", "trade": "commercial",
            "consumer": "consumer", "personal": "consumer", "b2c": "consumer", "household": "consumer",
            "unknown": "unknown"}
KINDS = {"business": "business", "company": "business", "corporation": "business", "corp": "business",
         "llc": "business", "ltd": "business", "org": "business", "organisation": "business",
         "organization": "business", "person": "person", "individual": "person", "consumer": "person",
         "private": "person"}


def parse_choice(value: str, choices: dict, allowed: str) -> str:
    key = value.strip().lower()
    if key not in choices:
        raise ValueError(f"is not one of {allowed}")
    return choices[key]
