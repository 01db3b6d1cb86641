"""The one place the portal talks to Stripe: a client per agency (its own secret key), amounts
in each currency's minor units, and Stripe's objects as plain dicts.

Every call goes to settings.STRIPE_API_BASE (Stripe's API, or localstripe in tests and `up`).
"""
from decimal import ROUND_HALF_UP, Decimal

import stripe
from django.conf import settings

CENTS = Decimal("0.01")
# Stripe's errors the portal handles: a card declined (CardError) and everything else Stripe or
# the network can answer (StripeError is their common base).
CardError = stripe.CardError
StripeError = stripe.StripeError


def client_for(secret_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        secret_key, base_addresses={"api": settings.STRIPE_API_BASE}, max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS))


# Stripe counts amounts in each currency's minor unit (docs.stripe.com/currencies#minor-units):
# cents for most, whole units for these zero-decimal currencies, thousandths for these three.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def minor_units_per_unit(currency: str) -> int:
    """How many of Stripe's minor units make one unit of `currency` (ISO code, any case): 1, 100 or 1000."""
    code = (currency or "").upper()
    return 1 if code in ZERO_DECIMAL else 1000 if code in THREE_DECIMAL else 100


def to_minor_units(amount: Decimal, currency: str) -> int:
    """A Decimal amount (two decimals) as Stripe's integer amount in `currency`: 12.34 USD is
    1234, 5000.00 JPY is 5000, 1.25 KWD is 1250. Raises ValueError for a fraction a
    zero-decimal currency cannot charge (12.50 JPY)."""
    units = amount.quantize(CENTS, rounding=ROUND_HALF_UP) * minor_units_per_unit(currency)
    if units != units.to_integral_value():
        raise ValueError(f"{amount} {currency.upper()} has a fraction {currency.upper()} cannot be charged in")
    return int(units)


def from_minor_units(units, currency: str) -> Decimal:
    """Stripe's integer amount in `currency` as a Decimal with two decimals (5000 JPY is 5000.00)."""
    return (Decimal(int(units)) / minor_units_per_unit(currency)).quantize(CENTS)


def plain(obj) -> dict:
    """A Stripe object (or an already plain dict) as nested plain dicts and lists."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()


def error_message(error: StripeError) -> str:
    """What to tell the debtor: the card issuer's words for a decline, a plain sentence otherwise."""
    if isinstance(error, stripe.CardError):
        return error.user_message or "Your card was declined."
    if isinstance(error, (stripe.APIConnectionError, stripe.RateLimitError)):
        return "The card service is not answering right now. Nothing was charged; try again in a few minutes."
    return "The card service could not take this payment. Nothing was charged; try again or contact the agency."
