"""A placed account is scored and in its queues when the placement says it is done (issue 13,
item 22), and a big placement refreshes the planner's statistics of the tables it changed
(item 23)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from collections_work.debtor_accounts import scoring
from collections_work.models import Callback, DebtorAccount, PlacementBatch, Promise
from collections_work.placements import services
from collections_work.worklist import claim
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import place_file


@pytest.fixture
def persona(world):
    return world.alpha.clients[0]


def python_score(account, now=None):
    with tenant_scope(account.agency_id):
        return scoring.priority_of(scoring.score_parts(account, now=now or timezone.now()))


def accounts_of(world):
    with tenant_scope(world.alpha.agency):
        return {a.client_reference: a for a in DebtorAccount.objects.all()}


# Balances from nothing to millions and ages from today to five years, across every step of the
# recovery-by-age curve.
AGES = [0, 1, 30, 89, 90, 91, 179, 180, 250, 364, 365, 500, 729, 730, 1000, 1094, 1095, 1500, 1826]
BALANCES = ["0.01", "0.99", "1.00", "1.01", "9.99", "100.00", "999.99", "1000.00", "1234.56", "31622.78",
            "100000.00", "2500000.01"]


def test_a_placed_file_is_ranked_in_the_queue_the_moment_it_says_done(world, persona,
                                                                     django_capture_on_commit_callbacks):
    today = timezone.localdate()
    rows = [f"R-{n},Debtor {n},{BALANCES[n % len(BALANCES)]},{(today - timedelta(days=AGES[n % len(AGES)])):%m/%d/%Y}"
            for n in range(60)]
    content = ("Reference,Debtor name,Principal,Delinquency date\n" + "\n".join(rows) + "\n").encode()
    batch = place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "aging.csv", content)
    assert batch.status == PlacementBatch.Status.COMPLETED and batch.created_count == 60

    placed = accounts_of(world)
    for account in placed.values():  # no re-score job ran: the placement scored them
        assert account.priority == python_score(account), account.client_reference
    biggest = placed["R-11"]  # 2,500,000.01, 500 days late
    with tenant_scope(world.alpha.agency):
        queue = claim.default_queue_for(world.alpha.agency)
        ranked = list(claim.queue_accounts(queue).values_list("client_reference", flat=True))
    assert ranked[0] == max(placed.values(), key=lambda a: (a.priority, -a.pk)).client_reference
    assert biggest.priority > placed["R-0"].priority  # $2.5M beats $0.01


def test_the_sql_score_equals_the_python_score_for_api_placements(world, persona):
    today = timezone.localdate()
    rows = [{"client_reference": f"A-{i}-{j}", "debtor_name": f"Debtor {i}", "principal": balance,
             "interest": "0.50" if j % 2 else "", "due_date": (today - timedelta(days=age)).isoformat()}
            for i, balance in enumerate(BALANCES) for j, age in enumerate(AGES)]
    with tenant_scope(world.alpha.agency, persona.client):
        services.accounts_place(agency=world.alpha.agency, actor=persona.admin, client=persona.client, rows=rows,
                                source="form")
    placed = accounts_of(world)
    assert len(placed) == len(rows)
    wrong = {ref: (a.priority, python_score(a)) for ref, a in placed.items() if a.priority != python_score(a)}
    assert not wrong


def test_an_update_keeps_what_the_agency_did_in_the_score(world, persona, django_capture_on_commit_callbacks):
    """Updated accounts are re-scored with their new amounts and what the collectors did: worked
    yesterday, waiting for a callback, cease-communication, a promise due today."""
    now = timezone.now()
    content = b"Reference,Debtor name,Principal\n" + b"".join(b"U-%d,Debtor %d,100.00\n" % (n, n) for n in range(5))
    place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "first.csv", content)
    with tenant_scope(world.alpha.agency):
        accounts = {a.client_reference: a for a in DebtorAccount.objects.all()}
        DebtorAccount.objects.filter(pk=accounts["U-1"].pk).update(last_worked_at=now - timedelta(days=2, hours=3))
        DebtorAccount.objects.filter(pk=accounts["U-2"].pk).update(next_action_at=now + timedelta(days=1))
        DebtorAccount.objects.filter(pk=accounts["U-3"].pk).update(cease_communication_at=now)
        Promise.objects.create(agency=world.alpha.agency, client=persona.client, account=accounts["U-4"],
                               amount=Decimal("10.00"), due_date=date.today() - timedelta(days=3), created_at=now)
        Callback.objects.create(agency=world.alpha.agency, client=persona.client, account=accounts["U-0"],
                                due_at=now - timedelta(minutes=5))
    content = b"Reference,Debtor name,Principal\n" + b"".join(b"U-%d,Debtor %d,90000.00\n" % (n, n) for n in range(5))
    batch = place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "again.csv", content,
                       on_duplicate="update")
    assert batch.updated_count == 5
    updated = accounts_of(world)
    for account in updated.values():
        assert account.balance == Decimal("90000.00")
        assert account.priority == python_score(account), account.client_reference
    assert updated["U-2"].priority < 0 and updated["U-3"].priority < 0  # waiting: out of the way
    assert updated["U-0"].priority > updated["U-1"].priority  # the callback due comes first


def _reltuples(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_big_placement_leaves_the_planner_with_fresh_statistics(world, persona, settings,
                                                                  django_capture_on_commit_callbacks):
    settings.INTAKE_PIPELINED = True
    settings.INTAKE_ANALYZE_MIN_ROWS = 500
    settings.INTAKE_CHUNK_ROWS = 400
    account_table = DebtorAccount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {account_table}")  # what the planner knew before: a handful of accounts
    assert _reltuples(account_table) < 100
    content = b"Reference,Debtor name,Email,Principal\n" + b"".join(
        b"S-%d,Debtor %d,d%d@example.test,%d.00\n" % (n, n, n, n + 1) for n in range(1500))
    batch = place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "big.csv", content)
    assert batch.created_count == 1500
    assert _reltuples(account_table) >= 1500
    assert _reltuples("collections_work_contact") >= 1500

    # a small placement afterwards leaves the statistics alone (autovacuum's business)
    settings.INTAKE_ANALYZE_MIN_ROWS = 5000
    small = b"Reference,Debtor name,Principal\n" + b"".join(b"T-%d,Debtor %d,5.00\n" % (n, n) for n in range(600))
    place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "small.csv", small)
    assert _reltuples(account_table) < 2000
