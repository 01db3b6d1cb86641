"""Limits on a payment that hold wherever it comes from (form, API, payment file, Stripe). No
Django here: payments.batch.rows, which the intake sandbox imports on its own, checks them too."""
from datetime import date

# No account placed here was paid before this day; an earlier date is another system's empty
# date (0001-01-01, 1900-01-01) or a typo, and is refused.
EARLIEST_PAYMENT_DATE = date(2000, 1, 1)
