"""The client placement API: a client's system places accounts with its API key (one or in bulk,
all or nothing, with the same rules as uploads), reads and lists them, and is told at once
when input is wrong. The OpenAPI schema describes it and the docs page works offline."""
import json
import re
from datetime import timedelta
from decimal import Decimal

import jsonschema
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.services import api_key_create, api_key_revoke
from collections_work.models import DebtorAccount, PlacementBatch
from collections_work.placements.services import accounts_place
from portal.models import AuditEvent
from portal.tenancy import tenant_scope, unscoped

ACCOUNTS = "/api/v1/accounts/"
BULK = "/api/v1/accounts/bulk/"


# --- Helpers -----------------------------------------------------------------------------------

def key_header(persona, name="Billing system"):
    """An API key of the persona's client, as the Authorization header the client sends."""
    agency = persona.client.agency
    with tenant_scope(agency, persona.client):
        _key, raw_key = api_key_create(agency=agency, actor=persona.admin, client=persona.client, name=name)
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw_key}"}


class Api:
    """The test client speaking JSON with one client's API key."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def post(self, url, body):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(url, data=data, content_type="application/json", **self.headers)

    def get(self, url, params=None):
        return self.client.get(url, params or {}, **self.headers)


@pytest.fixture
def alpha1(world, client):
    """Alpha Recovery's first client, through its API key."""
    return Api(client, key_header(world.alpha.clients[0]))


def account(reference="INV-1001", **fields):
    return {"client_reference": reference, "debtor_name": "Acme Supplies LLC", "principal": "1250.00",
            "due_date": "2024-03-31", "email": "ap@acme.example", "debt_purpose": "commercial", **fields}


def stored(client_obj):
    with unscoped():
        return {a.client_reference: a for a in DebtorAccount.objects.filter(client=client_obj)}


def batches(client_obj):
    with unscoped():
        return list(PlacementBatch.objects.filter(client=client_obj))


# --- Placing one account -----------------------------------------------------------------------

