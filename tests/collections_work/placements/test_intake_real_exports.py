"""Real-looking exports (issue 13, items 9, 10, 11, 21): columns guessed from names and values in
English, German, Spanish and French; one row per party; the debtor's time zone; matching debtors."""
from datetime import date
from decimal import Decimal

import pytest
from django.db import models

from collections_work.models import AccountParty, Contact, Debtor, DebtorAccount
from collections_work.compliance import candidate_zones
from collections_work.placements.intake import fields
from collections_work.worklist.services import debtor_set_time_zone
from portal.models import AuditEvent
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import check, place, place_file, upload, xlsx_bytes


@pytest.fixture
def persona(world):
    return world.alpha.clients[0]


@pytest.fixture
def place_it(persona, world, django_capture_on_commit_callbacks):
    def run(name, content, **kwargs):
        return place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, name, content, **kwargs)
    return run


def accounts(world, persona):
    with tenant_scope(world.alpha.agency, persona.client):
        return {a.client_reference: a for a in DebtorAccount.objects.select_related("debtor")}


def mapped(batch) -> dict:
    return {field: batch.headers[index] for field, index in batch.mapping.items()}


AGING = (b"Customer,Customer ID,Invoice #,Invoice Date,Due Date,Days Past Due,Amount,Balance,Contact,Email,Phone\n"
         b"Acme Corp,C-100,INV-1001,01/15/2025,02/14/2025,45,\"1,200.00\",\"1,200.00\",Jane Doe,jane@acme.test,"
         b"(212) 555-0100\n"
         b"Acme Corp,C-100,INV-1002,02/01/2025,03/03/2025,13,800.00,650.00,Jane Doe,jane@acme.test,(212) 555-0100\n"
         b"Birch LLC,C-200,INV-1003,12/20/2024,01/19/2025,120,\"2,500.00\",\"2,500.00\",Tom Oak,ap@birch.test,"
         b"(808) 555-0199\n")


def test_an_aging_export_is_guessed_from_names_and_values_and_places_on_the_first_check(place_it, world, persona):
    batch = place_it("aging.csv", AGING)
    assert mapped(batch) | {} == {
        "debtor_name": "Customer", "client_debtor_id": "Customer ID", "client_reference": "Invoice #",
        "invoice_number": "Invoice #", "invoice_date": "Invoice Date", "due_date": "Due Date",
        "principal": "Balance", "email": "Email", "phone": "Phone"}  # not Contact, not Days Past Due
    assert batch.options["date_format"] == "%m/%d/%Y" and batch.options["amount_format"] == "dot"
    assert (batch.invalid_rows, batch.created_count) == (0, 3)
    placed = accounts(world, persona)
    assert placed["INV-1002"].invoice_number == "INV-1002" and placed["INV-1002"].principal == Decimal("650.00")
    assert placed["INV-1001"].invoice_date == date(2025, 1, 15)
    # The client's own customer ID says both invoices are one debtor's.
    assert placed["INV-1001"].debtor_id == placed["INV-1002"].debtor_id != placed["INV-1003"].debtor_id


GERMAN = ("Kundennummer;Name;Straße;PLZ;Ort;E-Mail;Telefon;Rechnungsnummer;Rechnungsdatum;Fällig am;Offener Betrag\n"
          "K-1;Müller GmbH;Hauptstraße 1;10115;Berlin;info@mueller.test;+49 30 1234567;R-2025-1;01.01.2025;"
          "31.01.2025;67.467,32\n"
          "K-2;Schmidt AG;Lindenallee 5;80331;München;buchhaltung@schmidt.test;+49 89 7654321;R-2025-2;15.01.2025;"
          "14.02.2025;980,00\n").encode("utf-8")


def test_a_german_export_maps_e_mail_not_strasse_and_reads_its_amounts_and_dates(place_it, world, persona):
    batch = place_it("export.csv", GERMAN)
    names = mapped(batch)
    assert names["email"] == "E-Mail" and names["address_line1"] == "Straße" and names["postal_code"] == "PLZ"
    assert names["principal"] == "Offener Betrag" and names["due_date"] == "Fällig am"
    assert names["client_reference"] == names["invoice_number"] == "Rechnungsnummer"
    assert batch.options["amount_format"] == "comma" and batch.options["date_format"] == "%d.%m.%Y"
    assert batch.invalid_rows == 0
    account = accounts(world, persona)["R-2025-1"]
    assert account.principal == Decimal("67467.32") and account.invoice_date == date(2025, 1, 1)
    with tenant_scope(world.alpha.agency):
        assert set(Contact.objects.filter(debtor=account.debtor).values_list("kind", "value")) >= {
            ("email", "info@mueller.test"), ("address", "Hauptstraße 1, Berlin, 10115")}


