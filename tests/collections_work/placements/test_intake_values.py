"""Issue 13, items 1-8: money and identifiers never change meaning silently, and files are read
the way clients really save them (encodings, workbook structure, styled empty rows, serial dates)."""
import codecs
import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from collections_work.models import DebtorAccount, PlacementBatch
from collections_work.placements.intake import reader
from collections_work.placements.intake.values import parse_amount
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import check, place_file, upload


@pytest.fixture
def persona(world):
    return world.alpha.clients[0]


@pytest.fixture
def place(persona, world, django_capture_on_commit_callbacks):
    def run(name, content, **kwargs):
        return place_file(persona, world.alpha.agency, django_capture_on_commit_callbacks, name, content, **kwargs)
    return run


@pytest.fixture
def checked(persona, world, django_capture_on_commit_callbacks):
    def run(name, content, **kwargs):
        agency = world.alpha.agency
        return check(persona, agency, upload(persona, agency, name, content), django_capture_on_commit_callbacks,
                     **kwargs)
    return run


def accounts(world, persona):
    with tenant_scope(world.alpha.agency, persona.client):
        return {a.client_reference: a for a in DebtorAccount.objects.select_related("debtor")}


def messages(batch):
    return {(e["row"], e["column"]): e["message"] for e in batch.errors_sample}


def workbook_bytes(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- 1. Currency ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, currency, expected", [
    ("€1,234.56", "EUR", "1234.56"), ("£1,234.56", "GBP", "1234.56"), ("1,234.56 €", "EUR", "1234.56"),
    ("EUR 1,234.56", "EUR", "1234.56"), ("¥123456", "JPY", "123456.00"), ("US$1,234.56", "USD", "1234.56"),
    ("R$ 1,234.56", "BRL", "1234.56"), ("CHF 1'234.56", "CHF", "1234.56"), ("₹1,23,456.78", "INR", "123456.78"),
    ("$1,234.56", "USD", "1234.56"), ("$1,234.56", "CAD", "1234.56"), ("-$5.00", "USD", "-5.00"),
    ("(€12.00)", "EUR", "-12.00"), ("1 234,56 €", "EUR", "1234.56"),
])
def test_an_amount_in_the_placements_currency_is_read_whatever_its_sign_or_grouping(text, currency, expected):
    amount_format = "comma" if text == "1 234,56 €" else "dot"
    assert parse_amount(text, amount_format, currency) == Decimal(expected)


@pytest.mark.parametrize("text, named", [
    ("€1,234.56", "EUR"), ("£1,234.56", "GBP"), ("1,234.56 €", "EUR"), ("EUR 1,234.56", "EUR"), ("¥123456", "JPY"),
    ("R$ 1,234.56", "BRL"), ("CHF 1'234.56", "CHF"), ("₹1,23,456.78", "INR"), ("CA$10", "CAD"),
])
def test_an_amount_naming_another_currency_is_refused_and_says_which(text, named):
    with pytest.raises(ValueError, match=rf"is in .*{named}.*but this placement is in USD"):
        parse_amount(text, "dot", "USD")


def test_a_placement_is_in_the_clients_currency_and_rows_in_another_are_errors(checked, place, world, persona):
    persona.client.currency = "EUR"
    persona.client.save()
    content = ("Reference,Debtor name,Balance\nR-1,Acme,\"€1,234.56\"\nR-2,Beta,\"1,234.56 €\"\n"
               "R-3,Gamma,\"EUR 1,234.56\"\nR-4,Delta,\"$1,234.56\"\nR-5,Eps,\"¥123456\"\n").encode()
    batch = checked("eu.csv", content)
    assert batch.options["currency"] == "EUR" and (batch.valid_rows, batch.invalid_rows) == (3, 2)
    found = messages(batch)
    assert "but this placement is in EUR" in found[(5, "Balance")] and "USD" in found[(5, "Balance")]
    assert "JPY" in found[(6, "Balance")]
    place("eu.csv", content)
    placed = accounts(world, persona)
    assert set(placed) == {"R-1", "R-2", "R-3"}
    assert {(a.currency, a.principal) for a in placed.values()} == {("EUR", Decimal("1234.56"))}


def test_a_workbook_number_whose_format_names_another_currency_is_a_row_error(checked):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Reference", "Debtor name", "Balance"])
    workbook.active.append(["R-1", "Acme", 1234.5])
    workbook.active.append(["R-2", "Beta", 99])
    workbook.active["C2"].number_format = "[$€-407] #,##0.00"
    workbook.active["C3"].number_format = '"$"#,##0.00'
    batch = checked("eu.xlsx", workbook_bytes(workbook))
    assert batch.sample_rows[0][2] == "€1234.5"
    assert (batch.valid_rows, batch.invalid_rows) == (1, 1)
    assert "is in EUR (€), but this placement is in USD" in messages(batch)[(2, "Balance")]


