"""The importer against the files clients really send, and the ones it must refuse."""
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest

from collections_work.placements.intake.values import parse_amount
from collections_work.models import AccountParty, Contact, Debtor, DebtorAccount, PlacementBatch
from portal.errors import DomainError
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import check, place_file, read, upload, xlsx_bytes


@pytest.fixture
def persona(world):
    return world.alpha.clients[0]


@pytest.fixture
def place(persona, world, django_capture_on_commit_callbacks):
    def run(name, content, **kwargs):
        return place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, name, content, **kwargs)
    return run


def accounts(world, persona):
    with tenant_scope(world.alpha.agency, persona.client):
        return {a.client_reference: a for a in DebtorAccount.objects.select_related("debtor")}


def test_headers_with_other_names_and_order_are_guessed(place, world, persona):
    content = b"Balance Due,Customer,Cust #,Date Due\n250.00,Acme Corp,C-1,2024-03-31\n"
    batch = place("export.csv", content)
    assert batch.headers == ["Balance Due", "Customer", "Cust #", "Date Due"]
    assert batch.created_count == 1
    account = accounts(world, persona)["C-1"]
    assert account.debtor_name == "Acme Corp" and account.principal == Decimal("250.00")
    assert account.due_date == date(2024, 3, 31) and account.delinquency_date == date(2024, 3, 31)


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")])
def test_utf8_with_and_without_bom_and_windows_1252(place, world, persona, encoding, bom):
    content = bom + "Reference,Debtor name,Balance\nR-1,Société Générale Café,10.00\n".encode(encoding)
    batch = place("export.csv", content)
    assert batch.headers[0] == "Reference"  # no BOM left on the first header
    assert accounts(world, persona)["R-1"].debtor_name == "Société Générale Café"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_comma_semicolon_and_tab_delimiters(place, world, persona, delimiter):
    rows = [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", "10.00"], ["R-2", "Beta", "20.00"]]
    content = "\n".join(delimiter.join(r) for r in rows).encode()
    assert place("export.txt", content).created_count == 2


def test_quoted_fields_with_commas_and_newlines(place, world, persona):
    content = b'Reference,Debtor name,Address,Balance\nR-1,"Acme, Inc.","1 Main St\nSuite 5",10.00\n'
    batch = place("export.csv", content)
    account = accounts(world, persona)["R-1"]
    assert batch.created_count == 1 and account.debtor_name == "Acme, Inc."
    with tenant_scope(world.alpha.agency):
        assert Contact.objects.get(kind="address").value == "1 Main St\nSuite 5"


@pytest.mark.parametrize("text, amount_format, currency, expected", [
    ("1234.5", "dot", "USD", "1234.50"), ("$1,234.56", "dot", "USD", "1234.56"), ("(12.00)", "dot", "USD", "-12.00"),
    ("1.234,56", "comma", "EUR", "1234.56"), ("€ 1.234,5", "comma", "EUR", "1234.50"), (1234.5, "dot", "USD", "1234.50"),
])
def test_amount_formats(text, amount_format, currency, expected):
    assert parse_amount(text, amount_format, currency) == Decimal(expected)


@pytest.mark.parametrize("text, amount_format", [("12,50", "dot"), ("999,99", "dot"), ("1,2,3,4", "dot"),
                                                  ("1234,56", "dot"), ("12.50", "comma")])
def test_a_thousands_separator_out_of_place_is_refused_not_guessed(text, amount_format):
    """12,50 read with the 1,234.56 format is a decimal comma, not 1,250: the client is asked."""
    with pytest.raises(ValueError, match="only separates thousands"):
        parse_amount(text, amount_format)


def test_amounts_too_big_and_dates_with_junk_are_row_errors_not_crashes(persona, world,
                                                                       django_capture_on_commit_callbacks):
    content = (b"Reference,Debtor name,balance,Due date\n"
               b"R-1,Acme,12345678901234567,2024-01-31\nR-2,Beta," + b"1" * 40 + b",2024-01-31\n"
               b"R-3,Gamma,5,2024-01-05junk\nR-4,Delta,12,2024-01-31 00:00:00\nR-5,Epsilon,\"12,50\",2024-01-31\n")
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "x.csv", content),
                  django_capture_on_commit_callbacks)
    messages = {(e["row"], e["message"]) for e in batch.errors_sample}
    assert (2, "balance '12345678901234567' is more than 999,999,999,999.99") in messages
    assert (3, f"balance '{'1' * 40}' is not an amount") in messages
    assert any(row == 4 and "'2024-01-05junk' is not a date" in message for row, message in messages)
    assert any(row == 6 and "only separates thousands" in message for row, message in messages)
    assert batch.status == PlacementBatch.Status.PREVIEWED and batch.invalid_rows == 4