@pytest.mark.parametrize("headers, expected", [
    (["Referencia", "Nombre", "Correo electrónico", "Teléfono", "Dirección", "Ciudad", "Código postal", "Importe",
      "Fecha de vencimiento"],
     ["client_reference", "debtor_name", "email", "phone", "address_line1", "city", "postal_code", "principal",
      "due_date"]),
    (["Référence", "Nom", "Courriel", "Téléphone", "Adresse", "Ville", "Code postal", "Montant", "Date d'échéance"],
     ["client_reference", "debtor_name", "email", "phone", "address_line1", "city", "postal_code", "principal",
      "due_date"]),
])
def test_spanish_and_french_headers_are_known(headers, expected):
    assert {field: headers[index] for field, index in fields.guess_mapping(headers).items()} == dict(
        zip(expected, headers))


def test_a_date_field_never_takes_small_integers_and_an_email_field_only_emails():
    headers = ["Ref", "Debtor", "Balance", "Delinquent since", "Contact email"]
    sample = [["R-1", "Acme", "10.00", "45", "Jane Doe"], ["R-2", "Beta", "20.00", "7", "John Roe"]]
    guessed = fields.guess_mapping(headers, sample)
    assert "delinquency_date" not in guessed and "email" not in guessed
    assert fields.guess_formats({"due_date": 0}, [["01/02/2025"]]) == {}  # day and month could be either
    assert fields.guess_formats({"due_date": 0}, [["13/02/2025"]]) == {"date_format": "%d/%m/%Y"}


def test_invoice_number_and_client_reference_may_share_a_column(persona, world, django_capture_on_commit_callbacks):
    batch = upload(persona, world.alpha.agency, "x.csv", b"Invoice #,Customer,Balance\nI-1,Acme,5.00\n")
    batch = check(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks,
                  mapping={"client_reference": 0, "invoice_number": 0, "debtor_name": 1, "principal": 2})
    place(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks)
    assert accounts(world, persona)["I-1"].invoice_number == "I-1"


def test_an_xlsx_aging_export_with_real_dates_and_numbers(place_it, world, persona):
    content = xlsx_bytes({"Aging": [["Customer", "Invoice #", "Due Date", "Days Past Due", "Balance", "Email"],
                                    ["Acme Corp", "INV-9", date(2025, 2, 14), 45, 1200.5, "jane@acme.test"]]})
    batch = place_it("aging.xlsx", content)
    assert "delinquency_date" not in batch.mapping and batch.invalid_rows == 0
    assert accounts(world, persona)["INV-9"].principal == Decimal("1200.50")


# --- Item 10: one row per party ---------------------------------------------------------------

PER_PARTY = (b"Loan #,Name,Role,SSN,Email,Phone,Address,City,State,ZIP,Balance\n"
             b"L-1,Richard Roe,Borrower,123-45-6789,rr@roe.test,(512) 555-0101,100 Main St,Austin,TX,78701,5000.00\n"
             b"L-1,Rita Roe,Co-borrower,987-65-4321,rita@roe.test,(512) 555-0102,100 Main St,Austin,TX,78701,5000.00\n"
             b"L-2,Sam Solo,Borrower,111-22-3333,sam@solo.test,,9 Elm St,Boise,ID,83702,750.00\n"
             b"L-1,Gus Guarantor,Guarantor,,gus@roe.test,,,,,,5000.00\n")


def parties_of(world, reference):
    with tenant_scope(world.alpha.agency):
        return {(p.role, p.debtor.name, p.debtor.kind) for p in AccountParty.objects.select_related("debtor")
                .filter(account__client_reference=reference)}


def test_a_per_party_export_places_one_account_per_reference_with_its_co_debtors(place_it, world, persona, settings):
    settings.INTAKE_CHUNK_ROWS = 2  # the guarantor's row is written in a later chunk than its account
    batch = place_it("parties.csv", PER_PARTY)
    assert batch.options["parties_by_row"] is True  # offered because the file has a role column
    assert (batch.invalid_rows, batch.created_count) == (0, 2)
    assert batch.check_summary["party_rows"] == 2
    placed = accounts(world, persona)
    assert set(placed) == {"L-1", "L-2"}
    assert placed["L-1"].debtor.name == "Richard Roe" and placed["L-1"].principal == Decimal("5000.00")
    assert placed["L-1"].debtor.kind == "person"  # a person with an SSN is a person
    assert parties_of(world, "L-1") == {("co_debtor", "Rita Roe", "person"), ("guarantor", "Gus Guarantor", "person")}
    with tenant_scope(world.alpha.agency):
        rita = Debtor.objects.get(name="Rita Roe")
        assert set(Contact.objects.filter(debtor=rita).values_list("kind", "value")) == {
            ("email", "rita@roe.test"), ("phone", "5125550102"), ("address", "100 Main St, Austin, TX 78701")}


