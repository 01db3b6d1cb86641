"""Files through the client API (issue 13, item 24): a client's system that can send a file sends
its export as a placement batch, polls it, sets the mapping (or names a saved one), reads the
counts and the rejected rows, commits, and polls until its accounts are in the agency's queues.
The same rules as uploads on the pages: mapping, saved mappings, checks, limits, all or nothing."""
import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_work.debtor_accounts import scoring
from collections_work.models import ColumnMapping, DebtorAccount, PlacementBatch
from collections_work.worklist import claim
from portal.models import AuditEvent
from portal.tenancy import tenant_scope, unscoped
from tests.collections_work.api.test_api import assert_matches, key_header
from tests.collections_work.api.test_api import openapi as openapi_schema
from tests.collections_work.placements.intake_helpers import xlsx_bytes

PLACEMENTS = "/api/v1/placements/"
AGING = [["Invoice #", "Customer", "Open balance", "Due", "E-mail"],
         ["INV-9001", "Acme Supplies LLC", 1250.5, "01/31/2025", "ap@acme.example"],
         ["INV-9002", "Globex Corp", 98000, "03/15/2024", "billing@globex.example"],
         ["INV-9003", "Initech", 410, "11/01/2025", ""],
         ["INV-9004", "Umbrella Ltd", "lots", "12/01/2025", "not-an-email"]]
MAPPING = {"client_reference": "Invoice #", "debtor_name": "Customer", "principal": "Open balance", "due_date": "Due",
           "email": "E-mail"}


class FileApi:
    """One client's system: its API key, with the worker's steps run as their hand-offs commit."""

    def __init__(self, client, headers, capture):
        self.client, self.headers, self.capture = client, headers, capture

    def upload(self, name, content, **extra):
        with self.capture(execute=True):
            return self.client.post(PLACEMENTS, {"file": SimpleUploadedFile(name, content), **extra}, **self.headers)

    def post(self, url, body=None):
        with self.capture(execute=True):
            return self.client.post(url, body or {}, content_type="application/json", **self.headers)

    def get(self, url, **params):
        return self.client.get(url, params, **self.headers)

    def poll(self, url, until):
        """What the client's system does: GET the batch until `next_step` leaves "wait" (the worker
        runs in-process here, so one GET is enough; the loop stands for the real polling)."""
        for _ in range(5):
            batch = self.get(url).json()
            if batch["next_step"] != "wait":
                assert batch["next_step"] == until, batch
                return batch
        raise AssertionError(f"still waiting: {batch}")


