"""Cells that go out to spreadsheets (exports, rejected-rows files)."""
import re

# What can start a formula: = + - @ and their full-width forms (some spreadsheets fold those).
FORMULA_STARTS = "=+-@\uff1d\uff0b\uff0d\uff20"
# Where a spreadsheet may start a new cell or row inside one exported value: the delimiters it
# may split on when it guesses the file's (comma, semicolon, tab, pipe) and line breaks of any kind.
CELL_BREAKS = ",;|\t\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_FORMULA_AT = re.compile(
    "(^|[" + re.escape(CELL_BREAKS) + "])"  # the value's start, or a break
    "([ \u00a0\u1680\u2000-\u200d\u202f\u205f\u2060\u3000\ufeff]*)"  # spaces it may trim, invisible ones too
    "(?=[" + re.escape(FORMULA_STARTS) + "])")
# A negative number alone ("-5.00", "-1,234.50") is a number to a spreadsheet, not a formula: it
# goes back as it was in the file (a rejected row's negative amount came back as "'-5.00"). A
# leading "+" stays quoted: "+12125550199" is a phone number a spreadsheet would turn into digits.
_SIGNED_NUMBER = re.compile(r"-(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


def neutralise_formula(text: str) -> str:
    """For exports: text a spreadsheet could run as a formula is made plain text. A formula may
    start the cell (after spaces it may trim) or start a new cell after a delimiter or line break
    it splits on (`;=HYPERLINK(...)` in a file opened where ';' separates cells): each such start
    gets a quote before it. A value starting with a tab or CR is quoted too."""
    if not text or _SIGNED_NUMBER.fullmatch(text):
        return text
    safe = _FORMULA_AT.sub(lambda match: match.group(1) + "'" + match.group(2), text)
    if safe[0] in "\t\r":
        safe = "'" + safe
    return safe