def test_bad_amounts_and_dates_are_reported_by_row_and_column(persona, world, django_capture_on_commit_callbacks):
    content = (b"Reference,Debtor name,balance,Due date\n"
               b"R-1,Acme,\"12,3x\",2024-01-31\nR-2,Beta,(12.00),31/13/2024\nR-3,Gamma,5,2024-02-30\n")
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "x.csv", content),
                  django_capture_on_commit_callbacks)
    messages = {(e["row"], e["column"], e["message"]) for e in batch.errors_sample}
    assert (2, "balance", "balance '12,3x' is not an amount") in messages
    assert (3, "balance", "balance '(12.00)' is negative") in messages
    assert any(row == 3 and column == "Due date" and "is not a date" in message for row, column, message in messages)
    assert any(row == 4 and "2024-02-30" in message for row, _, message in messages)
    assert (batch.valid_rows, batch.invalid_rows) == (0, 3)


def test_comma_decimal_amounts_and_local_dates_when_the_mapping_says_so(place, world, persona):
    content = "Reference;Debtor name;Balance;Due date\nR-1;Müller GmbH;1.234,56;31.01.2024\n".encode()
    place("export.csv", content, options={"amount_format": "comma", "date_format": "%d.%m.%Y"})
    account = accounts(world, persona)["R-1"]
    assert account.principal == Decimal("1234.56") and account.due_date == date(2024, 1, 31)


def test_blank_lines_and_trailing_empty_columns_are_ignored(place, world, persona, django_capture_on_commit_callbacks):
    content = b"\n\nReference,Debtor name,Balance,,,\n\nR-1,Acme,10.00,,,\n,,,,,\nR-2,Beta,20.00,,,\n\n"
    batch = place("export.csv", content)
    assert batch.headers == ["Reference", "Debtor name", "Balance"]
    assert (batch.total_rows, batch.created_count, batch.invalid_rows) == (2, 2, 0)
    bad = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "bad.csv",
                                                    b"Reference,Debtor name,Balance,,,\nR-3,Gamma,lots,,,\n"),
                django_capture_on_commit_callbacks)
    rows = bad.rejected_file.open("rb").read().decode("utf-8-sig").splitlines()
    assert rows == ["Row,Reasons,Reference,Debtor name,Balance", "2,Balance 'lots' is not an amount,R-3,Gamma,lots"]


def test_several_parties_on_one_account(place, world, persona):
    content = (b"Reference,Debtor name,Balance,Co-debtor name,Co-debtor email,Guarantor name,Guarantor phone\n"
               b"R-1,Acme Corp,100,Ann Partner,ann@example.test,Gus Guarantor,+1 555 010 2000\n")
    place("export.csv", content)
    with tenant_scope(world.alpha.agency):
        parties = {(p.role, p.debtor.name) for p in AccountParty.objects.select_related("debtor")}
        contacts = {(c.debtor.name, c.kind, c.value) for c in Contact.objects.select_related("debtor")}
    assert parties == {("co_debtor", "Ann Partner"), ("guarantor", "Gus Guarantor")}
    assert ("Ann Partner", "email", "ann@example.test") in contacts
    assert ("Gus Guarantor", "phone", "+15550102000") in contacts


