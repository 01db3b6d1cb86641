"""The worklist: queues, scores, "Next account" claims with leases, the workspace's actions, the
timed jobs (broken promises, callbacks coming due) and the supervisor's figures.

Services take `now`, so the tests run at a fixed weekday noon in New York whatever the clock says.
"""
import threading
import time
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, connections
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from collections_work.compliance import opt_out_token
from collections_work.debtor_accounts import scoring
from collections_work.worklist import claim
from collections_work.worklist import selectors as work_selectors
from collections_work.worklist import services as work_services
from collections_work.models import (
    Activity, Callback, Contact, ContactPolicy, DebtorAccount, Dispute, EmailTemplate, Promise, Queue, Team,
)
from payments.models import PlanOffer
from payments.offers.services import offer_create
from payments.services import payment_report_direct
from portal.errors import DomainError
from portal.tenancy import tenant_scope, unscoped
from tests.factories import DebtorAccountFactory

NOON_NY = datetime(2026, 12, 2, 17, 0, tzinfo=dt_timezone.utc)  # Wednesday 12:00 in New York
TODAY = date(2026, 12, 2)


def make_account(persona_client, reference, *, balance="1000.00", days_past_due=30, time_zone="America/New_York",
                 purpose="consumer", status="active", **extra):
    account = DebtorAccountFactory(
        client=persona_client.client, client_reference=reference, debtor__time_zone=time_zone, debt_purpose=purpose,
        status=status, principal=Decimal(balance), delinquency_date=TODAY - timedelta(days=days_past_due),
        placed_at=NOON_NY - timedelta(days=5), contacts=["phone", "email"], **extra)
    scoring.account_rescore(account, now=NOON_NY)
    claim.worklist_accounts_placed(account.agency_id, DebtorAccount.objects.filter(pk=account.pk))  # as placing does
    return account


@pytest.fixture
def alpha(world):
    with tenant_scope(world.alpha.agency):
        yield world.alpha


def world_extra_collector(agency_personas):
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(email=f"extra@{agency_personas.agency.slug}.test")
    MembershipFactory(user=user, agency=agency_personas.agency, role="collector")
    return user


def claim_next(agency_personas, collector=None, now=NOON_NY):
    return claim.account_claim_next(agency=agency_personas.agency, collector=collector or agency_personas.collector,
                                       now=now)


def phone_of(account):
    return Contact.objects.get(debtor_id=account.debtor_id, kind="phone")


# --- Claiming -------------------------------------------------------------------------------------------

def test_next_account_gives_the_most_valuable_first_and_never_the_same_to_two_collectors(alpha):
    small = make_account(alpha.clients[0], "SMALL", balance="200.00")
    big = make_account(alpha.clients[0], "BIG", balance="50000.00")
    old_big = make_account(alpha.clients[0], "OLD", balance="50000.00", days_past_due=1000)

    first = claim_next(alpha, alpha.collector)
    second = claim_next(alpha, alpha.manager)
    third = claim_next(alpha, alpha.admin)

    assert [first.account, second.account, third.account] == [big, old_big, small]
    assert DebtorAccount.objects.get(pk=big.pk).claimed_by == alpha.collector
    assert DebtorAccount.objects.get(pk=old_big.pk).claimed_by == alpha.manager
    assert claim_next(alpha, world_extra_collector(alpha)) is None


def test_a_lease_expires_when_the_collector_walks_away(alpha):
    account = make_account(alpha.clients[0], "A-1")
    assert claim_next(alpha, alpha.collector).account == account
    assert claim_next(alpha, alpha.manager) is None  # held by the collector

    later = NOON_NY + claim.lease_length() + timedelta(seconds=1)
    taken_over = claim_next(alpha, alpha.manager, now=later)
    assert taken_over is not None and taken_over.account == account
    assert DebtorAccount.objects.get(pk=account.pk).claimed_by == alpha.manager


def test_passing_over_an_account_parks_it_for_a_while(alpha, settings):
    first = make_account(alpha.clients[0], "FIRST", balance="9000.00")
    second = make_account(alpha.clients[0], "SECOND", balance="100.00")
    assert claim_next(alpha).account == first
    assert claim_next(alpha).account == second  # pressed Next without working FIRST
    parked = DebtorAccount.objects.get(pk=first.pk)
    assert parked.claimed_by is None
    assert parked.next_action_at == NOON_NY + timedelta(minutes=settings.WORKLIST_SKIP_MINUTES)
    assert claim_next(alpha, alpha.manager) is None  # FIRST waits, SECOND was released the same way
    back = NOON_NY + timedelta(minutes=settings.WORKLIST_SKIP_MINUTES + 1)
    work_services.accounts_wake_due(now=back)  # the beat job, every minute
    assert claim_next(alpha, alpha.manager, now=back).account == first


def test_next_account_never_hands_out_another_agencys_account(world):
    with tenant_scope(world.bravo.agency):
        make_account(world.bravo.clients[0], "BRAVO-ONLY", balance="99999.00")
    with tenant_scope(world.alpha.agency):
        assert claim_next(world.alpha) is None
        own = make_account(world.alpha.clients[0], "ALPHA-1", balance="10.00")
        assert claim_next(world.alpha).account == own


