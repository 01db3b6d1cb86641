"""The debtor's side in a real browser (issue 12): a collector builds an offer in the workspace
and emails it; the debtor opens the emailed link on a phone, confirms who they are, builds their
own monthly plan inside the client's rules, e-signs it and downloads the signed agreement; the
collector and the client's admin then see the plan current.

The account is commercial under a round-the-clock contact policy, so the email may go at any hour
the suite runs; the calling and emailing hours are tested in tests/collections_work/.
"""
import hashlib
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from collections_work.debtor_accounts.local_day import account_today as debtor_today
from collections_work.models import ContactPolicy, DebtorAccount
from payments.models import AcceptanceEvidence, PaymentPlan, PlanOffer
from portal.tenancy import tenant_scope
from tests.e2e.conftest import DESKTOP, MOBILE
from tests.e2e.helpers import path_of, sign_in, wait_for_path
from tests.factories import TEST_PASSWORD
from tests.payments.conftest import make_identifiable_account

D = Decimal


def _debtor_link(outbox, email, live_server_url):
    """The secure link in the last email to `email`, pointed at the live server."""
    messages = [m for m in outbox if email in m.to]
    assert messages, f"no email to {email}; outbox has {[m.to for m in outbox]}"
    match = re.search(r"https?://\S+/d/[\w-]+/", messages[-1].body)
    assert match, messages[-1].body
    return re.sub(r"^https?://[^/]+", live_server_url, match.group(0))


def _flash(page, kind):
    return page.locator(f".messages .flash-{kind}")


