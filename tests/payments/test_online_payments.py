"""The debtor pays by card from the secure link, against the real localstripe (no mocks of Stripe).

The browser's part (stripe.js confirming the card, or the 3-D Secure step) is sent to
localstripe exactly as its stripe.js stand-in sends it (tests/stripe_local.py); the portal's
part goes through Django's test client. Webhooks are localstripe's own signed deliveries, handed
to the portal's webhook view; the events localstripe does not send (refunds, disputes) are built
in Stripe's shape around real localstripe objects and signed with Stripe's scheme.
"""
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import connection

from collections_work.models import Activity, DebtorAccount
from payments.models import (
    AutopayAttempt, AutopayCard, CardCharge, Installment, JournalEntry, Payment, PaymentPlan, Reversal,
    StripeAccount, StripeEvent,
)
from payments.online.autopay import plan_autopay_charge
from portal.models import AuditEvent
from tests.payments.conftest import reload
from tests.stripe_local import (
    CARD_3DS, CARD_DECLINED_AT_ATTACH, CARD_DECLINED_WHEN_CHARGED, CARD_OK, WEBHOOK_SECRET, deliver,
)

D = Decimal


def pay(client, localstripe, path, *, choice, number=CARD_OK, other="", save_card=False):
    """What pay.js does: "setup", stripe.js confirms the card, "charge". Returns (response, setup answer)."""
    form = {"choice": choice, "other_amount": other, **({"save_card": "on"} if save_card else {})}
    setup = client.post(path + "pay/", {**form, "action": "setup"})
    assert setup.status_code == 200, setup.content
    status, confirmed = localstripe.confirm_card_setup(setup.json()["client_secret"], number)
    if status == 200 and confirmed["status"] == "requires_action":  # the stand-in's 3-D Secure modal: complete
        status, confirmed = localstripe.browser_post(f"/v1/setup_intents/{confirmed['id']}/confirm", {
            "key": "pk_test_x", "use_stripe_sdk": True, "client_secret": setup.json()["client_secret"]})
    if status != 200:
        return None, confirmed
    return client.post(path + "pay/", {**form, "action": "charge", "setup_intent": confirmed["id"]}), confirmed


def nothing_recorded(account, before):
    account = reload(account)
    assert not Payment.objects.exists() and not CardCharge.objects.exists()
    assert not JournalEntry.objects.exists()
    assert (account.paid, account.balance, account.status) == before
    assert not Activity.objects.filter(account=account, summary__icontains="payment received").exists()


# --- Paying -------------------------------------------------------------------------------------------

def test_the_pay_page_preselects_the_next_installment_and_allows_only_localstripes_js(
        stripe_alpha, on_plan, client, localstripe):
    account, path = on_plan
    page = client.get(path + "pay/")
    html = page.content.decode()
    assert page.status_code == 200
    assert re.search(r'<input[^>]*value="installment"[^>]*checked', html), "the next installment is preselected"
    assert "Next installment: 300.00 USD, due" in html and "The whole balance: 1,200.00 USD" in html
    assert f'<script src="{localstripe.base}/js.stripe.com/v3/"></script>' in html and "js/pay.js" in html
    assert "<script>" not in html and " onclick" not in html  # no inline script
    policy = page.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
    assert script_src == ["'self'", localstripe.base]  # exactly one outside origin
    assert localstripe.base in re.search(r"connect-src ([^;]*)", policy).group(1)
    account_page = client.get(path + "account/")
    assert 'href="' + path + 'pay/"' in account_page.content.decode()  # "Pay by card"
    assert "Content-Security-Policy" in account_page.headers and localstripe.base not in account_page.headers[
        "Content-Security-Policy"]


def test_paying_the_first_installment_posts_it_once_and_shows_a_receipt(
        stripe_alpha, on_plan, client, localstripe, django_capture_on_commit_callbacks):
    account, path = on_plan
    with django_capture_on_commit_callbacks(execute=True):
        charged, _ = pay(client, localstripe, path, choice="installment")
    assert charged.status_code == 200 and charged.json()["status"] == "succeeded", charged.content
    payment = Payment.objects.get()
    intent_id = payment.processor_reference
    assert intent_id.startswith("pi_") and payment.idempotency_key == f"stripe:{intent_id}"
    assert (payment.amount, payment.source, payment.method) == (D("300.00"), "online", "card")
    assert payment.reference == "Card ending 4242" and payment.commission > 0
    first, second = Installment.objects.filter(plan__account=account).order_by("number")[:2]
    assert first.paid_amount == D("300.00") and second.paid_amount == 0
    assert reload(account).balance == D("900.00")

    intent = localstripe.client().v1.payment_intents.retrieve(intent_id)
    assert intent.amount == 30000 and intent.currency == "usd"
    assert dict(intent.metadata.to_dict()) == {
        "agency": str(account.agency_id), "client": str(account.client_id), "account": str(account.pk),
        "link": str(CardCharge.objects.get().link_id), "installment": str(first.pk)}

    receipt = client.get(charged.json()["result_url"])
    text = receipt.content.decode()
    assert receipt.status_code == 200 and "Thank you: your payment is received" in text
    assert "300.00 USD" in text and "900.00 USD" in text and "Card ending 4242" in text
    assert f"{second.due_date:%b} {second.due_date.day}, {second.due_date:%Y}" in text  # the next installment
    emails = [m for m in mail.outbox if m.subject.startswith("Receipt: 300.00 USD")]
    assert len(emails) == 1 and emails[0].to == ["pl-1@debtor.test"] and "Balance now:     900.00 USD" in emails[0].body

    # The webhook comes after the return page posted: it finds the payment, posts nothing.
    for _ in range(2):
        answer = deliver(client, stripe_alpha.agency.slug, localstripe.wait_for("payment_intent.succeeded", intent_id))
        assert answer.status_code == 200
    assert Payment.objects.count() == 1 and StripeEvent.objects.count() == 1
    assert StripeEvent.objects.get().outcome == f"payment {payment.pk} already posted"
    assert client.get(charged.json()["result_url"]).status_code == 200 and Payment.objects.count() == 1