def test_next_account_over_http_opens_the_workspace_or_says_nothing_is_ready(world, client):
    client.force_login(world.alpha.collector)
    response = client.post(reverse("worklist_next"), follow=True)
    assert "Nothing to work right now" in response.content.decode()
    with tenant_scope(world.alpha.agency):
        # The view uses the real clock: a commercial account under a round-the-clock policy is
        # callable at any hour the suite runs (a consumer one is not after 21:00 in New York).
        ContactPolicy.objects.update_or_create(agency=world.alpha.agency, defaults={"earliest_hour": 0, "latest_hour": 24})
        claim.worklist_settings_changed(world.alpha.agency.pk)
        account = make_account(world.alpha.clients[0], "HTTP-1", purpose="commercial")
        DebtorAccount.objects.filter(pk=account.pk).update(next_action_at=None)
    response = client.post(reverse("worklist_next"))
    assert response.status_code == 302 and response.url == reverse("account_workspace", args=[account.pk])


def test_give_back_releases_only_your_own_claim(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "GIVE-1")
        DebtorAccount.objects.filter(pk=account.pk).update(claimed_by=world.alpha.manager,
                                                            claim_expires_at=NOON_NY + timedelta(days=3650))
    client.force_login(world.alpha.collector)
    client.post(reverse("workspace_release", args=[account.pk]))
    with tenant_scope(world.alpha.agency):
        assert DebtorAccount.objects.get(pk=account.pk).claimed_by == world.alpha.manager
    client.force_login(world.alpha.manager)
    client.post(reverse("workspace_release", args=[account.pk]))
    with tenant_scope(world.alpha.agency):
        assert DebtorAccount.objects.get(pk=account.pk).claimed_by is None


@pytest.mark.django_db(transaction=True)
def test_collectors_claiming_at_the_same_moment_never_get_the_same_account(db_vendor):
    """Real threads on PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED under contention."""
    if db_vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers)")
    from tests.personas import build_world

    world = build_world()
    collectors = [world.alpha.collector, world.alpha.manager, world.alpha.admin]
    from tests.factories import MembershipFactory, UserFactory
    for number in range(9):
        user = UserFactory(email=f"racer{number}@alpha.test")
        MembershipFactory(user=user, agency=world.alpha.agency, role="collector")
        collectors.append(user)
    with tenant_scope(world.alpha.agency):
        for number in range(40):
            make_account(world.alpha.clients[number % 2], f"RACE-{number}", balance=f"{1000 + number}.00")
    barrier = threading.Barrier(len(collectors))
    claims, errors = {}, []

    def work(collector):
        try:
            with tenant_scope(world.alpha.agency):
                barrier.wait()
                taken = []
                for _ in range(3):
                    result = claim.account_claim_next(agency=world.alpha.agency, collector=collector, now=NOON_NY)
                    taken.append(result.account.pk)
                claims[collector.pk] = taken
        except Exception as error:  # reported below, with the thread's failure
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(c,)) for c in collectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    every_claim = [pk for taken in claims.values() for pk in taken]
    assert len(every_claim) == 3 * len(collectors)
    assert len(set(every_claim)) == len(every_claim), "an account was handed to two collectors"


@pytest.mark.django_db(transaction=True)
def test_next_account_waits_for_a_job_holding_the_collectors_account_and_never_deadlocks(db_vendor):
    """A batch job (re-scoring, waking due accounts) holds the account the collector is giving
    back and then wants the account Next would hand out. Next gives back first, so it waits
    holding nothing, and both finish (locking the next account first deadlocked here)."""
    if db_vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers)")
    from django.db import transaction

    from tests.personas import build_world

    world = build_world()
    agency, collector = world.alpha.agency, world.alpha.collector
    with tenant_scope(agency):
        held = make_account(world.alpha.clients[0], "HELD", balance="500.00")
        best = make_account(world.alpha.clients[0], "BEST", balance="90000.00")
        claim.account_claim_next(agency=agency, collector=collector, now=NOON_NY)  # takes BEST
        DebtorAccount.objects.filter(pk=best.pk).update(claimed_by=None, claim_expires_at=None)
        DebtorAccount.objects.filter(pk=held.pk).update(claimed_by=collector, claim_expires_at=NOON_NY + timedelta(minutes=20))
    job_has_held, errors, results = threading.Event(), [], {}

    def job():
        try:
            with tenant_scope(agency), transaction.atomic():
                DebtorAccount.objects.select_for_update().get(pk=held.pk)
                job_has_held.set()
                time.sleep(0.5)  # Next starts meanwhile and must not have locked BEST
                DebtorAccount.objects.filter(pk=best.pk).update(priority=F("priority"))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    def press_next():
        try:
            job_has_held.wait(5)
            with tenant_scope(agency):
                results["claim"] = claim.account_claim_next(agency=agency, collector=collector,
                                                               now=NOON_NY + timedelta(minutes=1))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=job), threading.Thread(target=press_next)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert results["claim"].account_id == best.pk
    with tenant_scope(agency):
        assert DebtorAccount.objects.get(pk=held.pk).claimed_by is None  # given back


def test_next_account_skips_debtors_outside_their_calling_hours(alpha):
    nine_am_new_york = datetime(2026, 12, 2, 14, 0, tzinfo=dt_timezone.utc)  # 06:00 in Los Angeles
    west = make_account(alpha.clients[0], "WEST", balance="90000.00", time_zone="America/Los_Angeles")
    unknown = make_account(alpha.clients[0], "UNKNOWN", balance="80000.00", time_zone="")
    west_commercial = make_account(alpha.clients[0], "WEST-B2B", balance="70000.00", time_zone="America/Los_Angeles",
                                   purpose="commercial")
    east = make_account(alpha.clients[0], "EAST", balance="100.00")
    ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=6, latest_hour=21)  # commercial from 06:00

    assert claim_next(alpha, alpha.collector, now=nine_am_new_york).account == west_commercial
    assert claim_next(alpha, alpha.manager, now=nine_am_new_york).account == east
    assert claim_next(alpha, alpha.admin, now=nine_am_new_york) is None  # WEST at 06:00; UNKNOWN: Honolulu at 04:00
    evening = datetime(2026, 12, 2, 23, 0, tzinfo=dt_timezone.utc)  # 18:00 New York, 13:00 Honolulu
    assert {claim_next(alpha, user, now=evening).account for user in (alpha.admin, world_extra_collector(alpha))} == {
        west, unknown}