@pytest.mark.e2e
def test_collector_emails_an_offer_and_the_debtor_builds_signs_and_downloads_their_own_plan(
        world, new_page, live_server, tmp_path):
    alpha = world.alpha
    with tenant_scope(alpha.agency):
        ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=0, latest_hour=24)
        account = make_identifiable_account(alpha.clients[0], "JRN-42", balance="1200.00")
    debtor_email = "jrn-42@debtor.test"
    first_due = timezone.localdate() + timedelta(days=10)

    # --- The collector builds an offer in the workspace, previews it, saves it and emails it ----
    staff = new_page(DESKTOP)
    sign_in(staff, alpha.collector.email, TEST_PASSWORD)
    staff.goto(f"/debtor-accounts/{account.pk}/work/")
    staff.keyboard.press("f")  # opens "Make a payment-plan offer"
    offer_form = staff.locator("details[data-shortcut=f] form")
    offer_form.get_by_label("Offer").select_option(label="Installments")
    offer_form.get_by_label("Total to pay").fill("1200.00")
    offer_form.get_by_label("Paid").select_option(label="Monthly")
    offer_form.get_by_label("Installments", exact=True).fill("4")
    offer_form.get_by_label("First payment on").fill(first_due.isoformat())
    offer_form.get_by_role("button", name="Preview schedule").click()

    preview = staff.locator("details[data-shortcut=f] .offer-preview")
    expect(preview).to_contain_text("Within the client's terms")
    expect(preview.locator("tbody tr")).to_have_count(4)
    expect(preview.locator("tfoot")).to_contain_text("1,200.00")
    expect(preview).to_contain_text(first_due.strftime("%b %-d, %Y"))
    with tenant_scope(alpha.agency):
        assert not PlanOffer.objects.filter(account=account).exists()  # a preview saves nothing

    staff.locator("details[data-shortcut=f] form").get_by_role("button", name="Save offer").click()
    expect(_flash(staff, "success")).to_contain_text("Offer started")
    offers_card = staff.locator("#workspace-offers")
    offers_card.get_by_label("Send by").select_option("email")
    offers_card.get_by_role("button", name="Send").click()
    expect(_flash(staff, "success")).to_contain_text("Offer emailed to the debtor")
    with tenant_scope(alpha.agency):
        offer = PlanOffer.objects.get(account=account)
        assert offer.status == PlanOffer.Status.SENT and offer.outside_terms == []

    # --- The debtor opens the emailed link on a phone, in a browser that never saw the portal ----
    link = _debtor_link(mail.outbox, debtor_email, live_server.url)
    token_path = urlsplit(link).path
    debtor = new_page(MOBILE)
    debtor.goto(link)
    expect(debtor.get_by_role("heading", level=1)).to_have_text("Confirm who you are")
    expect(debtor.locator("main")).not_to_contain_text("1,200.00")  # nothing about the debt yet
    debtor.get_by_label("Postal code of your address on file").fill("62701")
    debtor.get_by_label("Last 4 digits of your SSN or tax ID").fill("6789")
    debtor.get_by_role("button", name="Continue").click()
    wait_for_path(debtor, token_path + "account/")
    expect(debtor.get_by_role("heading", level=1)).to_contain_text("Alpha Recovery Client 1")
    expect(debtor.locator("table.itemised tfoot")).to_contain_text("1,200.00")
    expect(debtor.locator(".offer-list")).to_contain_text("4 monthly payments of 300.00 USD")  # the collector's offer

    # --- ...opens the plan builder and builds a monthly plan inside the client's rules ----------
    debtor.get_by_role("button", name="Build a plan").click()
    wait_for_path(debtor, token_path + "plan/")
    debtor.get_by_label("Monthly payments").check()
    debtor.get_by_label("Or the number of months").fill("6")
    with tenant_scope(alpha.agency):
        plan_first_due = debtor_today(DebtorAccount.objects.get(pk=account.pk)) + timedelta(days=14)
    debtor.get_by_label("Date of the first (or only) payment").fill(plan_first_due.isoformat())
    debtor.get_by_role("button", name="Show the schedule").click()
    schedule = debtor.locator("table.schedule")
    expect(schedule.locator("tbody tr")).to_have_count(6)
    expect(schedule.locator("tbody tr").first).to_contain_text("200.00")
    expect(schedule.locator("tfoot")).to_contain_text("1,200.00")
    result = debtor.locator("#result")
    expect(result).to_be_in_viewport()  # the page opens at the schedule, not back at the top of the form
    expect(result.locator(".flash-success")).to_contain_text("You can accept this plan now")
    expect(result).to_contain_text(f"6 monthly payments of 200.00 USD, from {plan_first_due:%B} {plan_first_due.day}")

    # --- ...e-signs: the disclosure, the consent box, the typed name, "I agree" ----------------
    expect(debtor.locator(".disclosure")).to_contain_text("paper copy")
    debtor.get_by_role("button", name="I agree").click()  # without consent: refused, nothing saved
    expect(debtor.get_by_text("Tick this box to agree to sign electronically.")).to_be_in_viewport()
    with tenant_scope(alpha.agency):
        assert not PaymentPlan.objects.filter(account=account).exists()
    debtor.get_by_label(re.compile("agree to sign and receive this agreement electronically")).check()
    debtor.get_by_label("Type your full name to sign").fill("Dana Debtor")
    debtor.get_by_role("button", name="I agree").click()
    wait_for_path(debtor, token_path + "account/")
    expect(_flash(debtor, "success")).to_contain_text("Your plan is in place")
    plan_card = debtor.locator("article", has=debtor.get_by_role("heading", name="Your payment plan"))
    expect(plan_card).to_contain_text("Current")
    expect(plan_card.locator("tbody tr")).to_have_count(6)

    # --- ...and downloads the signed agreement ------------------------------------------------
    with debtor.expect_download() as download_info:
        debtor.get_by_role("button", name=re.compile("Download your signed agreement")).click()
    saved = tmp_path / "agreement.pdf"
    download_info.value.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"%PDF")
    assert download_info.value.suggested_filename == "agreement-JRN-42.pdf"

    with tenant_scope(alpha.agency):
        plan = PaymentPlan.objects.get(account=account)
        evidence = AcceptanceEvidence.objects.get(plan=plan)
        assert plan.status == PaymentPlan.Status.CURRENT and plan.total_amount == D("1200.00")
        assert [i.amount for i in plan.installments.order_by("number")] == [D("200.00")] * 6
        assert evidence.typed_name == "Dana Debtor" and evidence.identity_facts == ["postal_code", "tax_id_last4"]
        assert "Chrom" in evidence.user_agent
        assert hashlib.sha256(data).hexdigest() == evidence.agreement_sha256
        assert DebtorAccount.objects.get(pk=account.pk).status == DebtorAccount.Status.PLAN
    assert any(debtor_email in m.to and m.attachments for m in mail.outbox)  # the signed copy, emailed

    # --- The collector's workspace shows the plan current ---------------------------------------
    staff.goto(f"/debtor-accounts/{account.pk}/work/")
    staff_plan = staff.locator(f"#plan-{plan.pk}")
    expect(staff_plan.locator(".badge")).to_have_text("Current")
    expect(staff_plan).to_contain_text("agreement PDF")
    expect(staff_plan.locator("tbody tr")).to_have_count(6)

    # --- ...and so does the client admin's account page -----------------------------------------
    client_admin = new_page(DESKTOP)
    sign_in(client_admin, alpha.clients[0].admin.email, TEST_PASSWORD)
    client_admin.goto(f"/debtor-accounts/{account.pk}/")
    client_plan = client_admin.locator(f"#plan-{plan.pk}")
    expect(client_plan.locator(".badge")).to_have_text("Current")
    expect(client_plan).to_contain_text("Signed agreement (PDF)")
    expect(client_plan).to_contain_text("Dana Debtor")
    assert path_of(client_admin) == f"/debtor-accounts/{account.pk}/"

