"""Hostile files (built here, part by part) against the intake's limits.

The web request only sniffs an upload (size, first bytes, zip directory); reading and checking
run in the worker's child process (collections_work.placements.intake.sandbox) under limits on parts,
sheets, shared strings, columns, wall time and memory, and a file past one is refused with a
message naming the limit. These tests run that child for real (`sandboxed`)."""
import io
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_work.placements import services
from collections_work.placements.intake import reader
from collections_work.placements.intake.files import zip_limits
from collections_work.models import DebtorAccount, PlacementBatch
from portal.errors import DomainError
from portal.tenancy import tenant_scope
from tests.collections_work.placements import hostile_workbooks as hostile
from tests.collections_work.placements.intake_helpers import check, place, read, upload


@pytest.fixture
def sandboxed(settings):
    """Read and check in the child process, with its time and memory limits, as in production."""
    settings.INTAKE_SANDBOX_IN_PROCESS = False


@pytest.fixture
def persona(world):
    return world.alpha.clients[0]


def refused_by_the_request(persona, world, name, content) -> str:
    """The upload request's sniff refuses the file: nothing stored, no batch, no reader run."""
    with pytest.raises(DomainError) as raised:
        upload(persona, world.alpha.agency, name, content)
    with tenant_scope(world.alpha.agency):
        assert not PlacementBatch.objects.exists()
    return raised.value.message


def refused_by_the_worker(persona, world, name, content) -> PlacementBatch:
    """The request accepts the file; the worker's reading refuses it: failed with the message,
    the stored file deleted, nothing placed."""
    batch = upload(persona, world.alpha.agency, name, content)
    assert batch.status == PlacementBatch.Status.FAILED, (batch.status, batch.headers)
    assert not batch.source_file.storage.exists(batch.source_file.name)
    with tenant_scope(world.alpha.agency):
        assert not DebtorAccount.objects.exists()
    return batch


class Spy:
    """Fails the test if a reader runs while it is active."""

    def __init__(self, monkeypatch):
        import openpyxl

        from collections_work.placements.intake import sandbox

        def forbidden(*args, **kwargs):
            raise AssertionError("the file was parsed here")

        for target, name in ((openpyxl, "load_workbook"), (reader, "inspect"), (reader, "records"),
                             (sandbox, "run")):
            monkeypatch.setattr(target, name, forbidden)


# --- 2: many sheets ---------------------------------------------------------------------------

def test_a_workbook_with_more_sheets_than_the_limit_is_refused_by_the_requests_sniff(persona, world, monkeypatch):
    """Issue 11 case 2: 200 one-cell sheets, the header on the last, 3 MB of shared strings."""
    content = hostile.many_sheets(200, filler_bytes=3_000_000)
    assert len(content) < 200_000
    Spy(monkeypatch)
    started = time.monotonic()
    message = refused_by_the_request(persona, world, "sheets.xlsx", content)
    assert time.monotonic() - started < 2
    assert "the workbook has 200 sheets; the limit is 100" in message


def test_the_sheets_are_searched_in_one_pass_over_a_workbook_opened_once(persona, world, settings, sandboxed,
                                                                          monkeypatch):
    """With the sheet limit raised, the same workbook is read in seconds (it took 164 s when the
    header search opened the workbook again for every sheet)."""
    settings.INTAKE_MAX_SHEETS = 250
    content = hostile.many_sheets(200, filler_bytes=3_000_000)
    started = time.monotonic()
    batch = upload(persona, world.alpha.agency, "sheets.xlsx", content)
    assert time.monotonic() - started < 30
    assert batch.status == PlacementBatch.Status.UPLOADED
    assert (batch.sheet, batch.headers, len(batch.sheet_names)) == ("Sheet 200", ["Reference", "Debtor name", "Balance"], 200)
    assert batch.sample_rows == [["R-1", "Acme", "10"], ["R-2", "Beta", "20"]]

    import openpyxl

    opened = []
    real_load = openpyxl.load_workbook
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a) or real_load(*a, **k))
    reader.inspect(Path(batch.source_file.path), "xlsx", limits=zip_limits())
    assert len(opened) == 1


def test_a_workbook_declaring_more_sheets_than_the_limit_is_refused_by_the_worker(persona, world):
    """One sheet part, a workbook part that lists 150 sheets: the directory looks fine, the
    worker counts the sheets before opening it."""
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                            declared_sheets=150)
    batch = refused_by_the_worker(persona, world, "declared.xlsx", content)
    assert "the workbook has 150 sheets; the limit is 100" in batch.error_message