def test_the_currency_chosen_on_the_mapping_page_is_the_accounts_currency(place, world, persona):
    place("jp.csv", "Reference,Debtor name,Balance\nJ-1,Tanaka KK,¥123456\n".encode(), options={"currency": "JPY"})
    account = accounts(world, persona)["J-1"]
    assert (account.currency, account.balance) == ("JPY", Decimal("123456.00"))


def test_an_account_placed_in_one_currency_is_not_updated_by_a_placement_in_another(place, world, persona,
                                                                                   checked, django_capture_on_commit_callbacks):
    place("a.csv", b"Reference,Debtor name,Balance\nR-1,Acme,100\n")
    batch = checked("b.csv", "Reference,Debtor name,Balance\nR-1,Acme,€90\n".encode(), options={"currency": "EUR"},
                    on_duplicate="update")
    from tests.collections_work.placements.intake_helpers import place as commit

    batch = commit(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks)
    assert batch.status == PlacementBatch.Status.FAILED
    assert "R-1 (row 2, placed in USD)" in batch.error_message
    account = accounts(world, persona)["R-1"]
    assert (account.currency, account.principal) == ("USD", Decimal("100.00"))
    skipped = place("c.csv", "Reference,Debtor name,Balance\nR-1,Acme,€90\n".encode(), options={"currency": "EUR"})
    assert skipped.skipped_count == 1  # skipping changes nothing, so the currency does not matter


def test_the_account_page_shows_the_currency_and_totals_are_never_added_across_currencies(
        place, world, persona, signed_in):
    place("jp.csv", "Reference,Debtor name,Balance\nJ-1,Tanaka KK,¥5000\n".encode(), options={"currency": "JPY"})
    place("us.csv", b"Reference,Debtor name,Balance\nU-1,Acme,$100\n")
    account = accounts(world, persona)["J-1"]
    browser = signed_in(persona.admin)
    assert "JPY" in browser.get(f"/debtor-accounts/{account.pk}/").content.decode()
    home = browser.get("/placements/summary/").content.decode()
    assert "$100" in home and "5,000" in home and "JPY" in home and "5,100" not in home
    intake = signed_in(world.alpha.admin).get("/agency/intake/").content.decode()
    assert "5,000.00 JPY" in intake and "100.00 USD" in intake


# --- 2. Identifiers read as numbers ------------------------------------------------------------

def test_identifiers_keep_the_text_excel_shows_and_lost_digits_are_row_errors(place, checked, world, persona):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Account #", "Debtor name", "State", "ZIP", "Balance"])
    sheet.append([42, "Acme", "MA", 2134, 100])
    sheet.append([43, "Beta", "MA", 2134, 100])
    for row in (2, 3):
        sheet.cell(row, 1).number_format = "00000000"
    sheet.cell(2, 4).number_format = "00000"  # row 3's ZIP is General: its zero is lost
    batch = checked("ids.xlsx", workbook_bytes(workbook))
    assert batch.sample_rows[0][0] == "00000042"
    assert "lost its leading zero (the ZIP is likely 02134)" in messages(batch)[(3, "ZIP")]
    assert "format the column as Text" in messages(batch)[(3, "ZIP")]
    place("ids.xlsx", workbook_bytes(workbook))
    account = accounts(world, persona)["00000042"]
    with tenant_scope(world.alpha.agency):
        assert account.debtor.contacts.get(kind="address").value == "MA 02134"
    again = place("later.csv", b"Account #,Debtor name,Balance\n00000042,Acme,100\n")
    assert (again.created_count, again.skipped_count) == (0, 1)  # the same account, not a second one


def test_an_identifier_in_scientific_notation_is_a_row_error(checked):
    batch = checked("sci.csv", b"Reference,Debtor name,Balance\n4.20001E+11,Acme,100\n")
    assert "scientific notation" in messages(batch)[(2, "Reference")]


# --- 3. The accounting dash -------------------------------------------------------------------

def test_an_accounting_dash_is_zero(place, world, persona):
    place("dash.csv", b'Reference,Debtor name,Balance,Interest,Fees,Paid\nR-1,Acme,100," $-   ",-," $ - "\n')
    account = accounts(world, persona)["R-1"]
    assert (account.interest, account.fees, account.paid, account.balance) == (0, 0, 0, 100)


@pytest.mark.parametrize("text", ["--", "$", "- -"])
def test_other_dashes_and_signs_alone_are_still_not_amounts(text):
    with pytest.raises(ValueError, match="is not an amount"):
        parse_amount(text, "dot", "USD")


# --- 4. Paid to date on update ----------------------------------------------------------------

