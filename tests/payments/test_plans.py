"""Accepting a plan with an e-signature: the plan and installments, the evidence, the agreement PDF
(its text and its hash), the account off the queues; self-service inside the rules, requests
outside them; cancelling a plan; a missed installment; checking a PDF sent back."""
import hashlib
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from collections_work.models import Activity, Callback, DebtorAccount
from collections_work.worklist import claim
from payments.models import AcceptanceEvidence, Installment, PaymentPlan, PlanOffer, PlanRule
from payments.plans.agreements import ESIGN_DISCLOSURE_VERSION, esign_disclosure
from payments.plans.services import plan_cancel, plans_mark_missed
from portal.models import AppendOnlyError, AuditEvent
from tests.payments.conftest import RIGHT_ANSWERS, reload

D = Decimal


def sign(browser, path, name="Dana Debtor"):
    return browser.post(path, {"consent": "on", "typed_name": name}, HTTP_USER_AGENT="Test browser/1.0")


def pdf_text(evidence) -> str:
    with evidence.agreement_pdf.open("rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def test_accepting_an_offer_makes_the_plan_the_evidence_and_the_agreement(alpha, sent_offer, client,
                                                                          django_capture_on_commit_callbacks):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    offer_page = path + f"offers/{offer.pk}/"
    page = client.get(offer_page).content.decode()
    assert "paper copy" in page and "withdraw this consent" in page and "I agree" in page
    refused = client.post(offer_page, {"typed_name": "Dana Debtor"})  # no consent box
    assert refused.status_code == 400 and not PaymentPlan.objects.exists()
    hidden = sign(client, offer_page, name="Dana\u200bDebtor")  # it was stored, and the PDF said "DanaDebtor"
    assert hidden.status_code == 400 and "U+200B ZERO WIDTH SPACE" in hidden.content.decode()
    assert not PaymentPlan.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = sign(client, offer_page)
    assert done.status_code == 302
    plan = PaymentPlan.objects.get(account=offer.account)
    installments = list(plan.installments.all())
    assert plan.status == "current" and [i.amount for i in installments] == [D("300.00")] * 4
    assert reload(offer.account).status == DebtorAccount.Status.PLAN
    offer.refresh_from_db()
    assert offer.status == PlanOffer.Status.ACCEPTED

    back = client.get(offer_page)  # the back button after signing: it was "Page not found"
    assert back.status_code == 302 and "You accepted this offer" in client.get(back.url).content.decode()

    evidence = AcceptanceEvidence.objects.get(plan=plan)
    assert evidence.typed_name == "Dana Debtor" and evidence.consented and evidence.user_agent == "Test browser/1.0"
    assert evidence.ip_address == "127.0.0.1" and evidence.identity_facts == ["postal_code", "tax_id_last4"]
    assert evidence.disclosure_version == ESIGN_DISCLOSURE_VERSION
    assert evidence.disclosure_sha256 == esign_disclosure(alpha.agency).sha256 and evidence.link.offer_id == offer.pk
    with evidence.agreement_pdf.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == evidence.agreement_sha256

    text = pdf_text(evidence)
    for expected in ("Alpha Recovery", "Alpha Recovery Client 1", "Dana PL-1", "PL-1", "1,200.00", "300.00",
                     "Dana Debtor", str(evidence.reference), "If a payment is missed", "UTC"):
        assert expected in text, expected
    for installment in installments:
        assert installment.due_date.strftime("%B %-d, %Y") in text

    agreement_mail = mail.outbox[-1]
    assert agreement_mail.attachments[0][0].endswith(".pdf")
    assert re.search(r"To stop receiving emails at this address: https?://\S+/opt-out/", agreement_mail.body)
    assert hashlib.sha256(agreement_mail.attachments[0][1]).hexdigest() == evidence.agreement_sha256
    account_page = client.get(path + "account/").content.decode()
    assert "Download your signed agreement" in account_page
    download = client.get(path + f"agreements/{evidence.reference}.pdf")
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == evidence.agreement_sha256
    assert AuditEvent.objects.filter(action="plan.accepted").exists()


def test_the_evidence_can_never_be_changed(alpha, sent_offer, client):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    evidence = AcceptanceEvidence.objects.get()
    evidence.typed_name = "Someone else"
    with pytest.raises(AppendOnlyError):
        evidence.save()
    with pytest.raises(AppendOnlyError):
        evidence.delete()
    if connection.vendor == "postgresql":
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            AcceptanceEvidence.objects.filter(pk=evidence.pk).update(typed_name="Someone else")


