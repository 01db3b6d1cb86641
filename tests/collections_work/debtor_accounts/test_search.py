"""Searching accounts: any part of the client's reference or the debtor's name, whatever the case
and the accents, the same on the list page, in exports and through the API; on PostgreSQL the
trigram index answers it (issue 13, item 12)."""
import pytest
from django.db import connection
from django.urls import reverse

from collections_work.debtor_accounts import search
from collections_work.models import AccountSearchEntry, DebtorAccount
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
        sql, params = AccountSearchEntry.objects.filter(search.entry_search("muller")).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "entry_search" in plan and "'%muller%'" in plan, plan  # the query is folded once, as a constant


def _entries():
    with unscoped():
        return {e.account_id: (e.debtor_name, e.search_text, e.client_id)
                for e in AccountSearchEntry.objects.all()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the side table's triggers are PostgreSQL's")
def test_on_postgresql_every_write_to_an_account_keeps_its_search_entry(world, named, persona_place):
    """Placing, renaming (the ORM, a bulk update, an update placement) and deleting accounts:
    the search finds the new name and reference at once, and never the old ones."""
    entries = _entries()
    assert {entries[a.pk][:2] for a in named.values()} >= {
        ("Müller Bäckerei GmbH", "muller backerei gmbh inv-2024001"), ("Große Straße Handel", "grosse strasse handel 42")}
    with unscoped():
        account = DebtorAccount.objects.get(pk=named["INV-2024002"].pk)
        account.debtor_name, account.balance = "Søren Ågård-Holm", account.balance  # save() writes every column
        account.save()
        DebtorAccount.objects.filter(pk=named["1420"].pk).update(client_reference="1420-B")
        DebtorAccount.objects.filter(pk=named["INV-1999777"].pk).update(status="active")  # not a search column
        DebtorAccount.objects.filter(pk=named["42"].pk).delete()
    entries = _entries()
    assert entries[named["INV-2024002"].pk][1] == "soren agard-holm inv-2024002"
    assert entries[named["1420"].pk][1] == "plain name inc 1420-b"
    assert entries[named["INV-1999777"].pk][1] == "jose nunez inv-1999777"
    assert named["42"].pk not in entries
    with unscoped():
        assert set(entries) == set(DebtorAccount.objects.values_list("pk", flat=True))
    persona_place("rename.csv", b"Reference,Debtor name,Balance\nINV-2024001,Maier Konditorei,100.00\n",
                  on_duplicate="update")
    assert _entries()[named["INV-2024001"].pk][1] == "maier konditorei inv-2024001"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the side table's triggers are PostgreSQL's")
def test_on_postgresql_a_stale_search_entry_is_overwritten_when_its_account_is_written(world):
    """A data-only restore may load the side table before the accounts: the accounts' insert then
    overwrites those rows instead of failing (which would lose the whole account table's load)."""
    alpha = world.alpha
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('collections_work_debtoraccount', 'id'))")
        coming = cursor.fetchone()[0] + 1
        cursor.execute("INSERT INTO collections_work_accountsearchentry "
                       "(account_id, agency_id, client_id, debtor_name, search_text) VALUES (%s, %s, %s, 'Old', 'old')",
                       [coming, alpha.agency.pk, alpha.clients[0].client.pk])
    _, placed = place(alpha.agency, alpha.clients[0], row("R-NEW", "Neue Bäckerei"))
    assert placed["R-NEW"].pk == coming
    assert _entries()[coming][:2] == ("Neue Bäckerei", "neue backerei r-new")


@pytest.fixture
def persona_place(world, django_capture_on_commit_callbacks):
    from tests.collections_work.placements.intake_helpers import place_file

    def run(name, content, **kwargs):
        return place_file(world.alpha.clients[0], world.alpha.agency, django_capture_on_commit_callbacks,
                          name, content, **kwargs)
    return run


@pytest.mark.parametrize("sort", ["debtor", "placed", "-balance", "balance", "reference"])
def test_a_search_with_many_matches_pages_through_every_match_once_in_order(world, signed_in, monkeypatch, sort):
    """Past SEARCH_FEW matches the list pages the matches with its keyset (on PostgreSQL a sort by
    name sorts the side table): every match once, in the chosen order, and nothing else."""
    from collections_work.debtor_accounts import selectors

    monkeypatch.setattr(selectors, "SEARCH_FEW", 2)
    names = ["Zoë Müller", "Anna Muller", "Müller AG", "Beta Mullerei", "Anna Muller", "Carl Schmidt", "Omar Müller"]
    _, placed = place(world.alpha.agency, world.alpha.clients[0],
                      *[row(f"R-{i}", name, principal=f"{100 + i}.00") for i, name in enumerate(names)])
    place(world.alpha.agency, world.alpha.clients[1], row("X-1", "Müller Zweite"))
    with tenant_scope(world.alpha.agency):
        queryset = selectors.debtor_accounts(selectors.AccountFilters(q="muller", sort=sort))
        seen, cursor = [], None
        while True:
            page = selectors.keyset_page(queryset, sort, cursor, size=2)
            seen += page.rows
            cursor = page.next_cursor
            if cursor is None:
                break
    column = selectors.SORTS[sort][0]
    matches = [a for a in placed.values() if "uller" in search.fold(a.debtor_name)]
    with unscoped():
        matches = list(DebtorAccount.objects.filter(pk__in=[a.pk for a in matches]))
        matches += list(DebtorAccount.objects.filter(client_reference="X-1"))
    descending = sort in selectors.DESCENDING
    expected = sorted(matches, key=lambda a: (getattr(a, column), a.pk), reverse=descending)
    assert [a.pk for a in seen] == [a.pk for a in expected]
    assert len(seen) == 7  # six at the first client, one at the second; Carl Schmidt is not one
    if sort == "debtor":
        body = signed_in(world.alpha.admin).get(reverse("debtor_account_list"), {"q": "MULLER", "sort": "debtor"})
        assert [a.debtor_name for a in body.context["page"].rows] == [a.debtor_name for a in expected]
