"""Exports and the rejected-rows CSV never hand a spreadsheet a formula: not at a cell's start,
and not after a delimiter or line break a spreadsheet may split a value on (issue 11, case 8:
`;=...` in a file opened where ';' separates cells)."""
import csv
import io
import re

import pytest

from portal.spreadsheets import CELL_BREAKS, FORMULA_STARTS, neutralise_formula
from collections_work.models import DebtorAccount, PlacementBatch
from portal.tenancy import tenant_scope
from tests.collections_work.placements.intake_helpers import check, upload

HOSTILE = [
    ("=1+1", "'=1+1"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t'=1+1"),
    ("\r=1+1", "'\r'=1+1"),
    ("\tplain", "'\tplain"),
    (";=1+1", ";'=1+1"),
    ("Acme;=HYPERLINK(\"http://evil.example\",\"Pay here\")", "Acme;'=HYPERLINK(\"http://evil.example\",\"Pay here\")"),
    ("a;=cmd|' /C calc'!A0", "a;'=cmd|' /C calc'!A0"),
    (",=1+1", ",'=1+1"),
    ("a|@SUM(1)", "a|'@SUM(1)"),
    ("line one\n=1+1", "line one\n'=1+1"),
    ("line one\r\n+1", "line one\r\n'+1"),
    ("a\u2028-1", "a\u2028'-1"),
    ("a\x0b=1", "a\x0b'=1"),
    ("  =1+1", "'  =1+1"),
    ("\u00a0=1+1", "'\u00a0=1+1"),
    ("\u200b=1+1", "'\u200b=1+1"),
    ("a; =1+1", "a;' =1+1"),
    ("a;;=1+1", "a;;'=1+1"),
    ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals
    ("x;\uff0b1", "x;'\uff0b1"),
    ("+12125550199", "'+12125550199"),  # a phone number: a spreadsheet would keep only the digits
]
SAFE = ["", "Acme Corp", "Acme; Inc", "555-0100", "a=b", "1,234.56", "Suite 5\nSpringfield", "e-mail@example.test",
        "O'Brien", "'=already quoted", "-5.00", "-1,234.50"]


@pytest.mark.parametrize("value, expected", HOSTILE)
def test_every_place_a_formula_could_start_gets_a_quote(value, expected):
    assert neutralise_formula(value) == expected


@pytest.mark.parametrize("value", SAFE)
def test_values_that_cannot_start_a_formula_are_left_alone(value):
    assert neutralise_formula(value) == value


def cells_a_spreadsheet_could_see(line: str) -> list[str]:
    """Every cell a spreadsheet could make of a CSV line: read as CSV with each delimiter it
    might guess, and split on every delimiter and line break ignoring quotes altogether."""
    cells = []
    for delimiter in ",;\t|":
        for row in csv.reader(io.StringIO(line, newline=""), delimiter=delimiter):
            cells += row
    cells += re.split("[" + re.escape(CELL_BREAKS) + "]", line)
    return cells


FORMULA = re.compile("^[\"\\s\u200b-\u200d\u2060\ufeff]*[" + re.escape(FORMULA_STARTS) + "]")


@pytest.mark.parametrize("value", [value for value, _ in HOSTILE])
def test_no_cell_of_a_neutralised_value_starts_a_formula_however_the_file_is_split(value):
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["R-1", neutralise_formula(value), "10.00"])  # as the exports write it
    line = buffer.getvalue()
    assert [cell for cell in cells_a_spreadsheet_could_see(line) if FORMULA.match(cell)] == []
    if any(start in value for start in FORMULA_STARTS):  # (and the check does catch the raw value)
        buffer = io.StringIO()
        csv.writer(buffer).writerow(["R-1", value, "10.00"])
        assert [cell for cell in cells_a_spreadsheet_could_see(buffer.getvalue()) if FORMULA.match(cell)]


def test_the_csv_export_and_the_rejected_rows_file_neutralise_a_formula_after_a_semicolon(
        world, signed_in, django_capture_on_commit_callbacks):
    persona = world.alpha.clients[0]
    agency = world.alpha.agency
    content = ('Reference,Debtor name,Balance\nR-1,"Acme;=HYPERLINK(""http://x"")",10\n'
               'R-2,"Beta\n@SUM(1)",lots\n').encode()
    batch = check(persona, agency, upload(persona, agency, "x.csv", content), django_capture_on_commit_callbacks)
    rejected = batch.rejected_file.open("rb").read().decode("utf-8-sig")
    assert "Beta\n'@SUM(1)" in rejected and "\n@SUM" not in rejected
    from tests.collections_work.placements.intake_helpers import place

    place(persona, agency, batch, django_capture_on_commit_callbacks)
    with tenant_scope(agency):
        assert DebtorAccount.objects.get().debtor_name == 'Acme;=HYPERLINK("http://x")'  # stored as given
        assert PlacementBatch.objects.get().status == PlacementBatch.Status.COMPLETED
    response = signed_in(persona.admin).get("/debtor-accounts/export/", {"format": "csv"})
    exported = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Acme;'=HYPERLINK" in exported
    assert [cell for line in exported.splitlines() for cell in cells_a_spreadsheet_could_see(line)
            if FORMULA.match(cell)] == []