def test_a_plan_takes_the_account_out_of_the_queues_and_staff_can_cancel_it(alpha, sent_offer, client):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    assert claim.account_claim_next(agency=alpha.agency, collector=alpha.collector) is None
    plan = PaymentPlan.objects.get()
    with pytest.raises(Exception, match="Give a reason"):
        plan_cancel(agency=alpha.agency, actor=alpha.collector, plan=plan, reason=" ")
    plan_cancel(agency=alpha.agency, actor=alpha.collector, plan=plan, reason="Debtor lost their job")
    plan.refresh_from_db()
    assert plan.status == "cancelled" and reload(offer.account).status == DebtorAccount.Status.ACTIVE
    assert Activity.objects.filter(account=offer.account, summary="Payment plan cancelled: Debtor lost their job").exists()
    assert claim.account_claim_next(agency=alpha.agency, collector=alpha.collector).account_id == offer.account_id


def test_the_client_sees_the_plan_and_its_agreement_on_the_account_page(alpha, sent_offer, client):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    client.logout()
    client.force_login(alpha.clients[0].user)
    page = client.get(reverse("debtor_account_detail", args=[offer.account_id])).content.decode()
    assert "Payment plan" in page and "Current" in page and "Signed agreement (PDF)" in page
    evidence = AcceptanceEvidence.objects.get()
    assert client.get(reverse("agreement_download", args=[evidence.pk])).status_code == 200


def test_a_missed_installment_returns_the_account_to_the_queues_once(alpha, sent_offer, client):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    first = Installment.objects.order_by("number").first()
    assert plans_mark_missed() == 0  # not due yet
    Installment.objects.filter(pk=first.pk).update(due_date=timezone.localdate() - timedelta(days=2))
    assert plans_mark_missed() == 1 and plans_mark_missed() == 0
    assert reload(offer.account).status == DebtorAccount.Status.ACTIVE
    assert Activity.objects.filter(account=offer.account, summary__contains="#1 of 300.00 due").exists()


def test_a_staff_member_checks_a_pdf_sent_back_against_the_stored_hash(alpha, sent_offer, client):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    evidence = AcceptanceEvidence.objects.get()
    with evidence.agreement_pdf.open("rb") as handle:
        original = handle.read()
    client.logout()
    client.force_login(alpha.collector)
    url = reverse("agreement_verify", args=[offer.account_id])
    match = client.post(url, {"file": SimpleUploadedFile("back.pdf", original)}, follow=True).content.decode()
    assert "Match: the agreement Dana Debtor signed" in match
    changed = original + b"\n% one line added after signing\n"
    no_match = client.post(url, {"file": SimpleUploadedFile("back.pdf", changed)}, follow=True).content.decode()
    assert "No match" in no_match


def plan_form(client, path, **data):
    form = {"kind": "installments", "first_due_date": (timezone.localdate() + timedelta(days=7)).isoformat()} | data
    return client.post(path + "plan/", form)


def shown_schedule(page: str) -> str:
    """The fingerprint of the schedule a plan-builder page showed (sent back with "I agree")."""
    return re.search(r'name="schedule" value="([0-9a-f]+)"', page).group(1)


def test_a_plan_inside_the_clients_rules_is_accepted_at_once(alpha, account, client):
    from payments.links.services import link_issue
    from tests.payments.conftest import path_of

    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    preview = plan_form(client, path, months="6", action="preview").content.decode()
    assert "You can accept this plan now" in preview and preview.count("200.00") >= 6
    assert "6 monthly payments of 200.00 USD" in preview
    accepted = plan_form(client, path, months="6", action="accept", consent="on", typed_name="Dana PL-1",
                         schedule=shown_schedule(preview))
    assert accepted.status_code == 302
    plan = PaymentPlan.objects.get(account=account)
    assert plan.installments.count() == 6 and plan.offer.note == "Built by the debtor within the self-service rules"
    # Building another showed a schedule and a signature box, and refused only after "I agree".
    again = client.get(path + "plan/")
    assert again.status_code == 302 and again.url.endswith("/account/")
    assert "You already have a payment plan" in client.get(again.url).content.decode()
    assert reload(account).status == DebtorAccount.Status.PLAN


