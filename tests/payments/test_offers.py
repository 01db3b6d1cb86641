"""Offers: built and checked against the client's terms, approved or declined by the client,
sent by secure link (email only when the contact policy allows), withdrawn."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from collections_work.models import Activity, ContactPolicy
from payments.models import PlanOffer, SecureLink
from payments.offers.services import offer_approve, offer_create, offer_decline, offer_send, offer_withdraw
from payments.schedule import due_date
from portal.errors import DomainError, NotAllowed
from portal.models import AuditEvent
from portal.secrets import keyed_hash
from tests.payments.conftest import link_in_mail, make_identifiable_account

D = Decimal


def in_days(days):
    return timezone.localdate() + timedelta(days=days)


def make(alpha, account, **kwargs):
    arguments = {"kind": "installments", "total_amount": "1200.00", "installment_count": 4,
                 "first_due_date": in_days(10)} | kwargs
    return offer_create(agency=alpha.agency, actor=alpha.collector, account=account, **arguments)


def test_an_offer_within_the_terms_is_ready_to_send_and_one_beyond_them_waits_for_the_client(alpha, account):
    within = make(alpha, account)  # 4 x 300, terms: 12 months, 50.00 smallest, 70 % floor
    assert within.status == PlanOffer.Status.DRAFT and within.outside_terms == []
    beyond = make(alpha, account, kind="installments", total_amount="1200.00", installment_count=30,
                  installment_amount=None)
    assert beyond.status == PlanOffer.Status.AWAITING_CLIENT
    assert beyond.outside_terms == ["longer than the longest plan of 12 months", "installments under the smallest of 50.00"]
    settlement = make(alpha, account, kind="lump_sum", total_amount="840.00", installment_count=1)
    assert settlement.status == PlanOffer.Status.DRAFT  # exactly 70 % of 1,200.00
    low = make(alpha, account, kind="lump_sum", total_amount="839.99", installment_count=1)
    assert low.outside_terms == ["below the settlement floor of 70 % (840.00)"]
    timeline = list(Activity.objects.filter(account=account, kind="offer").values_list("summary", flat=True))
    assert any("waits for the client" in entry for entry in timeline)


def test_the_preview_shows_every_payment_and_saves_nothing(alpha, account, client):
    first = in_days(20)
    client.force_login(alpha.collector)
    page = client.post(reverse("workspace_offer", args=[account.pk]), {
        "kind": "installments", "total_amount": "1000.00", "installment_count": "3", "frequency": "monthly",
        "down_payment": "100.00", "first_due_date": first.isoformat(), "preview": "1"})
    html = page.content.decode()
    assert page.status_code == 200 and not PlanOffer.objects.filter(account=account).exists()
    dates = [due_date(first, "monthly", index).strftime("%b %-d, %Y") for index in range(4)]
    for text in (*dates, "100.00", "300.00", "1,000.00", "Within the client"):
        assert text in html, text


def test_an_installment_amount_instead_of_a_count_gives_the_remainder_last(alpha, account):
    offer = make(alpha, account, total_amount="1000.00", installment_count=None, installment_amount="300.00")
    from payments.offers.services import offer_schedule

    assert [p.amount for p in offer_schedule(offer)] == [D("300.00")] * 3 + [D("100.00")]


def test_the_client_admin_approves_or_declines_an_offer_beyond_its_terms(alpha, account, client):
    beyond = make(alpha, account, kind="lump_sum", total_amount="800.00", installment_count=1)
    second = make(alpha, account, kind="lump_sum", total_amount="700.00", installment_count=1)
    admin = alpha.clients[0].admin
    with pytest.raises(NotAllowed):
        offer_approve(agency=alpha.agency, actor=alpha.clients[0].user, offer=beyond)  # read-only user
    with pytest.raises(NotAllowed):
        offer_approve(agency=alpha.agency, actor=alpha.clients[1].admin, offer=beyond)  # another client's admin
    client.force_login(admin)
    home = client.get(reverse("client_offer_summary")).content.decode()
    assert "2</strong> offers wait" in home
    assert "below the settlement floor" in client.get(reverse("client_offers")).content.decode()
    refused = client.post(reverse("offer_decide", args=[second.pk]), {"decision": "decline", "note": ""})
    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    client.post(reverse("offer_decide", args=[beyond.pk]), {"decision": "approve", "note": "OK this once"})
    client.post(reverse("offer_decide", args=[second.pk]), {"decision": "decline", "note": "Not below 600"})
    beyond.refresh_from_db(), second.refresh_from_db()
    assert beyond.status == PlanOffer.Status.APPROVED and beyond.decided_by == admin
    assert second.status == PlanOffer.Status.DECLINED and second.decision_note == "Not below 600"
    assert AuditEvent.objects.filter(action__in=["offer.approved", "offer.declined"]).count() == 2
    client.force_login(alpha.collector)  # the collector sees the answers on the worklist and the timeline
    worklist = client.get(reverse("worklist_home")).content.decode()
    assert "Approved by the client" in worklist and "Not below 600" in worklist
    assert Activity.objects.filter(account=account, summary__startswith="Offer declined by the client").exists()
    with pytest.raises(DomainError, match="nothing to decide"):
        offer_decline(agency=alpha.agency, actor=admin, offer=beyond, note="changed my mind")


def test_sending_by_email_makes_a_hashed_256_bit_link_and_the_email_carries_it(alpha, account,
                                                                                 django_capture_on_commit_callbacks):
    offer = make(alpha, account)
    with django_capture_on_commit_callbacks(execute=True):
        offer, url = offer_send(agency=alpha.agency, actor=alpha.collector, offer=offer, channel="email")
    token = url.rstrip("/").rsplit("/", 1)[1]
    link = SecureLink.objects.get(offer=offer)
    assert len(token) >= 43  # 32 random bytes, base64url: 256 bits
    assert link.token_hash == keyed_hash(token) and token not in link.token_hash
    assert link.expires_at.date() == (timezone.now() + timedelta(days=14)).date()  # the agency's default
    assert mail.outbox[-1].to == [f"{account.client_reference.lower()}@debtor.test"] and link_in_mail() == url
    assert "Stop emails to this address" in mail.outbox[-1].alternatives[0][0]


def test_an_email_the_contact_policy_forbids_now_is_refused_in_the_policys_words(alpha, account):
    ContactPolicy.objects.filter(agency=alpha.agency).update(earliest_hour=9, latest_hour=10)
    offer = make(alpha, account)
    three_am_chicago = timezone.now().replace(hour=9, minute=0)  # 03:00 in Chicago (UTC-6)
    with pytest.raises(DomainError) as refused:
        offer_send(agency=alpha.agency, actor=alpha.collector, offer=offer, channel="email", now=three_am_chicago)
    assert "calling hours" in refused.value.message or "hours" in refused.value.message
    offer.refresh_from_db()
    assert offer.status == PlanOffer.Status.DRAFT and not SecureLink.objects.filter(offer=offer).exists()


def test_no_email_on_file_says_so_and_a_letter_link_is_shown_once(alpha, client):
    account = make_identifiable_account(alpha.clients[0], "NE-1")
    account.debtor.contacts.filter(kind="email").delete()
    offer = make(alpha, account)
    client.force_login(alpha.collector)
    page = client.post(reverse("offer_send", args=[offer.pk]), {"channel": "email"}, follow=True).content.decode()
    assert "No email on file" in page
    letter = client.post(reverse("offer_send", args=[offer.pk]), {"channel": "letter"})
    url = letter.context["url"]
    assert letter.status_code == 200 and url in letter.content.decode() and "no-store" in letter["Cache-Control"]
    assert SecureLink.objects.get(offer=offer).token_hash == keyed_hash(url.rstrip("/").rsplit("/", 1)[1])


def test_an_offer_waiting_for_the_client_cannot_be_sent_and_a_withdrawn_one_loses_its_links(alpha, account):
    beyond = make(alpha, account, kind="lump_sum", total_amount="500.00", installment_count=1)
    with pytest.raises(DomainError, match="cannot be sent"):
        offer_send(agency=alpha.agency, actor=alpha.collector, offer=beyond, channel="letter")
    offer = make(alpha, account)
    offer, _url = offer_send(agency=alpha.agency, actor=alpha.collector, offer=offer, channel="letter")
    offer_withdraw(agency=alpha.agency, actor=alpha.collector, offer=offer)
    assert SecureLink.objects.get(offer=offer).revoked_at is not None


def test_a_link_needs_two_facts_the_portal_holds(alpha):
    from tests.factories import DebtorAccountFactory

    bare = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="BARE-1", debt_purpose="commercial")
    offer = make(alpha, bare, total_amount="1000.00")
    with pytest.raises(DomainError, match="too little about this debtor"):
        offer_send(agency=alpha.agency, actor=alpha.collector, offer=offer, channel="letter")