# --- Queues --------------------------------------------------------------------------------------------------

def test_queues_hold_the_accounts_their_rules_describe_and_are_worked_in_order(alpha):
    c1, c2 = alpha.clients[0], alpha.clients[1]
    big_c1 = make_account(c1, "BIG-C1", balance="20000.00", days_past_due=40)
    small_c2 = make_account(c2, "SMALL-C2", balance="50.00", days_past_due=400, time_zone="America/Chicago")
    mine = make_account(c2, "MINE", balance="70.00", assigned_collector=alpha.collector)
    rules = Queue.objects.create(agency=alpha.agency, name="Client 2, old, small", position=1)
    rules.clients.set([c2.client])
    rules.balance_max = Decimal("100.00")
    rules.age_buckets = ["365+"]
    rules.time_zones = ["America/Chicago"]
    rules.save()
    rules.collectors.set([alpha.collector])
    assigned = Queue.objects.create(agency=alpha.agency, name="Mine", position=2, assignment="mine")
    team = Team.objects.create(agency=alpha.agency, name="Early shift")
    team.members.set([alpha.collector])
    assigned.teams.set([team])

    assert list(claim.queue_accounts(rules, now=NOON_NY)) == [small_c2]
    assert list(claim.queue_accounts(assigned, collector=alpha.collector, now=NOON_NY)) == [mine]
    assert [q.name for q in claim.queues_of(alpha.collector, alpha.agency)] == [
        "Client 2, old, small", "Mine", claim.DEFAULT_QUEUE_NAME]
    assert [q.name for q in claim.queues_of(alpha.manager, alpha.agency)] == [claim.DEFAULT_QUEUE_NAME]
    # The collector drains the queues in order, although BIG-C1 scores highest.
    taken = [claim_next(alpha).account for _ in range(3)]
    assert taken == [small_c2, mine, big_c1]


def test_every_open_account_is_in_some_queue(alpha):
    for number, status in enumerate(["new", "active", "active", "on_hold", "paid"]):
        make_account(alpha.clients[number % 2], f"Q-{number}", status=status)
    narrow = Queue.objects.create(agency=alpha.agency, name="Nothing matches", balance_min=Decimal("999999"))
    claim.default_queue_for(alpha.agency)
    assert work_selectors.open_accounts_outside_queues(alpha.agency) == 0
    Queue.objects.filter(is_default=True).delete()  # what the default queue prevents
    assert work_selectors.open_accounts_outside_queues(alpha.agency) == 3
    assert narrow.pk


def test_the_default_queue_cannot_be_changed_or_deleted(world, client):
    with tenant_scope(world.alpha.agency):
        default = claim.default_queue_for(world.alpha.agency)
    client.force_login(world.alpha.manager)
    assert client.get(reverse("queue_edit", args=[default.pk])).status_code == 404
    response = client.post(reverse("queue_delete", args=[default.pk]), follow=True)
    assert "cannot be deleted" in response.content.decode()
    with tenant_scope(world.alpha.agency):
        assert Queue.objects.filter(pk=default.pk).exists()


def test_queue_form_refuses_another_agencys_client_and_a_duplicate_name(world, client):
    client.force_login(world.alpha.manager)
    data = {"name": "Sneaky", "position": "1", "assignment": "any",
            "clients": [world.bravo.clients[0].client.pk]}
    response = client.post(reverse("queue_new"), data)
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    data["clients"] = [world.alpha.clients[0].client.pk]
    assert client.post(reverse("queue_new"), data).status_code == 302
    response = client.post(reverse("queue_new"), data)
    assert response.status_code == 400 and "already one named" in response.content.decode()
    data |= {"name": "Bad range", "balance_min": "500", "balance_max": "100"}
    assert "upper bound is below" in client.post(reverse("queue_new"), data).content.decode()


# --- The score ---------------------------------------------------------------------------------------------

def test_score_parts_explain_the_priority(alpha):
    account = make_account(alpha.clients[0], "S-1", balance="10000.00", days_past_due=400)
    parts = {part.name: part for part in scoring.score_parts(account, now=NOON_NY)}
    assert parts["balance"].points == 40.0
    assert parts["age"].points < -5 and "400 days past due" in parts["age"].why
    assert parts["last contact"].why == "never worked"
    assert account.priority == scoring.priority_of(list(parts.values()))

    Callback.objects.create(agency=alpha.agency, client=account.client, account=account, collector=alpha.collector,
                            due_at=NOON_NY - timedelta(minutes=5))
    Promise.objects.create(agency=alpha.agency, client=account.client, account=account, amount=10, due_date=TODAY,
                           created_at=NOON_NY)
    names = [part.name for part in scoring.score_parts(account, now=NOON_NY)]
    assert "callback due" in names and "promise due" in names


def test_workspace_shows_the_score_its_parts_and_why_a_call_is_blocked(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "W-1", time_zone="")  # unknown zone: every US zone
        ContactPolicy.objects.create(agency=world.alpha.agency, earliest_hour=8, latest_hour=9)
    client.force_login(world.alpha.collector)
    page = client.get(reverse("account_workspace", args=[account.pk])).content.decode()
    assert "Why this score" in page and "Balance" in page and "never worked" in page
    assert "Calls:</strong> blocked" in page and "Outside the contact hours" in page


