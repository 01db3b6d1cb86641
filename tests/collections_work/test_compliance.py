"""The contact-compliance table: attempt counts, conversations, local hours, DST, unknown zones."""
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from collections_work.compliance import contact_decision, send_decision
from collections_work.models import Activity, Contact, ContactPolicy, Debtor, DebtorAccount, Dispute
from portal.tenancy import tenant_scope
from tests.factories import DebtorAccountFactory

UTC = dt_timezone.utc


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def account(world):
    """A consumer account whose debtor lives in New York."""
    account = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="C-1",
                                   debtor__name="Pat Debtor", status="new", principal=100, placed_at=utc(2024, 1, 1))
    with tenant_scope(world.alpha.agency):
        yield account


def calls(account, times, outcome="no_answer"):
    for at in times:
        Activity.objects.create(agency=account.agency, client=account.client, account=account, kind="call",
                                summary="Call", outcome=outcome, occurred_at=at)


NOON_NY = utc(2024, 6, 12, 16)  # 12:00 in New York (EDT)


@pytest.mark.parametrize("previous_attempts, allowed", [(0, True), (6, True), (7, False), (9, False)])
def test_the_seventh_call_in_seven_days_is_allowed_and_the_eighth_is_not(account, previous_attempts, allowed):
    calls(account, [NOON_NY - timedelta(hours=20 * i + 1) for i in range(previous_attempts)])
    decision = contact_decision(account=account, channel="call", at=NOON_NY)
    assert decision.allowed is allowed
    if not allowed:
        assert "call attempts in the last 7 days (the limit is 7)" in decision.reasons[0]


def test_attempts_older_than_seven_days_do_not_count(account):
    calls(account, [NOON_NY - timedelta(days=7, minutes=1)] * 7)
    assert contact_decision(account=account, channel="call", at=NOON_NY).allowed


@pytest.mark.parametrize("since_conversation, allowed", [
    (timedelta(days=6, hours=23), False), (timedelta(days=7), True), (timedelta(days=8), True)])
def test_no_call_within_seven_days_after_a_conversation(account, since_conversation, allowed):
    calls(account, [NOON_NY - since_conversation], outcome="right_party_contact")
    decision = contact_decision(account=account, channel="call", at=NOON_NY)
    assert decision.allowed is allowed
    if not allowed:
        assert "We spoke with the debtor" in decision.reasons[0]
    assert contact_decision(account=account, channel="email", at=NOON_NY).allowed  # calls only


@pytest.mark.parametrize("local_time_utc, allowed", [
    (utc(2024, 6, 12, 11, 59), False),  # 07:59 EDT
    (utc(2024, 6, 12, 12, 0), True),    # 08:00 EDT
    (utc(2024, 6, 13, 0, 59), True),    # 20:59 EDT
    (utc(2024, 6, 13, 1, 0), False),    # 21:00 EDT
])
def test_day_boundaries_in_the_debtors_local_time(account, local_time_utc, allowed):
    decision = contact_decision(account=account, channel="email", at=local_time_utc)
    assert decision.allowed is allowed
    if not allowed:
        assert "Outside the contact hours 08:00–21:00" in decision.reasons[0]


@pytest.mark.parametrize("moment, allowed", [
    (utc(2024, 3, 9, 12, 30), False),  # Saturday 07:30 EST (UTC-5)
    (utc(2024, 3, 10, 12, 30), True),  # Sunday after the spring change: 08:30 EDT (UTC-4)
    (utc(2024, 11, 3, 12, 30), False),  # after the autumn change: 07:30 EST
    (utc(2024, 11, 2, 12, 30), True),  # before it: 08:30 EDT
])
def test_daylight_saving_changes_move_the_window(account, moment, allowed):
    assert contact_decision(account=account, channel="call", at=moment).allowed is allowed