# --- 3: shared strings, parts ---------------------------------------------------------------

def test_a_shared_strings_memory_bomb_inside_the_ratio_limit_is_refused_before_anything_parses_it(
        persona, world, signed_in, monkeypatch):
    """Issue 11 case 3: shared strings that unpack to 500 MB, a stored random part keeping the
    ratio under the limit. The upload request refuses it from the zip directory, in bounded time
    and memory, without parsing it (it took 430 s and 3 GB, then each mapping page again)."""
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                            filler_bytes=500_000_000, noise=7_200_000)
    assert 7_000_000 < len(content) < 10_000_000  # 50-70 times smaller than it unpacks
    Spy(monkeypatch)
    browser = signed_in(persona.admin)
    tracemalloc.start()
    started = time.monotonic()
    page = browser.post("/placements/upload/", {"file": SimpleUploadedFile("bomb.xlsx", content)}).content.decode()
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert re.search(r"the workbook&#x27;s shared text \(xl/sharedStrings.xml\) unpacks to 50\d\.\d MB; "
                     r"the limit is 100.0 MB", page), page[page.find("<main"):][:3000]
    assert elapsed < 5 and peak < 40_000_000, (elapsed, peak)  # the upload itself is held in memory here
    with tenant_scope(world.alpha.agency):
        assert not PlacementBatch.objects.exists()


def test_shared_strings_past_the_count_limit_are_refused_by_the_worker(persona, world, settings):
    settings.INTAKE_MAX_SHARED_STRINGS = 50_000
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                            filler_strings=60_000, filler_text="x", noise=40_000)
    batch = refused_by_the_worker(persona, world, "strings.xlsx", content)
    assert "the workbook has more than 50,000 distinct text values; the limit is 50,000" in batch.error_message


def test_a_part_larger_than_its_limit_is_refused_and_a_part_that_lies_about_its_size_is_damaged(persona, world,
                                                                                              settings):
    settings.INTAKE_MAX_SHARED_STRINGS_BYTES = 1_000_000
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"]]}, filler_bytes=2_000_000,
                            noise=40_000)
    message = refused_by_the_request(persona, world, "big.xlsx", content)
    assert re.search(r"unpacks to 2\.\d MB; the limit is 1\.0 MB", message), message

    settings.INTAKE_MAX_SHARED_STRINGS_BYTES = 100_000_000
    liar = hostile.lie_about_size(content, "xl/sharedStrings.xml", 1000)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("xl/sharedStrings.xml").file_size == 1000
    batch = refused_by_the_worker(persona, world, "liar.xlsx", liar)
    assert "is damaged: its part xl/sharedStrings.xml could not be read" in batch.error_message


def test_too_many_parts_are_refused_from_the_end_record_before_the_directory_is_read(persona, world, settings,
                                                                                    monkeypatch):
    content = hostile.many_parts(2_500)

    def no_directory(*args, **kwargs):
        raise AssertionError("the whole directory was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", no_directory)
    message = refused_by_the_request(persona, world, "parts.xlsx", content)
    assert "holds 2,501 parts; the limit is 2,000" in message


def test_a_document_type_declaration_is_refused_before_entities_could_expand(persona, world):
    laughs = ('<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                            shared_strings_prolog=laughs)
    batch = refused_by_the_worker(persona, world, "laughs.xlsx", content)
    assert "declares a document type" in batch.error_message


def test_a_header_wider_than_the_column_limit_is_refused(persona, world, settings):
    settings.INTAKE_MAX_COLUMNS = 40
    header = "Reference,Debtor name,Balance," + ",".join(f"Extra {n}" for n in range(60))
    batch = refused_by_the_worker(persona, world, "wide.csv", f"{header}\nR-1,Acme,1\n".encode())
    assert "The header row has 63 columns; the limit is 40" in batch.error_message


# --- Time and memory: the child process's own limits ------------------------------------------

def test_reading_past_the_memory_limit_is_refused_with_the_limit_named(persona, world, settings, sandboxed):
    settings.INTAKE_PARSE_MAX_MEMORY_MB = 100
    settings.INTAKE_MAX_SHARED_STRINGS = 2_000_000
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                            filler_strings=600_000, noise=300_000)
    batch = refused_by_the_worker(persona, world, "memory.xlsx", content)
    assert "Reading the file needed more than the 100 MB memory limit" in batch.error_message