def test_a_waiting_account_shows_when_it_is_due_and_its_score_then_not_a_sunk_number(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "W-4", balance="1000.00")
        work_services.callback_schedule(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                                        due_at=timezone.now() + timedelta(days=2), note="After payday")
    client.force_login(world.alpha.collector)
    page = client.get(reverse("account_workspace", args=[account.pk])).content.decode()
    header = page[page.index("Reference <strong>"):page.index("</p>", page.index("Reference <strong>"))]
    assert "waiting</strong>: not to be worked before" in header and "when due" in header
    assert "-9" not in header  # the sunk score (-1000 points for waiting) stays in "Why this score"


def test_an_open_dispute_hides_the_contact_actions_and_says_why(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "W-2")
        work_services.dispute_record(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                                     reason="Never received the goods")
    client.force_login(world.alpha.collector)
    page = client.get(reverse("account_workspace", args=[account.pk])).content.decode()
    assert "Collection is paused while the debtor's dispute is open" in page
    for action in ("workspace_call", "workspace_promise", "workspace_email", "workspace_offer"):
        assert reverse(action, args=[account.pk]) not in page, action
    assert reverse("workspace_note", args=[account.pk]) in page  # notes and callbacks stay


def test_the_workspace_says_no_email_or_phone_on_file_and_offers_no_form_that_cannot_work(world, client):
    """No email on file: not "Email: allowed now" and a Send form that then says "This field is
    required"; the same for phones, and for contacts that all opted out (issue 13, item 18)."""
    with tenant_scope(world.alpha.agency):
        EmailTemplate.objects.create(agency=world.alpha.agency, name="Reminder", subject="Hi", body="Pay.")
        bare = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="NC-1", contacts=[],
                                    debt_purpose="commercial")
        phone_only = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="NC-2",
                                          contacts=["phone", "email"], debt_purpose="commercial")
        Contact.objects.filter(debtor_id=phone_only.debtor_id, kind="email").update(opted_out_at=timezone.now())
    client.force_login(world.alpha.collector)
    page = client.get(reverse("account_workspace", args=[bare.pk])).content.decode()
    assert "Email:</strong> No email on file." in page and "Calls:</strong> No phone on file." in page
    assert "allowed now" not in page
    assert reverse("workspace_email", args=[bare.pk]) not in page
    assert reverse("workspace_call", args=[bare.pk]) not in page
    assert reverse("workspace_note", args=[bare.pk]) in page and reverse("workspace_promise", args=[bare.pk]) in page
    page = client.get(reverse("account_workspace", args=[phone_only.pk])).content.decode()
    assert "Email:</strong> The only email address on file opted out." in page
    assert reverse("workspace_email", args=[phone_only.pk]) not in page
    assert reverse("workspace_call", args=[phone_only.pk]) in page and "No phone on file" not in page


def test_a_call_with_a_promised_amount_but_another_outcome_is_refused_not_dropped(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "W-3")
    client.force_login(world.alpha.collector)
    response = client.post(reverse("workspace_call", args=[account.pk]),
                           {"outcome": "no_answer", "promise_amount": "50.00"})
    assert response.status_code == 400 and "goes with the outcome" in response.content.decode()
    with tenant_scope(world.alpha.agency):
        assert not Activity.objects.filter(account=account, kind="call").exists()


# --- Calls, promises, callbacks ---------------------------------------------------------------------------

def test_a_right_party_call_with_a_promise_keeps_the_account_out_of_the_queue_until_the_promise_date(alpha):
    account = make_account(alpha.clients[0], "P-1", balance="800.00")
    assert claim_next(alpha).account == account
    work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="promised",
                           contact_id=phone_of(account).pk, promise_amount=Decimal("300.00"),
                           promise_date=TODAY + timedelta(days=5), now=NOON_NY)

    promise = Promise.objects.get(account=account)
    assert (promise.amount, promise.due_date, promise.status, promise.made_by) == (
        Decimal("300.00"), TODAY + timedelta(days=5), "open", alpha.collector)
    assert claim_next(alpha, now=NOON_NY + timedelta(days=2)) is None
    on_the_day = datetime(2026, 12, 7, 15, tzinfo=dt_timezone.utc)
    assert work_services.accounts_wake_due(now=on_the_day) == 1
    back = claim_next(alpha, alpha.manager, now=on_the_day)
    assert back.account == account
    assert "promise due" in [p.name for p in scoring.score_parts(back.account, now=on_the_day)]
    call = Activity.objects.get(account=account, kind="call")
    assert call.outcome == "promised" and call.contact == phone_of(account) and not call.client_visible


def test_an_unpaid_promise_breaks_after_its_date_and_the_account_returns(alpha):
    account = make_account(alpha.clients[0], "B-1")
    work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account,
                                 amount=Decimal("100.00"), due_date=TODAY, now=NOON_NY)
    next_day = NOON_NY + timedelta(days=1)
    broken = work_services.promises_mark_broken(now=next_day)
    assert [p.account_id for p in broken] == [account.pk]
    assert Promise.objects.get(account=account).status == "broken"
    assert Activity.objects.filter(account=account, summary__startswith="Promise broken").exists()
    assert claim_next(alpha, now=next_day).account == account


