"""The debtor pays the first installment of their plan by card, in Chromium at 390 px, through
localstripe's stand-in for stripe.js (the real localstripe on loopback), sees the receipt; the
client's admin then sees the payment and the agency's commission on the account page.

Screenshots of the payment page and the receipt at 390 and 1280 px are kept in
test-artifacts/screens/payments/ for people to look at.
"""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from collections_work.models import ContactPolicy
from payments.links.services import link_issue
from payments.models import Payment, StripeAccount
from payments.offers.services import offer_create, offer_send
from payments.plans.services import plan_accept
from portal.tenancy import tenant_scope
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in, wait_for_path
from tests.factories import TEST_PASSWORD
from tests.payments.conftest import RIGHT_ANSWERS, make_identifiable_account
from tests.personas import build_world
from tests.stripe_local import CARD_DECLINED_WHEN_CHARGED, CARD_OK, PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET

SHOTS = ARTIFACTS / "screens" / "payments"


def debtor_on_a_plan():
    """Alpha takes cards; PL-1's debtor signed a 4 x 300.00 monthly plan. -> (world, account, link path)."""
    world = build_world()
    alpha = world.alpha
    with tenant_scope(alpha.agency):
        ContactPolicy.objects.get_or_create(agency=alpha.agency, defaults={"earliest_hour": 0, "latest_hour": 24})
        keys = StripeAccount(agency=alpha.agency, publishable_key=PUBLISHABLE_KEY)
        keys.set_secret_key(SECRET_KEY)
        keys.set_webhook_secret(WEBHOOK_SECRET)
        keys.save()
        account = make_identifiable_account(alpha.clients[0])
        offer = offer_create(agency=alpha.agency, actor=alpha.collector, account=account, kind="installments",
                             total_amount="1200.00", installment_count=4, frequency="monthly",
                             first_due_date=timezone.localdate() + timedelta(days=10))
        offer, _url = offer_send(agency=alpha.agency, actor=alpha.collector, offer=offer, channel="letter")
        link, url = link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter",
                               offer=offer)
        plan_accept(link=link, offer=offer, typed_name="Dana PL-1", consented=True, ip="127.0.0.1",
                    user_agent="e2e", facts=["postal_code", "tax_id_last4"])
    return world, account, "/" + url.split("/", 3)[3]


def verify(page, path):
    page.goto(path)
    for name, answer in RIGHT_ANSWERS.items():
        page.fill(f"input[name={name}]", answer)
    page.get_by_role("button", name="Continue").click()
    wait_for_path(page, path + "account/")


def enter_card(page, number):
    """localstripe's stand-in draws plain inputs inside the card element (real Stripe: an iframe)."""
    element = page.locator("#card-element")
    element.locator("input[placeholder=number]").fill(number)
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("34")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("62701")


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.e2e
def test_the_debtor_pays_the_first_installment_and_the_client_sees_it(new_page, live_server, localstripe):
    world, account, path = debtor_on_a_plan()

    debtor = new_page(MOBILE)
    verify(debtor, path)
    debtor.get_by_role("button", name="Pay by card").click()
    wait_for_path(debtor, path + "pay/")
    expect(debtor.locator("input[name=choice][value=installment]")).to_be_checked()
    expect(debtor.locator("#pay-button")).to_have_text("Pay 300.00 USD")
    enter_card(debtor, CARD_OK)
    shoot(debtor, "pay-390")
    debtor.locator("#pay-button").click()
    debtor.wait_for_url(re.compile(r"/pay/pi_\w+/$"))
    expect(debtor.locator("h1")).to_have_text("Thank you: your payment is received")
    receipt = debtor.locator("article.receipt")
    expect(receipt).to_contain_text("300.00 USD")
    expect(receipt).to_contain_text("900.00 USD")  # the balance now
    expect(receipt).to_contain_text("Card ending 4242")
    expect(receipt).to_contain_text("Next installment of your plan: 300.00 USD")
    shoot(debtor, "receipt-390")
    overflow = debtor.evaluate("() => document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not overflow, "the receipt is wider than a 390 px phone"

    with tenant_scope(account.agency_id):
        payment = Payment.objects.get()
    assert (payment.amount, payment.source) == (Decimal("300.00"), "online") and payment.commission > 0

    owner = new_page(DESKTOP)
    sign_in(owner, world.alpha.clients[0].admin.email, TEST_PASSWORD)
    owner.goto(f"/debtor-accounts/{account.pk}/")
    row = owner.locator("#payments tbody tr").first
    expect(row).to_contain_text("300.00")
    expect(row).to_contain_text(f"{payment.commission:,.2f}")  # the agency's commission
    expect(row).to_contain_text("Paid online by the debtor")


@pytest.mark.e2e
def test_a_declined_card_shows_the_issuers_message_and_records_nothing(new_page, live_server, localstripe):
    world, account, path = debtor_on_a_plan()
    debtor = new_page(DESKTOP)
    verify(debtor, path)
    debtor.goto(path + "pay/")
    debtor.locator("input[name=choice][value=other]").check()
    other = debtor.locator("#other-amount input")
    # The button reads the amount as the server will: "12,30" and "1e2" are no amounts (Number()
    # made them 1,230.00 and 100.00), and more than the balance (1,200.00) cannot be paid.
    for typed, label in (("12,30", "Pay"), ("1e2", "Pay"), ("999999", "Pay"), ("1,000.5", "Pay 1,000.50 USD")):
        other.fill(typed)
        expect(debtor.locator("#pay-button")).to_have_text(label)
    debtor.locator("input[name=choice][value=installment]").check()
    enter_card(debtor, CARD_DECLINED_WHEN_CHARGED)
    shoot(debtor, "pay-1280")
    debtor.locator("#pay-button").click()
    expect(debtor.locator("#pay-error")).to_have_text("Your card was declined. Nothing was charged.")
    expect(debtor.locator("#pay-button")).to_be_enabled()
    shoot(debtor, "declined-1280")
    with tenant_scope(account.agency_id):
        assert not Payment.objects.exists()
    enter_card(debtor, CARD_OK)  # another card, the same page: it goes through
    debtor.locator("#pay-button").click()
    debtor.wait_for_url(re.compile(r"/pay/pi_\w+/$"))
    shoot(debtor, "receipt-1280")
    with tenant_scope(account.agency_id):
        assert Payment.objects.count() == 1