@pytest.mark.parametrize("moment, allowed", [
    (utc(2024, 6, 12, 13, 0), False),  # 09:00 in New York but 03:00 in Honolulu
    (utc(2024, 6, 12, 18, 0), True),   # 14:00 in New York, 08:00 in Honolulu
    (utc(2024, 6, 13, 0, 30), True),   # 20:30 in New York, 14:30 in Honolulu
    (utc(2024, 6, 13, 1, 30), False),  # 21:30 in New York
])
def test_an_unknown_zone_must_hold_in_every_us_zone(account, moment, allowed):
    Debtor.objects.filter(pk=account.debtor_id).update(time_zone="")
    account.refresh_from_db()
    assert contact_decision(account=account, channel="call", at=moment).allowed is allowed


def test_contacts_that_disagree_must_all_be_inside_the_window(account):
    Contact.objects.create(agency=account.agency, client=account.client, debtor=account.debtor, kind="phone",
                           value="+13105550100", time_zone="America/Los_Angeles")
    at = utc(2024, 6, 12, 14, 0)  # 10:00 New York, 07:00 Los Angeles
    decision = contact_decision(account=account, channel="call", at=at)
    assert not decision.allowed and "07:00 in America/Los_Angeles" in decision.reasons[0]


def test_open_disputes_cease_requests_and_opt_outs_block_every_channel(account):
    email = Contact.objects.create(agency=account.agency, client=account.client, debtor=account.debtor, kind="email",
                                   value="pat@example.test", opted_out_at=utc(2024, 6, 1))
    decision = contact_decision(account=account, channel="email", contact=email, at=NOON_NY)
    assert decision.reasons == ["The debtor opted out of contact at pat@example.test."]
    DebtorAccount.objects.filter(pk=account.pk).update(cease_communication_at=utc(2024, 6, 2))
    account.refresh_from_db()
    dispute = Dispute.objects.create(agency=account.agency, client=account.client, account=account,
                                     reason="Not mine", opened_at=utc(2024, 6, 3))
    reasons = contact_decision(account=account, channel="letter", at=NOON_NY).reasons
    assert reasons[0].startswith("A dispute is open") and reasons[1].startswith("The debtor asked us to stop")
    Dispute.objects.filter(pk=dispute.pk).update(resolved_at=utc(2024, 6, 4))
    DebtorAccount.objects.filter(pk=account.pk).update(cease_communication_at=None)
    account.refresh_from_db()
    assert contact_decision(account=account, channel="letter", at=NOON_NY).allowed


def test_the_contact_hours_hold_calls_and_emails_but_never_a_letter(account):
    """A letter has no time of day: the post delivers it, so a print batch made at night holds none."""
    three_am_ny = utc(2024, 6, 12, 7)
    assert not contact_decision(account=account, channel="call", at=three_am_ny)
    assert send_decision(account=account, channel="email", contact=None, at=three_am_ny).action == "defer"
    assert contact_decision(account=account, channel="letter", at=three_am_ny).allowed
    assert send_decision(account=account, channel="letter", contact=None, at=three_am_ny).action == "send"


def test_commercial_accounts_follow_the_agencys_policy(account):
    DebtorAccount.objects.filter(pk=account.pk).update(debt_purpose="commercial")
    account.refresh_from_db()
    calls(account, [NOON_NY - timedelta(hours=i + 1) for i in range(12)], outcome="right_party_contact")
    assert contact_decision(account=account, channel="call", at=NOON_NY).allowed  # no cap by default
    assert not contact_decision(account=account, channel="call", at=utc(2024, 6, 12, 11, 0)).allowed  # 07:00
    ContactPolicy.objects.create(agency=account.agency, commercial_weekly_call_cap=10, earliest_hour=13)
    decision = contact_decision(account=account, channel="call", at=NOON_NY)
    assert len(decision.reasons) == 2 and "the limit is 10" in decision.reasons[1]


def test_an_agency_may_tighten_but_not_widen_the_legal_hours_for_consumers(account):
    ContactPolicy.objects.create(agency=account.agency, earliest_hour=6, latest_hour=23)
    assert not contact_decision(account=account, channel="call", at=utc(2024, 6, 12, 11, 0)).allowed  # 07:00
