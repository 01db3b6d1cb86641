"""Per-view widenings of the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY).

The policy allows our own origin only. A page that must load something from another host says
so on its view, and only that view's responses carry the wider policy:

    from portal.security import allow_stripe

    @allow_stripe
    def debtor_payment(request, token): ...

For a class-based view: `method_decorator(allow_stripe, name="dispatch")`.
"""
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings

STRIPE_JS_ORIGIN = "https://js.stripe.com"

# Stripe.js and its card fields (https://docs.stripe.com/security/guide#content-security-policy):
# the script, its iframes, and the API it calls from the browser.
STRIPE_CSP = {
    "script-src": [STRIPE_JS_ORIGIN],
    "frame-src": [STRIPE_JS_ORIGIN, "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stripe_csp() -> dict:
    """What the payment page adds to the policy: Stripe's own hosts for the real stripe.js, or,
    when settings.STRIPE_JS_URL points elsewhere (localstripe's stand-in in tests and `up`),
    exactly that one origin (the stand-in draws plain inputs and calls its own server's API)."""
    origin = origin_of(settings.STRIPE_JS_URL)
    if origin == STRIPE_JS_ORIGIN:
        return STRIPE_CSP
    return {"script-src": [origin], "frame-src": [origin], "connect-src": [origin]}


def allow_stripe(view):
    """Widen the policy of this view's responses for stripe.js (read from settings per response)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        response = view(*args, **kwargs)
        response._csp_update = stripe_csp()
        return response

    return wrapped
