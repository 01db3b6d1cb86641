"""The debtor's way in: opening a link spends nothing, two facts before anything is shown, five
wrong answers lock it, a per-IP budget, expiry and revocation end it, a visit idles out."""
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from collections_work.models import Activity
from payments.links.services import link_issue, link_revoke
from payments.models import SecureLink
from portal.models import AuditEvent
from tests.payments.conftest import RIGHT_ANSWERS, make_identifiable_account, path_of


def verify(browser, path, answers=RIGHT_ANSWERS, **extra):
    return browser.post(path, answers, **extra)


def test_opening_a_link_many_times_spends_nothing_and_shows_nothing_about_the_debt(alpha, sent_offer, client):
    offer, path = sent_offer
    for _ in range(5):  # a mail scanner, then the debtor, then again
        page = client.get(path)
        html = page.content.decode()
        assert page.status_code == 200 and "Confirm who you are" in html
        assert "1,200.00" not in html and offer.account.client.name not in html and "PL-1" not in html
        assert "Postal code" in html and "Last 4 digits of your SSN" in html
    answered = verify(client, path)
    assert answered.status_code == 302 and answered.url.endswith("/account/")
    page = client.get(answered.url).content.decode()
    assert "1,200.00" in page and "Alpha Recovery Client 1" in page
    assert "4 monthly payments of 300.00 USD" in page and 'class="schedule"' not in page  # the schedule: offer page
    assert SecureLink.objects.get(offer=offer).failed_attempts == 0


def test_answers_are_compared_without_case_spaces_or_punctuation(alpha, sent_offer, client):
    _offer, path = sent_offer
    assert verify(client, path, {"postal_code": " 62701 ", "tax_id_last4": "6-7-8-9"}).status_code == 302


def test_an_answer_of_the_wrong_shape_is_pointed_out_and_costs_no_try(alpha, sent_offer, client):
    """"abc" for four digits, or "12", used one of the five tries; a ZIP+4 never matched."""
    offer, path = sent_offer
    for answers, message in (({"postal_code": "62701", "tax_id_last4": "abc"}, "Type the last 4 digits"),
                             ({"postal_code": "627", "tax_id_last4": "6789"}, "Type the ZIP code")):
        page = verify(client, path, answers)
        assert page.status_code == 400 and message in page.content.decode()
    assert SecureLink.objects.get(offer=offer).failed_attempts == 0
    assert verify(client, path, {"postal_code": "62701-0042", "tax_id_last4": " 6789 "}).status_code == 302


def test_without_a_tax_id_the_reference_and_postal_code_are_asked(alpha, client, django_capture_on_commit_callbacks):
    account = make_identifiable_account(alpha.clients[0], "NT-7")
    account.debtor.__class__.objects.filter(pk=account.debtor_id).update(tax_id_last4="")
    account.refresh_from_db()
    _link, url = link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")
    html = client.get(path_of(url)).content.decode()
    assert "account number with the creditor" in html and "Postal code" in html and "SSN" not in html
    assert verify(client, path_of(url), {"client_reference": "nt-7", "postal_code": "62701"}).status_code == 302


def test_five_wrong_answers_lock_the_link_and_the_timeline_and_audit_say_so(alpha, sent_offer, client):
    offer, path = sent_offer
    for attempt in range(1, 6):
        page = verify(client, path, {"postal_code": "00000", "tax_id_last4": "0000"})
        if attempt < 5:
            assert page.status_code == 400 and "do not match" in page.content.decode()
            assert f"{5 - attempt} tr" in page.content.decode()
    assert page.status_code == 410 and "locked" in page.content.decode()
    assert verify(client, path).status_code == 410  # even the right answers, now
    link = SecureLink.objects.get(offer=offer)
    assert link.locked_at is not None and link.failed_attempts == 5
    assert Activity.objects.filter(account=offer.account, summary__contains="locked after 5 wrong").exists()
    assert AuditEvent.objects.filter(action="link.locked", object_id=str(link.pk)).exists()


def test_one_ip_address_gets_a_limited_number_of_tries_across_links(alpha, client, settings):
    settings.DEBTOR_VERIFY_PER_IP = 3
    paths = []
    for number in range(3):
        account = make_identifiable_account(alpha.clients[0], f"IP-{number}")
        paths.append(path_of(link_issue(agency=alpha.agency, actor=alpha.collector, account=account,
                                        channel="letter")[1]))
    for path in paths:
        verify(client, path, {"postal_code": "00000", "tax_id_last4": "0000"})
    throttled = verify(client, paths[0])  # the right answers, but the 4th try from this address
    assert throttled.status_code == 400 and "Too many tries from your network" in throttled.content.decode()
    cache.clear()
    assert verify(client, paths[0]).status_code == 302