def test_a_payment_keeps_the_promise_and_is_credited_to_its_collector(alpha):
    account = make_account(alpha.clients[0], "K-1", balance="500.00")
    work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account,
                                 amount=Decimal("200.00"), due_date=TODAY + timedelta(days=3), now=NOON_NY)
    payment_report_direct(agency=alpha.agency, actor=alpha.clients[0].admin, account=account, amount="200.00",
                          received_on=date.today())
    promise = Promise.objects.get(account=account)
    assert promise.status == "kept" and promise.paid_amount == Decimal("200.00")
    assert work_services.promises_mark_broken(now=NOON_NY + timedelta(days=10)) == []
    today = date.today()
    figures = {row.user: row for row in work_selectors.collector_figures(today - timedelta(days=400), today + timedelta(days=400))}
    assert figures[alpha.collector].collected == Decimal("200.00")
    assert figures[alpha.collector].promises_made == 1 and figures[alpha.collector].promises_kept == 1


def test_promises_are_checked(alpha):
    account = make_account(alpha.clients[0], "PC-1", balance="100.00")
    cases = [({"amount": "150.00", "due_date": TODAY}, "more than the balance"),
             ({"amount": "0", "due_date": TODAY}, "more than zero"),
             ({"amount": "10.00", "due_date": TODAY - timedelta(days=1)}, "between today"),
             ({"amount": "10.00", "due_date": None}, "Enter the date")]
    for kwargs, message in cases:
        with pytest.raises(DomainError, match=message):
            work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account, now=NOON_NY,
                                         **kwargs)
    assert not Promise.objects.filter(account=account).exists()


def test_a_new_promise_says_which_open_promise_it_replaces(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "PR-1", balance="1000.00")
        work_services.promise_record(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                                     amount="250.00", due_date=date.today() + timedelta(days=5))
    client.force_login(world.alpha.collector)
    due = date.today() + timedelta(days=9)
    response = client.post(reverse("workspace_promise", args=[account.pk]),
                           {"amount": "300.00", "due_date": due.isoformat()}, follow=True)
    assert "It replaces the open promise of 250.00" in response.content.decode()
    with tenant_scope(world.alpha.agency):
        assert list(Promise.objects.filter(account=account).order_by("created_at").values_list("status", flat=True)) \
            == ["cancelled", "open"]
        assert Activity.objects.filter(account=account, summary__contains="replaces 250.00").exists()


def test_an_email_template_with_an_unknown_or_unclosed_placeholder_is_refused(world, client):
    client.force_login(world.alpha.manager)
    for subject, body, message in [("Hi {debtor}", "Hello", "{debtor} is not a placeholder"),
                                   ("Hi {debtor_name}", "You owe {balance} {currency", "has no closing brace")]:
        response = client.post(reverse("email_template_new"), {"name": "Reminder", "subject": subject, "body": body,
                                                                "active": "on"})
        assert response.status_code == 400 and message in response.content.decode()
    with tenant_scope(world.alpha.agency):
        assert not EmailTemplate.objects.filter(name="Reminder").exists()
    response = client.post(reverse("email_template_new"), {"name": "Reminder", "subject": "Hi {debtor_name}",
                                                            "body": "You owe {balance} {currency}.", "active": "on"})
    assert response.status_code == 302


def test_a_callback_comes_due_first_in_its_collectors_queue(alpha):
    other = make_account(alpha.clients[0], "OTHER", balance="90000.00")
    account = make_account(alpha.clients[0], "CB-1", balance="10.00")
    due_at = NOON_NY + timedelta(hours=2)
    work_services.callback_schedule(agency=alpha.agency, actor=alpha.collector, account=account, due_at=due_at,
                                    note="Asked to call after lunch", now=NOON_NY)
    assert claim_next(alpha, alpha.manager, now=NOON_NY + timedelta(hours=1)).account == other
    at_two = due_at + timedelta(minutes=1)
    assert claim_next(alpha, alpha.collector, now=at_two).account == account  # before anything of higher score
    # Pressing Next while holding it: the callback is still due, so the same account stays theirs.
    again = claim_next(alpha, alpha.collector, now=at_two + timedelta(minutes=1))
    assert again.account == account and again.queue is None
    account.refresh_from_db()
    assert account.claimed_by == alpha.collector and account.claim_expires_at > at_two + timedelta(minutes=1)
    with pytest.raises(DomainError, match="future"):
        work_services.callback_schedule(agency=alpha.agency, actor=alpha.collector, account=account,
                                        due_at=NOON_NY - timedelta(hours=1), now=NOON_NY)


# --- Compliance at the point of contact --------------------------------------------------------------------

def test_a_call_outside_the_debtors_hours_is_refused_with_the_reason_and_nothing_is_logged(alpha):
    account = make_account(alpha.clients[0], "H-1", time_zone="America/Los_Angeles")
    six_am_la = datetime(2026, 12, 2, 14, 0, tzinfo=dt_timezone.utc)
    with pytest.raises(DomainError, match=r"Outside the contact hours 08:00–21:00.*06:00 in America/Los_Angeles"):
        work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="no_answer",
                               now=six_am_la)
    assert not Activity.objects.filter(account=account, kind="call").exists()


def test_the_eighth_call_in_seven_days_is_refused(alpha):
    account = make_account(alpha.clients[0], "F-1")
    for day in range(7):
        work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="no_answer",
                               now=NOON_NY - timedelta(days=6) + timedelta(days=day, minutes=day))
    with pytest.raises(DomainError, match="7 call attempts in the last 7 days"):
        work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="no_answer",
                               now=NOON_NY + timedelta(hours=1))


