"""Demo offers, plans and a debtor's secure link for the demo agency (after collections_work.demo).

Safe to run again: what exists is kept; each run makes one fresh link for the demo debtor (links
are stored hashed, so a link cannot be shown twice) and returns it with the answers to type.
"""
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Client, User
from collections_work.models import Contact, Debtor, DebtorAccount
from payments.links.services import link_issue
from payments.models import PaymentPlan, PlanOffer, StripeAccount
from payments.offers.services import offer_approve, offer_create, offer_send
from payments.plans.services import plan_accept
from payments.posting.services import payment_post, payment_reverse
from payments.services import payment_report_direct
from portal.tenancy import tenant_scope

DEMO_DEBTOR_ZIP, DEMO_DEBTOR_TAX_LAST4 = "60611", "4321"
CENT = Decimal("0.01")
# The demo agency's Stripe keys: test keys for the localstripe that `manage.py up` starts (it takes
# any sk_test_ key; the webhook it registers signs with this secret). Not keys of a real account.
DEMO_STRIPE_KEYS = {"publishable_key": "pk_test_demo_recovery_localstripe",
                    "secret_key": "sk_test_demo_recovery_localstripe",
                    "webhook_secret": "whsec_demo_recovery_localstripe"}


@transaction.atomic
def seed_payments_demo(agency_slug="demo-recovery") -> dict:
    """Returns {"path": "/d/<token>/", "answers": {...}, "account": reference} for the demo link,
    "plan": the same for the debtor with a signed plan (to pay an installment by card), and
    "stripe": the webhook path and signing secret for the local Stripe."""
    agency = Agency.objects.get(slug=agency_slug)
    with tenant_scope(agency):
        if not agency.postal_address:
            Agency.objects.filter(pk=agency.pk).update(postal_address="200 W Adams St, Suite 900, Chicago, IL 60606",
                                                       phone="+1 312 555 0100")
            agency.refresh_from_db()
        collector = User.objects.get(email="collector@demo-recovery.test")
        owner = User.objects.get(email="owner@acme-supplies.test")
        acme = Client.objects.get(name="Acme Supplies")
        accounts = list(DebtorAccount.objects.filter(client=acme).order_by("client_reference")[:8])
        for account in accounts[:4]:
            _make_identifiable(account)
        if not PlanOffer.objects.filter(account__client=acme).exists():
            _offers_and_plan(agency, collector, owner, accounts[:4])
            _payments(agency, collector, owner, accounts[4:])
        _demo_stripe(agency)
        demo = accounts[0]
        _link, url = link_issue(agency=agency, actor=collector, account=demo, channel="letter",
                                offer=PlanOffer.objects.filter(account=demo, status=PlanOffer.Status.SENT).first())
        planned = accounts[1]
        plan_url = None
        if PaymentPlan.objects.filter(account=planned, status=PaymentPlan.Status.CURRENT).exists():
            _plan_link, plan_url = link_issue(agency=agency, actor=collector, account=planned, channel="letter")
    return {"path": "/" + url.split("/", 3)[3], "account": demo.client_reference, "debtor": demo.debtor_name,
            "answers": {"Postal code": DEMO_DEBTOR_ZIP, "Last 4 digits of the tax ID": DEMO_DEBTOR_TAX_LAST4},
            "plan": {"path": "/" + plan_url.split("/", 3)[3], "account": planned.client_reference,
                     "debtor": planned.debtor_name} if plan_url else None,
            "stripe": {"webhook_path": f"/stripe/webhook/{agency.slug}/",
                       "webhook_secret": DEMO_STRIPE_KEYS["webhook_secret"]}}


def _demo_stripe(agency):
    """The demo agency takes cards through the local Stripe (kept if the keys were changed)."""
    if StripeAccount.objects.filter(agency=agency).exists():
        return
    keys = StripeAccount(agency=agency, publishable_key=DEMO_STRIPE_KEYS["publishable_key"])
    keys.set_secret_key(DEMO_STRIPE_KEYS["secret_key"])
    keys.set_webhook_secret(DEMO_STRIPE_KEYS["webhook_secret"])
    keys.save()