def test_paying_the_whole_balance_pays_the_account_and_completes_the_plan(stripe_alpha, on_plan, client,
                                                                          localstripe):
    account, path = on_plan
    charged, _ = pay(client, localstripe, path, choice="balance")
    assert charged.json()["status"] == "succeeded"
    account = reload(account)
    assert account.balance == 0 and account.status == DebtorAccount.Status.PAID
    assert PaymentPlan.objects.get(account=account).status == PaymentPlan.Status.COMPLETED
    receipt = client.get(charged.json()["result_url"]).content.decode()
    assert "1,200.00 USD" in receipt and "This account is paid in full." in receipt
    assert "Pay by card" not in client.get(path + "account/").content.decode()


def test_another_amount_up_to_the_balance(stripe_alpha, alpha, account, client, localstripe):
    """No plan: the balance or another amount; one over the balance or not an amount is refused."""
    from payments.links.services import link_issue
    from tests.payments.conftest import RIGHT_ANSWERS

    _link, url = link_issue(agency=account.agency, actor=alpha.collector, account=account, channel="letter")
    path = "/" + url.split("/", 3)[3]
    client.post(path, RIGHT_ANSWERS)
    html = client.get(path + "pay/").content.decode()
    assert "Next installment" not in html and re.search(r'value="balance"[^>]*checked', html)
    for other, message in (("1200.01", "Pay at most the balance, 1,200.00 USD."), ("12,3x", "write cents after a dot"),
                           ("12,30", "write cents after a dot"), ("1e2", "Enter the amount as a number"),
                           ("0.50", "Pay at least 1.00.")):
        refused = client.post(path + "pay/", {"action": "setup", "choice": "other", "other_amount": other})
        assert refused.status_code == 400 and message in refused.json()["error"], (other, refused.json())
        assert refused.json()["field"] == "other_amount"
    charged, _ = pay(client, localstripe, path, choice="other", other="150.25")
    assert charged.json()["status"] == "succeeded"
    assert Payment.objects.get().amount == D("150.25") and reload(account).balance == D("1049.75")


# --- Declines and failures record nothing -------------------------------------------------------

def test_a_card_declined_when_attached_records_nothing_and_says_why(stripe_alpha, on_plan, client, localstripe):
    account, path = on_plan
    before = (account.paid, account.balance, account.status)
    charged, confirmed = pay(client, localstripe, path, choice="installment", number=CARD_DECLINED_AT_ATTACH)
    assert charged is None and confirmed["error"]["message"] == "Your card was declined."  # what the page shows
    nothing_recorded(account, before)


def test_a_card_declined_when_charged_records_nothing_and_says_why(stripe_alpha, on_plan, client, localstripe):
    account, path = on_plan
    before = (account.paid, account.balance, account.status)
    charged, _ = pay(client, localstripe, path, choice="installment", number=CARD_DECLINED_WHEN_CHARGED)
    assert charged.status_code == 402 and charged.json()["error"] == "Your card was declined."
    nothing_recorded(account, before)
    # localstripe tells the webhook too; handling it posts nothing
    failed = localstripe.wait_for("payment_intent.payment_failed",
                                  where=lambda intent: intent["metadata"].get("account") == str(account.pk))
    answer = deliver(client, stripe_alpha.agency.slug, failed)
    assert answer.status_code == 200 and answer.json()["outcome"] == "payment failed: nothing posted"
    nothing_recorded(account, before)