def test_a_dispute_holds_the_account_and_blocks_contact_until_resolved(alpha):
    account = make_account(alpha.clients[0], "D-1")
    work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="disputed",
                           note="Says the invoice was paid in March", now=NOON_NY)
    account.refresh_from_db()
    assert account.status == "on_hold" and account.hold_reason.startswith("Disputed")
    assert claim_next(alpha, now=NOON_NY + timedelta(days=8)) is None  # on hold: in no queue
    with pytest.raises(DomainError, match="dispute is open"):
        work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="no_answer",
                               now=NOON_NY + timedelta(days=8))
    with pytest.raises(DomainError, match="disputes this debt"):  # collection pauses: no promise, no offer
        work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account, amount="10.00",
                                     due_date=TODAY + timedelta(days=9), now=NOON_NY + timedelta(days=8))
    with pytest.raises(DomainError, match="disputes this debt"):
        offer_create(agency=alpha.agency, actor=alpha.collector, account=account, kind="lump_sum",
                         total_amount="500.00", installment_count=1, first_due_date=date.today() + timedelta(days=7))
    assert not Promise.objects.filter(account=account).exists() and not PlanOffer.objects.filter(account=account).exists()
    dispute = Dispute.objects.get(account=account)
    work_services.dispute_resolve(agency=alpha.agency, actor=alpha.manager, dispute=dispute,
                                  resolution="Client confirmed the balance", now=NOON_NY + timedelta(days=9))
    account.refresh_from_db()
    assert account.status == "active" and account.hold_reason == ""


def test_resolving_a_foreign_dispute_is_404(world, client):
    with tenant_scope(world.bravo.agency):
        bravo = make_account(world.bravo.clients[0], "BD-1")
        bravo_dispute = Dispute.objects.create(agency=world.bravo.agency, client=bravo.client, account=bravo,
                                               reason="Bravo's", opened_at=NOON_NY)
    with tenant_scope(world.alpha.agency):
        own = make_account(world.alpha.clients[0], "AD-1")
    client.force_login(world.alpha.manager)
    for account_pk in (own.pk, bravo.pk):
        url = reverse("workspace_dispute_resolve", args=[account_pk, bravo_dispute.pk])
        assert client.post(url, {"resolution": "mine now"}).status_code == 404
    with tenant_scope(world.bravo.agency):
        assert Dispute.objects.get(pk=bravo_dispute.pk).resolved_at is None


def test_cease_communication_stops_calls_and_emails(alpha):
    account = make_account(alpha.clients[0], "C-1")
    template = EmailTemplate.objects.create(agency=alpha.agency, name="Reminder", subject="Hi", body="Hello")
    work_services.cease_record(agency=alpha.agency, actor=alpha.collector, account=account, now=NOON_NY)
    email = Contact.objects.get(debtor_id=account.debtor_id, kind="email")
    with pytest.raises(DomainError, match="stop contacting"):
        work_services.email_send(agency=alpha.agency, actor=alpha.collector, account=account, template_id=template.pk,
                                 contact_id=email.pk, now=NOON_NY + timedelta(hours=1))
    with pytest.raises(DomainError, match="stop contacting"):
        work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="no_answer",
                               now=NOON_NY + timedelta(hours=1))


# --- Email and the opt-out link ----------------------------------------------------------------------------

def send_reminder(alpha, account, now=NOON_NY):
    template, _ = EmailTemplate.objects.get_or_create(
        agency=alpha.agency, name="Reminder",
        defaults={"subject": "Account {reference}", "body": "Dear {debtor_name}, you owe {balance} {currency}."})
    email = Contact.objects.get(debtor_id=account.debtor_id, kind="email")
    return work_services.email_send(agency=alpha.agency, actor=alpha.collector, account=account,
                                    template_id=template.pk, contact_id=email.pk, now=now)


def opt_out_path(body):
    start = body.index("/opt-out/")
    return body[start:].split()[0]


def test_an_email_from_a_template_carries_an_opt_out_link_that_works(world, client, django_capture_on_commit_callbacks):
    alpha = world.alpha
    with tenant_scope(alpha.agency):
        account = make_account(alpha.clients[0], "E-1", balance="1234.50")
        with django_capture_on_commit_callbacks(execute=True):
            send_reminder(alpha, account)
    sent = mail.outbox[-1]
    assert sent.to == ["e-1@debtor.test"] and sent.subject == "Account E-1"
    assert "Dear Debtor E-1, you owe 1,234.50 USD." in sent.body
    link = opt_out_path(sent.body)

    page = client.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "Stop contacting me here" in page.content.decode()
    with unscoped():
        assert Contact.objects.get(value="e-1@debtor.test").opted_out_at is None
    done = client.post(link)
    assert "will not contact you" in done.content.decode()
    with tenant_scope(alpha.agency):
        assert Contact.objects.get(value="e-1@debtor.test").opted_out_at is not None
        with pytest.raises(DomainError, match="opted out of contact at e-1@debtor.test"):
            send_reminder(alpha, account, now=NOON_NY + timedelta(hours=1))


def test_opt_out_link_works_once_and_only_for_its_contact(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "O-1")
        email = Contact.objects.get(debtor_id=account.debtor_id, kind="email")
        phone = phone_of(account)
        link = reverse("contact_opt_out", args=[opt_out_token(email)])
    client.post(link)
    client.post(link)  # twice: still one opt-out, one timeline entry
    with tenant_scope(world.alpha.agency):
        email.refresh_from_db(), phone.refresh_from_db()
        assert email.opted_out_at is not None and phone.opted_out_at is None
        assert Activity.objects.filter(account=account, summary__contains="opted out").count() == 1