def test_xlsx_with_several_sheets_merged_header_and_numbers_stored_as_text(
        persona, world, django_capture_on_commit_callbacks):
    content = xlsx_bytes({
        "Summary": [["Totals"], ["All accounts", 3]],
        "Accounts": [["Open items export", None, None, None], ["Reference", "Debtor name", "Balance", None],
                     ["R-1", "Acme", "1,234.50", None], ["R-2", "Beta", 99.5, None]],
    }, merge={"Accounts": ["A1:D1"]})
    agency = world.alpha.agency
    batch = upload(persona, agency, "export.xlsx", content)
    assert batch.sheet_names == ["Summary", "Accounts"] and batch.sheet == "Accounts"  # the sheet with a header
    from collections_work.placements import services

    with tenant_scope(agency, persona.client):
        batch = services.placement_choose_sheet(agency=agency, actor=persona.admin, batch=batch, sheet="Accounts")
    assert batch.status == PlacementBatch.Status.READING  # the worker reads the chosen sheet
    batch = read(agency, batch)
    assert batch.headers == ["Reference", "Debtor name", "Balance"]
    from tests.collections_work.placements.intake_helpers import place as commit

    batch = commit(persona, agency, check(persona, agency, batch, django_capture_on_commit_callbacks),
                   django_capture_on_commit_callbacks)
    assert batch.created_count == 2
    assert accounts(world, persona)["R-1"].principal == Decimal("1234.50")
    assert accounts(world, persona)["R-2"].principal == Decimal("99.50")


def test_a_merged_header_cell_keeps_every_column_addressable(persona, world):
    content = xlsx_bytes({"Sheet": [["Reference", "Debtor name", "Contact", None, "Balance"],
                                    ["R-1", "Acme", "a@x.test", "555 0100 200", "10"]]}, merge={"Sheet": ["C1:D1"]})
    batch = upload(persona, world.alpha.agency, "export.xlsx", content)
    assert batch.headers == ["Reference", "Debtor name", "Contact", "Contact (4)", "Balance"]


def test_the_same_file_twice_skips_or_updates_and_says_how_many(place, world, persona):
    first = b"Reference,Debtor name,Balance\nR-1,Acme,10.00\nR-2,Beta,20.00\n"
    assert place("a.csv", first).created_count == 2
    skipped = place("a.csv", first)
    assert (skipped.created_count, skipped.skipped_count, skipped.updated_count) == (0, 2, 0)
    changed = b"Reference,Debtor name,Balance\nR-1,Acme,15.00\nR-3,Gamma,30.00\n"
    updated = place("b.csv", changed, on_duplicate="update")
    assert (updated.created_count, updated.updated_count, updated.skipped_count) == (1, 1, 0)
    found = accounts(world, persona)
    assert len(found) == 3 and found["R-1"].principal == Decimal("15.00") and found["R-1"].balance == Decimal("15.00")


def test_an_update_keeps_what_the_file_does_not_give_and_the_status_follows_the_balance(place, world, persona):
    first = (b"Reference,Debtor name,Balance,Interest,Due date,Debt purpose\n"
             b"R-1,Acme,100,10,2024-01-31,Commercial\nR-2,Beta,50,0,2024-02-01,Commercial\n")
    place("a.csv", first)
    with tenant_scope(world.alpha.agency, persona.client):  # payments since placement
        DebtorAccount.objects.filter(client_reference="R-1").update(paid=60, balance=50)
        DebtorAccount.objects.filter(client_reference="R-2").update(paid=50, balance=0, status="paid")
    place("b.csv", b"Reference,Debtor name,Balance\nR-1,Acme,90\nR-2,Beta,80\n", on_duplicate="update")
    found = accounts(world, persona)
    one, two = found["R-1"], found["R-2"]
    assert (one.principal, one.interest, one.paid, one.balance) == (90, 10, 60, 40)
    assert (one.due_date, one.debt_purpose, one.status) == (date(2024, 1, 31), "commercial", "new")
    assert (two.balance, two.status) == (30, "active")  # paid in full, now owing again: back in collection
    # 40 + 10 owed with 60 paid: it was stored as a balance of -10.00, "paid". Refused, nothing changed.
    refused = place("c.csv", b"Reference,Debtor name,Balance\nR-1,Acme,40\n", on_duplicate="update")
    assert refused.status == PlacementBatch.Status.FAILED
    assert "R-1 (row 2: 50.00 owed, 60.00 already paid or written off)" in refused.error_message  # row 1: headers
    assert (accounts(world, persona)["R-1"].principal, accounts(world, persona)["R-1"].status) == (90, "new")
    place("d.csv", b"Reference,Debtor name,Balance\nR-1,Acme,50\n", on_duplicate="update")
    assert accounts(world, persona)["R-1"].status == "paid"  # 50 + 10 owed, 60 paid