def test_an_abandoned_or_failed_payment_page_records_nothing(stripe_alpha, on_plan, client, localstripe):
    """The debtor confirmed a card but never paid (closed the page): the SetupIntent leads nowhere;
    a PaymentIntent that failed authentication shows its message on the result page."""
    account, path = on_plan
    before = (account.paid, account.balance, account.status)
    setup = client.post(path + "pay/", {"action": "setup", "choice": "installment"})
    localstripe.confirm_card_setup(setup.json()["client_secret"], CARD_OK)
    nothing_recorded(account, before)
    charged, _ = pay(client, localstripe, path, choice="installment", number=CARD_3DS)
    assert charged.json()["status"] == "requires_action"
    localstripe.authenticate(charged.json()["client_secret"], success=False)  # "Fail authentication"
    result = client.get(charged.json()["result_url"])
    assert result.status_code == 402 and "The provided PaymentMethod has failed authentication." in result.content.decode()
    assert "Nothing was charged" in result.content.decode()
    assert not Payment.objects.exists() and reload(account).balance == before[1]


def test_a_card_the_bank_wants_authenticated_is_finished_with_confirm_card_payment(stripe_alpha, on_plan, client,
                                                                                  localstripe):
    account, path = on_plan
    charged, _ = pay(client, localstripe, path, choice="installment", number=CARD_3DS)
    assert charged.json()["status"] == "requires_action" and not Payment.objects.exists()
    status, _ = localstripe.authenticate(charged.json()["client_secret"])  # the stand-in's "Complete authentication"
    assert status == 200
    receipt = client.get(charged.json()["result_url"])
    assert receipt.status_code == 200 and "Thank you" in receipt.content.decode()
    assert Payment.objects.get().amount == D("300.00")


def test_the_same_card_submitted_twice_charges_once(stripe_alpha, on_plan, client, localstripe):
    account, path = on_plan
    charged, confirmed = pay(client, localstripe, path, choice="installment")
    again = client.post(path + "pay/", {"action": "charge", "choice": "installment", "setup_intent": confirmed["id"]})
    assert again.status_code == 200 and again.json()["result_url"] == charged.json()["result_url"]
    assert Payment.objects.count() == 1 and reload(account).balance == D("900.00")


def test_a_setup_intent_of_another_link_is_refused(stripe_alpha, on_plan, client, localstripe, alpha):
    account, path = on_plan
    foreign = localstripe.client().v1.setup_intents.create(params={"metadata": {"link": "999999"}})
    localstripe.confirm_card_setup(foreign.client_secret, CARD_OK)
    refused = client.post(path + "pay/", {"action": "charge", "choice": "installment", "setup_intent": foreign.id})
    assert refused.status_code == 400 and "not confirmed on this page" in refused.json()["error"]
    assert not Payment.objects.exists()


def test_without_stripe_the_page_says_card_payments_are_unavailable(on_plan, client):
    account, path = on_plan
    page = client.get(path + "pay/")
    assert "Card payments are not available" in page.content.decode() and "js/pay.js" not in page.content.decode()
    assert "Pay by card" not in client.get(path + "account/").content.decode()


# --- Webhooks -------------------------------------------------------------------------------------------

def direct_intent(localstripe, account, link_id="0", card="pm_card_visa", amount=30000):
    """A PaymentIntent made and confirmed straight on localstripe, as if the page's return never came."""
    return localstripe.client().v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": card, "confirm": True,
        "payment_method_types": ["card"], "metadata": {
            "agency": str(account.agency_id), "client": str(account.client_id), "account": str(account.pk),
            "link": link_id, "installment": ""}})


def test_a_wrong_signature_is_400_and_posts_nothing(stripe_alpha, account, client, localstripe):
    intent = direct_intent(localstripe, account)
    delivery = localstripe.wait_for("payment_intent.succeeded", intent.id)
    slug = stripe_alpha.agency.slug
    forged = localstripe.signed_event("payment_intent.succeeded", delivery.event["data"]["object"],
                                      secret="whsec_not_the_agencys_secret")
    for signature in ("", "t=1,v1=00", forged.signature, delivery.signature.replace("v1=", "v1=0")):
        answer = deliver(client, slug, delivery, signature=signature)
        assert answer.status_code == 400, signature
    tampered = type(delivery)(delivery.body.replace(b'"amount": 30000', b'"amount": 3'), delivery.signature)
    assert deliver(client, slug, tampered).status_code == 400
    assert not Payment.objects.exists() and not StripeEvent.objects.exists()
    assert deliver(client, "no-such-agency", delivery).status_code == 404
    assert client.get(f"/stripe/webhook/{slug}/").status_code == 405
    assert deliver(client, slug, delivery).status_code == 200 and Payment.objects.count() == 1  # the real one


def test_the_same_event_twice_posts_once_and_the_return_page_after_it_too(stripe_alpha, on_plan, client,
                                                                          localstripe):
    account, path = on_plan
    from payments.models import SecureLink

    link = SecureLink.objects.get(account=account)
    intent = direct_intent(localstripe, account, link_id=str(link.pk))
    delivery = localstripe.wait_for("payment_intent.succeeded", intent.id)
    first, second = deliver(client, "alpha", delivery), deliver(client, "alpha", delivery)
    assert first.status_code == second.status_code == 200
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
    payment = Payment.objects.get()
    assert payment.processor_reference == intent.id and reload(account).balance == D("900.00")
    receipt = client.get(path + f"pay/{intent.id}/")  # the return page, late: same payment
    assert receipt.status_code == 200 and Payment.objects.count() == 1
    assert AuditEvent.objects.filter(action="payment.posted").count() == 1