def test_tampered_opt_out_link_is_404(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "T-1")
        email = Contact.objects.get(debtor_id=account.debtor_id, kind="email")
    token = opt_out_token(email)
    assert client.get(reverse("contact_opt_out", args=[token[:-2] + "xx"])).status_code == 404
    assert client.post(reverse("contact_opt_out", args=["made-up"])).status_code == 404


# --- Status, offers, figures -----------------------------------------------------------------------------------

def test_staff_status_changes_follow_the_allowed_transitions(alpha):
    account = make_account(alpha.clients[0], "ST-1", status="new")
    assert dict(work_services.staff_status_choices(account)).keys() == {"active", "on_hold", "closed"}
    work_services.account_change_status(agency=alpha.agency, actor=alpha.collector, account=account, status="closed",
                                        reason="Business dissolved", now=NOON_NY)
    with pytest.raises(DomainError, match="cannot move to “On hold”"):
        work_services.account_change_status(agency=alpha.agency, actor=alpha.collector, account=account,
                                            status="on_hold", reason="x", now=NOON_NY)
    with pytest.raises(DomainError, match="Give a reason"):
        work_services.account_change_status(agency=alpha.agency, actor=alpha.collector, account=account,
                                            status="active", reason=" ", now=NOON_NY)
    recalled = make_account(alpha.clients[0], "ST-2", status="recalled")
    assert work_services.staff_status_choices(recalled) == []


def test_an_offer_outside_the_clients_terms_is_saved_with_a_warning_saying_where(world, client):
    with tenant_scope(world.alpha.agency):
        account = make_account(world.alpha.clients[0], "OT-1", balance="1000.00")
        terms = world.alpha.clients[0].client.terms
        terms.settlement_floor_percent, terms.max_plan_months, terms.min_installment = Decimal("70"), 12, Decimal("50")
        terms.save()
        floor, months = terms.settlement_floor_percent, terms.max_plan_months
    client.force_login(world.alpha.collector)
    due = (date.today() + timedelta(days=7)).isoformat()
    low = (Decimal("1000.00") * floor / 100 - 1).quantize(Decimal("0.01"))
    page = client.post(reverse("workspace_offer", args=[account.pk]), {
        "kind": "lump_sum", "total_amount": str(low), "installment_count": "1", "first_due_date": due},
        follow=True).content.decode()
    assert "Offer started" in page and f"below the settlement floor of {floor.normalize():f} %" in page
    page = client.post(reverse("workspace_offer", args=[account.pk]), {
        "kind": "installments", "total_amount": "1000.00", "installment_count": "24", "first_due_date": due},
        follow=True).content.decode()  # 24 x 41.67
    assert f"longer than the longest plan of {months} months" in page and "installments under the smallest of 50.00" in page
    page = client.post(reverse("workspace_offer", args=[account.pk]), {
        "kind": "lump_sum", "total_amount": "1000.00", "installment_count": "1", "first_due_date": due},
        follow=True).content.decode()
    assert "Offer started" in page and "Outside the client" not in page


def test_an_offer_is_started_as_a_draft_and_checked(alpha):
    account = make_account(alpha.clients[0], "OF-1", balance="900.00")
    due = date.today() + timedelta(days=7)
    offer = offer_create(agency=alpha.agency, actor=alpha.collector, account=account, kind="installments",
                             total_amount="900.00", installment_count=3, first_due_date=due)
    assert offer.status == PlanOffer.Status.DRAFT and offer.installment_count == 3
    for kwargs, message in [({"kind": "installments", "installment_count": 1}, "2 to 60 installments"),
                            ({"kind": "lump_sum", "total_amount": "901.00"}, "more than the balance"),
                            ({"kind": "full", "total_amount": "800.00"}, "whole balance")]:
        arguments = {"kind": "lump_sum", "total_amount": "500.00", "installment_count": 1, "first_due_date": due} | kwargs
        with pytest.raises(DomainError, match=message):
            offer_create(agency=alpha.agency, actor=alpha.collector, account=account, **arguments)
    assert PlanOffer.objects.filter(account=account).count() == 1


def test_supervisor_figures_count_what_each_collector_did(world, client):
    alpha = world.alpha
    with tenant_scope(alpha.agency):
        first, second = make_account(alpha.clients[0], "FG-1"), make_account(alpha.clients[1], "FG-2")
        now = datetime.now(dt_timezone.utc).replace(hour=17, minute=0)
        for account, outcome in ((first, "no_answer"), (second, "right_party_contact")):
            work_services.call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome=outcome,
                                   now=now)
        work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=second,
                                     amount=Decimal("50.00"), due_date=now.date() + timedelta(days=2), now=now)
    client.force_login(alpha.manager)
    day = now.date().isoformat()
    page = client.get(reverse("worklist_manage"), {"start": day, "end": day}).content.decode()
    row = page[page.index("Collector</td>") if "Collector</td>" in page else page.index(alpha.collector.get_full_name()):]
    cells = [cell.split("<")[0] for cell in row.split('<td class="num">')[1:6]]
    assert cells == ["2", "1", "1", "0", "0.00"]
    assert client.get(reverse("worklist_manage")).status_code == 200
    later = (NOON_NY + timedelta(days=3)).date().isoformat()
    page = client.get(reverse("worklist_manage"), {"start": later, "end": day}).content.decode()
    assert "is after “To”: showing today instead" in page  # said, not silently swapped
    page = client.get(reverse("worklist_manage"), {"start": "abc", "end": day}).content.decode()
    assert "From: Enter a valid date." in page and "Showing today instead." in page
    client.force_login(alpha.collector)
    assert client.get(reverse("worklist_manage")).status_code == 404