def test_a_plan_outside_the_rules_becomes_a_request_in_the_worklist(alpha, account, client):
    from payments.links.services import link_issue
    from tests.payments.conftest import path_of

    PlanRule.objects.create(agency=alpha.agency, client=account.client, balance_from=0, min_installment=D("100.00"),
                            max_months=6, min_settlement_percent=D("80"), max_defer_days=14)
    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    preview = plan_form(client, path, monthly_amount="50.00", action="preview").content.decode()
    assert "needs the agency&#x27;s approval" in preview or "needs the agency's approval" in preview
    assert "plans can run at most 6 months" in preview and "each payment must be at least 100.00" in preview
    refused = plan_form(client, path, monthly_amount="50.00", action="accept", consent="on", typed_name="Dana",
                        schedule=shown_schedule(preview))
    assert not PaymentPlan.objects.exists() and refused.status_code in (200, 400)
    plan_form(client, path, monthly_amount="50.00", action="request", note="I can pay 50 a month",
              schedule=shown_schedule(preview))
    offer = PlanOffer.objects.get(account=account)
    assert offer.status == PlanOffer.Status.REQUESTED and offer.note == "I can pay 50 a month"
    assert Callback.objects.filter(account=account, done_at__isnull=True).exists()
    client.logout()
    client.force_login(alpha.collector)
    assert "Debtor's request" in client.get(reverse("worklist_home")).content.decode()
    settle = (D("1200.00") * D("0.8")).quantize(D("0.01"))
    client.logout()
    client.post(path, RIGHT_ANSWERS)
    low = plan_form(client, path, kind="settlement", settle_amount=str(settle - 1), action="preview").content.decode()
    assert f"a settlement must be at least {settle:,.2f}" in low


def test_dispute_callback_and_opt_out_from_the_debtors_page(alpha, account, client):
    from payments.links.services import link_issue
    from tests.payments.conftest import path_of

    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    early = client.post(path + "callback/", {"day": day, "time": "07:30"})
    assert early.status_code == 400 and "between 8:00 am and 9:00 pm" in early.content.decode()
    client.post(path + "callback/", {"day": day, "time": "10:30", "note": "after school run"})
    callback = Callback.objects.get(account=account)
    assert timezone.localtime(callback.due_at, timezone.get_fixed_timezone(-360)).hour == 10  # Chicago, winter
    client.post(path + "opt-out/")
    assert not account.debtor.contacts.filter(kind="email", opted_out_at__isnull=True).exists()
    client.post(path + "dispute/", {"kind": "validation", "reason": "I never had this account"})
    fresh = reload(account)
    assert fresh.status == DebtorAccount.Status.ON_HOLD and fresh.disputes.filter(resolved_at__isnull=True).exists()
    assert Activity.objects.filter(account=account, summary__startswith="Validation requested by the debtor").exists()


def test_the_hourly_job_expires_offers_whose_links_all_expired(alpha, sent_offer):
    from payments.models import SecureLink
    from payments.tasks import plans_daily

    offer, _path = sent_offer
    first = plans_daily.delay().get()
    assert (first["missed"], first["expired"]) == (0, 0)
    SecureLink.objects.filter(offer=offer).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert plans_daily.delay().get()["expired"] == 1
    offer.refresh_from_db()
    assert offer.status == PlanOffer.Status.EXPIRED
    assert Activity.objects.filter(account=offer.account, summary__startswith="Offer expired").exists()


def test_a_plan_changed_after_its_schedule_was_shown_is_shown_again_not_signed_or_sent(alpha, account, client):
    """What the debtor signs is the schedule the page showed: change the months after "Show the
    schedule" and press "I agree", and the page shows the new schedule instead of signing it."""
    from payments.links.services import link_issue
    from tests.payments.conftest import path_of

    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    six = shown_schedule(plan_form(client, path, months="6", action="preview").content.decode())
    changed = plan_form(client, path, months="3", action="accept", consent="on", typed_name="Dana PL-1", schedule=six)
    page = changed.content.decode()
    assert changed.status_code == 200 and not PaymentPlan.objects.exists()
    assert "The plan changed after its schedule was shown, so nothing was signed" in page
    assert "3 monthly payments of 400.00 USD" in page
    three = shown_schedule(page)
    assert three != six
    assert 'name="consent"' in page and 'checked' not in page.split('name="consent"')[1].split(">")[0]
    accepted = plan_form(client, path, months="3", action="accept", consent="on", typed_name="Dana PL-1",
                         schedule=three)
    assert accepted.status_code == 302
    assert [i.amount for i in PaymentPlan.objects.get().installments.all()] == [D("400.00")] * 3


