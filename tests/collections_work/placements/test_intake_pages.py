"""The placement pages as a client admin uses them: upload, match columns, check, place."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from collections_work.models import ColumnMapping, DebtorAccount, PlacementBatch
from portal.tenancy import tenant_scope

CSV = (b"Cust #,Customer,Balance Due,Due\n"
       b"C-1,Acme Corp,$100.00,2024-01-31\nC-2,Beta LLC,12.3x,2024-01-31\nC-3,Gamma Inc,300,2024-02-15\n")


def mapping_post(batch, **extra):
    data = {f"map_{field}": str(index) for field, index in batch.mapping.items()}
    data.update({"amount_format": "dot", "date_format": "%m/%d/%Y", "default_debt_purpose": "commercial",
                 "on_duplicate": "skip", "save_as": ""})
    data.update(extra)
    return data


def latest_batch(world):
    with tenant_scope(world.alpha.agency):
        return PlacementBatch.objects.latest("pk")


def test_client_admin_uploads_checks_and_places_a_file(world, signed_in, django_capture_on_commit_callbacks):
    persona = world.alpha.clients[0]
    browser = signed_in(persona.admin)
    with django_capture_on_commit_callbacks() as handed_off:
        response = browser.post("/placements/upload/", {"file": SimpleUploadedFile("export.csv", CSV)})
    batch = latest_batch(world)
    assert response.url == f"/placements/{batch.pk}/mapping/"
    page = browser.get(response.url).content.decode()
    assert "Reading your file…" in page and 'hx-get="/placements/%d/progress/' % batch.pk in page
    for callback in handed_off:  # the worker reads the file
        callback()
    batch = latest_batch(world)
    page = browser.get(response.url).content.decode()
    assert "Match your columns" in page and "Acme Corp" in page  # the first rows help matching
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/placements/{batch.pk}/mapping/", mapping_post(batch, save_as="Billing export"))
    assert response.url == f"/placements/{batch.pk}/"
    page = browser.get(response.url).content.decode()
    assert "Ready to place" in page and "Balance Due &#x27;12.3x&#x27; is not an amount" in page
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/placements/{batch.pk}/place/")
    page = browser.get(f"/placements/{batch.pk}/").content.decode()
    assert "2 accounts placed" in page and "1 rejected" in page
    rejected = browser.get(f"/placements/{batch.pk}/rejected-rows.csv")
    assert rejected["Content-Disposition"].startswith('attachment; filename="export-rejected-rows.csv"')
    assert b"12.3x" in b"".join(rejected.streaming_content)
    with tenant_scope(world.alpha.agency):
        assert set(DebtorAccount.objects.values_list("client_reference", flat=True)) == {"C-1", "C-3"}
        assert ColumnMapping.objects.get(name="Billing export").mapping["client_reference"] == "Cust #"
    history = browser.get("/placements/").content.decode()
    assert "export.csv" in history and "Completed" in history


def test_a_saved_mapping_is_used_for_the_next_file_with_the_same_columns(world, signed_in, django_capture_on_commit_callbacks):
    persona = world.alpha.clients[0]
    browser = signed_in(persona.admin)
    odd = b"Ident,Debtor,Owed\nX-1,Acme,10\n"  # "Ident" is a name the guesser cannot know
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/placements/upload/", {"file": SimpleUploadedFile("odd.csv", odd)})
    batch = latest_batch(world)
    assert "client_reference" not in batch.mapping
    data = mapping_post(batch, map_client_reference="0", map_debtor_name="1", map_principal="2", save_as="Odd export",
                        amount_format="comma", date_format="%d/%m/%Y")
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/placements/{batch.pk}/mapping/", data)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/placements/upload/", {"file": SimpleUploadedFile("odd2.csv", odd)})
    second = latest_batch(world)
    assert second.mapping == {"client_reference": 0, "debtor_name": 1, "principal": 2}
    # The formats come along: a European export read with the US formats would turn 12,50 into 1,250.
    assert (second.options["amount_format"], second.options["date_format"]) == ("comma", "%d/%m/%Y")
    page = browser.get(response.url).content.decode()
    assert "from your saved mapping “Odd export”" in page
    assert 'value="comma" selected' in page or 'value="comma" checked' in page


def test_mapping_errors_are_shown_and_nothing_starts(world, signed_in, django_capture_on_commit_callbacks):
    browser = signed_in(world.alpha.clients[0].admin)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/placements/upload/", {"file": SimpleUploadedFile("export.csv", CSV)})
    batch = latest_batch(world)
    data = mapping_post(batch, map_client_reference="", map_debtor_name="1", map_principal="1")
    page = browser.post(f"/placements/{batch.pk}/mapping/", data).content.decode()
    assert "Choose the column for: Client reference" in page
    data = mapping_post(batch, map_principal="1")
    page = browser.post(f"/placements/{batch.pk}/mapping/", data).content.decode()
    assert "is chosen for both" in page
    assert latest_batch(world).status == PlacementBatch.Status.UPLOADED


def test_a_bad_file_gets_its_message_next_to_the_file_field(world, signed_in):
    page = signed_in(world.alpha.clients[0].admin).post(
        "/placements/upload/", {"file": SimpleUploadedFile("export.csv", b"%PDF-1.7")}).content.decode()
    assert "does not contain text" in page
    with tenant_scope(world.alpha.agency):
        assert not PlacementBatch.objects.exists()


def test_read_only_users_and_collectors_cannot_place(world, signed_in):
    for person in (world.alpha.clients[0].user, world.alpha.collector):
        browser = signed_in(person)
        assert browser.get("/placements/upload/").status_code == 404
        assert browser.get("/placements/new-account/").status_code == 404
        assert browser.get("/placements/").status_code == 200


def test_staff_place_a_file_for_a_chosen_client_and_see_the_intake_summary(world, signed_in):
    client = world.alpha.clients[1].client
    browser = signed_in(world.alpha.manager)
    browser.post("/placements/upload/", {"client": client.pk, "file": SimpleUploadedFile("export.csv", CSV)})
    assert latest_batch(world).client == client
    page = browser.get("/agency/intake/").content.decode()
    assert client.name in page and world.bravo.clients[0].client.name not in page


def test_the_one_account_form_places_an_account_with_a_document(world, signed_in):
    persona = world.alpha.clients[0]
    browser = signed_in(persona.admin)
    data = {"debtor_kind": "business", "debtor_name": "Delta Co", "client_reference": "D-1", "principal": "$1,250.00",
            "debt_purpose": "commercial", "due_date": "2024-05-01", "on_duplicate": "skip", "tax_id": "98-7654321",
            "documents": SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 invoice", content_type="application/pdf")}
    response = browser.post("/placements/new-account/", data)
    with tenant_scope(world.alpha.agency):
        account = DebtorAccount.objects.get(client_reference="D-1")
        assert account.documents.get().name == "invoice.pdf"
        assert account.debtor.tax_id_last4 == "4321"
    assert response.url == f"/debtor-accounts/{account.pk}/"


def test_the_one_account_form_says_when_a_reference_is_already_placed_and_changes_nothing(world, signed_in):
    persona = world.alpha.clients[0]
    browser = signed_in(persona.admin)
    data = {"debtor_kind": "business", "debtor_name": "Delta Co", "client_reference": "D-1", "principal": "100",
            "debt_purpose": "commercial", "on_duplicate": "skip"}
    browser.post("/placements/new-account/", data)
    again = data | {"debtor_name": "Other Name", "principal": "999",
                    "documents": SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 x", content_type="application/pdf")}
    page = browser.post("/placements/new-account/", again).content.decode()
    assert "D-1 is already placed: nothing was changed" in page
    with tenant_scope(world.alpha.agency):
        account = DebtorAccount.objects.get(client_reference="D-1")
        assert (account.principal, account.documents.count(), PlacementBatch.objects.count()) == (100, 0, 1)
    update = again | {"on_duplicate": "update",
                      "documents": SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 x", content_type="application/pdf")}
    response = browser.post("/placements/new-account/", update, follow=True)
    assert "Account D-1 updated." in response.content.decode()
    with tenant_scope(world.alpha.agency):
        assert DebtorAccount.objects.get(client_reference="D-1").principal == 999


def test_the_one_account_form_shows_errors_by_field_and_saves_nothing(world, signed_in):
    browser = signed_in(world.alpha.clients[0].admin)
    data = {"debtor_kind": "business", "debtor_name": "Delta Co", "client_reference": "D-1", "principal": "lots",
            "debt_purpose": "commercial", "email": "nope", "on_duplicate": "skip",
            "documents": SimpleUploadedFile("invoice.exe", b"MZ")}
    page = browser.post("/placements/new-account/", data).content.decode()
    assert "attach a PDF" in page
    data["documents"] = SimpleUploadedFile("invoice.pdf", b"%PDF")
    page = browser.post("/placements/new-account/", data).content.decode()
    assert "principal &#x27;lots&#x27; is not an amount" in page and "email &#x27;nope&#x27; is not an email" in page
    with tenant_scope(world.alpha.agency):
        assert not DebtorAccount.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the pipelined writer is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_pipelined_writer_places_everything_or_nothing(world, settings, django_capture_on_commit_callbacks):
    """With a second connection writing chunks while the next is parsed; a failure rolls back all."""
    from tests.collections_work.placements.intake_helpers import place_file

    settings.INTAKE_PIPELINED = True
    settings.INTAKE_CHUNK_ROWS = 7
    persona = world.alpha.clients[0]
    rows = b"".join(b"R-%d,Debtor %d,%d.00\n" % (i, i % 13, i + 1) for i in range(100))
    batch = place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "big.csv",
                       b"Reference,Debtor name,Balance\n" + rows)
    assert batch.created_count == 100
    with tenant_scope(world.alpha.agency):
        assert DebtorAccount.objects.count() == 100


def test_rejected_rows_of_another_tenant_are_404(world, signed_in, django_capture_on_commit_callbacks):
    """The rejected-rows download streams a file, so the sweep leaves it to this test."""
    from tests.collections_work.placements.intake_helpers import check, upload

    own, other_client, bravo = world.alpha.clients[0], world.alpha.clients[1], world.bravo.clients[0]
    batches = {}
    for key, persona, agency in (("own", own, world.alpha.agency), ("other", other_client, world.alpha.agency),
                                 ("bravo", bravo, world.bravo.agency)):
        batches[key] = check(persona, agency, upload(persona, agency, "x.csv", CSV), django_capture_on_commit_callbacks)
    for person in (own.admin, own.user):
        browser = signed_in(person)
        assert browser.get(f"/placements/{batches['own'].pk}/rejected-rows.csv").status_code == 200
        for key in ("other", "bravo"):
            assert browser.get(f"/placements/{batches[key].pk}/rejected-rows.csv").status_code == 404
    staff = signed_in(world.alpha.collector)
    assert staff.get(f"/placements/{batches['other'].pk}/rejected-rows.csv").status_code == 200
    assert staff.get(f"/placements/{batches['bravo'].pk}/rejected-rows.csv").status_code == 404


def test_staff_cannot_place_for_another_agencys_client(world, signed_in):
    foreign = world.bravo.clients[0].client
    browser = signed_in(world.alpha.manager)
    page = browser.post("/placements/upload/", {"client": foreign.pk, "file": SimpleUploadedFile("x.csv", CSV)})
    assert "Select a valid choice" in page.content.decode()
    page = browser.post("/placements/new-account/", {"client": foreign.pk, "debtor_kind": "business",
                                                     "debtor_name": "X", "client_reference": "X-1", "principal": "5",
                                                     "debt_purpose": "commercial", "on_duplicate": "skip"})
    assert "Select a valid choice" in page.content.decode()
    with tenant_scope(world.bravo.agency):
        assert not PlacementBatch.objects.exists() and not DebtorAccount.objects.exists()


def test_home_pages_load_a_summary_of_open_accounts_and_recent_placements(world, signed_in, django_capture_on_commit_callbacks):
    from tests.collections_work.placements.intake_helpers import place_file

    persona = world.alpha.clients[0]
    place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, "first.csv", CSV)
    browser = signed_in(persona.user)
    assert 'hx-get="/placements/summary/"' in browser.get("/client/").content.decode()
    panel = browser.get("/placements/summary/").content.decode()
    assert "first.csv" in panel and "$400" in panel  # C-1 $100 + C-3 $300 open
    other = signed_in(world.alpha.clients[1].user).get("/placements/summary/").content.decode()
    assert "first.csv" not in other and "$0" in other


def test_the_placement_history_lists_every_batch_page_by_page_newest_first(world, signed_in):
    persona = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency):
        for number in range(55):
            PlacementBatch.objects.create(agency=world.alpha.agency, client=persona.client, created_by=persona.admin,
                                          source="form" if number == 0 else "api", status="completed")
        oldest, newest = PlacementBatch.objects.order_by("pk").first(), PlacementBatch.objects.latest("pk")
    browser = signed_in(persona.admin)
    first = browser.get("/placements/").content.decode()
    assert f"#{newest.pk}<" in first and f"#{oldest.pk}<" not in first and "Page 1 of 2" in first
    second = browser.get("/placements/", {"page": 2}).content.decode()
    assert f"#{oldest.pk}<" in second and "Form" in second  # the one-account form's placement is listed too
    assert browser.get("/placements/", {"page": "x"}).status_code == 200


def test_a_file_with_no_valid_row_says_so_and_offers_nothing_to_place(world, signed_in, django_capture_on_commit_callbacks):
    browser = signed_in(world.alpha.clients[0].admin)
    bad = b"Cust #,Customer,Balance Due,Due\nC-1,Acme Corp,lots,2024-01-31\n"
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/placements/upload/", {"file": SimpleUploadedFile("bad.csv", bad)})
    batch = latest_batch(world)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/placements/{batch.pk}/mapping/", mapping_post(batch))
    page = browser.get(f"/placements/{batch.pk}/").content.decode()
    assert "No row can be placed" in page and "Place 0" not in page and "You can place" not in page
