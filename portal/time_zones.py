"""Which time zone names are taken at face value: IANA region names ("America/New_York").

Abbreviations and fixed offsets ("EST", "Etc/GMT+5", "UTC") and old aliases ("US/Eastern") name
no place: "EST" is UTC-5 all year while New York is UTC-4 in summer, so a debtor's zone given
that way would put calling hours and "today" an hour off for half the year. Code that decides
something by a debtor's zone treats any other name as unknown.
"""
import re
import zoneinfo
from functools import lru_cache

_REGION = re.compile(r"^(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Za-z_/+-]+$")


@lru_cache(maxsize=1)
def region_zones() -> frozenset:
    """Every IANA region name this machine's zone data knows."""
    return frozenset(name for name in zoneinfo.available_timezones() if _REGION.match(name))


def is_region_zone(name: str) -> bool:
    """Whether `name` is an IANA region name (America/Chicago), not an abbreviation, offset or alias."""
    return bool(name) and name in region_zones()