@pytest.fixture
def alpha1(world, client, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return FileApi(client, key_header(world.alpha.clients[0]), django_capture_on_commit_callbacks)


def test_a_clients_system_places_an_xlsx_and_its_accounts_are_in_the_queues_when_it_says_done(world, alpha1):
    # Given an A/R aging export as a workbook, sent as a file
    response = alpha1.upload("aging.xlsx", xlsx_bytes({"Aging": AGING}))
    assert response.status_code == 202, response.content
    batch_url = response.json()["url"]
    assert response["Location"] == batch_url and batch_url.endswith(f"/api/v1/placements/{response.json()['id']}/")

    # the worker has read it: the columns and a guessed mapping wait for the check
    batch = alpha1.poll(batch_url, until="check")
    assert batch["status"] == "uploaded" and batch["columns"] == AGING[0] and batch["sheet"] == "Aging"
    assert batch["mapping"]["debtor_name"] == "Customer"  # guessed from the headers

    # When it sends the mapping by column headers, the rows are checked (nothing placed yet)
    response = alpha1.post(batch["check_url"], {"mapping": MAPPING, "options": {"date_format": "%m/%d/%Y"},
                                                "save_as": "Aging export"})
    assert response.status_code == 202, response.content
    batch = alpha1.poll(batch_url, until="commit")
    assert batch["status"] == "previewed"
    assert batch["counts"] | {} == {"rows": 4, "valid": 3, "rejected": 1, "created": 0, "updated": 0, "skipped": 0}
    assert {e["row"] for e in batch["rejected_rows"]} == {5}
    assert any("lots" in e["message"] for e in batch["rejected_rows"])
    with unscoped():
        assert not DebtorAccount.objects.filter(client=world.alpha.clients[0].client).exists()

    # the rejected rows as JSON and as the CSV
    page = alpha1.get(batch["rejected_rows_url"]).json()
    assert page["count"] == 1 and page["results"][0]["row"] == 5 and page["next"] is None
    assert page["results"][0]["cells"]["Customer"] == "Umbrella Ltd" and "lots" in page["results"][0]["reasons"]
    response = alpha1.get(batch["rejected_rows_csv"])
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Row", "Reasons", "Invoice #"] and rows[1][0] == "5"

    # and commits: the batch says done only once the accounts are placed, scored and queued
    response = alpha1.post(batch["commit_url"])
    assert response.status_code == 202, response.content
    batch = alpha1.poll(batch_url, until="done")
    assert batch["status"] == "completed" and batch["progress"] == {"stage": "", "percent": 100}
    assert batch["counts"]["created"] == 3 and batch["counts"]["rejected"] == 1

    agency = world.alpha.agency
    with tenant_scope(agency):
        placed = {a.client_reference: a for a in DebtorAccount.objects.all()}
        assert set(placed) == {"INV-9001", "INV-9002", "INV-9003"}
        for account in placed.values():
            assert account.priority == scoring.priority_of(scoring.score_parts(account))
        queued = list(claim.queue_accounts(claim.default_queue_for(agency)).values_list("client_reference", flat=True))
        assert queued[0] == "INV-9002"  # $98,000 first
        assert set(queued) == set(placed)
        batch_row = PlacementBatch.objects.get(pk=batch["id"])
        assert batch_row.source == PlacementBatch.Source.API and batch_row.created_by is None
        # the steps are audited under the API key
        actions = list(AuditEvent.objects.filter(object_id=str(batch_row.pk), object_type="placementbatch")
                       .values_list("action", "actor_email"))
    by_action = dict(actions)
    assert by_action["placement.uploaded"].startswith("API key ") and "Billing system" in by_action["placement.uploaded"]
    assert {"placement.uploaded", "placement.mapping_set", "placement.commit_started", "placement.completed"} <= {
        a for a, _ in actions}
    # the mapping was saved for the next file
    with unscoped():
        assert ColumnMapping.objects.get(client=world.alpha.clients[0].client, name="Aging export").mapping == MAPPING


def test_a_saved_mapping_is_applied_by_name_or_id(world, alpha1):
    client_obj = world.alpha.clients[0].client
    with tenant_scope(world.alpha.agency, client_obj):
        saved = ColumnMapping.objects.create(agency=world.alpha.agency, client=client_obj, name="Billing",
                                             headers=["Ref", "Name", "Amount"],
                                             mapping={"client_reference": "Ref", "debtor_name": "Name",
                                                      "principal": "Amount"},
                                             options={"amount_format": "comma"})
    content = b"Ref;Name;Amount;Notes\nB-1;Anna Schmidt;1.234,56;x\nB-2;Bernd M\xc3\xbcller;99,00;y\n"
    for name_or_id in ("Billing", saved.pk):
        batch = alpha1.upload("billing.csv", content).json()
        response = alpha1.post(batch["check_url"], {"saved_mapping": name_or_id, "on_duplicate": "update"})
        assert response.status_code == 202, response.content
        checked = alpha1.poll(batch["url"], until="commit")
        assert checked["saved_mapping"] == "Billing" and checked["options"]["amount_format"] == "comma"
        assert checked["counts"]["valid"] == 2 and checked["on_duplicate"] == "update"
        assert alpha1.post(checked["commit_url"]).status_code == 202
        assert alpha1.poll(batch["url"], until="done")["counts"]["created"] + \
            alpha1.get(batch["url"]).json()["counts"]["updated"] == 2
    with unscoped():
        assert DebtorAccount.objects.get(client=client_obj, client_reference="B-1").principal == Decimal("1234.56")

    batch = alpha1.upload("billing.csv", content).json()
    response = alpha1.post(batch["check_url"], {"saved_mapping": "Nope"})
    assert response.status_code == 400 and "no saved mapping “Nope”" in response.json()["saved_mapping"][0]
    assert "“Billing”" in response.json()["saved_mapping"][0]


@pytest.mark.parametrize("body, field, says", [
    ({"mapping": {"client_reference": "Invoice", "debtor_name": "Customer", "principal": "Open balance"}},
     "mapping", "no column “Invoice”"),
    ({"mapping": {"debtor_name": "Customer", "principal": "Open balance"}}, "mapping", "Choose the column for"),
    ({"mapping": {"reference": "Invoice #"}}, "mapping", "Unknown field(s): reference"),
    ({"mapping": {"client_reference": "Invoice #", "debtor_name": "Invoice #", "principal": "Due"}},
     "mapping", "chosen for both"),
    ({"mapping": ["Invoice #"]}, "mapping", "as an object"),
    ({"options": {"date_format": "%d.%m.%Y.%H"}}, "options.date_format", "not a valid choice"),
    ({"options": {"colour": "red"}}, "options.colour", "Unknown option"),
    ({"on_duplicate": "merge"}, "on_duplicate", ""),
    ({"mapping": MAPPING, "saved_mapping": "Billing"}, "saved_mapping", "not both"),
])
def test_a_wrong_mapping_gets_400_saying_what_and_where(world, alpha1, body, field, says):
    batch = alpha1.upload("aging.xlsx", xlsx_bytes({"Aging": AGING})).json()
    response = alpha1.post(batch["check_url"], body)
    assert response.status_code == 400, response.content
    assert field in response.json() and says in str(response.json()[field])
    assert alpha1.get(batch["url"]).json()["status"] == "uploaded"  # nothing started


def test_steps_out_of_order_get_409_and_a_placed_batch_cannot_be_placed_twice(world, alpha1):
    batch = alpha1.upload("aging.xlsx", xlsx_bytes({"Aging": AGING})).json()
    response = alpha1.post(batch["commit_url"])
    assert response.status_code == 409 and "checked" in response.json()["detail"]
    alpha1.post(batch["check_url"], {"mapping": MAPPING})
    assert alpha1.post(batch["commit_url"]).status_code == 202
    assert alpha1.post(batch["commit_url"]).status_code == 409
    response = alpha1.post(batch["check_url"], {"mapping": MAPPING})
    assert response.status_code == 409 and "cannot be checked now" in response.json()["detail"]
    assert alpha1.post(f"{batch['url']}cancel/").status_code == 409
    with unscoped():
        assert DebtorAccount.objects.filter(client=world.alpha.clients[0].client).count() == 3


def test_a_batch_can_be_cancelled_before_it_is_placed(world, alpha1):
    batch = alpha1.upload("aging.xlsx", xlsx_bytes({"Aging": AGING})).json()
    response = alpha1.post(f"{batch['url']}cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["next_step"] == "done"


def test_another_sheet_can_be_read(world, alpha1):
    workbook = xlsx_bytes({"Aging": AGING, "Old": [["Ref", "Name", "Amount"], ["O-1", "Old Debtor", 5]]})
    batch = alpha1.upload("aging.xlsx", workbook).json()
    assert alpha1.get(batch["url"]).json()["sheet_names"] == ["Aging", "Old"]
    response = alpha1.post(f"{batch['url']}sheet/", {"sheet": "Old"})
    assert response.status_code == 202
    read = alpha1.poll(batch["url"], until="check")
    assert read["sheet"] == "Old" and read["columns"] == ["Ref", "Name", "Amount"]
    response = alpha1.post(f"{batch['url']}sheet/", {"sheet": "Missing"})
    assert response.status_code == 400 and "no sheet named" in response.json()["sheet"][0]


def test_bad_files_get_a_clear_400_or_413_and_nothing_is_stored(world, alpha1, settings):
    response = alpha1.upload("accounts.pdf", b"%PDF-1.4 not a table")
    assert response.status_code == 400 and response.json()["file"]
    response = alpha1.post(PLACEMENTS)  # no file, and JSON at that
    assert response.status_code in (400, 415)
    with alpha1.capture(execute=True):
        response = alpha1.client.post(PLACEMENTS, {}, **alpha1.headers)
    assert response.status_code == 400 and "file" in response.json()
    settings.INTAKE_MAX_BYTES = 1000
    response = alpha1.upload("big.csv", b"Reference,Debtor name,Balance\n" + b"R-1,Somebody,10.00\n" * 200)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
    # a file the worker cannot read: the batch fails with the reason, next step "upload"
    settings.INTAKE_MAX_BYTES = 50_000_000
    batch = alpha1.upload("empty.csv", b"Reference,Debtor name,Balance\n").json()
    failed = alpha1.get(batch["url"]).json()
    assert failed["status"] in ("failed", "uploaded")
    with unscoped():
        assert not DebtorAccount.objects.exists()


def test_a_key_sees_and_drives_only_its_own_clients_batches(world, client, django_capture_on_commit_callbacks,
                                                            settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    own = FileApi(client, key_header(world.alpha.clients[0]), django_capture_on_commit_callbacks)
    foreign = {"other client": FileApi(client, key_header(world.alpha.clients[1]), django_capture_on_commit_callbacks),
               "other agency": FileApi(client, key_header(world.bravo.clients[0]), django_capture_on_commit_callbacks)}
    batch = own.upload("aging.xlsx", xlsx_bytes({"Aging": AGING})).json()
    own.post(batch["check_url"], {"mapping": MAPPING})
    base = batch["url"]
    for who, api in foreign.items():
        for url in (base, f"{base}rejected-rows/", f"{base}rejected-rows.csv"):
            assert api.get(url).status_code == 404, (who, url)
        for url, body in ((f"{base}check/", {"mapping": MAPPING}), (f"{base}commit/", None),
                          (f"{base}cancel/", None), (f"{base}sheet/", {"sheet": "Aging"})):
            assert api.post(url, body).status_code == 404, (who, url)
        assert batch["id"] not in [b["id"] for b in api.get(PLACEMENTS).json()["results"]]
    assert own.get(base).json()["status"] == "previewed"
    assert batch["id"] in [b["id"] for b in own.get(PLACEMENTS).json()["results"]]
    # and no key at all
    assert client.get(base).status_code in (401, 403)
    assert client.post(PLACEMENTS, {"file": SimpleUploadedFile("a.csv", b"x")}).status_code in (401, 403)


openapi = openapi_schema  # the fixture, under its own name


def test_the_file_endpoints_are_in_the_schema_and_real_answers_match_it(world, alpha1, openapi):
    operations = {(path, method) for path, item in openapi["paths"].items() for method in item}
    assert {("/api/v1/placements/", "post"), ("/api/v1/placements/", "get"),
            ("/api/v1/placements/{batch_id}/", "get"), ("/api/v1/placements/{batch_id}/check/", "post"),
            ("/api/v1/placements/{batch_id}/commit/", "post"), ("/api/v1/placements/{batch_id}/cancel/", "post"),
            ("/api/v1/placements/{batch_id}/sheet/", "post"),
            ("/api/v1/placements/{batch_id}/rejected-rows/", "get"),
            ("/api/v1/placements/{batch_id}/rejected-rows.csv", "get")} <= operations
    assert "multipart/form-data" in openapi["paths"]["/api/v1/placements/"]["post"]["requestBody"]["content"]

    uploaded = alpha1.upload("aging.xlsx", xlsx_bytes({"Aging": AGING}))
    assert_matches(openapi, "/api/v1/placements/", "post", uploaded)
    assert_matches(openapi, "/api/v1/placements/", "post", alpha1.upload("x.pdf", b"%PDF"))
    batch = uploaded.json()
    detail = "/api/v1/placements/{batch_id}/"
    assert_matches(openapi, detail, "get", alpha1.get(batch["url"]))
    assert_matches(openapi, detail, "get", alpha1.get(f"{PLACEMENTS}999999/"))
    assert_matches(openapi, detail + "commit/", "post", alpha1.post(batch["commit_url"]))  # 409
    assert_matches(openapi, detail + "check/", "post", alpha1.post(batch["check_url"], {"options": {"x": "y"}}))
    assert_matches(openapi, detail + "check/", "post", alpha1.post(batch["check_url"], {"mapping": MAPPING}))
    assert_matches(openapi, detail + "rejected-rows/", "get", alpha1.get(f"{batch['url']}rejected-rows/"))
    assert_matches(openapi, detail + "commit/", "post", alpha1.post(batch["commit_url"]))
    assert_matches(openapi, detail, "get", alpha1.get(batch["url"]))
    assert_matches(openapi, "/api/v1/placements/", "get", alpha1.get(PLACEMENTS))


def test_a_batch_sent_through_the_api_can_be_followed_and_finished_on_the_pages(world, alpha1, signed_in):
    batch = alpha1.upload("aging.xlsx", xlsx_bytes({"Aging": AGING})).json()
    alpha1.post(batch["check_url"], {"mapping": MAPPING})
    browser = signed_in(world.alpha.clients[0].admin)
    page = browser.get(f"/placements/{batch['id']}/").content.decode()
    assert "aging.xlsx" in page and "Ready to place" in page
    with alpha1.capture(execute=True):
        response = browser.post(f"/placements/{batch['id']}/place/")
    assert response.status_code == 302
    assert alpha1.get(batch["url"]).json()["counts"]["created"] == 3
