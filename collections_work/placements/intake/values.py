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
# re.ASCII: \d is 0-9 only; by default it also matches other scripts' digits ("٣٤٥"), which
# Decimal() would then read as 345 (portal/text.py).
_PLAIN_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$", re.ASCII)
_SUB_CENT_AMOUNT = re.compile(r"^\d+\.\d{3,}$", re.ASCII)
# An address mail can be sent to: an ASCII dot-atom before the @ (sending does not use SMTPUTF8),
# then domain labels (international letters allowed) and a top-level domain of letters or xn--.
_EMAIL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@(?:[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})")
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


class FormattedNumber(float):
    """A workbook number whose cell format names a currency ("[$€-407] #,##0.00", '"£"#,##0.00'):
    `currency` is that marker, which the placement's currency must agree with."""

    currency = ""

    def __new__(cls, value, currency: str):
        number = super().__new__(cls, value)
        number.currency = currency
        return number

    def __str__(self):  # as the sample and the rejected-rows file show it: "€1234.5"
        return f"{self.currency}{int(self) if self.is_integer() else float(self)}"


# What may stand between an amount's digits: separators, and the spaces and apostrophes some
# locales group thousands with (1 234,56 · 1'234.56 · 1’234.56).
_GROUP_SPACES = (" ", "\u00a0", "\u202f", "'", "\u2019")
_DASHES = {"-", "\u2013", "\u2014", "\u2212"}  # hyphen, en and em dash, minus sign


def parse_amount(value, amount_format: str = "dot", currency: str | None = "USD") -> Decimal:
    """An amount in `currency` from a cell: `1234.5`, `$1,234.56`, `(12.00)` and `-12` (negative),
    `1.234,56` with the comma format, a currency sign or ISO code before or after the digits
    (`€1,234.56`, `1,234.56 €`, `EUR 1,234.56`, `US$1,234.56`, `CHF 1'234.56`), Indian grouping
    (`₹1,23,456.78`), and Excel's accounting zero (`$ -`, a lone dash) as 0.00. Returns a Decimal
    rounded to cents. Raises ValueError with the reason: not an amount, more than two decimals in
    text, or an amount that names a currency other than `currency` (never converted: the
    placement's currency is one; None accepts any currency the portal knows, see amount_marker)."""
    if isinstance(value, bool):
        raise ValueError("is not an amount")
    if isinstance(value, FormattedNumber):
        _check_currency(value.currency, currency)
        value = float(value)
    if isinstance(value, (int, float, Decimal)):
        try:
            return Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise ValueError("is not an amount") from None
    text = str(value).strip()
    if has_non_ascii_digit(text):
        raise ValueError(f"is not an amount: {NON_ASCII_DIGITS}")
    negative, number, marker = _split_amount(text)
    if marker:
        _check_currency(marker, currency)
    if not number:
        if marker is not None:  # only a dash (and a currency): the accounting format's zero
            return ZERO_AMOUNT
        raise ValueError("is not an amount")
    label, thousands, decimal_mark = AMOUNT_FORMATS[amount_format]
    grouped = number
    for space in _GROUP_SPACES:
        grouped = grouped.replace(space, thousands)
    text = grouped.replace(thousands, "")
    if decimal_mark != ".":
        text = text.replace(decimal_mark, ".")
    if not _PLAIN_AMOUNT.match(text):
        if _SUB_CENT_AMOUNT.match(text):
            hint = ("; if it means thousands, choose the 1.234,56 amount format"
                    if amount_format == "dot" and len(text.partition(".")[2]) == 3 else "")
            raise ValueError(f"is not an amount: more than two decimals (cents){hint}")
        raise ValueError("is not an amount")
    if not _grouped_right(grouped, thousands, decimal_mark):
        raise ValueError(f"is not an amount: '{thousands}' only separates thousands in {label.split(' (')[0]}")
    try:
        amount = Decimal(text).quantize(CENTS)
    except InvalidOperation:  # more digits than the decimal context holds ("1" * 40)
        raise ValueError("is not an amount") from None
    return -amount if negative else amount


ZERO_AMOUNT = Decimal("0.00")


def _split_amount(text: str) -> tuple[bool, str, str | None]:
    """(negative, the number's characters, the currency marker) of an amount's text. The marker
    is "" when there is none; for text with no digits it is None unless the text is a dash,
    with or without a currency ("$ -", "-", "€ –"), which is an accounting zero."""
    negative = False
    body = text
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    found = re.search(r"\d", body)
    if found is None:
        marker = "".join(ch for ch in body if ch not in _DASHES and not ch.isspace())
        dashes = sum(1 for ch in body if ch in _DASHES)
        return False, "", marker if dashes == 1 and not negative else None
    start = found.start()
    while start > 0 and body[start - 1] in ".,":
        start -= 1
    end = max(match.end() for match in re.finditer(r"\d", body))
    while end < len(body) and body[end] in ".,":  # "12." is refused below, as before
        end += 1
    prefix, number, suffix = body[:start], body[start:end], body[end:]
    for part in (prefix, suffix):
        for dash in _DASHES:
            if dash in part:
                if part.count(dash) > 1:
                    return False, "", None
                negative = not negative
    if "(" in prefix and ")" in suffix:
        negative = not negative
    elif "(" in prefix or ")" in suffix or ")" in prefix or "(" in suffix:
        return False, "", None
    markers = [_strip_marker(prefix), _strip_marker(suffix)]
    markers = [marker for marker in markers if marker]
    if len(markers) > 1 and markers[0] != markers[1]:
        return False, "", None  # "€12 USD": which?
    if not number.strip() or not re.fullmatch(r"[\d.,' \u00a0\u202f\u2019]+", number):
        return False, "", None
    return negative, number.strip(), markers[0] if markers else ""