def test_a_client_system_places_one_account_and_reads_it_back(world, alpha1):
    response = alpha1.post(ACCOUNTS, account(interest="10.5", fees=25, paid="100"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["result"] == "created" and body["client_reference"] == "INV-1001"
    assert body["debtor_name"] == "Acme Supplies LLC" and body["debt_purpose"] == "commercial"
    assert (body["principal"], body["interest"], body["fees"], body["paid"], body["balance"]) == (
        "1250.00", "10.50", "25.00", "100.00", "1185.50")
    assert body["status"] == "new" and body["due_date"] == "2024-03-31" and body["placed_at"]
    client_obj = world.alpha.clients[0].client
    assert stored(client_obj)["INV-1001"].balance == Decimal("1185.50")
    (batch,) = batches(client_obj)
    assert batch.source == "api" and batch.created_count == 1 and body["placement_batch"] == batch.pk
    with unscoped():
        assert AuditEvent.objects.filter(action="placement.completed", client=client_obj).exists()

    detail = alpha1.get(f"{ACCOUNTS}INV-1001/")
    assert detail.status_code == 200
    assert {k: v for k, v in body.items() if k != "result"} == detail.json()


def test_amounts_sent_as_json_numbers_are_exact_decimals(world, alpha1):
    response = alpha1.post(ACCOUNTS, '{"client_reference": "N-1", "debtor_name": "Numbers Inc", '
                                     '"principal": 1234.56, "interest": 0.1, "fees": 0.2}')
    assert response.status_code == 201, response.content
    assert response.json()["balance"] == "1234.86"


def test_a_wrong_amount_gets_400_with_the_field_error_and_nothing_is_saved(world, alpha1):
    response = alpha1.post(ACCOUNTS, account(principal="abc"))

    assert response.status_code == 400
    assert response.json() == {"principal": ["principal 'abc' is not an amount"]}
    assert stored(world.alpha.clients[0].client) == {} and batches(world.alpha.clients[0].client) == []


def test_every_field_error_of_the_account_is_reported_at_once(alpha1):
    response = alpha1.post(ACCOUNTS, {"principal": "12", "due_date": "31/31/2024", "email": "nope"})

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"client_reference", "debtor_name", "due_date", "email"}
    assert errors["client_reference"] == ["Client reference is missing"]
    assert "is not a date" in errors["due_date"][0] and "is not an email address" in errors["email"][0]


@pytest.mark.parametrize("body, field, says", [
    ('[{"client_reference": "A"}]', "non_field_errors", "Expected a dictionary"),
    ('"just a string"', "non_field_errors", "Expected a dictionary"),
    (account(client_reference=12345), "client_reference", "not a number"),
    (account(debtor_name={"first": "Acme"}), "debtor_name", "not an object"),
    (account(principal=["12"]), "principal", "not a list"),
    (account(principal=True), "principal", "not true/false"),
    (account(due_date=20240131), "due_date", "not a number"),
    (account(principle="12"), "principle", "Unknown field"),
    (account(client_reference=None), "client_reference", "may not be null"),
    (account(debtor_name="Acme\x00Corp"), "debtor_name", "Null characters"),
    (account(debtor_name="Acme \ud800"), "debtor_name", "Surrogate characters"),
    (account(principal="1000000000000"), "principal", "is more than 999,999,999,999.99"),
    (account(principal="999999999999", fees="999999999999"), "principal", "is more than 999,999,999,999.99"),
    ('{"client_reference": "A", "debtor_name": "B", "principal": 1e400}', "principal", "is not an amount"),
    (account(principal="1" * 40), "principal", "is not an amount"),
    (account(address_line1="x" * 200, address_line2="y" * 200, city="Springfield"), "address_line1",
     "longer than 400 characters"),
    (account(on_duplicate="overwrite"), "on_duplicate", "not a valid choice"),
    ('{"client_reference": "A", "principal": NaN}', "detail", "JSON parse error"),
    ('{"client_reference": "A",', "detail", "JSON parse error"),
    ("[" * 100_000 + "]" * 100_000, "detail", "JSON parse error"),
    (b'{"debtor_name": "\xff\xfe"}', "detail", "JSON parse error"),
])
def test_malformed_input_gets_400_with_a_message_never_500(alpha1, body, field, says):
    if isinstance(body, dict):
        body = json.dumps(body, default=str)
    response = alpha1.post(ACCOUNTS, body)

    assert response.status_code == 400, response.content
    messages = response.json()[field]
    assert says in (messages if isinstance(messages, str) else " ".join(messages))


def test_only_json_is_accepted(alpha1):
    response = alpha1.client.post(ACCOUNTS, {"client_reference": "A"}, **alpha1.headers)  # a form post
    assert response.status_code == 415


def test_placing_an_existing_reference_skips_by_default_and_updates_when_asked(world, alpha1):
    assert alpha1.post(ACCOUNTS, account(principal="100")).status_code == 201

    again = alpha1.post(ACCOUNTS, account(principal="999"))
    assert again.status_code == 200 and again.json()["result"] == "skipped"
    assert again.json()["principal"] == "100.00"

    updated = alpha1.post(f"{ACCOUNTS}?on_duplicate=update", account(principal="250"))
    assert updated.status_code == 200 and updated.json()["result"] == "updated"
    assert updated.json()["principal"] == "250.00" == str(stored(world.alpha.clients[0].client)["INV-1001"].principal)

    in_body = alpha1.post(f"{ACCOUNTS}?on_duplicate=update", account(principal="300", on_duplicate="skip"))
    assert in_body.json()["result"] == "skipped" and in_body.json()["principal"] == "250.00"  # the body wins


def test_an_update_through_the_api_keeps_what_the_request_leaves_out(world, alpha1):
    alpha1.post(ACCOUNTS, account(interest="50"))
    partial = {"client_reference": "INV-1001", "debtor_name": "Acme Supplies LLC", "principal": "900",
               "email": "ap@acme.example"}
    assert alpha1.post(f"{ACCOUNTS}?on_duplicate=update", partial).json()["result"] == "updated"
    kept = stored(world.alpha.clients[0].client)["INV-1001"]
    assert (kept.principal, kept.interest, kept.balance, kept.debt_purpose) == (900, 50, 950, "commercial")
    assert str(kept.due_date) == "2024-03-31"


def test_an_update_that_would_owe_less_than_was_paid_is_refused_and_changes_nothing(world, alpha1):
    """A re-sync with a lower principal made the balance -2,176.60 and the account Paid in full."""
    from payments.posting.services import payment_post

    alpha1.post(ACCOUNTS, account(principal="1000"))
    placed = stored(world.alpha.clients[0].client)["INV-1001"]
    with tenant_scope(world.alpha.agency):
        payment_post(agency=world.alpha.agency, actor=world.alpha.collector, account=placed, amount="600.00",
                     received_on=timezone.localdate(), method="check", source="staff")
    refused = alpha1.post(f"{ACCOUNTS}?on_duplicate=update", account(principal="100"))
    assert refused.status_code == 400
    assert "INV-1001 (row 1: 100.00 owed, 600.00 already paid or written off)" in json.dumps(refused.json())
    kept = stored(world.alpha.clients[0].client)["INV-1001"]
    assert (kept.principal, kept.balance, kept.status) == (1000, 400, placed.status)
    assert alpha1.post(f"{ACCOUNTS}?on_duplicate=update", account(principal="600")).json()["status"] == "paid"


def test_a_time_zone_that_is_no_region_name_is_refused_not_dropped(world, alpha1):
    """"EST" was answered 201 and left the debtor with no zone (a file gets a note; a system got nothing)."""
    refused = alpha1.post(ACCOUNTS, account(time_zone="EST"))
    assert refused.status_code == 400 and "not a time zone region name" in json.dumps(refused.json())
    assert "INV-1001" not in stored(world.alpha.clients[0].client)
    assert alpha1.post(ACCOUNTS, account(time_zone="America/Chicago")).status_code == 201


# --- Bulk placement --------------------------------------------------------------------------------

def test_a_bulk_placement_places_every_account_as_one_batch(world, alpha1):
    rows = [account(f"B-{n}", debtor_name=f"Debtor {n}", principal=str(100 + n)) for n in range(1, 6)]

    response = alpha1.post(BULK, {"accounts": rows})

    assert response.status_code == 201, response.content
    (batch,) = batches(world.alpha.clients[0].client)
    assert response.json() == {"placement_batch": batch.pk, "created": 5, "updated": 0, "skipped": 0}
    assert batch.source == "api" and batch.total_rows == 5
    assert {ref: str(a.balance) for ref, a in stored(world.alpha.clients[0].client).items()} == {
        f"B-{n}": f"{100 + n}.00" for n in range(1, 6)}


def test_bad_rows_are_all_listed_by_row_and_field_and_nothing_is_saved(world, alpha1):
    rows = [
        account("OK-1"),
        account("BAD-2", principal="abc"),
        account("OK-3"),
        account(7, due_date=["2024-01-01"]),  # JSON types refused before the placement rules
        account("BAD-5", email="not-an-email", due_date="2024-13-01"),
        "not an object",
        account("OK-1"),  # the same reference twice in one request
    ]

    response = alpha1.post(BULK, {"on_duplicate": "skip", "accounts": rows})

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "5 row(s) have errors; nothing was placed."
    by_row = {problem["row"]: {e["field"]: e["message"] for e in problem["errors"]} for problem in body["errors"]}
    assert sorted(by_row) == [2, 4, 5, 6, 7]
    assert by_row[2] == {"principal": "principal 'abc' is not an amount"}
    assert set(by_row[4]) == {"client_reference", "due_date"} and "not a number" in by_row[4]["client_reference"]
    assert set(by_row[5]) == {"email", "due_date"}
    assert "JSON object" in by_row[6]["non_field_errors"]
    assert "appears again (first in row 1)" in by_row[7]["client_reference"]
    assert stored(world.alpha.clients[0].client) == {} and batches(world.alpha.clients[0].client) == []


def test_bulk_duplicates_are_skipped_or_updated_with_counts(world, alpha1):
    first = [account("D-1", principal="10"), account("D-2", principal="20")]
    assert alpha1.post(BULK, {"accounts": first}).status_code == 201
    again = [account("D-1", principal="11"), account("D-2", principal="21"), account("D-3", principal="31")]

    skipped = alpha1.post(BULK, {"accounts": again})
    assert skipped.status_code == 201
    assert (skipped.json()["created"], skipped.json()["updated"], skipped.json()["skipped"]) == (1, 0, 2)
    assert str(stored(world.alpha.clients[0].client)["D-1"].principal) == "10.00"

    updated = alpha1.post(BULK, {"on_duplicate": "update", "accounts": again})
    assert updated.status_code == 201
    assert (updated.json()["created"], updated.json()["updated"], updated.json()["skipped"]) == (0, 3, 0)
    accounts = stored(world.alpha.clients[0].client)
    assert [str(accounts[ref].principal) for ref in ("D-1", "D-2", "D-3")] == ["11.00", "21.00", "31.00"]


@pytest.mark.parametrize("body, field, says", [
    ({"accounts": []}, "accounts", "at least one account"),
    ({"accounts": [account(f"R-{n}") for n in range(1001)]}, "accounts", "at most 1000 accounts"),
    ({"accounts": account()}, "accounts", "JSON list"),
    ({"accounts": "INV-1"}, "accounts", "JSON list"),
    ({}, "accounts", "required"),
    ({"accounts": [account()], "on_duplicate": "merge"}, "on_duplicate", "not a valid choice"),
    ({"accounts": [account()], "acounts": []}, "acounts", "Unknown field"),
    ([account()], "non_field_errors", "Expected a dictionary"),
])
def test_malformed_bulk_requests_get_a_clear_400(world, alpha1, body, field, says):
    response = alpha1.post(BULK, body)

    assert response.status_code == 400
    assert says in " ".join(response.json()[field])
    assert stored(world.alpha.clients[0].client) == {}


def test_an_oversized_body_gets_a_json_413(settings, alpha1):
    body = json.dumps({"accounts": [account("A", debtor_name="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))]})
    for url in (ACCOUNTS, BULK):
        response = alpha1.post(url, body)
        assert response.status_code == 413 and "send at most 1000 accounts" in response.json()["detail"]


def test_a_thousand_accounts_fit_in_one_request(world, alpha1):
    rows = [{"client_reference": f"K-{n:04}", "debtor_name": f"Debtor {n % 50}", "principal": n + 1}
            for n in range(1000)]
    response = alpha1.post(BULK, {"accounts": rows})
    assert response.status_code == 201 and response.json()["created"] == 1000


# --- Listing and paging ----------------------------------------------------------------------------

def place(persona, rows):
    agency = persona.client.agency
    with tenant_scope(agency, persona.client):
        batch, _accounts = accounts_place(agency=agency, actor=persona.admin, client=persona.client, rows=rows,
                                          source="form")
    return batch


@pytest.fixture
def many(world):
    """120 accounts of Alpha client 1 in three placements, with ties in balance and name."""
    persona = world.alpha.clients[0]
    for start in (0, 40, 80):
        place(persona, [{"client_reference": f"P-{n:03}", "debtor_name": f"Debtor {n % 9}",
                         "principal": str(100 + n % 7)} for n in range(start, start + 40)])
    return stored(persona.client)


def walk(api, params):
    """Every page of a listing, following `next`; returns the references in order."""
    references, url, pages = [], ACCOUNTS, 0
    response = api.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        references += [row["client_reference"] for row in body["results"]]
        pages += 1
        if body["next"] is None:
            return references, pages
        assert body["next"].startswith("http://testserver/api/v1/accounts/?") and "cursor=" in body["next"]
        response = api.client.get(body["next"], **api.headers)


@pytest.mark.parametrize("sort, key", [
    ("placed", lambda a: (-a.placed_at.timestamp(), -a.pk)),
    ("-balance", lambda a: (-a.balance, -a.pk)),
    ("balance", lambda a: (a.balance, a.pk)),
    ("reference", lambda a: (a.client_reference, a.pk)),
    ("debtor", lambda a: (a.debtor_name, a.pk)),
])
def test_keyset_pages_show_every_account_once_in_order(many, alpha1, sort, key):
    references, pages = walk(alpha1, {"sort": sort, "page_size": 25})

    assert pages == 5 and len(references) == 120 and len(set(references)) == 120
    assert references == [a.client_reference for a in sorted(many.values(), key=key)]


def test_new_accounts_placed_between_pages_do_not_shift_the_pages(world, many, alpha1):
    first = alpha1.get(ACCOUNTS, {"sort": "reference", "page_size": 50}).json()
    place(world.alpha.clients[0], [{"client_reference": "P-000A", "debtor_name": "Late", "principal": "5"}])
    second = alpha1.client.get(first["next"], **alpha1.headers).json()
    assert second["results"][0]["client_reference"] == "P-050"


def test_the_list_filters_by_status_age_balance_batch_and_search(world, alpha1):
    persona = world.alpha.clients[0]
    today = timezone.localdate()
    old = place(persona, [
        {"client_reference": "AGE-30", "debtor_name": "Thirty Days Ltd", "principal": "50",
         "delinquency_date": (today - timedelta(days=30)).isoformat()},
        {"client_reference": "AGE-120", "debtor_name": "Hundred Twenty Corp", "principal": "500",
         "delinquency_date": (today - timedelta(days=120)).isoformat()},
    ])
    new = place(persona, [
        {"client_reference": "AGE-200", "debtor_name": "Two Hundred SA", "principal": "5000",
         "delinquency_date": (today - timedelta(days=200)).isoformat()},
        {"client_reference": "AGE-400", "debtor_name": "Four Hundred GmbH", "principal": "50000",
         "delinquency_date": (today - timedelta(days=400)).isoformat()},
    ])
    with tenant_scope(persona.client.agency, persona.client):
        DebtorAccount.objects.filter(client_reference="AGE-120").update(status="on_hold")

    def refs(**params):
        response = alpha1.get(ACCOUNTS, params)
        assert response.status_code == 200, response.content
        return sorted(row["client_reference"] for row in response.json()["results"])

    assert refs() == ["AGE-120", "AGE-200", "AGE-30", "AGE-400"]
    assert refs(status="on_hold") == ["AGE-120"]
    assert refs(age="0-90") == ["AGE-30"] and refs(age="181-365") == ["AGE-200"] and refs(age="365+") == ["AGE-400"]
    assert refs(balance_min="500", balance_max="5000.00") == ["AGE-120", "AGE-200"]
    assert refs(batch=old.pk) == ["AGE-120", "AGE-30"] and refs(batch=new.pk) == ["AGE-200", "AGE-400"]
    assert refs(q="hundred") == ["AGE-120", "AGE-200", "AGE-400"] and refs(q="age-4") == ["AGE-400"]
    assert refs(q="age-1", status="new") == []


@pytest.mark.parametrize("params, field", [
    ({"status": "lost"}, "status"), ({"age": "90+"}, "age"), ({"balance_min": "lots"}, "balance_min"),
    ({"balance_max": "NaN"}, "balance_max"), ({"balance_min": "1e400"}, "balance_min"),
    ({"batch": "x"}, "batch"), ({"batch": str(2**70)}, "batch"), ({"sort": "random"}, "sort"),
    ({"page_size": "501"}, "page_size"), ({"page_size": "0"}, "page_size"), ({"q": "x" * 101}, "q"),
    ({"q": "a\x00b"}, "q"), ({"cursor": "garbage!"}, "cursor"),
    ({"cursor": "WzEsIDJd", "sort": "placed"}, "cursor"),  # [1, 2]: a number where a time belongs
    ({"cursor": "WyJhYmMiLCAyXQ", "sort": "balance"}, "cursor"),  # ["abc", 2]
    ({"cursor": "WyIxMDAuMDAiLCA5OTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ", "sort": "balance"}, "cursor"),  # huge id
    ({"cursor": "WyIxZTk5OTkiLCAxXQ", "sort": "-balance"}, "cursor"),  # ["1e9999", 1]
])
def test_wrong_list_parameters_get_400_naming_the_parameter(alpha1, params, field):
    response = alpha1.get(ACCOUNTS, params)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_cursor_from_another_sort_is_refused_not_misread(many, alpha1):
    next_url = alpha1.get(ACCOUNTS, {"sort": "placed", "page_size": 10}).json()["next"]
    cursor = re.search(r"cursor=([^&]+)", next_url).group(1)
    assert alpha1.get(ACCOUNTS, {"sort": "balance", "cursor": cursor}).status_code == 400


# --- Isolation ------------------------------------------------------------------------------------

def test_a_key_sees_and_places_only_for_its_own_client(world, client):
    alpha1 = Api(client, key_header(world.alpha.clients[0]))
    alpha2 = Api(client, key_header(world.alpha.clients[1]))
    bravo1 = Api(client, key_header(world.bravo.clients[0]))
    for api, name in ((alpha1, "Alpha One"), (alpha2, "Alpha Two"), (bravo1, "Bravo One")):
        assert api.post(ACCOUNTS, account("SHARED-1", debtor_name=f"{name} debtor")).status_code == 201
        assert api.post(BULK, {"accounts": [account(f"{name}-only", debtor_name=f"{name} debtor")]}).status_code == 201

    for api, name in ((alpha1, "Alpha One"), (alpha2, "Alpha Two"), (bravo1, "Bravo One")):
        listed = api.get(ACCOUNTS)
        assert sorted(r["client_reference"] for r in listed.json()["results"]) == sorted(["SHARED-1", f"{name}-only"])
        assert api.get(f"{ACCOUNTS}SHARED-1/").json()["debtor_name"] == f"{name} debtor"
        others = {"Alpha One", "Alpha Two", "Bravo One"} - {name}
        assert not [other for other in others if other in listed.content.decode()]
        for other in others:
            assert api.get(f"{ACCOUNTS}{other}-only/").status_code == 404
    for persona, name in ((world.alpha.clients[0], "Alpha One"), (world.bravo.clients[0], "Bravo One")):
        assert sorted(stored(persona.client)) == sorted(["SHARED-1", f"{name}-only"])


def test_a_filter_naming_another_clients_batch_shows_nothing(world, alpha1):
    theirs = place(world.alpha.clients[1], [account("THEIRS-1")])
    response = alpha1.get(ACCOUNTS, {"batch": theirs.pk})
    assert response.status_code == 200 and response.json()["results"] == []


def test_the_api_refuses_missing_wrong_and_revoked_keys(world, client):
    persona = world.alpha.clients[0]
    with tenant_scope(persona.client.agency, persona.client):
        key, raw_key = api_key_create(agency=persona.client.agency, actor=persona.admin, client=persona.client,
                                      name="Soon revoked")
        api_key_revoke(agency=persona.client.agency, actor=persona.admin, api_key=key)
    for headers in ({}, {"HTTP_AUTHORIZATION": f"Api-Key {raw_key}"}, {"HTTP_AUTHORIZATION": "Api-Key nonsense"}):
        api = Api(client, headers)
        assert api.get(ACCOUNTS).status_code == 401
        assert api.post(ACCOUNTS, account()).status_code == 401
        assert api.post(BULK, {"accounts": [account()]}).status_code == 401
        assert api.get(f"{ACCOUNTS}INV-1001/").status_code == 401
    client.force_login(persona.admin)  # a browser session is not an API credential
    assert client.get(ACCOUNTS).status_code == 401
    assert stored(persona.client) == {}


def test_references_with_slashes_and_spaces_can_be_read(alpha1):
    assert alpha1.post(ACCOUNTS, account("INV/2024 001")).status_code == 201
    response = alpha1.get(f"{ACCOUNTS}INV%2F2024%20001/")
    assert response.status_code == 200 and response.json()["client_reference"] == "INV/2024 001"
    assert alpha1.get(f"{ACCOUNTS}INV%2F2024%20002/").status_code == 404
    assert alpha1.get(f"{ACCOUNTS}{'x' * 300}/").status_code == 404
    assert alpha1.get(f"{ACCOUNTS}a%00b/").status_code == 404


# --- Schema and docs --------------------------------------------------------------------------------

def test_the_schema_passes_drf_spectacular_validation_with_no_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 "--file", str(tmp_path / "schema.json"))
    schema = json.loads((tmp_path / "schema.json").read_text())
    assert schema["openapi"].startswith("3.")


def _json_schema(node):
    """OpenAPI 3.0 schema -> JSON Schema (`nullable: true` becomes "or null")."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture
def openapi(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def assert_matches(openapi, path, method, response):
    """The response's body is valid against what the schema promises for its status."""
    documented = openapi["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, f"{method} {path}: {response.status_code} is not documented"
    body_schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    root = _json_schema({**body_schema, "components": openapi["components"]})
    jsonschema.validate(response.json(), root, cls=jsonschema.Draft202012Validator)


def test_the_schema_lists_every_endpoint_with_its_operations(openapi):
    operations = {(path, method) for path, item in openapi["paths"].items() for method in item}
    assert {("/api/v1/accounts/", "get"), ("/api/v1/accounts/", "post"), ("/api/v1/accounts/bulk/", "post"),
            ("/api/v1/accounts/{client_reference}/", "get"), ("/api/v1/client/", "get")} <= operations
    place_one = openapi["paths"]["/api/v1/accounts/"]["post"]
    assert {"200", "201", "400", "401"} <= set(place_one["responses"])
    assert "skipped" in place_one["description"]
    assert set(openapi["components"]["schemas"]["AccountIn"]["required"]) == {
        "client_reference", "debtor_name", "principal"}
    assert openapi["components"]["securitySchemes"]["ApiKey"]["in"] == "header"


def test_real_responses_match_the_schema(world, alpha1, openapi):
    created = alpha1.post(ACCOUNTS, account(interest="1.25"))
    assert_matches(openapi, "/api/v1/accounts/", "post", created)
    assert_matches(openapi, "/api/v1/accounts/", "post", alpha1.post(ACCOUNTS, account()))  # 200 skipped
    assert_matches(openapi, "/api/v1/accounts/", "post", alpha1.post(ACCOUNTS, account("X", principal="abc")))
    assert_matches(openapi, "/api/v1/accounts/bulk/", "post",
                   alpha1.post(BULK, {"accounts": [account("B-1"), account("B-2", due_date="soon")]}))
    assert_matches(openapi, "/api/v1/accounts/bulk/", "post", alpha1.post(BULK, {"accounts": [account("B-1")]}))
    assert_matches(openapi, "/api/v1/accounts/", "get", alpha1.get(ACCOUNTS, {"page_size": 1}))
    assert_matches(openapi, "/api/v1/accounts/", "get", alpha1.get(ACCOUNTS, {"status": "lost"}))
    assert_matches(openapi, "/api/v1/accounts/{client_reference}/", "get", alpha1.get(f"{ACCOUNTS}INV-1001/"))
    assert_matches(openapi, "/api/v1/accounts/{client_reference}/", "get", alpha1.get(f"{ACCOUNTS}NOPE/"))
    assert_matches(openapi, "/api/v1/accounts/{client_reference}/", "get",
                   alpha1.client.get(f"{ACCOUNTS}INV-1001/"))  # 401
    money = alpha1.get(f"{ACCOUNTS}INV-1001/").json()
    assert all(re.fullmatch(r"\d+\.\d\d", money[k]) for k in ("principal", "interest", "fees", "paid", "balance"))


def test_the_docs_page_loads_with_local_assets_only(db, client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith("swagger-ui.css") for a in assets)
    # The sidecar's Swagger UI, our CSS for it, and its start-up script from the page's own URL
    # (?script: no inline script under the Content-Security-Policy), which names the schema.
    assert all(a.startswith(("/static/drf_spectacular_sidecar/", "/static/css/", "/api/docs/?script"))
               for a in assets), assets
    assert not re.search(r"https?://|//cdn|unpkg|jsdelivr", page)
    script = next(a for a in assets if "?script" in a)
    assert "/api/schema/" in client.get(script.replace("&amp;", "&")).content.decode()
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()