def test_an_update_restates_the_paid_to_date_and_keeps_payments_recorded_here(place, world, persona):
    place("a.csv", b"Reference,Debtor name,Balance,Paid\nR-1,Acme,1000,0\nR-2,Beta,1000,0\n")
    with tenant_scope(world.alpha.agency, persona.client):  # a payment the agency recorded on R-2
        DebtorAccount.objects.filter(client_reference="R-2").update(paid=100, principal_paid=100, balance=900)
    batch = place("b.csv", b"Reference,Debtor name,Balance,Paid\nR-1,Acme,1000,300.00\nR-2,Beta,1000,300\n",
                  on_duplicate="update")
    assert batch.updated_count == 2
    found = accounts(world, persona)
    one, two = found["R-1"], found["R-2"]
    assert (one.paid, one.paid_at_placement, one.balance) == (300, 300, 700)
    assert (two.paid, two.paid_at_placement, two.balance) == (400, 300, 600)
    place("c.csv", b"Reference,Debtor name,Balance\nR-1,Acme,1000\n", on_duplicate="update")
    assert accounts(world, persona)["R-1"].paid == 300  # no paid column: what was paid stays


def test_the_mapping_and_the_summary_say_what_an_update_does_with_the_paid_column(world, persona, signed_in, checked):
    batch = checked("a.csv", b"Reference,Debtor name,Balance,Paid\nR-1,Acme,1000,0\n", on_duplicate="update")
    browser = signed_in(persona.admin)
    mapping = browser.get(f"/placements/{batch.pk}/mapping/").content.decode()
    assert "paid-to-date before placement" in mapping and "payments recorded" in mapping
    summary = browser.get(f"/placements/{batch.pk}/").content.decode()
    assert "replaces the paid-to-date before placement" in summary


# --- 5. Encodings ------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                           ("utf-16-le", b""), ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_unicode_text_files_are_read(place, world, persona, encoding, bom):
    text = "Reference\tDebtor name\tBalance\r\nR-1\tMüller GmbH\t1234.56\r\nR-2\tŁódź Sp. z o.o.\t10\r\n"
    batch = place("unicode.txt", bom + text.encode(encoding))
    assert batch.headers == ["Reference", "Debtor name", "Balance"]
    found = accounts(world, persona)
    assert found["R-1"].debtor_name == "Müller GmbH" and found["R-2"].debtor_name == "Łódź Sp. z o.o."


# --- 6. Workbook structure --------------------------------------------------------------------

def _template_and_accounts(active: str, hide_template=True) -> openpyxl.Workbook:
    workbook = openpyxl.Workbook()
    old = workbook.active
    old.title = "Old template"
    old.append(["Reference", "Debtor name", "Balance"])
    old.append(["OLD-1", "Stale Ltd", 999])
    if hide_template:
        old.sheet_state = "hidden"
    current = workbook.create_sheet("Accounts")
    current.append(["Reference", "Debtor name", "Balance"])
    current.append(["R-1", "Acme", 100])
    workbook.create_sheet("Notes").append(["Reference", "Debtor name", "Balance"])
    workbook.active = workbook.sheetnames.index(active)
    return workbook


def test_a_hidden_first_sheet_is_not_read_and_the_page_says_which_sheet_was(place, world, persona, signed_in):
    batch = place("book.xlsx", workbook_bytes(_template_and_accounts("Accounts")))
    assert batch.sheet == "Accounts" and batch.options["hidden_sheets"] == ["Old template"]
    assert set(accounts(world, persona)) == {"R-1"}
    page = signed_in(persona.admin).get(f"/placements/{batch.pk}/").content.decode()
    assert "sheet “Accounts”" in page


def _with_active_tab(content: bytes, tab: int) -> bytes:
    """The workbook with `tab` as its stored active sheet (openpyxl would never save a hidden one)."""
    return _rewrite(content, "xl/workbook.xml", lambda data: re.sub(rb'activeTab="\d+"', b'activeTab="%d"' % tab, data)
                    if b"activeTab" in data else data.replace(b"<workbookView ", b'<workbookView activeTab="%d" ' % tab))


@pytest.mark.parametrize("active_tab", [0, 9])  # the hidden template, or past the last sheet
def test_without_a_visible_active_sheet_the_first_visible_one_is_read(checked, signed_in, persona, active_tab):
    content = _with_active_tab(workbook_bytes(_template_and_accounts("Accounts")), active_tab)
    batch = checked("book.xlsx", content)
    assert batch.sheet == "Accounts" and batch.valid_rows == 1
    page = signed_in(persona.admin).get(f"/placements/{batch.pk}/mapping/").content.decode()
    assert "the first visible sheet" in page and "Old template (hidden)" in page


def _rewrite(content: bytes, part: str, change) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, change(data) if item.filename == part else data)
    return out.getvalue()