def _strip_marker(part: str) -> str:
    return "".join(ch for ch in part if ch not in _DASHES and ch not in "()+" and not ch.isspace())


def _check_currency(marker: str, currency: str) -> None:
    """Raise ValueError unless `marker` (a symbol or ISO code) may name `currency`."""
    problem = currency_problem(marker, currency)
    if problem is not None:
        if problem.startswith("is in "):
            problem += (f", but this placement is in {currency}: "
                        "place accounts in another currency as a separate placement")
        raise ValueError(problem)


def currency_problem(marker: str, currency: str | None) -> str | None:
    """None when the currency sign or ISO code `marker` ("$", "€", "EUR") may name `currency`
    (None: any currency this portal knows). Else why not, to follow the cell's text: "is not an
    amount..." for a sign no currency uses, or "is in EUR (€)" for another currency."""
    from collections_work.debtor_accounts.money import by_use, currencies_named_by

    named = currencies_named_by(marker)
    if not named:
        import unicodedata

        if any(unicodedata.category(ch) == "Sc" for ch in marker):
            return f"is not an amount: '{marker}' is not a currency this portal knows"
        return "is not an amount"
    if currency is None or currency in named:
        return None
    which = ", ".join(by_use(named)[:4]) + (" or another" if len(named) > 4 else "")
    if marker.upper() != which:
        which += f" ({marker})"
    return f"is in {which}"


def amount_marker(value) -> str:
    """The currency sign or code written with an amount cell ("" when none): what
    parse_amount(..., currency=None) accepted without tying it to a currency."""
    if isinstance(value, FormattedNumber):
        return value.currency or ""
    if isinstance(value, (bool, int, float, Decimal)) or value is None:
        return ""
    return _split_amount(str(value).strip())[2] or ""


def _grouped_right(text: str, thousands: str, decimal_mark: str) -> bool:
    """Whether the thousands separators of `text` stand every three digits left of the decimal
    mark: "12,50" in the 1,234.56 format is a decimal comma the client meant, not 1,250."""
    if thousands not in text:
        return True
    whole, _, fraction = text.partition(decimal_mark)
    groups = whole.split(thousands)
    if thousands in fraction:
        return False
    if 1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:]):
        return True
    # Indian grouping: the last three digits, then pairs (1,23,45,678.90)
    return (len(groups) >= 3 and len(groups[-1]) == 3 and 1 <= len(groups[0]) <= 2
            and all(len(group) == 2 for group in groups[1:-1]))


def plain_amount_parser(amount_format: str, currency: str = "USD"):
    """A parser for amount text made only of digits, separators and "$" (nearly every cell) that
    gives what parse_amount gives without its regular expressions, or None when parse_amount
    must decide (and word the error). "$" passes only in a currency written with it."""
    thousands, decimal_mark = AMOUNT_FORMATS[amount_format][1:]
    from collections_work.debtor_accounts.money import uses_symbol

    dollar = uses_symbol(currency, "$")

    def parse(text: str) -> Decimal | None:
        if _AMOUNT_CHARS.fullmatch(text) is None or (not dollar and "$" in text):
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


# Excel serial numbers taken for dates in a date column of a workbook: 1950-01-01 to 2099-12-31.
# A number outside this range there is more likely an amount or a day count than a date.
SERIAL_DATE_RANGE = (18264, 73050)


def excel_serial_date(value, date_system: str) -> date | None:
    """The date an Excel serial number stands for in a workbook of `date_system` ("1900" or
    "1904"), or None when `value` is not a whole number in SERIAL_DATE_RANGE (a time of day,
    a fraction, is dropped: the dates kept are days)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or date_system not in ("1900", "1904"):
        return None
    as_1900 = value + 1462 if date_system == "1904" else value  # 1904-01-01 is serial 1462 in 1900 terms
    if not SERIAL_DATE_RANGE[0] <= as_1900 < SERIAL_DATE_RANGE[1] + 1:
        return None
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

    epoch = CALENDAR_MAC_1904 if date_system == "1904" else CALENDAR_WINDOWS_1900
    return from_excel(int(value), epoch).date()


def parse_date(value, date_format: str = "%m/%d/%Y", date_system: str = "") -> date:
    """ISO dates always; otherwise the client's chosen format. XLSX date cells pass through, and
    in a workbook (`date_system` "1900" or "1904") a number in a General cell is read as Excel's
    serial date (45688 is 2025-01-31) when it falls in SERIAL_DATE_RANGE."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and date_system:
        serial = excel_serial_date(value, date_system)
        if serial is None:
            raise ValueError("is a number, not a date (as an Excel date serial it is out of range)")
        return serial
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


