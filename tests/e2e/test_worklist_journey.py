"""A collector's day in a real browser: "Next account" gives the most valuable account, they log a
right-party call with a promise to pay, and the account leaves the queue until the promise date.

The account is commercial under a round-the-clock agency policy, so the journey runs at any hour
the suite does; the calling hours themselves are tested in tests/collections_work/test_compliance.py.
"""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from collections_work.debtor_accounts import scoring
from collections_work.worklist import claim
from collections_work.worklist import services as work_services
from collections_work.models import ContactPolicy, DebtorAccount, Promise
from portal.tenancy import tenant_scope
from tests.e2e.helpers import path_of, sign_in, wait_for_path
from tests.factories import TEST_PASSWORD, ContactFactory, DebtorAccountFactory


def place(client_personas, reference, balance, days_past_due):
    account = DebtorAccountFactory(
        client=client_personas.client, client_reference=reference, debtor__name=f"{reference} Hardware Co",
        debtor__time_zone="America/Chicago", debtor__kind="business", debt_purpose="commercial", status="new", principal=Decimal(balance),
        delinquency_date=timezone.localdate() - timedelta(days=days_past_due))
    ContactFactory(debtor=account.debtor, kind="phone", value="+1 312 555 0142")
    scoring.account_rescore(account)
    claim.worklist_accounts_placed(account.agency_id, DebtorAccount.objects.filter(pk=account.pk))  # as placing does
    return account


@pytest.mark.e2e
def test_collector_takes_next_account_logs_a_promise_and_the_account_waits_until_the_promise_date(world, page):
    alpha = world.alpha
    with tenant_scope(alpha.agency):
        ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=0, latest_hour=24)
        best = place(alpha.clients[0], "BIG-7", "18250.00", 40)
        runner_up = place(alpha.clients[1], "SMALL-2", "420.00", 500)

    sign_in(page, alpha.collector.email, TEST_PASSWORD)
    page.goto("/worklist/")
    expect(page.get_by_role("link", name="All open accounts")).to_be_visible()
    page.keyboard.press("n")  # the "Next account" shortcut
    wait_for_path(page, f"/debtor-accounts/{best.pk}/work/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("BIG-7 Hardware Co")
    expect(page.locator("#call-check")).to_contain_text("allowed now")
    expect(page.locator("#score-parts")).to_contain_text("Balance")

    promised_on = timezone.localdate() + timedelta(days=4)
    page.keyboard.press("c")
    call_form = page.locator("details[data-shortcut=c] form")
    call_form.get_by_label("Promised to pay").check()
    call_form.get_by_label("Number called").select_option(label="+1 312 555 0142")
    call_form.get_by_label("Note").fill("Owner agreed to pay part this week")
    call_form.get_by_label("Promised amount").fill("5000.00")
    call_form.get_by_label("Promised by").fill(promised_on.isoformat())
    call_form.get_by_role("button", name="Log call").click()

    expect(page.locator(".messages .flash-success")).to_contain_text("Promised to pay logged")
    expect(page.locator(".account-timeline")).to_contain_text("Promise to pay 5,000.00 USD")
    expect(page.locator(".badge.promise-open")).to_have_text("Open")

    page.get_by_role("button", name="Next account").click()
    wait_for_path(page, f"/debtor-accounts/{runner_up.pk}/work/")  # BIG-7 is out of the queue now

    with tenant_scope(alpha.agency):
        promise = Promise.objects.get(account=best)
        assert (promise.amount, promise.due_date, promise.made_by) == (Decimal("5000.00"), promised_on, alpha.collector)
        waiting = DebtorAccount.objects.get(pk=best.pk)
        assert timezone.localdate(waiting.next_action_at) == promised_on
        # On the promise date it comes back, with the promise due as part of its score.
        on_the_day = waiting.next_action_at + timedelta(minutes=1)
        work_services.accounts_wake_due(now=on_the_day)
        back = claim.account_claim_next(agency=alpha.agency, collector=alpha.manager, now=on_the_day)
        assert back.account == best
    assert path_of(page) == f"/debtor-accounts/{runner_up.pk}/work/"