def test_only_the_last_four_digits_of_a_tax_id_are_stored_and_debt_purpose_is_recorded(place, world, persona):
    content = b"Reference,Debtor name,Tax ID,Balance,Debt purpose\nR-1,Acme,12-3456789,10,Commercial\nR-2,Bo,,5,\n"
    place("x.csv", content, options={"default_debt_purpose": "consumer"})
    with tenant_scope(world.alpha.agency):
        debtors = {d.name: d for d in Debtor.objects.all()}
        stored = str(list(Debtor.objects.values()))
    assert debtors["Acme"].tax_id_last4 == "6789" and "3456789" not in stored
    found = accounts(world, persona)
    assert found["R-1"].debt_purpose == "commercial" and found["R-2"].debt_purpose == "consumer"


def test_formula_cells_are_stored_as_text_and_neutralised_in_the_rejected_rows_file(place, world, persona):
    content = b'Reference,Debtor name,Balance\nR-1,=HYPERLINK("http://x"),10\nR-2,+cmd,abc\n'
    batch = place("x.csv", content)
    assert accounts(world, persona)["R-1"].debtor_name == '=HYPERLINK("http://x")'
    rejected = batch.rejected_file.open("rb").read().decode("utf-8-sig")
    assert "'+cmd" in rejected and ",+cmd" not in rejected


def upload_error(persona, world, name, content) -> str:
    """The message a refused upload gets: from the request's sniff (nothing stored), or from the
    worker reading it (the batch failed with the message, its file deleted). Nothing is placed."""
    try:
        batch = upload(persona, world.alpha.agency, name, content)
    except DomainError as error:
        with tenant_scope(world.alpha.agency):
            assert not PlacementBatch.objects.exists()
        return error.message
    assert batch.status == PlacementBatch.Status.FAILED, batch.status
    assert not batch.source_file.storage.exists(batch.source_file.name)
    with tenant_scope(world.alpha.agency):
        assert not DebtorAccount.objects.exists()
    return batch.error_message


def test_files_over_the_size_limit_are_refused(persona, world, settings):
    settings.INTAKE_MAX_BYTES = 1000
    message = upload_error(persona, world, "big.csv", b"Reference,Debtor name,Balance\n" + b"R,A,1\n" * 300)
    assert "big.csv is 0.0 MB; the limit is 0.0 MB" in message or "the limit is" in message


def test_more_rows_than_the_limit_fail_the_check_and_nothing_is_placed(persona, world, settings,
                                                                         django_capture_on_commit_callbacks):
    settings.INTAKE_MAX_ROWS = 3
    content = b"Reference,Debtor name,Balance\n" + b"".join(b"R-%d,A,1\n" % i for i in range(5))
    batch = check(persona, world.alpha.agency, upload(persona, world.alpha.agency, "x.csv", content),
                  django_capture_on_commit_callbacks)
    assert batch.status == PlacementBatch.Status.FAILED and "more than 3 rows" in batch.error_message
    assert accounts(world, persona) == {}


def test_a_zip_bomb_named_xlsx_is_refused(persona, world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 50_000_000)
    message = upload_error(persona, world, "export.xlsx", buffer.getvalue())
    assert "out of proportion" in message


@pytest.mark.parametrize("name, content, expected", [
    ("export.csv", b"%PDF-1.4 binary", "does not contain text (its content is a PDF document)"),
    ("export.csv", b"PK\x03\x04zipdata", "does not contain text (its content is a ZIP archive"),
    ("export.xlsx", b"Reference,Debtor name,Balance\n", "is not an Excel workbook"),
    ("export.xls", b"\xd0\xcf\x11\xe0", "old Excel (.xls)"),
    ("export.pdf", b"%PDF", "only CSV"),
])
def test_a_file_whose_content_is_not_what_its_name_says_is_refused(persona, world, name, content, expected):
    assert expected in upload_error(persona, world, name, content)


def test_a_file_with_no_recognisable_header_is_refused(persona, world):
    message = upload_error(persona, world, "x.csv", b"foo,bar,baz\n1,2,3\n")
    assert "No header row found" in message