def _with_dimension(content: bytes, ref: str) -> bytes:
    """The workbook with its first sheet's stored size ("dimension") replaced by `ref`."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>'.encode(), data)
            target.writestr(item, data)
    return out.getvalue()


def test_a_workbook_is_read_whatever_size_it_claims(place, world, persona):
    workbook = openpyxl.Workbook()
    for row in [["Reference", "Debtor name", "Balance"], *[[f"R-{n}", f"Debtor {n}", n] for n in range(1, 6)]]:
        workbook.active.append(row)
    batch = place("small.xlsx", _with_dimension(workbook_bytes(workbook), "A1:B2"))
    assert batch.created_count == 5 and accounts(world, persona)["R-5"].principal == 5


# --- 7. Styled empty rows ---------------------------------------------------------------------

def _styled_down_to_the_last_row(content: bytes) -> bytes:
    """Every row after the data down to 1,048,576 holds a formatted empty cell, and the sheet's
    stored size says so, as in exports whose whole columns were formatted."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                empty = "".join(f'<row r="{n}"><c r="A{n}" s="1"/></row>' for n in range(5, 1_048_577)).encode()
                data = data.replace(b"</sheetData>", empty + b"</sheetData>")
                data = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:C1048576"/>', data)
            target.writestr(item, data)
    return out.getvalue()


def test_formatted_empty_rows_to_the_last_row_end_the_data_where_it_ends(place, world, persona, settings):
    workbook = openpyxl.Workbook()
    for row in [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1], ["R-2", "Beta", 2], ["R-3", "Gamma", 3]]:
        workbook.active.append(row)
    workbook.active["A5"].number_format = "0.00"  # makes style 1 for the empty cells
    content = _styled_down_to_the_last_row(workbook_bytes(workbook))
    path = settings.MEDIA_ROOT and None
    batch = place("styled.xlsx", content)
    assert (batch.total_rows, batch.created_count) == (3, 3)
    from pathlib import Path
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".xlsx") as handle:
        handle.write(content)
        handle.flush()
        info = reader.TableInfo(kind="xlsx", headers=[], header_row=1, sheet="Sheet")
        read = sum(1 for _ in reader.records(Path(handle.name), info))
    assert read < 4 + reader.END_OF_DATA_BLANK_ROWS + 1  # not a million rows
    assert path is None


# --- 8. Excel serial dates --------------------------------------------------------------------

@pytest.mark.parametrize("date_system, serial", [("1900", 45688), ("1904", 45688 - 1462)])
def test_serial_numbers_in_a_date_column_of_a_workbook_are_dates(place, world, persona, signed_in, checked,
                                                                  date_system, serial):
    workbook = openpyxl.Workbook()
    if date_system == "1904":
        workbook.epoch = CALENDAR_MAC_1904
    workbook.active.append(["Reference", "Debtor name", "Balance", "Due date"])
    workbook.active.append(["R-1", "Acme", 100, serial])  # a General cell, as many exports write dates
    content = workbook_bytes(workbook)
    batch = checked("dates.xlsx", content)
    page = signed_in(persona.admin).get(f"/placements/{batch.pk}/mapping/").content.decode()
    assert "2025-01-31" in page and f"(Excel {serial})" in page
    place("dates.xlsx", content)
    assert accounts(world, persona)["R-1"].due_date == date(2025, 1, 31)


def test_a_number_that_cannot_be_a_date_is_still_a_row_error(checked):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Reference", "Debtor name", "Balance", "Due date"])
    workbook.active.append(["R-1", "Acme", 100, 30])
    # Mapped by the user: the guess itself never gives a date field a column of small numbers.
    batch = checked("dates.xlsx", workbook_bytes(workbook),
                    mapping={"client_reference": 0, "debtor_name": 1, "principal": 2, "due_date": 3})
    assert "is a number, not a date" in messages(batch)[(2, "Due date")]


@pytest.mark.parametrize("cell, address", [("John.Doe@Example.com", "john.doe@example.com"),
                                           ("mailto:a@b.com", "a@b.com"), ("<a@b.com>", "a@b.com"),
                                           ("a@b.com;", "a@b.com"), ("x@exämple.com", "x@exämple.com")])
def test_an_email_cell_is_read_without_what_exports_wrap_it_in(cell, address):
    from collections_work.placements.intake.values import parse_email

    assert parse_email(cell) == address


@pytest.mark.parametrize("cell", ["josé@exämple.com", "a,b@example.com", "john@@example.com", "a@b", "a@b..com",
                                  "a b@c.com", "a@b.com; c@d.com", "a@x_y.com"])
def test_an_email_cell_mail_cannot_be_sent_to_is_refused(cell):
    from collections_work.placements.intake.values import parse_email

    with pytest.raises(ValueError, match="is not an email address"):
        parse_email(cell)