def test_same_reference_rows_are_parties_only_when_asked(persona, world, django_capture_on_commit_callbacks):
    content = b"Reference,Debtor name,Balance\nR-1,Ann Lee,10.00\nR-1,Bob Lee,10.00\n"
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "x.csv", content),
                  django_capture_on_commit_callbacks)
    assert batch.invalid_rows == 1 and "appears again" in batch.errors_sample[0]["message"]
    batch = check(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks,
                  options={"parties_by_row": True})
    assert (batch.valid_rows, batch.valid_accounts, batch.invalid_rows) == (2, 1, 0)
    place(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks)
    assert parties_of(world, "R-1") == {("co_debtor", "Bob Lee", "person")}


def test_party_rows_of_an_account_placed_before_are_skipped_with_it(place_it, world, persona):
    place_it("first.csv", b"Reference,Debtor name,Balance\nR-1,Ann Lee,10.00\n")
    batch = place_it("again.csv", b"Reference,Debtor name,Balance,Role\nR-1,Ann Lee,10.00,debtor\n"
                                  b"R-1,Bob Lee,10.00,co-debtor\nR-2,Cy Dee,5.00,debtor\n")
    assert (batch.created_count, batch.skipped_count) == (1, 1)
    assert parties_of(world, "R-1") == set()  # "skip" leaves the account placed before as it was


def test_a_party_row_whose_account_row_has_errors_is_refused_too(persona, world, django_capture_on_commit_callbacks):
    content = b"Reference,Debtor name,Balance,Role\nR-1,Ann Lee,lots,debtor\nR-1,Bob Lee,,co-debtor\n"
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "x.csv", content),
                  django_capture_on_commit_callbacks)
    messages = {(e["row"], e["message"]) for e in batch.errors_sample}
    assert (3, "the account's first row (row 2) has errors") in messages and batch.valid_rows == 0


# --- Item 11: the debtor's time zone -----------------------------------------------------------

ZONES = (b"Reference,Debtor name,Balance,State,ZIP,Phone,Time zone\n"
         b"Z-1,Kai Akana,10.00,HI,96813,,\n"  # ZIP
         b"Z-2,Lani Kahale,10.00,HI,,,\n"  # state (one zone)
         b"Z-3,Noa Keola,10.00,,,(808) 555-0100,\n"  # phone area code
         b"Z-4,Eve East,10.00,,,,EST\n"  # no region, nothing else: unknown
         b"Z-5,Fay Fast,10.00,,10001,,US/Eastern\n"  # no region, but a ZIP
         b"Z-6,Flo Rida,10.00,FL,,,\n"  # a state across two zones decides nothing
         b"Z-7,Tess Given,10.00,,96813,,America/Chicago\n")  # the file's own region name wins


def test_the_debtors_time_zone_comes_from_zip_state_or_phone_and_says_where_from(place_it, world, persona):
    batch = place_it("zones.csv", ZONES)
    assert batch.invalid_rows == 0
    assert batch.check_summary["time_zones"] == {"zip": 2, "state": 1, "phone": 1, "not_region": 1, "unknown": 1,
                                                 "file": 1}
    placed = accounts(world, persona)
    found = {ref: (a.debtor_time_zone, a.debtor.time_zone, a.debtor.time_zone_source) for ref, a in placed.items()}
    assert found == {
        "Z-1": ("Pacific/Honolulu", "Pacific/Honolulu", "ZIP code 96813"),
        "Z-2": ("Pacific/Honolulu", "Pacific/Honolulu", "state HI"),
        "Z-3": ("Pacific/Honolulu", "Pacific/Honolulu", "phone area code 808"),
        "Z-4": ("", "", "“EST” in the file is not a region name like America/New_York"),
        "Z-5": ("America/New_York", "America/New_York", "ZIP code 10001"),
        "Z-6": ("", "", ""),
        "Z-7": ("America/Chicago", "America/Chicago", "the file's time zone column"),
    }
    with tenant_scope(world.alpha.agency):
        phone = Contact.objects.get(debtor=placed["Z-3"].debtor, kind="phone")
        assert phone.time_zone == "Pacific/Honolulu"
        assert candidate_zones(placed["Z-1"], None) == ["Pacific/Honolulu"]  # not "every US zone"