def test_claim_uses_a_bounded_number_of_queries(alpha, django_assert_max_num_queries):
    for number in range(30):
        make_account(alpha.clients[number % 2], f"N-{number}", balance=f"{100 + number}.00")
    claim.default_queue_for(alpha.agency)
    with django_assert_max_num_queries(12):
        assert claim_next(alpha) is not None
    if connection.vendor == "postgresql":  # with the queues and policy cached: one statement per press
        with django_assert_max_num_queries(1):
            assert claim_next(alpha, now=NOON_NY + timedelta(minutes=1)) is not None


def test_an_agency_admin_sets_the_contact_policy_and_bad_hours_are_refused(world, client):
    client.force_login(world.alpha.admin)
    url = reverse("contact_policy_edit")
    response = client.post(url, {"earliest_hour": "20", "latest_hour": "9"})
    assert response.status_code == 400 and "must come after the earliest" in response.content.decode()
    response = client.post(url, {"earliest_hour": "9", "latest_hour": "25"})
    assert "from 1 to 24" in response.content.decode()
    page = client.post(url, {"earliest_hour": "-1", "latest_hour": "20", "commercial_weekly_call_cap": "0"}).content.decode()
    assert "Give an hour from 0 to 23." in page and "Give a number from 1 to 100" in page
    assert 'min="1"' in client.get(url).content.decode()  # the page's own bounds agree with the check
    assert client.post(url, {"earliest_hour": "9", "latest_hour": "20", "commercial_weekly_call_cap": "3"}).status_code == 302
    with tenant_scope(world.alpha.agency):
        policy = ContactPolicy.objects.get()
        assert (policy.earliest_hour, policy.latest_hour, policy.commercial_weekly_call_cap) == (9, 20, 3)
    page = client.get(reverse("worklist_manage")).content.decode()
    assert "between 09:00 and 20:00" in page and "at most 3 call attempts" in page
    client.force_login(world.alpha.manager)
    assert client.get(url).status_code == 404


def test_placed_accounts_reach_the_worklist_with_their_debtors_time_zone(alpha, django_capture_on_commit_callbacks):
    from collections_work.placements.services import accounts_place

    admin = alpha.clients[0].admin
    assert claim_next(alpha) is None  # caches the agency's zones in use: none yet
    row = {"client_reference": "API-1", "debtor_name": "Mesa Tile", "principal": "2500.00", "debt_purpose": "commercial",
           "time_zone": "America/Denver", "due_date": "2026-10-01"}
    with django_capture_on_commit_callbacks(execute=True):
        accounts_place(agency=alpha.agency, actor=admin, client=alpha.clients[0].client, rows=[row], source="api")
    account = DebtorAccount.objects.get(client_reference="API-1")
    assert account.debtor_time_zone == "America/Denver" and account.priority > 0
    assert claim_next(alpha).account == account  # 10:00 in Denver

    with django_capture_on_commit_callbacks(execute=True):
        accounts_place(agency=alpha.agency, actor=admin, client=alpha.clients[0].client, on_duplicate="update",
                       rows=[row | {"time_zone": "Pacific/Honolulu"}], source="api")
    account.refresh_from_db()
    assert account.debtor_time_zone == "Pacific/Honolulu"


def test_the_sql_claim_takes_accounts_in_the_orms_order(alpha, db_vendor):
    """On PostgreSQL "Next account" is plain SQL (claim_sql); it must follow queue_rules exactly."""
    if db_vendor != "postgresql":
        pytest.skip("the SQL claim runs on PostgreSQL; SQLite uses the ORM path itself")
    zones = ["America/New_York", "America/Chicago", "America/Los_Angeles", "", "Europe/Paris"]
    for number in range(60):
        make_account(alpha.clients[number % 2], f"EQ-{number}", balance=f"{50 + number * 97 % 4000}.00",
                     days_past_due=(number * 37) % 900, time_zone=zones[number % 5],
                     purpose=["consumer", "commercial", "unknown"][number % 3],
                     status=["new", "active", "active", "on_hold"][number % 4],
                     assigned_collector=alpha.collector if number % 7 == 0 else None)
    ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=7, latest_hour=20)
    queues = [Queue.objects.create(agency=alpha.agency, name="Everything"),
              Queue.objects.create(agency=alpha.agency, name="Mix", statuses=["active"], balance_min=Decimal("500"),
                                   balance_max=Decimal("3000"), age_buckets=["0-90", "365+"],
                                   time_zones=["America/Chicago", ""], assignment="unassigned"),
              Queue.objects.create(agency=alpha.agency, name="Mine", assignment="mine", due_only=False)]
    queues[0].clients.set([alpha.clients[1].client])
    compared = 0
    for at in (NOON_NY, datetime(2026, 12, 2, 23, 30, tzinfo=dt_timezone.utc)):
        for queue in queues:
            rules = claim.QueueRules.of(queue)
            expected = list(claim.queue_accounts(rules, collector=alpha.collector, now=at)
                            .filter(claim.workable_now(at), claim.callable_rule(alpha.agency.pk, at))
                            .values_list("pk", flat=True))
            taken = []
            while claimed := claim._claim_next_sql(alpha.agency.pk, alpha.collector.pk, [rules], at,
                                                      at + timedelta(minutes=20)):
                taken.append(claimed.account_id)
            assert taken == expected, f"{queue.name} at {at:%H:%M}"
            compared += len(taken)
            claim.account_release_claims(collector=alpha.collector, now=at)
            DebtorAccount.objects.update(next_action_at=None)  # undo the parking for the next round
    assert compared >= 20  # the queues held accounts at both times: the comparison was not vacuous
