"""Cells that go out to spreadsheets (exports, rejected-rows files)."""


def neutralise_formula(text: str) -> str:
    """For exports: a cell a spreadsheet would run as a formula is prefixed with a quote."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
