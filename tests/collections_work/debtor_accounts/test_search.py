"""Searching accounts: any part of the client's reference or the debtor's name, whatever the case
and the accents, the same on the list page, in exports and through the API; on PostgreSQL the
trigram index answers it (issue 13, item 12)."""
import pytest
from django.db import connection
from django.urls import reverse

from collections_work.debtor_accounts import search
from collections_work.models import DebtorAccount
from portal.tenancy import tenant_scope, unscoped
from tests.collections_work.debtor_accounts.test_account_pages import place, refs, row


@pytest.fixture
def named(world):
    """Accounts at Alpha's first client, placed through the placement service (the intake writer)."""
    alpha = world.alpha
    _, accounts = place(alpha.agency, alpha.clients[0],
                        row("INV-2024001", "Müller Bäckerei GmbH"),
                        row("INV-2024002", "Søren Ågård"),
                        row("INV-1999777", "José Nuñez"),
                        row("42", "Große Straße Handel"),
                        row("1420", "Plain Name Inc"))
    return accounts


@pytest.mark.parametrize("query, expected", [
    ("2024001", {"INV-2024001"}),  # anywhere in the reference, not only its start
    ("inv-2024", {"INV-2024001", "INV-2024002"}),
    ("muller", {"INV-2024001"}),  # accents and case ignored in the name
    ("MÜLLER", {"INV-2024001"}),
    ("backerei", {"INV-2024001"}),
    ("soren agard", {"INV-2024002"}),
    ("nunez", {"INV-1999777"}),
    ("JOSÉ", {"INV-1999777"}),
    ("strasse", {"42"}),  # ß is ss
    ("grosse", {"42"}),
    ("42", {"42"}),  # too short to look inside: the whole reference only, so 1420 is not found
    ("nobody has this", set()),
    ("100%", set()),  # LIKE's wildcards are searched for, not obeyed
    ("_", set()),
])
def test_the_list_finds_any_part_of_a_reference_or_name_whatever_the_case_and_accents(
        world, named, signed_in, query, expected):
    browser = signed_in(world.alpha.clients[0].user)
    response = browser.get(reverse("debtor_account_list"), {"q": query})
    assert set(refs(response)) == expected
    staff = signed_in(world.alpha.admin).get(reverse("debtor_account_list"), {"q": query})
    assert set(refs(staff)) == expected  # across every client of the agency too


def test_a_short_query_says_it_matched_whole_references_only(world, named, signed_in):
    body = signed_in(world.alpha.admin).get(reverse("debtor_account_list"), {"q": "42"}).content.decode()
    assert "too short to look inside references and names" in body
    body = signed_in(world.alpha.admin).get(reverse("debtor_account_list"), {"q": "muller"}).content.decode()
    assert "too short" not in body


def test_search_never_crosses_to_another_agency(world, named, signed_in):
    place(world.bravo.agency, world.bravo.clients[0], row("INV-2024001", "Müller Other Agency"))
    response = signed_in(world.alpha.admin).get(reverse("debtor_account_list"), {"q": "muller"})
    assert [a.debtor_name for a in response.context["page"].rows] == ["Müller Bäckerei GmbH"]


def test_the_export_and_the_api_search_the_same_way(world, named, signed_in, client):
    browser = signed_in(world.alpha.clients[0].user)
    export = browser.get(reverse("debtor_account_export"), {"q": "muller", "format": "csv"})
    lines = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith("INV-2024001,Müller Bäckerei GmbH")

    from accounts.services import api_key_create

    with tenant_scope(world.alpha.agency, world.alpha.clients[0].client):
        _key, secret = api_key_create(agency=world.alpha.agency, actor=world.alpha.clients[0].admin,
                                      client=world.alpha.clients[0].client, name="search test")
    answer = client.get("/api/v1/accounts/", {"q": "2024001"}, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert answer.status_code == 200
    assert [a["client_reference"] for a in answer.json()["results"]] == ["INV-2024001"]


def test_folding_is_lower_case_without_accents():
    assert search.fold("Müller & Søren Ågård, Straße, ŁÓDŹ, Œuvre") == "muller & soren agard, strasse, lodz, oeuvre"
    assert search.searchable("abc") and search.searchable("a-100") and search.searchable("MÜL")
    assert not search.searchable("A-") and not search.searchable("42") and not search.searchable("a b c")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the folding functions and the index are PostgreSQL's")
def test_on_postgresql_the_database_folds_as_python_does_and_the_index_answers(world, named):
    samples = ["Müller & Søren Ågård", "Straße ŁÓDŹ Œuvre", "José Nuñez", "François Lefèvre", "Dvořák"]
    with connection.cursor() as cursor:
        for text in samples:
            cursor.execute("SELECT portal_fold(%s)", [text])
            assert cursor.fetchone()[0] == search.fold(text), text
    with unscoped():  # the search condition alone; five rows, so the planner is told not to read the table
        sql, params = DebtorAccount.objects.filter(search.account_search("muller")).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "acct_search" in plan and "'%muller%'" in plan, plan  # the query is folded once, as a constant