def test_an_event_of_another_agency_is_ignored(stripe_alpha, world, client, localstripe, account):
    intent = direct_intent(localstripe, account)
    obj = localstripe.wait_for("payment_intent.succeeded", intent.id).event["data"]["object"]
    obj["metadata"]["agency"] = str(world.bravo.agency.pk)
    answer = deliver(client, "alpha", localstripe.signed_event("payment_intent.succeeded", obj))
    assert answer.status_code == 200 and answer.json()["outcome"].startswith("ignored")
    assert not Payment.objects.exists()


def charge_of(localstripe, intent_id) -> dict:
    intent = localstripe.client().v1.payment_intents.retrieve(intent_id)
    charge_id = intent.latest_charge if isinstance(intent.latest_charge, str) else intent.latest_charge.id
    return localstripe.client().v1.charges.retrieve(charge_id).to_dict()


def test_refund_webhooks_post_card_refund_reversals_once_each(stripe_alpha, on_plan, client, localstripe):
    account, path = on_plan
    charged, _ = pay(client, localstripe, path, choice="installment")
    payment = Payment.objects.get()
    first = localstripe.client().v1.refunds.create(params={"payment_intent": payment.processor_reference,
                                                           "amount": 10000})
    event = localstripe.signed_event("charge.refunded", charge_of(localstripe, payment.processor_reference))
    assert deliver(client, "alpha", event).status_code == 200
    assert deliver(client, "alpha", event).json()["duplicate"] is True
    reversal = Reversal.objects.get()
    assert (reversal.kind, reversal.amount, reversal.idempotency_key) == ("card_refund", D("100.00"),
                                                                         f"stripe-refund:{first.id}")
    assert reload(account).balance == D("1000.00")
    localstripe.client().v1.refunds.create(params={"payment_intent": payment.processor_reference, "amount": 5000})
    later = localstripe.signed_event("charge.refunded", charge_of(localstripe, payment.processor_reference))
    assert deliver(client, "alpha", later).json()["outcome"] == "refunds reversed: 50.00"
    assert Reversal.objects.count() == 2 and reload(account).balance == D("1050.00")
    payment.refresh_from_db()
    assert payment.reversed_amount == D("150.00")
    first_installment = Installment.objects.filter(plan__account=account).order_by("number").first()
    assert first_installment.paid_amount == D("150.00")  # the installment reopened by what was refunded


def test_a_refund_before_its_payment_was_posted_posts_the_payment_then_the_refund(stripe_alpha, account, client,
                                                                                   localstripe):
    """Out of order: the charge.refunded event arrives before payment_intent.succeeded."""
    intent = direct_intent(localstripe, account)
    refund = localstripe.client().v1.refunds.create(params={"payment_intent": intent.id})
    answer = deliver(client, "alpha", localstripe.signed_event("charge.refunded", charge_of(localstripe, intent.id)))
    assert answer.status_code == 200 and answer.json()["outcome"] == "refunds reversed: 300.00"
    payment = Payment.objects.get()
    assert payment.processor_reference == intent.id and payment.reversed_amount == D("300.00")
    assert Reversal.objects.get().idempotency_key == f"stripe-refund:{refund.id}"
    late = deliver(client, "alpha", localstripe.wait_for("payment_intent.succeeded", intent.id))
    assert late.status_code == 200 and "already posted" in late.json()["outcome"]
    assert Payment.objects.count() == 1 and reload(account).balance == D("1200.00")


def dispute(intent_id, charge_id, amount, status="needs_response", dispute_id="dp_test_1"):
    return {"id": dispute_id, "object": "dispute", "amount": amount, "currency": "usd", "charge": charge_id,
            "payment_intent": intent_id, "reason": "fraudulent", "status": status}


def test_dispute_webhooks_post_a_chargeback_and_a_won_dispute_posts_the_money_back(stripe_alpha, on_plan, client,
                                                                                   localstripe):
    account, path = on_plan
    pay(client, localstripe, path, choice="installment")
    payment = Payment.objects.get()
    charge = charge_of(localstripe, payment.processor_reference)
    opened = localstripe.signed_event("charge.dispute.created", dispute(payment.processor_reference, charge["id"], 30000))
    assert deliver(client, "alpha", opened).json()["outcome"] == "chargeback of 300.00 posted"
    assert deliver(client, "alpha", opened).json()["duplicate"] is True
    chargeback = Reversal.objects.get()
    assert chargeback.kind == "chargeback" and chargeback.idempotency_key == "stripe-dispute:dp_test_1"
    assert reload(account).balance == D("1200.00")
    lost = localstripe.signed_event("charge.dispute.closed", dispute(payment.processor_reference, charge["id"], 30000,
                                                                     status="lost"))
    assert deliver(client, "alpha", lost).json()["outcome"] == "dispute lost: the chargeback stands"
    won = localstripe.signed_event("charge.dispute.closed", dispute(payment.processor_reference, charge["id"], 30000,
                                                                    status="won"))
    assert deliver(client, "alpha", won).json()["outcome"] == "dispute won: 300.00 posted again"
    assert Payment.objects.count() == 2 and reload(account).balance == D("900.00")


