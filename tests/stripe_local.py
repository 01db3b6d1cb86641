"""The real localstripe for the tests (no mocks of Stripe).

`localstripe` (session fixture, in tests/conftest.py) starts it as a child process on a free
loopback port (portal.stripe_server), points settings.STRIPE_API_BASE and STRIPE_JS_URL at it,
and registers a webhook (POST /_config/webhooks/tests) to a small HTTP server in the test process
that keeps every delivery: the tests hand those signed deliveries to the portal's webhook view
through Django's test client, so the webhook runs inside the test's own transaction.

What localstripe does not send (no charge.refunded event for a refund, no disputes at all) the
tests build in Stripe's shape around real localstripe objects and sign with Stripe's own scheme
(stripe.WebhookSignature.generate_signature_header): `LocalStripe.signed_event`.
"""
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe
from django.test import override_settings

from portal.stripe_server import free_port, localstripe_start, localstripe_webhook

PUBLISHABLE_KEY = "pk_test_portaltests0123456789"
SECRET_KEY = "sk_test_portaltests0123456789"
WEBHOOK_SECRET = "whsec_portaltests0123456789abcdef"

CARD_OK = "4242424242424242"
CARD_DECLINED_AT_ATTACH = "4000000000000002"
CARD_DECLINED_WHEN_CHARGED = "4000000000000341"
CARD_3DS = "4000002500003155"


@dataclass
class Delivery:
    body: bytes
    signature: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class _Catcher(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.deliveries.append(Delivery(body, self.headers.get("Stripe-Signature", "")))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@dataclass
class LocalStripe:
    base: str
    catcher: ThreadingHTTPServer

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(SECRET_KEY, base_addresses={"api": self.base}, max_network_retries=0)

    # --- What stripe.js (localstripe's stand-in) does in the browser --------------------------------

    def browser_post(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def confirm_card_setup(self, client_secret: str, number: str) -> tuple[int, dict]:
        """stripe.confirmCardSetup(secret, {payment_method: {card}}) as the stand-in sends it."""
        setup_intent = client_secret.split("_secret_")[0]
        return self.browser_post(f"/v1/setup_intents/{setup_intent}/confirm", {
            "key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret,
            "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2034",
                                                              "cvc": "123"},
                                    "billing_details": {"address": {"postal_code": "62701"}}}})

    def authenticate(self, client_secret: str, success: bool = True) -> tuple[int, dict]:
        """stripe.confirmCardPayment(secret) for a payment waiting for 3-D Secure (the stand-in's modal)."""
        intent = client_secret.split("_secret_")[0]
        return self.browser_post(f"/v1/payment_intents/{intent}/_authenticate?success={str(success).lower()}",
                                 {"key": PUBLISHABLE_KEY, "client_secret": client_secret})

    # --- Webhooks -------------------------------------------------------------------------------------

    def wait_for(self, event_type: str, object_id: str | None = None, timeout: float = 15, *,
                 where=None) -> Delivery:
        """The delivery of `event_type` about `object_id` (or whose object satisfies `where`);
        localstripe sends it about a second after the change."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for delivery in list(self.catcher.deliveries):
                event, obj = delivery.event, delivery.event["data"]["object"]
                if event["type"] == event_type and (object_id is None or obj.get("id") == object_id) \
                        and (where is None or where(obj)):
                    return delivery
            time.sleep(0.1)
        raise AssertionError(f"localstripe sent no {event_type} for {object_id or where} within {timeout}s")

    def signed_event(self, event_type: str, obj: dict, *, event_id: str | None = None,
                     secret: str = WEBHOOK_SECRET) -> Delivery:
        """An event localstripe does not send, in Stripe's shape, signed as Stripe signs."""
        event = {"id": event_id or f"evt_test_{time.time_ns()}", "object": "event", "type": event_type,
                 "created": int(time.time()), "livemode": False, "api_version": "2017-08-15",
                 "data": {"object": obj}}
        body = json.dumps(event)
        return Delivery(body.encode(), stripe.WebhookSignature.generate_signature_header(body, secret))


def deliver(client, slug: str, delivery: Delivery, *, signature: str | None = None):
    """POST a delivery to the portal's webhook for agency `slug` (Django's test client)."""
    return client.post(f"/stripe/webhook/{slug}/", data=delivery.body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=delivery.signature if signature is None else signature)


def start_localstripe():
    """(LocalStripe, stop): localstripe on a free port, settings pointed at it, the catcher registered."""
    port = free_port()
    process = localstripe_start(port)
    base = f"http://127.0.0.1:{port}"
    catcher = ThreadingHTTPServer(("127.0.0.1", 0), _Catcher)
    catcher.deliveries = []
    threading.Thread(target=catcher.serve_forever, daemon=True).start()
    localstripe_webhook(base, "tests", f"http://127.0.0.1:{catcher.server_address[1]}/", WEBHOOK_SECRET)
    overrides = override_settings(STRIPE_API_BASE=base, STRIPE_JS_URL=f"{base}/js.stripe.com/v3/")
    overrides.enable()

    def stop():
        overrides.disable()
        catcher.shutdown()
        process.terminate()
        try:
            process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            process.kill()

    return LocalStripe(base, catcher), stop