def test_a_request_is_sent_only_for_the_schedule_that_was_shown(alpha, client):
    from payments.links.services import link_issue
    from tests.payments.conftest import make_identifiable_account, path_of

    account = make_identifiable_account(alpha.clients[0], "PL-9")
    PlanRule.objects.create(agency=alpha.agency, client=account.client, balance_from=0, min_installment=D("100.00"),
                            max_months=6, min_settlement_percent=D("80"), max_defer_days=14)
    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    shown = shown_schedule(plan_form(client, path, monthly_amount="50.00", action="preview").content.decode())
    changed = plan_form(client, path, monthly_amount="40.00", action="request", schedule=shown).content.decode()
    assert "nothing was sent" in changed and not PlanOffer.objects.filter(account=account).exists()
    plan_form(client, path, monthly_amount="40.00", action="request", schedule=shown_schedule(changed))
    assert PlanOffer.objects.get(account=account).installment_count == 30


def test_the_plan_builder_tells_the_debtor_the_rules_they_can_choose_within(alpha, account, client):
    from collections_work.debtor_accounts.local_day import account_today as debtor_today
    from payments.links.services import link_issue
    from tests.payments.conftest import path_of

    PlanRule.objects.create(agency=alpha.agency, client=account.client, balance_from=0, min_installment=D("75.00"),
                            max_months=9, min_settlement_percent=D("80"), max_defer_days=21)
    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    page = client.get(path + "plan/").content.decode()
    latest = debtor_today(account) + timedelta(days=21)
    assert "At least 75.00" in page and "Up to 9 months" in page
    assert f"Any day from today to {latest:%B} {latest.day}, {latest.year}." in page
    assert "80 %" not in page and "960.00" not in page  # the settlement floor is the agency's to weigh


def test_signing_without_the_box_or_the_name_says_what_is_missing(alpha, sent_offer, client):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    refused = client.post(path + f"offers/{offer.pk}/", {"typed_name": ""}).content.decode()  # as a browser sends it
    assert "Tick this box to agree to sign electronically." in refused
    assert "Type your full name: it is your signature." in refused
    assert 'formaction="#sign-heading"' in refused  # the page opens where the errors are


def test_with_no_time_zone_on_file_the_call_back_time_is_eastern_and_must_suit_every_us_zone(alpha, client):
    from payments.links.services import link_issue
    from tests.payments.conftest import make_identifiable_account, path_of

    account = make_identifiable_account(alpha.clients[0], "PL-TZ", time_zone="")
    path = path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")[1])
    client.post(path, RIGHT_ANSWERS)
    page = client.get(path + "callback/").content.decode()
    assert "Time (Eastern time)" in page and "Between 2:00 pm and 9:00 pm Eastern time" in page
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    noon = client.post(path + "callback/", {"day": day, "time": "12:00"})  # 7 or 6 am in Hawaii
    assert noon.status_code == 400 and not Callback.objects.filter(account=account).exists()
    client.post(path + "callback/", {"day": day, "time": "14:30"})
    assert Callback.objects.filter(account=account).exists()


def test_while_a_plan_is_current_the_workspace_offers_no_new_offer_invitation_or_send(alpha, sent_offer, client):
    offer, path = sent_offer
    client.force_login(alpha.collector)
    before = client.get(reverse("account_workspace", args=[offer.account_id])).content.decode()
    assert "Make a payment-plan offer" in before and "Invite the debtor to settle online" in before
    assert "Send again" in before
    client.logout()
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    client.force_login(alpha.collector)
    after = client.get(reverse("account_workspace", args=[offer.account_id])).content.decode()
    assert "Make a payment-plan offer" not in after and "Invite the debtor to settle online" not in after
    assert "Send again" not in after and "offers cannot be sent until it ends" in after


def test_accepting_a_plan_withdraws_the_other_open_offers_and_their_links(alpha, sent_offer, client):
    from payments.offers.services import offer_create
    from payments.models import SecureLink

    offer, path = sent_offer
    waiting = offer_create(agency=alpha.agency, actor=alpha.collector, account=offer.account, kind="lump_sum",
                           total_amount="500.00", installment_count=1, first_due_date=timezone.localdate())
    assert waiting.status == PlanOffer.Status.AWAITING_CLIENT
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    waiting.refresh_from_db()
    assert waiting.status == PlanOffer.Status.WITHDRAWN
    assert Activity.objects.filter(account=offer.account, summary__contains="other open offer withdrawn").exists()
    assert SecureLink.objects.filter(offer=offer, revoked_at__isnull=True).exists()  # the accepted one's link still works