def test_a_dispute_naming_only_its_charge_finds_the_payment(stripe_alpha, account, client, localstripe):
    intent = direct_intent(localstripe, account)
    charge = charge_of(localstripe, intent.id)
    body = {**dispute(None, charge["id"], 10000, dispute_id="dp_test_2")}
    body.pop("payment_intent")
    answer = deliver(client, "alpha", localstripe.signed_event("charge.dispute.created", body))
    assert answer.json()["outcome"] == "chargeback of 100.00 posted"
    assert Payment.objects.get().reversed_amount == D("100.00")


def test_an_inquiry_takes_no_money_until_its_funds_are_withdrawn(stripe_alpha, account, client, localstripe):
    """A dispute inquiry (status warning_*) moves no money at Stripe: nothing is posted, and its
    close says so; when it becomes a chargeback, funds_withdrawn posts it once."""
    intent = direct_intent(localstripe, account)
    deliver(client, "alpha", localstripe.wait_for("payment_intent.succeeded", intent.id))
    charge = charge_of(localstripe, intent.id)
    inquiry = dispute(intent.id, charge["id"], 30000, status="warning_needs_response", dispute_id="dp_inq")
    answer = deliver(client, "alpha", localstripe.signed_event("charge.dispute.created", inquiry))
    assert answer.json()["outcome"] == "inquiry: no money taken, nothing posted"
    assert not Reversal.objects.exists() and reload(account).balance == D("900.00")
    escalated = dispute(intent.id, charge["id"], 30000, status="needs_response", dispute_id="dp_inq")
    withdrawn = deliver(client, "alpha", localstripe.signed_event("charge.dispute.funds_withdrawn", escalated))
    assert withdrawn.json()["outcome"] == "chargeback of 300.00 posted"
    again = deliver(client, "alpha", localstripe.signed_event("charge.dispute.created", escalated))
    assert again.json()["outcome"] == "chargeback already posted"
    assert Reversal.objects.count() == 1 and reload(account).balance == D("1200.00")
    closed = dispute(intent.id, charge["id"], 30000, status="warning_closed", dispute_id="dp_other")
    assert deliver(client, "alpha", localstripe.signed_event("charge.dispute.closed", closed)).json()["outcome"] == (
        "inquiry closed: no money was taken")


def test_a_dispute_won_before_its_created_event_arrives_posts_nothing(stripe_alpha, account, client, localstripe):
    intent = direct_intent(localstripe, account)
    deliver(client, "alpha", localstripe.wait_for("payment_intent.succeeded", intent.id))
    charge = charge_of(localstripe, intent.id)
    won = deliver(client, "alpha", localstripe.signed_event(
        "charge.dispute.closed", dispute(intent.id, charge["id"], 30000, status="won", dispute_id="dp_late")))
    assert won.json()["outcome"] == "dispute dp_late won before its chargeback was posted"
    late = deliver(client, "alpha", localstripe.signed_event(
        "charge.dispute.created", dispute(intent.id, charge["id"], 30000, dispute_id="dp_late")))
    assert late.json()["outcome"] == "dispute already won: no chargeback"
    assert not Reversal.objects.exists() and reload(account).balance == D("900.00")


def test_a_won_dispute_the_account_cannot_take_is_left_for_staff_in_the_audit_log(stripe_alpha, account, client,
                                                                                  localstripe, alpha):
    from payments.posting.services import payment_post
    from portal.tenancy import tenant_scope

    intent = direct_intent(localstripe, account)
    deliver(client, "alpha", localstripe.wait_for("payment_intent.succeeded", intent.id))
    charge = charge_of(localstripe, intent.id)
    deliver(client, "alpha", localstripe.signed_event(
        "charge.dispute.created", dispute(intent.id, charge["id"], 30000, dispute_id="dp_paid")))
    with tenant_scope(alpha.agency):  # the debtor then pays everything by check
        payment_post(agency=alpha.agency, actor=alpha.collector, account=reload(account), amount=reload(account).balance,
                     received_on=Payment.objects.get().received_on, method="check", source="staff")
    won = deliver(client, "alpha", localstripe.signed_event(
        "charge.dispute.closed", dispute(intent.id, charge["id"], 30000, status="won", dispute_id="dp_paid")))
    assert won.status_code == 200 and won.json()["outcome"].startswith("not posted:")
    audit = AuditEvent.objects.get(action="stripe.payment_not_posted")
    assert audit.after["dispute"] == "dp_paid" and audit.after["account"] == str(account.pk)


