"""What typed or uploaded text may contain where it becomes a name, a reference or an amount.

Names and references are shown to people, searched, exported to spreadsheets and printed on
letters: a control character or an invisible one (zero-width space, word joiner, byte-order mark,
bidirectional overrides that make "INV-001" display as something else) makes two references look
equal that are not, or hides text. Amounts are read only from the digits 0-9: Python's Decimal()
and int() also read other scripts' digits (Arabic-Indic "٣٤٥" is 345), which nobody typing an
amount into a portal for US collections means, and which no export or bank file would show the same.
"""
import re
import unicodedata

# C0 and C1 control characters (tab, newline and NUL included), zero-width space/non-joiner/joiner,
# word joiner, byte-order mark, and the bidirectional embeddings, overrides and isolates.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]")


def hidden_character(text: str) -> str | None:
    """The first control or invisible character of `text`, described for a message
    ("U+200B ZERO WIDTH SPACE"), or None when there is none."""
    match = _HIDDEN.search(text or "")
    if match is None:
        return None
    char = match.group(0)
    return f"U+{ord(char):04X} {unicodedata.name(char, 'CONTROL CHARACTER')}"


def visible_text_error(label: str, text: str) -> str | None:
    """A message for a name or reference holding a hidden character, else None."""
    found = hidden_character(text)
    if found is None:
        return None
    return f"{label} contains an invisible or control character ({found}); remove it and type the text again"


def has_non_ascii_digit(text) -> bool:
    """Whether `text` has a digit outside 0-9 (Arabic-Indic, full-width, Devanagari ...)."""
    return isinstance(text, str) and any(char.isdigit() and not char.isascii() for char in text)


NON_ASCII_DIGITS = "use the digits 0-9"


def strip_nul(text: str) -> tuple[str, bool]:
    """(text without NUL bytes, whether there were any). PostgreSQL refuses NUL in text."""
    if "\x00" not in text:
        return text, False
    return text.replace("\x00", ""), True


def shorten_filename(name: str, limit: int) -> str:
    """`name` cut to `limit` characters by shortening its stem, so the extension (what it opens
    with, and what the portal checked the content against) survives: "long…name.pdf"."""
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) + 1 >= limit // 2:  # no usable extension: a plain cut
        return name[:limit]
    return stem[:limit - len(extension) - 1] + "." + extension


def date_text(value, pattern: str = "%b %d, %Y") -> str:
    """`value` (a date, or a datetime printed in its own zone: localize it first to show local
    time) in strftime `pattern`, with the day of the month without its leading zero: "Dec 2,
    2026", as the templates' "M j, Y" print it (strftime's "%d" gives "Dec 02"; "%-d" is not
    portable). For words, not ISO dates: every "%d" loses its zero."""
    return value.strftime(pattern.replace("%d", str(value.day)).replace("%Y", f"{value.year:04d}"))


# How people write an amount: digits 0-9, an optional sign, commas only between thousands, a dot
# before the cents. Decimal() also reads "1e3" (1000), "1_000", "Infinity" and " 12 ", and a
# form that handed it what was typed posted 1,000.00 for "1e3".
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?")  # "0,500" is a decimal comma, not 500


def plain_number(text: str) -> str | None:
    """`text` (stripped, thousands commas removed) when it is a number written as people write
    amounts ("1234.50", "1,234.50", "-5", ".50"), else None ("1e3", "1_000", "12,30", "$5", "NaN",
    "١٢"). The caller gives Decimal() only what this returns."""
    text = text.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    if _GROUPED_NUMBER.fullmatch(text):
        return text.replace(",", "")
    return None


def is_decimal_comma(text: str) -> bool:
    """Whether `text`, which plain_number refused, has a comma: most likely a decimal comma
    ("12,30", "1.234,50", "0,500"), so the message says to write cents after a dot."""
    return "," in text