def test_staff_correct_a_debtors_time_zone_and_a_later_placement_keeps_it(place_it, world, persona):
    place_it("zones.csv", b"Reference,Debtor name,Balance,ZIP,Email\nZ-1,Kai Akana,10.00,96813,kai@a.test\n")
    account = accounts(world, persona)["Z-1"]
    with tenant_scope(world.alpha.agency):
        debtor_set_time_zone(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                             time_zone="America/Los_Angeles")
        with pytest.raises(Exception, match="not a time zone region"):
            debtor_set_time_zone(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                                 time_zone="PST")
        assert AuditEvent.objects.filter(action="debtor.time_zone_set").count() == 1
    place_it("more.csv", b"Reference,Debtor name,Balance,ZIP,Email\nZ-1,Kai Akana,12.00,96813,kai@a.test\n"
                         b"Z-2,Kai Akana,5.00,96813,kai@a.test\n", on_duplicate="update")
    placed = accounts(world, persona)
    assert placed["Z-1"].debtor_id == placed["Z-2"].debtor_id
    assert placed["Z-1"].debtor_time_zone == placed["Z-2"].debtor_time_zone == "America/Los_Angeles"
    assert placed["Z-2"].debtor.time_zone_source == "set by staff"


def test_the_workspace_shows_where_the_zone_came_from_and_staff_can_correct_it(place_it, world, persona, client):
    place_it("zones.csv", b"Reference,Debtor name,Balance,ZIP\nZ-1,Kai Akana,10.00,96813\n")
    account = accounts(world, persona)["Z-1"]
    client.force_login(world.alpha.collector)
    page = client.get(f"/debtor-accounts/{account.pk}/work/").content.decode()
    assert "Pacific/Honolulu" in page and "from ZIP code 96813" in page
    response = client.post(f"/debtor-accounts/{account.pk}/work/time-zone/", {"time_zone": "America/Anchorage"})
    assert response.status_code == 302
    assert accounts(world, persona)["Z-1"].debtor_time_zone == "America/Anchorage"


# --- Item 21: matching a row to a debtor on file ----------------------------------------------

STEVENS = (b"Account,Name,SSN,Address,City,State,ZIP,Balance,Debt purpose\n"
           b"A-1,Richard Stevens,111-11-2347,12 Oak St,Dayton,OH,45402,100.00,consumer\n"
           b"A-2,Richard Stevens,222-22-2347,80 Pine Ave,Fresno,CA,93721,200.00,consumer\n"
           b"A-3,Richard Stevens,111-11-2347,12 Oak St,Dayton,OH,45402,300.00,consumer\n"
           b"A-4,Pat Nobody,333-33-4444,,,,,50.00,consumer\n"
           b"A-5,Pat Nobody,333-33-4444,,,,,60.00,consumer\n")


def test_two_people_with_the_same_name_and_last_four_are_two_debtors(place_it, world, persona,
                                                                       django_capture_on_commit_callbacks):
    place_it("consumer.csv", STEVENS)
    placed = accounts(world, persona)
    assert placed["A-1"].debtor_id == placed["A-3"].debtor_id != placed["A-2"].debtor_id
    assert placed["A-4"].debtor_id != placed["A-5"].debtor_id  # a name and last four alone are not enough
    assert placed["A-2"].debtor.kind == "person"
    # The next file's check says how many rows are debtors already on file.
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "next.csv",
                                                      b"Account,Name,SSN,Address,City,State,ZIP,Balance\n"
                                                      b"B-1,Richard Stevens,111-11-2347,12 Oak St,Dayton,OH,45402,5\n"
                                                      b"B-2,Richard Stevens,111-11-2347,12 Oak St,Dayton,OH,45402,6\n"
                                                      b"B-3,Richard Stevens,999-99-2347,5 Bay Rd,Tampa,FL,33602,7\n"),
                  django_capture_on_commit_callbacks)
    assert (batch.check_summary["matched_rows"], batch.check_summary["matched_debtors"]) == (2, 1)
    client = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency, client.client):
        from django.test import Client
        browser = Client()
        browser.force_login(client.admin)
        page = browser.get(f"/placements/{batch.pk}/").content.decode()
    assert "2</strong> rows belong to 1 debtor already on file" in page


def test_the_clients_own_debtor_id_decides_when_the_file_has_one(place_it, world, persona):
    place_it("ids.csv", b"Invoice #,Customer ID,Customer,Email,Balance\n"
                        b"I-1,C-9,ACME Corp.,ap@acme.test,10.00\nI-2,C-9,Acme Corporation,billing@acme.test,20.00\n"
                        b"I-3,C-10,ACME Corp.,ap@acme.test,30.00\n")
    placed = accounts(world, persona)
    assert placed["I-1"].debtor_id == placed["I-2"].debtor_id != placed["I-3"].debtor_id


def test_debtors_on_file_before_get_the_new_keys_and_match_later_files(place_it, world, persona):
    import importlib

    from django.apps import apps

    place_it("first.csv", STEVENS)
    with tenant_scope(world.alpha.agency):
        keys = dict(Debtor.objects.values_list("id", "debtor_key"))
        Debtor.objects.update(debtor_key=models.F("id"))  # as if keyed the old way
        importlib.import_module("collections_work.migrations.0019_debtor_keys_without_weak_matches").rekey_debtors(
            apps, None)
        assert dict(Debtor.objects.values_list("id", "debtor_key")) == keys