def test_a_yen_payment_is_posted_in_whole_yen(stripe_alpha, alpha, client, localstripe):
    """Stripe counts yen whole (zero-decimal): 5,000 is ¥5,000, not ¥50.00."""
    from tests.payments.conftest import make_identifiable_account

    yen = make_identifiable_account(alpha.clients[0], "JPY-1", balance="10000.00")
    DebtorAccount.objects.filter(pk=yen.pk).update(currency="JPY")
    intent = localstripe.client().v1.payment_intents.create(params={
        "amount": 5000, "currency": "jpy", "payment_method": "pm_card_visa", "confirm": True,
        "payment_method_types": ["card"], "metadata": {
            "agency": str(yen.agency_id), "client": str(yen.client_id), "account": str(yen.pk), "link": "0",
            "installment": ""}})
    deliver(client, "alpha", localstripe.wait_for("payment_intent.succeeded", intent.id))
    assert Payment.objects.get().amount == D("5000.00")


def test_amounts_go_to_stripe_in_each_currencys_minor_unit():
    from payments.online.stripe_api import from_minor_units, to_minor_units

    assert to_minor_units(D("12.34"), "usd") == 1234 and from_minor_units(1234, "USD") == D("12.34")
    assert to_minor_units(D("5000.00"), "JPY") == 5000 and from_minor_units(5000, "jpy") == D("5000.00")
    assert to_minor_units(D("1.25"), "KWD") == 1250 and from_minor_units(1250, "KWD") == D("1.25")
    with pytest.raises(ValueError):
        to_minor_units(D("12.50"), "JPY")


# --- Saved card and automatic payments ---------------------------------------------------------------------

def test_saving_the_card_while_paying_and_the_automatic_charge_of_the_next_installment(
        stripe_alpha, on_plan, client, localstripe):
    account, path = on_plan
    charged, _ = pay(client, localstripe, path, choice="installment", save_card=True)
    assert charged.json()["status"] == "succeeded"
    saved = AutopayCard.objects.get()
    assert saved.customer_id.startswith("cus_") and saved.payment_method_id.startswith("pm_")
    assert saved.last4 == "4242" and saved.active
    method = localstripe.client().v1.payment_methods.retrieve(saved.payment_method_id)
    assert method.customer == saved.customer_id  # attached to the Customer
    assert "Visa ending <strong>4242</strong>" in client.get(path + "autopay/").content.decode()

    second = Installment.objects.filter(plan__account=account).order_by("number")[1]
    attempt = plan_autopay_charge(second)
    assert attempt.status == "succeeded" and attempt.try_number == 1
    payment = attempt.payment
    assert (payment.source, payment.amount, payment.idempotency_key) == (
        "autopay", D("300.00"), f"stripe:{attempt.payment_intent_id}")
    again = plan_autopay_charge(second)
    assert again.pk == attempt.pk and Payment.objects.count() == 2  # charged once
    second.refresh_from_db()
    assert second.paid_amount == D("300.00") and reload(account).balance == D("600.00")

    stopped = client.post(path + "autopay/", {"action": "stop"})
    assert stopped.status_code == 302 and not AutopayCard.objects.get().active
    third = Installment.objects.filter(plan__account=account).order_by("number")[2]
    assert plan_autopay_charge(third) is None and Payment.objects.count() == 2


