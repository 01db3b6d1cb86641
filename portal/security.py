"""Per-view widenings of the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY).

The policy allows our own origin only. A page that must load something from another host says
so on its view, and only that view's responses carry the wider policy:

    from portal.security import allow_stripe

    @allow_stripe
    def debtor_payment(request, token): ...

For a class-based view: `method_decorator(allow_stripe, name="dispatch")`.
"""
from csp.decorators import csp_update

# Stripe.js and its card fields (https://docs.stripe.com/security/guide#content-security-policy):
# the script, its iframes, and the API it calls from the browser.
STRIPE_CSP = {
    "script-src": ["https://js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}

allow_stripe = csp_update(STRIPE_CSP)
