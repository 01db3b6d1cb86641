"""Journey (issue 13, items 1-8): a client uploads the files real systems write — Excel's
"Unicode Text" (UTF-16 with a BOM, tab separated, amounts in euros) and a workbook whose first
sheet is a hidden old template and whose dates are Excel serial numbers — through the upload
page, sees which sheet was read and the converted dates, and places them. Screenshots at desktop
and phone widths go to test-artifacts/intake-values/.
"""
import codecs
import io

import openpyxl
import pytest
from celery.contrib.testing.worker import start_worker

from collections_work.models import DebtorAccount
from portal.celery import app as celery_app
from portal.tenancy import unscoped
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.e2e
SHOTS = ARTIFACTS / "intake-values"


@pytest.fixture
def real_worker(settings, transactional_db):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.INTAKE_SANDBOX_IN_PROCESS = False
    celery_app.conf.task_always_eager = False
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield
    celery_app.conf.task_always_eager = True


def shot(page, width_name, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{width_name}-{name}.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} at {width_name} is {overflow}px wider than the window"


def unicode_text_file(path):
    text = ("Account number\tCustomer\tAmount due\tEmail\r\n"
            "K-100\tMüller Bäckerei GmbH\t1.234,56 €\tbuchhaltung@mueller.example\r\n"
            "K-101\tŁódź Trading Sp. z o.o.\t€ 99,90\t\r\n"
            "K-102\tCafé Zürich AG\t$ 10,00\t\r\n")
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    return path


def hidden_template_workbook(path):
    workbook = openpyxl.Workbook()
    old = workbook.active
    old.title = "Old template"
    old.append(["Reference", "Debtor name", "Balance"])
    old.append(["OLD-1", "Stale Ltd", 999])
    old.sheet_state = "hidden"
    sheet = workbook.create_sheet("Accounts")
    sheet.append(["Account #", "Debtor name", "Balance", "Due date", "State", "ZIP"])
    sheet.append([42, "Acme Hardware LLC", 1250, 45688, "MA", 2134])
    sheet.append([43, "Beta Supplies Inc", " $-   ", 45689, "NH", 3301])
    for row in (2, 3):
        sheet.cell(row, 1).number_format = "00000000"
        sheet.cell(row, 6).number_format = "00000"
    workbook.active = 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def upload(page, path):
    page.goto("/placements/upload/")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Upload and continue").click()
    page.get_by_role("heading", name="Match your columns").wait_for(timeout=60_000)


@pytest.mark.parametrize("width_name", ["desktop", "mobile"])
def test_unicode_text_and_a_workbook_with_a_hidden_sheet_through_the_upload_page(
        world, new_page, real_worker, tmp_path, width_name):
    page = new_page(DESKTOP if width_name == "desktop" else MOBILE)
    persona = world.alpha.clients[0]
    sign_in(page, persona.admin.email, TEST_PASSWORD, expect_path="/client/")

    # Excel's "Unicode Text": read, mapped, amounts in euros with the comma format.
    upload(page, unicode_text_file(tmp_path / "offene-posten.txt"))
    page.get_by_text("Müller Bäckerei GmbH").first.wait_for()
    page.select_option("select[name=map_client_reference]", label="Account number")
    page.select_option("select[name=map_debtor_name]", label="Customer")
    page.select_option("select[name=map_principal]", label="Amount due")
    page.select_option("select[name=amount_format]", value="comma")
    page.select_option("select[name=currency]", value="EUR")
    shot(page, width_name, "1-unicode-text-mapping")
    page.get_by_role("button", name="Check the rows").click()
    page.get_by_text("Ready to place").first.wait_for(timeout=60_000)
    assert page.get_by_text("but this placement is in EUR").is_visible()  # the "$ 10,00" row
    shot(page, width_name, "2-unicode-text-checked")
    page.get_by_role("button", name="Place 2 accounts").click()
    page.get_by_text("2 accounts placed").wait_for(timeout=60_000)

    # A workbook whose first sheet is a hidden old template: the active sheet is read.
    upload(page, hidden_template_workbook(tmp_path / "accounts.xlsx"))
    assert page.get_by_text("sheet “Accounts” (the sheet the workbook opens on)").is_visible()
    assert page.get_by_text("Old template (hidden)").count() == 1
    page.get_by_text("2025-01-31").first.wait_for()  # the serial date 45688, converted
    assert page.get_by_text("00000042").first.is_visible()
    shot(page, width_name, "3-hidden-sheet-mapping")
    page.get_by_role("button", name="Check the rows").click()
    page.get_by_text("Ready to place").first.wait_for(timeout=60_000)
    shot(page, width_name, "4-hidden-sheet-checked")
    page.get_by_role("button", name="Place 1 account").click()
    page.get_by_text("1 account placed").wait_for(timeout=60_000)
    shot(page, width_name, "5-placed")
    with unscoped():
        placed = {a.client_reference: a for a in DebtorAccount.objects.filter(client=persona.client)}
    assert set(placed) == {"K-100", "K-101", "00000042"}
    assert (placed["K-100"].currency, str(placed["K-100"].principal)) == ("EUR", "1234.56")
    assert str(placed["00000042"].due_date) == "2025-01-31"