def _make_identifiable(account):
    """The demo rows carry an email and a phone; give the debtor an address and a tax ID too."""
    Debtor.objects.filter(pk=account.debtor_id).update(tax_id_last4=DEMO_DEBTOR_TAX_LAST4)
    Contact.objects.get_or_create(agency_id=account.agency_id, client_id=account.client_id, debtor_id=account.debtor_id,
                                  kind=Contact.Kind.ADDRESS,
                                  value=f"500 N Lake Shore Dr, Chicago, IL {DEMO_DEBTOR_ZIP}, US")
    account.debtor.tax_id_last4 = DEMO_DEBTOR_TAX_LAST4


def _payments(agency, collector, owner, accounts):
    """AS-1005: a check posted by staff. AS-1006: a payment the client reported (paid to it
    directly). AS-1007: an ACH payment returned by the bank (R01). AS-1008: a settlement agreed
    and paid in full, the rest written off: Settled."""
    today = timezone.localdate()
    check, direct, returned, settled = accounts
    payment_post(agency=agency, actor=collector, account=check, amount=(check.balance / 4).quantize(CENT),
                 received_on=today - timedelta(days=3), method="check", source="staff", reference="CHK 1042")
    payment_report_direct(agency=agency, actor=owner, account=direct, amount=(direct.balance / 3).quantize(CENT),
                          received_on=today - timedelta(days=6), reference="Wire 88120")
    ach = payment_post(agency=agency, actor=collector, account=returned, amount=(returned.balance / 2).quantize(CENT),
                       received_on=today - timedelta(days=9), method="ach", source="staff").payment
    payment_reverse(agency=agency, actor=collector, payment=ach, kind="returned_ach", return_code="R01",
                    amount=None, reason="Insufficient funds")
    offer = offer_create(agency=agency, actor=collector, account=settled, kind="lump_sum",
                         total_amount=(settled.balance * Decimal("0.75")).quantize(CENT), installment_count=1,
                         first_due_date=today)
    if offer.status == PlanOffer.Status.AWAITING_CLIENT:
        offer_approve(agency=agency, actor=owner, offer=offer, note="Accept 75 %.")
    _make_identifiable(settled)
    offer_send(agency=agency, actor=collector, offer=offer, channel="letter")
    link, _url = link_issue(agency=agency, actor=collector, account=settled, channel="letter", offer=offer)
    plan_accept(link=link, offer=offer, typed_name=settled.debtor_name, consented=True, ip="127.0.0.1",
                user_agent="Demo data", facts=["postal_code", "tax_id_last4"])
    payment_post(agency=agency, actor=collector, account=settled, amount=offer.total_amount, received_on=today,
                 method="wire", source="staff", reference="Settlement wire")


def _offers_and_plan(agency, collector, owner, accounts):
    """Account 1: an installment offer sent to the debtor (the demo link). Account 2: a plan in
    place, e-signed, with its agreement PDF. Account 3: a settlement beyond the terms that waits
    for the client. Account 4: one the client approved, ready to send."""
    first_due = timezone.localdate() + timedelta(days=10)
    one, two, three, four = accounts
    sent = offer_create(agency=agency, actor=collector, account=one, kind="installments",
                        total_amount=one.balance, installment_count=6, first_due_date=first_due)
    offer_send(agency=agency, actor=collector, offer=sent, channel="letter")
    signed = offer_create(agency=agency, actor=collector, account=two, kind="installments", total_amount=two.balance,
                          installment_count=4, first_due_date=first_due)
    offer_send(agency=agency, actor=collector, offer=signed, channel="letter")
    link, _url = link_issue(agency=agency, actor=collector, account=two, channel="letter", offer=signed)
    plan_accept(link=link, offer=signed, typed_name=two.debtor_name, consented=True, ip="127.0.0.1",
                user_agent="Demo data", facts=["postal_code", "tax_id_last4"])
    offer_create(agency=agency, actor=collector, account=three, kind="lump_sum",
                 total_amount=(three.balance * Decimal("0.40")).quantize(CENT),
                 installment_count=1, first_due_date=first_due)
    approved = offer_create(agency=agency, actor=collector, account=four, kind="lump_sum",
                            total_amount=(four.balance * Decimal("0.50")).quantize(CENT), installment_count=1,
                            first_due_date=first_due)
    if approved.status == PlanOffer.Status.AWAITING_CLIENT:
        offer_approve(agency=agency, actor=owner, offer=approved, note="Fine for this customer.")
