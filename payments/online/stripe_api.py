"""The one place the portal talks to Stripe: a client per agency (its own secret key), amounts
in cents, and Stripe's objects as plain dicts.

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


def to_cents(amount: Decimal) -> int:
    return int((amount.quantize(CENTS, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def from_cents(cents) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(CENTS)


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
