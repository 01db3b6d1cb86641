"""The debtor's day: every "is it due / late / broken today" judgement about a debtor account.

A promise "by December 2" means by the end of December 2 where the debtor lives, not in UTC and
not where the collector sits: at 01:00 UTC on December 3 it is still 20:00 on December 2 in New
York. The account's `debtor_time_zone` says where; when it is unknown (or not a zone name), the
debtor may be in any US zone (compliance.UNKNOWN_ZONE_CANDIDATES), and the judgement takes the
latest of them: a day has ended only once it has ended in every candidate zone (Honolulu last),
and a day has begun only once it has begun in all of them.

    debtor_today(zone, now)        the debtor's date now (account_today(account, now): the same for an account)
    day_has_ended(zone, day, now)  is `day` over for the debtor (a promise due that day is late)?
    start_of_day(zone, day)        the instant the debtor's `day` begins (when a promise comes due)
    latest_date_anywhere(now)      a date no debtor's today can be after: a superset bound for queries,
                                   refined row by row with the functions above
"""
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from collections_work.compliance import UNKNOWN_ZONE_CANDIDATES
from portal.time_zones import is_region_zone

# The earliest local time on Earth (UTC+14, Kiribati): no debtor's date is ever later than this one's.
_EARLIEST_ZONE = ZoneInfo("Etc/GMT-14")


@lru_cache(maxsize=512)
def debtor_zones(zone: str) -> tuple[ZoneInfo, ...]:
    """The zones the debtor may be in: theirs, or every candidate US zone when it is unknown or
    not an IANA region name this machine knows (portal/time_zones.py)."""
    if zone and is_region_zone(zone):  # "EST" or "US/Eastern" is not taken at face value
        try:
            return (ZoneInfo(zone),)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return tuple(ZoneInfo(name) for name in UNKNOWN_ZONE_CANDIDATES)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def debtor_today(zone: str, now: datetime | None = None) -> date:
    """The debtor's date at `now` (unknown zone: the latest candidate's, the earliest date)."""
    now = _now(now)
    return min(now.astimezone(candidate).date() for candidate in debtor_zones(zone))


def account_today(account, now: datetime | None = None) -> date:
    """debtor_today for a debtor account (its `debtor_time_zone`)."""
    return debtor_today(account.debtor_time_zone, now)


def day_has_ended(zone: str, day: date, now: datetime | None = None) -> bool:
    """Whether `day` is over for the debtor at `now` (in every candidate zone when unknown)."""
    return debtor_today(zone, now) > day


def start_of_day(zone: str, day: date) -> datetime:
    """The instant `day` begins for the debtor (unknown zone: when it has begun in every candidate)."""
    return max(datetime.combine(day, time.min, tzinfo=candidate) for candidate in debtor_zones(zone))


def end_of_day(zone: str, day: date) -> datetime:
    """The instant `day` is over for the debtor: the start of the next day."""
    return start_of_day(zone, day + timedelta(days=1))


def latest_date_anywhere(now: datetime | None = None) -> date:
    """No debtor's today is later than this: `due_date < latest_date_anywhere(now)` selects a
    superset of what `day_has_ended` keeps."""
    return _now(now).astimezone(_EARLIEST_ZONE).date()
