"""The debtor's time zone from what a placement row gives: a time zone column, the ZIP code, the
state, or the phone number's area code. No Django here (the check runs in the sandbox).

The data come from maintained libraries, not from a table kept here: `zipcodes` (US ZIP codes
with their IANA zone, from the USPS/census data it ships) for ZIP codes and states, and Google's
`phonenumbers` (its timezone module) for phone numbers. A source that allows several zones (a
state across two zones, an area code across two) decides nothing on its own.
"""
import json
import os
import tempfile
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from portal.time_zones import is_region_zone, region_zones


US_NAMES = frozenset(("US", "USA", "U.S.", "U.S.A.", "UNITED STATES", "UNITED STATES OF AMERICA"))


@lru_cache(maxsize=1)
def _zip_data() -> tuple[dict, dict]:
    """({zip5: zone}, {state code: frozenset of zones}) from the `zipcodes` package, loaded once a
    process. Reading its 42,789 records takes ~0.7 s and ~140 MB (seconds on a busy machine), so
    the two small maps are kept in a file in the temporary folder, one per package version, and
    the checks and placements after the first read that (~30 ms)."""
    import zipcodes

    cache = Path(tempfile.gettempdir()) / f"portal-zip-zones-{zipcodes.__version__}.json"
    try:
        by_zip, by_state = json.loads(cache.read_text())
    except (OSError, ValueError):
        by_zip, states = {}, defaultdict(set)
        for entry in zipcodes.list_all():
            zone = entry.get("timezone") or ""
            if is_region_zone(zone):  # the data hold a few names that are no zone ("Napakiak")
                by_zip[entry["zip_code"]] = zone
                states[entry["state"]].add(zone)
        by_state = {state: sorted(zones) for state, zones in states.items()}
        try:
            partial = cache.with_name(f"{cache.name}.{os.getpid()}")
            partial.write_text(json.dumps([by_zip, by_state]))
            partial.replace(cache)
        except OSError:
            pass  # a read-only temporary folder: read the package again next time
    return by_zip, {state: frozenset(zones) for state, zones in by_state.items()}


def zone_for_zip(postal_code: str) -> str:
    """The IANA zone of a US ZIP code ("96813" or "96813-1234"), or "" when unknown."""
    code = postal_code.strip()[:5]
    if len(code) != 5 or not code.isdigit():
        return ""
    return _zip_data()[0].get(code, "")


def zones_for_state(state: str) -> frozenset:
    """The IANA zones of a US state or territory by its two-letter code ("HI"), empty when unknown."""
    return _zip_data()[1].get(state.strip().upper(), frozenset())


def zones_for_phone(phone: str) -> frozenset:
    """The IANA zones of a phone number's area (a US number without a country code is read as
    US), empty when unknown. Numbers are normalised to digits (intake.values.parse_phone)."""
    digits = phone.lstrip("+")
    if not phone.startswith("+") and len(digits) == 10:
        digits = "1" + digits
    # Looked up once per area: a US/Canadian number by its area code (the library's data go no
    # finer there for zones that matter here), another by its first five digits.
    return _phone_prefix_zones(digits[:4] if digits.startswith("1") else digits[:5], len(digits))


@lru_cache(maxsize=65536)
def _phone_prefix_zones(prefix: str, length: int) -> frozenset:
    import phonenumbers
    from phonenumbers import timezone as phone_zones

    try:
        number = phonenumbers.parse("+" + prefix + "5" * max(length - len(prefix), 0))
    except phonenumbers.NumberParseException:
        return frozenset()
    return frozenset(z for z in phone_zones.time_zones_for_number(number) if z in region_zones())


def derive_zone(*, given: str, postal_code: str, state: str, country: str, phone: str) -> tuple[str, str, str]:
    """(zone, where it came from, the phone's own zone) for one debtor.

    `given` (a time zone column) counts only as an IANA region name; an abbreviation or alias
    ("EST", "US/Eastern") is not taken at face value: the zone then comes from the ZIP code, the
    state (when all of it is in one zone), or the phone's area code (when in one zone). Nothing
    conclusive: ("", why, phone zone), and the debtor's calls must fit every US zone."""
    phone_zone = phone_zone_of(phone)
    zone, source = place_zone(given, postal_code, state, country, foreign_phone(phone))
    if zone or not phone_zone:
        return zone, source, phone_zone
    return phone_zone, phone_source(phone), phone_zone


def phone_zone_of(phone: str) -> str:
    """The phone's zone when its area is in one zone, else ""."""
    if not phone:
        return ""
    found = zones_for_phone(phone)
    return next(iter(found)) if len(found) == 1 else ""


def foreign_phone(phone: str) -> bool:
    """A number with a country code other than +1 (the US and Canada)."""
    return phone.startswith("+") and not phone.startswith("+1")


def phone_source(phone: str) -> str:
    digits = phone.lstrip("+")
    nanp = len(digits) == 10 or digits.startswith("1")
    return f"phone area code {digits.removeprefix('1')[:3]}" if nanp else "the phone number's country and area"


def place_zone(given: str, postal_code: str, state: str, country: str, foreign: bool) -> tuple[str, str]:
    """(zone, where it came from) from the time zone column, ZIP code and state (see derive_zone);
    ("", why or "") when they do not settle it."""
    if given and is_region_zone(given):
        return given, "the file's time zone column"
    country = country.strip().upper()
    # No country column: a phone number with another country code says the address is not in the
    # US either (a German PLZ 10115 is no New York ZIP code).
    us = country in US_NAMES if country else not foreign
    if us and postal_code:
        zone = zone_for_zip(postal_code)
        if zone:
            return zone, f"ZIP code {postal_code.strip()[:5]}"
    if us and state:
        zones = zones_for_state(state)
        if len(zones) == 1:
            return next(iter(zones)), f"state {state.strip().upper()}"
    if given:
        return "", f"“{given}” in the file is not a region name like America/New_York"
    return "", ""
