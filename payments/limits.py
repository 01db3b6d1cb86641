"""Limits on a payment that hold wherever it comes from (form, API, payment file, Stripe). No
Django here: payments.batch.rows, which the intake sandbox imports on its own, checks them too."""
from datetime import date, datetime, timezone

# No account placed here was paid before this day; an earlier date is another system's empty
# date (0001-01-01, 1900-01-01) or a typo, and is refused.
EARLIEST_PAYMENT_DATE = date(2000, 1, 1)


def latest_payment_date(agency, now: datetime | None = None) -> date:
    """The latest date a payment may be received on, at `now` (an aware datetime; default: this
    moment): today in the agency's time zone (accounts.models.Agency.local_date) or in UTC,
    whichever is later. Processors and banks date payments in UTC, so a New York agency's evening
    may hold tomorrow's processor date; a Sydney agency's morning is already a day ahead of UTC.
    A later date is "in the future" and refused. `agency` None: UTC's date."""
    now = now or datetime.now(timezone.utc)
    utc_today = now.astimezone(timezone.utc).date()
    return utc_today if agency is None else max(utc_today, agency.local_date(now))