def test_a_declined_automatic_charge_posts_nothing_and_the_next_call_is_a_new_try(stripe_alpha, on_plan, localstripe):
    account, _path = on_plan
    stripe = localstripe.client()
    customer = stripe.v1.customers.create(params={"name": "Dana"})
    declining = stripe.v1.payment_methods.create(params={"type": "card", "card": {
        "number": CARD_DECLINED_WHEN_CHARGED, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stripe.v1.payment_methods.attach(declining.id, params={"customer": customer.id})
    plan = PaymentPlan.objects.get(account=account)
    card = AutopayCard.objects.create(agency=account.agency, client=account.client, plan=plan,
                                      customer_id=customer.id, payment_method_id=declining.id, last4="0341",
                                      saved_at=plan.accepted_at)
    first = Installment.objects.filter(plan=plan).order_by("number").first()
    failed = plan_autopay_charge(first)
    assert failed.status == "failed" and failed.error == "Your card was declined." and failed.try_number == 1
    assert not Payment.objects.exists() and reload(account).balance == D("1200.00")
    assert plan_autopay_charge(first).try_number == 2  # the scheduler's next call is the next try
    good = stripe.v1.payment_methods.create(params={"type": "card", "card": {
        "number": CARD_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stripe.v1.payment_methods.attach(good.id, params={"customer": customer.id})
    AutopayCard.objects.filter(pk=card.pk).update(payment_method_id=good.id, last4="4242")
    paid = plan_autopay_charge(first)
    assert paid.status == "succeeded" and paid.try_number == 3 and Payment.objects.get().source == "autopay"
    assert list(AutopayAttempt.objects.values_list("try_number", "status")) == [
        (1, "failed"), (2, "failed"), (3, "succeeded")]


def test_a_try_left_pending_is_finished_not_charged_again(stripe_alpha, on_plan, client, localstripe):
    """The worker stopped after Stripe charged but before the answer was kept: the next call finds
    the PaymentIntent of that try and posts it, with no second charge."""
    account, path = on_plan
    pay(client, localstripe, path, choice="installment", save_card=True)
    card = AutopayCard.objects.get()
    second = Installment.objects.filter(plan__account=account).order_by("number")[1]
    intent = localstripe.client().v1.payment_intents.create(params={
        "amount": 30000, "currency": "usd", "customer": card.customer_id, "payment_method": card.payment_method_id,
        "off_session": True, "confirm": True, "metadata": {"agency": str(account.agency_id),
                                                           "account": str(account.pk), "autopay": "1"}})
    AutopayAttempt.objects.create(agency=account.agency, client=account.client, installment=second, try_number=1,
                                  amount=D("300.00"), payment_intent_id=intent.id)
    attempt = plan_autopay_charge(second)
    assert attempt.status == "succeeded" and attempt.payment.processor_reference == intent.id
    assert Payment.objects.filter(source="autopay").count() == 1


# --- The agency's keys ---------------------------------------------------------------------------------------

def test_an_agency_admin_connects_stripe_and_the_secrets_are_encrypted_at_rest(world, client, localstripe):
    admin = world.alpha.admin
    client.force_login(admin)
    page = client.get("/agency/settings/stripe/")
    assert page.status_code == 200 and "Not connected" in page.content.decode()
    assert "http://testserver/stripe/webhook/alpha/" in page.content.decode()
    secret, signing = "sk_test_supersecret9876WXYZ", "whsec_signingsecret5555QRST"
    refused = client.post("/agency/settings/stripe/", {"publishable_key": "sk_test_oops", "secret_key": secret,
                                                       "webhook_secret": signing})
    assert refused.status_code == 400 and "starts with pk_test_ or pk_live_" in refused.content.decode()
    mixed = client.post("/agency/settings/stripe/", {"publishable_key": "pk_live_abcd1234", "secret_key": secret,
                                                     "webhook_secret": signing})
    assert "different modes" in mixed.content.decode()
    saved = client.post("/agency/settings/stripe/", {"publishable_key": "pk_test_public1234", "secret_key": secret,
                                                     "webhook_secret": signing})
    assert saved.status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM payments_stripeaccount")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert secret not in row and signing not in row and "supersecret" not in row and "signingsecret" not in row
    from portal.tenancy import tenant_scope

    with tenant_scope(world.alpha.agency):
        account = StripeAccount.objects.get()
        assert account.secret_key == secret and account.webhook_secret == signing  # readable with the key
        events = list(AuditEvent.objects.filter(action__startswith="stripe."))
    assert [e.action for e in events] == ["stripe.connected"]
    assert secret not in str(events[0].after) and "…WXYZ" in str(events[0].after)
    shown = client.get("/agency/settings/stripe/").content.decode()
    assert "…WXYZ" in shown and "…QRST" in shown and secret not in shown and signing not in shown
    assert 'value="sk_test' not in shown  # the secret fields are never filled in

    replaced = client.post("/agency/settings/stripe/", {"publishable_key": "pk_test_public1234",
                                                        "webhook_secret": "whsec_newsigning0000ABCD"})
    assert replaced.status_code == 302
    with tenant_scope(world.alpha.agency):
        account = StripeAccount.objects.get()
        assert account.secret_key == secret and account.webhook_secret == "whsec_newsigning0000ABCD"
        assert AuditEvent.objects.filter(action="stripe.keys_replaced").get().after["replaced"] == ["webhook_secret"]


def test_a_secret_key_stripe_refuses_is_not_saved(world, client, localstripe):
    client.force_login(world.alpha.admin)
    refused = client.post("/agency/settings/stripe/", {"publishable_key": "pk_test_public1234",
                                                       "secret_key": "rk_test_abcd", "webhook_secret": "whsec_abcdef"})
    # localstripe accepts any sk_ key (and refuses restricted rk_ keys): Stripe's refusal is shown
    assert refused.status_code == 400 and "Stripe refused this secret key" in refused.content.decode()
    from portal.tenancy import tenant_scope

    with tenant_scope(world.alpha.agency):
        assert not StripeAccount.objects.exists()


@pytest.mark.parametrize("persona", ["manager", "collector"])
def test_only_agency_admins_see_the_stripe_settings(persona, world, client):
    client.force_login(getattr(world.alpha, persona))
    assert client.get("/agency/settings/stripe/").status_code == 404


def test_a_webhook_signed_for_one_agency_is_refused_by_another(stripe_alpha, world, client, localstripe, account):
    from portal.tenancy import tenant_scope

    with tenant_scope(world.bravo.agency):
        bravo = StripeAccount(agency=world.bravo.agency, publishable_key="pk_test_bravo1234")
        bravo.set_secret_key("sk_test_bravo1234")
        bravo.set_webhook_secret("whsec_bravo_own_secret")
        bravo.save()
    intent = direct_intent(localstripe, account)
    delivery = localstripe.wait_for("payment_intent.succeeded", intent.id)  # signed with Alpha's secret
    assert deliver(client, "bravo", delivery).status_code == 400
    with tenant_scope(world.bravo.agency):
        assert not StripeEvent.objects.exists() and not Payment.objects.exists()
    assert WEBHOOK_SECRET not in deliver(client, "bravo", delivery).content.decode()


@pytest.mark.parametrize("zone, created, now, day", [
    # 9 pm in Los Angeles is already tomorrow in UTC: the payment is the agency's today
    ("America/Los_Angeles", datetime(2026, 12, 1, 5, 0, tzinfo=UTC), datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
     date(2026, 11, 30)),
    # 7 am in Sydney is still yesterday in UTC: the payment is the agency's today, not refused as future
    ("Australia/Sydney", datetime(2026, 11, 30, 20, 0, tzinfo=UTC), datetime(2026, 11, 30, 21, 0, tzinfo=UTC),
     date(2026, 12, 1)),
])
def test_a_card_payment_is_dated_on_the_agencys_calendar(zone, created, now, day, stripe_alpha, alpha, account):
    """The day decides the statement month a payment is remitted in (the agency's books)."""
    from payments.online.services import online_payment_record

    type(alpha.agency).objects.filter(pk=alpha.agency.pk).update(time_zone=zone)
    stripe_alpha.agency.refresh_from_db()
    intent = {"id": "pi_evening", "status": "succeeded", "amount": 30000, "currency": "usd",
              "created": int(created.timestamp()), "payment_method": {"card": {"last4": "4242"}},
              "metadata": {"agency": str(account.agency_id), "account": str(account.pk), "link": "0"}}
    with time_machine.travel(now, tick=False):
        posted = online_payment_record(stripe_account=stripe_alpha, intent=intent)
        assert posted.payment.received_on == day and not posted.replayed
        again = online_payment_record(stripe_account=stripe_alpha, intent=intent)
    assert again.replayed and again.payment.pk == posted.payment.pk and Payment.objects.count() == 1


def test_a_payment_posted_under_the_old_utc_date_rule_is_replayed_not_refused(stripe_alpha, alpha, account):
    """A webhook retried after an upgrade finds the payment dated by the earlier rule (the UTC
    day): the same PaymentIntent is the same payment, not a conflict that fails every retry."""
    from payments.online.services import online_payment_record
    from payments.posting.services import payment_post

    type(alpha.agency).objects.filter(pk=alpha.agency.pk).update(time_zone="America/Los_Angeles")
    stripe_alpha.agency.refresh_from_db()
    created, now = datetime(2026, 12, 1, 5, 0, tzinfo=UTC), datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        first = payment_post(agency=alpha.agency, actor=None, account=account, amount="300.00",
                             received_on=date(2026, 12, 1), method="card", source="online",
                             idempotency_key="stripe:pi_before_upgrade")
        intent = {"id": "pi_before_upgrade", "status": "succeeded", "amount": 30000, "currency": "usd",
                  "created": int(created.timestamp()), "payment_method": {"card": {"last4": "4242"}},
                  "metadata": {"agency": str(account.agency_id), "account": str(account.pk), "link": "0"}}
        again = online_payment_record(stripe_account=stripe_alpha, intent=intent)
    assert again.replayed and again.payment.pk == first.payment.pk and Payment.objects.count() == 1


def test_the_receipt_of_a_consumer_debt_says_it_is_from_a_debt_collector_and_how_to_stop_emails(
        alpha, django_capture_on_commit_callbacks):
    """12 CFR 1006.18(e)(2): every later communication says it is from a debt collector; 1006.6(e):
    an email says how to opt out. The receipt had neither (the other debtor emails had both)."""
    from payments.online.services import receipt_email
    from payments.posting.services import payment_post
    from tests.payments.conftest import make_identifiable_account

    account = make_identifiable_account(alpha.clients[0], "RC-1", purpose="consumer")
    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_post(agency=alpha.agency, actor=None, account=account, amount="100.00",
                               received_on=alpha.agency.local_date(), method="card", source="online").payment
        receipt_email(payment.pk, alpha.agency.pk)
    receipt = [m for m in mail.outbox if m.subject.startswith("Receipt: 100.00 USD")]
    assert len(receipt) == 1 and "This is a communication from a debt collector." in receipt[0].body
    assert re.search(r"To stop receiving emails at this address: https?://\S+/opt-out/\S+", receipt[0].body)
    html = receipt[0].alternatives[0][0]
    assert "from a debt collector" in html and "Stop emails to this address" in html
