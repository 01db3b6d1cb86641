"""Dates in messages and timeline entries read as the pages print them ("Dec 2, 2026")."""
from datetime import date, datetime

from portal.text import date_text


def test_the_day_of_the_month_has_no_leading_zero_in_any_pattern():
    assert date_text(date(2026, 12, 2)) == "Dec 2, 2026"
    assert date_text(date(2026, 3, 9), "%b %d") == "Mar 9"
    assert date_text(datetime(2026, 12, 7, 9, 5), "%b %d, %Y at %H:%M") == "Dec 7, 2026 at 09:05"
    assert date_text(date(2026, 11, 30)) == "Nov 30, 2026"
    assert date_text(date(1, 1, 1)) == "Jan 1, 0001"  # an empty date from another system, said as typed