def test_reading_past_the_time_limit_is_refused_with_the_limit_named(persona, world, settings, sandboxed):
    settings.INTAKE_READ_MAX_SECONDS = 1
    settings.INTAKE_MAX_SHARED_STRINGS = 2_000_000
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                            filler_strings=900_000, noise=400_000)
    started = time.monotonic()
    batch = refused_by_the_worker(persona, world, "slow.xlsx", content)
    assert time.monotonic() - started < 15
    assert "Reading the file took longer than the 1-second limit" in batch.error_message


def test_checking_past_the_time_limit_fails_the_check_with_the_limit_named(
        persona, world, settings, sandboxed, django_capture_on_commit_callbacks):
    """A cell that would make a pattern backtrack for hours, or simply a long file: the check
    runs in the child and stops at INTAKE_CHECK_MAX_SECONDS; nothing is placed."""
    settings.INTAKE_CHECK_MAX_SECONDS = 1
    rows = "".join(f"R-{n},Debtor {n},{n}.50,debtor{n}@example.test\n" for n in range(400_000))
    batch = upload(persona, world.alpha.agency, "long.csv", ("Reference,Debtor name,Balance,Email\n" + rows).encode())
    batch = check(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks)
    assert batch.status == PlacementBatch.Status.FAILED
    assert "Checking the file took longer than the 1-second limit" in batch.error_message


def test_an_email_cell_built_to_backtrack_is_a_row_error_at_once():
    from collections_work.placements.intake.values import parse_email

    started = time.monotonic()
    with pytest.raises(ValueError):
        parse_email("a@" + "b." * 500_000 + "@")
    assert time.monotonic() - started < 0.5


def test_a_normal_workbook_is_read_and_placed_through_the_child_process(persona, world, sandboxed,
                                                                         django_capture_on_commit_callbacks):
    content = hostile.build({"Notes": [["Exported today"]],
                             "Accounts": [["Open items"], ["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 12.5],
                                          ["R-2", "Beta", "7.25"], ["R-3", "", "x"]]})
    batch = upload(persona, world.alpha.agency, "export.xlsx", content)
    assert (batch.status, batch.sheet, batch.options["header_row"]) == (PlacementBatch.Status.UPLOADED, "Accounts", 2)
    batch = check(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks)
    assert (batch.status, batch.valid_rows, batch.invalid_rows) == (PlacementBatch.Status.PREVIEWED, 2, 1)
    batch = place(persona, world.alpha.agency, batch, django_capture_on_commit_callbacks)
    assert batch.created_count == 2


# --- The pages never parse -----------------------------------------------------------------------

def test_the_upload_request_only_sniffs_and_the_page_says_the_file_is_being_read(persona, world, signed_in,
                                                                                monkeypatch):
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]})
    browser = signed_in(persona.admin)
    Spy(monkeypatch)
    response = browser.post("/placements/upload/", {"file": SimpleUploadedFile("export.xlsx", content)})
    page = browser.get(response.url).content.decode()
    assert "Reading your file…" in page
    with tenant_scope(world.alpha.agency):
        assert PlacementBatch.objects.get().status == PlacementBatch.Status.READING


def test_the_mapping_page_shows_what_the_worker_stored_and_never_opens_the_file(persona, world, signed_in,
                                                                             monkeypatch):
    content = b"Reference,Debtor name,Balance\nR-1,Acme Corp,10\nR-2,Beta LLC,20\n"
    batch = upload(persona, world.alpha.agency, "export.csv", content)
    Path(batch.source_file.path).unlink()  # nothing could parse it now
    Spy(monkeypatch)
    page = signed_in(persona.admin).get(f"/placements/{batch.pk}/mapping/").content.decode()
    assert "Match your columns" in page and "Acme Corp" in page and "Beta LLC" in page


def test_a_chosen_sheet_with_no_header_keeps_the_earlier_sheet_and_says_why(persona, world, signed_in):
    content = hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]],
                             "Notes": [["nothing to see"]]})
    agency = world.alpha.agency
    batch = upload(persona, agency, "export.xlsx", content)
    with tenant_scope(agency, persona.client):
        services.placement_choose_sheet(agency=agency, actor=persona.admin, batch=batch, sheet="Notes")
    batch = read(agency, batch)
    assert (batch.status, batch.sheet, batch.headers) == (PlacementBatch.Status.UPLOADED, "Accounts",
                                                          ["Reference", "Debtor name", "Balance"])
    page = signed_in(persona.admin).get(f"/placements/{batch.pk}/mapping/").content.decode()
    assert "No header row found in the first 20 rows of sheet “Notes”" in page
