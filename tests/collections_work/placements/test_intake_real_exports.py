"""Real-looking exports (issue 13, items 9, 10, 11, 21): columns guessed from names and values in
English, German, Spanish and French; one row per party; the debtor's time zone; matching debtors."""
from datetime import date
from decimal import Decimal

import pytest

from collections_work.models import AccountParty, Contact, Debtor, DebtorAccount
from collections_work.placements.intake import fields
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