_SCIENTIFIC = re.compile(r"[+-]?\d+([.,]\d+)?[eE][+-]?\d+", re.ASCII)
US_COUNTRY = {"", "US", "USA", "U.S.", "U.S.A.", "UNITED STATES", "UNITED STATES OF AMERICA"}
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split())
EXPORT_AGAIN = ("format the column as Text in the spreadsheet (or with a format such as 00000 that keeps the "
                "leading zeros), check the values and export the file again")


def identifier_error(value, text: str, *, postal_code: bool = False, country: str = "", region: str = "") -> str:
    """Why an identifier cell (a reference, ZIP, phone or tax ID) has lost digits to a spreadsheet
    that took it for a number, or "": written in scientific notation (4.2E+11), a number past
    the 15 digits a spreadsheet keeps, or a US ZIP of 3-4 digits (02134 stored as 2134). The
    lost digits cannot be recovered here, so the row is refused with how to export it again."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e15:
        return f"has lost digits: a spreadsheet keeps only 15 digits of a number; {EXPORT_AGAIN}"
    if ("E" in text or "e" in text) and _SCIENTIFIC.fullmatch(text):
        return f"is a number in scientific notation, so its digits are lost; {EXPORT_AGAIN}"
    if postal_code and text.isascii() and text.isdigit() and 3 <= len(text) <= 4:
        us = country.strip().upper() in US_COUNTRY - {""} or (
            not country.strip() and region.strip().upper() in US_STATES)
        if us:
            return f"has lost its leading zero (the ZIP is likely {text.zfill(5)}); {EXPORT_AGAIN}"
    return ""


def parse_email(value: str) -> str:
    """The address in lower case, without what exports wrap it in ("mailto:", <...>, a trailing ; or ,).
    Raises ValueError (the reason) for anything mail cannot be sent to: "a,b@x.com", "x@@y.com",
    a non-ASCII name before the @ ("josé@x.com"; an international domain is fine)."""
    text = value.strip().lower()
    text = text.removeprefix("mailto:").strip().strip(";,").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    # Length first: a pattern can backtrack on a long cell like "a@b.b.b...b@".
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        if "@" in text and not text.split("@", 1)[0].isascii():
            raise ValueError("is not an email address mail can be sent to: the part before the @ must use "
                             "a-z, 0-9 and . _ + -")
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


# --- Workbook number formats -----------------------------------------------------------------

_FORMAT_TOKEN = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.|.', re.DOTALL)
_PADDING_LITERALS = set("-/ ()")  # not "." or ",": those make a decimal or grouped number


def number_format_reader(code: str):
    """For an Excel number format: a function turning a cell's number into what it means here,
    or None when the number stays a number. A format that pads with zeros ("00000", "00000000",
    "000-00-0000") gives the text Excel shows ("02134"); a format that names a currency
    ("[$€-407] #,##0.00", '"£"#,##0.00', '#,##0.00 "EUR"') gives a FormattedNumber carrying it."""
    section = code.split(";")[0]
    tokens = _FORMAT_TOKEN.findall(section)
    marker = _format_currency(tokens)
    if marker:
        return lambda value: FormattedNumber(value, marker)
    zeros = sum(1 for token in tokens if token == "0")
    pads = zeros >= 2 and all(token == "0" or token[0] in '"\\' or token in _PADDING_LITERALS for token in tokens)
    if not pads:
        return None

    def shown(value):
        if isinstance(value, float) and not value.is_integer() or value < 0:
            return value
        digits = str(int(value)).zfill(zeros)
        extra, at = len(digits) - zeros, 0
        out = []
        for token in tokens:
            if token == "0":
                take = 1 + (extra if at == 0 else 0)
                out.append(digits[at:at + take])
                at += take
            elif token.startswith('"'):
                out.append(token[1:-1])
            elif token.startswith("\\"):
                out.append(token[1:])
            else:
                out.append(token)
        return "".join(out)
    return shown


def _format_currency(tokens: list[str]) -> str:
    """The currency a format's tokens show: "[$€-407]" -> "€", '"£"' -> "£", "[$USD]" -> "USD",
    a bare currency sign ("$", "€"), or ""."""
    import unicodedata

    for token in tokens:
        if token.startswith("[$"):
            marker = token[2:-1].split("-")[0].strip()
            if marker:
                return marker
        elif token.startswith('"') or token.startswith("\\"):
            text = token.strip('"').lstrip("\\").strip()
            if text and (any(unicodedata.category(ch) == "Sc" for ch in text) or text.isalpha() and len(text) == 3
                         and text.isupper()):
                return text
        elif len(token) == 1 and unicodedata.category(token) == "Sc":
            return token
    return ""
