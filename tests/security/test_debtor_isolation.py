"""Isolation sweep of the debtor's pages (/d/<token>/...): the secure link is the only
credential, so every route is driven with another account's token, another account's ids, a
session verified for another link, and a staff session (which grants nothing here).

Accounts: Alpha's "A-1" and Bravo's "B-1", each with a sent offer, a letter link and a signed
agreement. The visitor verifies on A-1's link only.
"""
import pytest
from django.urls import reverse

from payments.links.services import link_issue
from payments.models import AcceptanceEvidence, PaymentPlan, PlanOffer
from portal.tenancy import tenant_scope
from tests.payments.conftest import RIGHT_ANSWERS, make_identifiable_account, path_of

DEBTOR_ROUTES = ("debtor_landing", "debtor_account", "debtor_offer", "debtor_plan", "debtor_dispute",
                 "debtor_callback", "debtor_opt_out", "debtor_agreement", "debtor_sign_out", "debtor_pay",
                 "debtor_pay_result", "debtor_autopay")


def _book(agency_personas, reference):
    """An account with a sent offer, a letter link to it, and a (directly written) agreement."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    with tenant_scope(agency_personas.agency):
        from collections_work.models import ContactPolicy

        ContactPolicy.objects.get_or_create(agency=agency_personas.agency,
                                            defaults={"earliest_hour": 0, "latest_hour": 24})
        account = make_identifiable_account(agency_personas.clients[0], reference)
        offer = PlanOffer.objects.create(agency=agency_personas.agency, client=account.client, account=account,
                                         kind="lump_sum", total_amount="1000.00", status="sent",
                                         first_due_date=timezone.localdate())
        link, url = link_issue(agency=agency_personas.agency, actor=agency_personas.collector, account=account,
                               channel="letter", offer=offer)
        accepted = PlanOffer.objects.create(agency=agency_personas.agency, client=account.client, account=account,
                                            kind="lump_sum", total_amount="900.00", status="accepted",
                                            first_due_date=timezone.localdate())
        plan = PaymentPlan.objects.create(agency=agency_personas.agency, client=account.client, account=account,
                                          offer=accepted, kind="lump_sum", total_amount="900.00",
                                          accepted_at=timezone.now())
        evidence = AcceptanceEvidence(agency=agency_personas.agency, client=account.client, account=account,
                                      link=link, offer=accepted, plan=plan, typed_name=f"{reference} signer",
                                      consented=True, disclosure_version="v", disclosure_sha256="0" * 64,
                                      accepted_at=timezone.now(), agreement_sha256="1" * 64)
        evidence.agreement_pdf.save("a.pdf", ContentFile(f"%PDF {reference}".encode()), save=False)
        evidence.save()
    return {"account": account, "offer": offer, "token": path_of(url).strip("/").split("/")[1], "evidence": evidence}


@pytest.fixture
def books(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return {"alpha": _book(world.alpha, "A-1"), "bravo": _book(world.bravo, "B-1")}


def url(route, token, book):
    extra = {"debtor_offer": [book["offer"].pk], "debtor_agreement": [book["evidence"].reference],
             "debtor_pay_result": [book.get("payment_intent", "pi_none")]}.get(route, [])
    return reverse(route, args=[token, *extra])


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def assert_nothing_of(response, book):
    text = body(response)
    for secret in (book["account"].client_reference, book["account"].debtor_name, "1,200.00",
                   book["evidence"].typed_name):
        assert secret not in text, f"{response.request['PATH_INFO']} shows {secret!r}"


@pytest.mark.parametrize("route", DEBTOR_ROUTES)
def test_a_session_verified_for_one_link_gets_nothing_from_another(route, books, client):
    alpha, bravo = books["alpha"], books["bravo"]
    assert client.post(reverse("debtor_landing", args=[alpha["token"]]), RIGHT_ANSWERS).status_code == 302
    for method in ("get", "post"):
        response = getattr(client, method)(url(route, bravo["token"], bravo))
        assert response.status_code in (200, 302, 400, 405), (route, method, response.status_code)
        if response.status_code == 302:
            assert response.url == reverse("debtor_landing", args=[bravo["token"]])
        assert_nothing_of(response, bravo)
    with tenant_scope(bravo["account"].agency_id):
        bravo["account"].refresh_from_db()
        assert bravo["account"].status == "active" and not bravo["account"].disputes.exists()


@pytest.mark.parametrize("route", ["debtor_offer", "debtor_agreement"])
def test_another_accounts_ids_under_ones_own_link_are_404(route, books, client):
    alpha, bravo = books["alpha"], books["bravo"]
    client.post(reverse("debtor_landing", args=[alpha["token"]]), RIGHT_ANSWERS)
    for method in ("get", "post"):
        response = getattr(client, method)(url(route, alpha["token"], bravo))
        assert response.status_code == 404, (route, method)
        assert_nothing_of(response, bravo)
    own = client.get(url(route, alpha["token"], alpha))
    assert own.status_code == 200  # the same URL shape works for the visitor's own account


@pytest.mark.parametrize("persona", ["admin", "collector", "client1_admin"])
def test_a_staff_or_client_session_is_no_key_to_the_debtors_pages(persona, books, client, world):
    from tests.security.test_isolation_sweep import viewer_for

    client.force_login(viewer_for(persona, world).user)
    for route in DEBTOR_ROUTES[1:]:
        response = client.get(url(route, books["alpha"]["token"], books["alpha"]))
        assert response.status_code in (302, 405) and (response.status_code == 405 or response.url.endswith(
            f"/d/{books['alpha']['token']}/")), route
        assert_nothing_of(response, books["alpha"])


def test_every_debtor_route_is_covered_here():
    from tests.security.test_isolation_sweep import walk_routes

    debtor = sorted(key for key, entry in walk_routes() if str(entry.pattern).startswith("d/"))
    assert debtor == sorted(DEBTOR_ROUTES), "a new debtor route must be added to DEBTOR_ROUTES"


def test_a_payment_made_on_another_link_is_404_on_ones_own(books, client, localstripe):
    """Both agencies take cards; a PaymentIntent made on Bravo's link (its metadata names that link)
    opens only there: under Alpha's link it is a 404, and nothing is posted anywhere."""
    from payments.models import Payment, SecureLink, StripeAccount
    from portal.tenancy import unscoped
    from tests.stripe_local import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET

    for name in ("alpha", "bravo"):
        account = books[name]["account"]
        with tenant_scope(account.agency_id):
            keys = StripeAccount(agency_id=account.agency_id, publishable_key=PUBLISHABLE_KEY)
            keys.set_secret_key(SECRET_KEY)
            keys.set_webhook_secret(WEBHOOK_SECRET)
            keys.save()
    bravo = books["bravo"]["account"]
    with unscoped():
        bravo_link = SecureLink.objects.get(account=bravo)
    intent = localstripe.client().v1.payment_intents.create(params={
        "amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        "metadata": {"agency": str(bravo.agency_id), "account": str(bravo.pk), "link": str(bravo_link.pk)}})
    client.post(reverse("debtor_landing", args=[books["alpha"]["token"]]), RIGHT_ANSWERS)
    response = client.get(reverse("debtor_pay_result", args=[books["alpha"]["token"], intent.id]))
    assert response.status_code == 404
    assert_nothing_of(response, books["bravo"])
    with unscoped():
        assert not Payment.objects.exists()
