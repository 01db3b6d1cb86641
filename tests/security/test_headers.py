"""Security headers (issue 11, cases 7 and 8a): Content-Security-Policy and Permissions-Policy on
every response, no inline script anywhere in our templates, one page at a time may add Stripe's
host, and pages with debtor details are never stored by a browser or proxy cache.

The browser side (pages really work under the policy) is tests/e2e: every journey fails on a
CSP refusal (tests/e2e/conftest.py), and tests/e2e/test_content_security_policy.py visits the
pages no journey does.
"""
import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path, reverse

from portal.security import allow_stripe

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(response) -> dict:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


PAGES = ["/accounts/login/", "/accounts/password/reset/", "/healthz", "/api/docs/", "/api/v1/accounts/",
         "/no-such-page/", "/api/v1/no-such-thing/", "/admin/login/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_response_has_a_strict_csp_and_a_permissions_policy(url, db, client):
    response = client.get(url)
    policy = directives(response)
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not [source for sources in policy.values() for source in sources
                if source in ("'unsafe-inline'", "'unsafe-eval'", "*")]
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "usb=()", "payment=(self)"):
        assert feature in permissions


def test_signed_in_pages_have_the_headers_too(world, signed_in):
    response = signed_in(world.alpha.admin).get("/agency/")
    assert response.status_code == 200
    assert directives(response)["script-src"] == ["'self'"] and "camera=()" in response["Permissions-Policy"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
JS_URL = re.compile(r"javascript:", re.IGNORECASE)


def page_templates():
    """Every template that renders a page (email templates go to mail clients, not browsers)."""
    return sorted(p for p in TEMPLATES.rglob("*.html") if "emails" not in p.relative_to(TEMPLATES).parts)


def test_no_template_has_inline_script_handlers_or_style_attributes():
    """The kind, not the case: the policy would block them, so none may exist. JSON data islands
    (<script type="application/json">) would be fine but none is needed yet."""
    found = []
    for template in page_templates():
        text = template.read_text()
        for pattern, what in ((INLINE_SCRIPT, "inline <script>"), (HANDLER, "on*= handler"),
                              (STYLE_ATTRIBUTE, "style= attribute"), (JS_URL, "javascript: URL")):
            found += [f"{template.relative_to(TEMPLATES)}: {what} {match.group(0)!r}" for match in pattern.finditer(text)]
    assert page_templates() and not found, "\n".join(found)


def test_the_api_docs_load_their_script_from_a_url_not_inline(db, client):
    page = client.get("/api/docs/").content.decode()
    assert "<script" in page and not INLINE_SCRIPT.search(page)
    script = client.get("/api/docs/?script")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# --- One page may add Stripe's host, and only that page --------------------------------------------

@allow_stripe
def payment_page(request):
    return HttpResponse("pay")


def other_page(request):
    return HttpResponse("other")


urlpatterns = [path("pay/", payment_page), path("other/", other_page)]


@override_settings(ROOT_URLCONF=__name__, STRIPE_JS_URL="https://js.stripe.com/v3/")
def test_allow_stripe_widens_the_policy_for_its_view_alone(client):
    paying, other = directives(client.get("/pay/")), directives(client.get("/other/"))
    assert paying["script-src"] == ["'self'", "https://js.stripe.com"]
    assert "https://js.stripe.com" in paying["frame-src"] and "https://api.stripe.com" in paying["connect-src"]
    assert other["script-src"] == ["'self'"] and "frame-src" not in other
    assert not any("stripe" in source for sources in other.values() for source in sources)


@override_settings(ROOT_URLCONF=__name__, STRIPE_JS_URL="http://127.0.0.1:8420/js.stripe.com/v3/")
def test_with_localstripe_the_payment_page_allows_exactly_its_origin(client):
    paying, other = directives(client.get("/pay/")), directives(client.get("/other/"))
    assert paying["script-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert paying["connect-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert not any("stripe" in source for sources in paying.values() for source in sources)
    assert not any("8420" in source for sources in other.values() for source in sources)


# --- Pages with debtor details are never stored (case 8a) --------------------------------------------

def test_every_page_with_debtor_details_is_no_store_and_other_pages_are_not_forced(world, client):
    """Decided in one place (DebtorDataNoStoreMiddleware) for every view of the apps that hold
    debtor data, so the list, account page, workspace, exports, placements, the home summary
    and the API are all covered, and any page added there later too."""
    from collections_work.placements.services import accounts_place
    from portal.tenancy import tenant_scope
    from tests.collections_work.api.test_api import key_header

    persona = world.alpha.clients[0]
    with tenant_scope(persona.client.agency, persona.client):
        batch, accounts = accounts_place(agency=persona.client.agency, actor=persona.admin, client=persona.client,
                                         source="form", rows=[{"client_reference": "NS-1", "debtor_name": "Hidden Debtor",
                                                               "principal": "10.00", "due_date": "2024-01-31"}])
    account = accounts[0]
    client.force_login(world.alpha.admin)
    pages = [reverse("debtor_account_list"), reverse("debtor_account_detail", args=[account.pk]),
             reverse("account_workspace", args=[account.pk]), reverse("debtor_account_export") + "?format=csv",
             reverse("placement_list"), reverse("placement_detail", args=[batch.pk]), reverse("placement_summary")]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], url
    api = client.get("/api/v1/accounts/", **key_header(persona))
    assert api.status_code == 200 and "no-store" in api["Cache-Control"]
    client.logout()
    assert "no-store" not in client.get("/healthz").get("Cache-Control", "")