def test_an_expired_or_revoked_link_stops_working_and_ends_the_visit(alpha, sent_offer, client):
    offer, path = sent_offer
    account_page = verify(client, path).url
    assert client.get(account_page).status_code == 200
    link = SecureLink.objects.get(offer=offer)
    link_revoke(agency=alpha.agency, actor=alpha.collector, link=link)
    gone = client.get(account_page)
    assert gone.status_code == 410 and "no longer valid" in gone.content.decode()
    fresh, url = link_issue(agency=alpha.agency, actor=alpha.collector, account=offer.account, channel="letter")
    SecureLink.objects.filter(pk=fresh.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get(path_of(url))
    assert expired.status_code == 410 and "expired" in expired.content.decode()


def test_a_visit_ends_after_thirty_idle_minutes(alpha, sent_offer, client):
    _offer, path = sent_offer
    account_page = verify(client, path).url
    session = client.session
    visit = next(iter(session["debtor_visits"].values()))
    visit["seen"] = (timezone.now() - timedelta(minutes=31)).isoformat()
    session.save()
    assert client.get(account_page).url == path  # back to the identity check


def test_a_verified_visit_to_one_link_does_not_open_another(alpha, sent_offer, client):
    _offer, path = sent_offer
    verify(client, path)
    other = make_identifiable_account(alpha.clients[0], "OTHER-1")
    _link, url = link_issue(agency=alpha.agency, actor=alpha.collector, account=other, channel="letter")
    other_account_page = path_of(url) + "account/"
    response = client.get(other_account_page)
    assert response.status_code == 302 and response.url == path_of(url)


def test_an_unknown_or_mangled_token_is_a_plain_404_page(client, world):
    for token in ("x" * 43, "0", "%00", "a" * 200):
        page = client.get(f"/d/{token}/")
        assert page.status_code == 404 and "not valid" in page.content.decode()


@pytest.mark.parametrize("purpose, shown", [("consumer", True), ("commercial", False)])
def test_consumer_pages_say_the_message_is_from_a_debt_collector(alpha, client, purpose, shown):
    account = make_identifiable_account(alpha.clients[0], f"MM-{purpose}", purpose=purpose)
    _link, url = link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")
    page = client.get(verify(client, path_of(url)).url).content.decode()
    assert ("communication from a debt collector" in page) is shown
    assert "6789" not in page  # never the tax ID, not even its last 4 digits once verified


def test_the_pages_of_a_visit_write_nothing_within_a_minute_and_a_busy_visit_stays_open(alpha, sent_offer, client):
    offer, path = sent_offer
    account_page = verify(client, path).url
    with CaptureQueriesContext(connection) as captured:
        for page in (account_page, path + "plan/", path + f"offers/{offer.pk}/", path):
            assert client.get(page).status_code == 200
    assert [q["sql"] for q in captured if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))] == []
    # The idle clock still moves (to the minute): a page 29 idle minutes in keeps the visit open.
    session = client.session
    next(iter(session["debtor_visits"].values()))["seen"] = (timezone.now() - timedelta(minutes=29)).isoformat()
    session.save()
    assert client.get(account_page).status_code == 200
    seen = next(iter(client.session["debtor_visits"].values()))["seen"]
    assert timezone.now() - datetime.fromisoformat(seen) < timedelta(minutes=1)
    assert SecureLink.objects.get(offer=offer).last_opened_at is not None


def test_a_session_that_existed_before_the_identity_check_gets_a_new_key(alpha, sent_offer, client):
    _offer, path = sent_offer
    session = client.session
    session["planted"] = True
    session.save()
    planted = session.session_key
    client.cookies["sessionid"] = planted
    account_page = verify(client, path).url
    assert client.cookies["sessionid"].value != planted
    assert client.get(account_page).status_code == 200


def test_a_link_made_for_a_letter_brings_the_consumer_validation_notice(alpha, django_capture_on_commit_callbacks):
    """Sending the debtor a letter with the link is a communication: 12 CFR 1006.34(a) wants the
    validation notice with it or within five days. Only an emailed link or a call made one."""
    from collections_work.models import Letter
    from tests.payments.conftest import make_identifiable_account

    account = make_identifiable_account(alpha.clients[0], "VL-1", purpose="consumer")
    with django_capture_on_commit_callbacks(execute=True):
        link_issue(agency=alpha.agency, actor=alpha.collector, account=account, channel="letter")
    assert Letter.objects.filter(account=account, kind=Letter.Kind.VALIDATION_NOTICE).count() == 1
