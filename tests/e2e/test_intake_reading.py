"""Journey: the upload page hands the file to the worker, the page says "Reading your file…"
with a progress bar while the worker's child process reads it, and moves on to the mapping by
itself; a file refused by the request, one refused by the worker and a stalled placement each
say what happened. Screenshots at desktop and phone widths go to test-artifacts/intake-reading/.
"""
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from collections_work.models import PlacementBatch
from portal.celery import app as celery_app
from portal.tenancy import tenant_scope, unscoped
from tests.collections_work.placements import hostile_workbooks as hostile
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.e2e
SHOTS = ARTIFACTS / "intake-reading"


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


@pytest.mark.parametrize("width_name", ["desktop", "mobile"])
def test_the_upload_shows_reading_then_the_mapping_and_refusals_say_which_limit(
        world, new_page, real_worker, tmp_path, width_name, settings):
    page = new_page(DESKTOP if width_name == "desktop" else MOBILE)
    persona = world.alpha.clients[0]
    sign_in(page, persona.admin.email, TEST_PASSWORD, expect_path="/client/")

    # A workbook big enough to take a few seconds to read: the page says so, then moves on.
    workbook = tmp_path / "open-items.xlsx"
    workbook.write_bytes(hostile.build(
        {"Read me": [["Exported from Ledgerly"]],
         "Open items": [["Open items at 31 January"], [],
                        ["Invoice ref", "Customer", "Customer email", "Amount due", "Due date"],
                        ["INV-1001", "Acme Hardware LLC", "ap@acme.example", "1,250.00", "2024-01-31"],
                        ["INV-1002", "Beta Supplies Inc", "billing@beta.example", "310.40", "2024-02-15"],
                        ["INV-1003", "Gamma Foods", "", "99.99", "2024-02-29"]]},
        filler_strings=400_000, noise=400_000))
    page.goto("/placements/upload/")
    shot(page, width_name, "1-upload")
    page.set_input_files("input[name=file]", str(workbook))
    page.get_by_role("button", name="Upload and continue").click()
    page.wait_for_url("**/mapping/")
    page.get_by_text("Reading your file…").wait_for()
    shot(page, width_name, "2-reading")
    page.get_by_role("heading", name="Match your columns").wait_for(timeout=60_000)
    assert page.get_by_text("sheet “Open items”").is_visible()
    assert page.locator("select[name=map_client_reference]").input_value() != ""
    page.get_by_text("Acme Hardware LLC").first.wait_for()
    shot(page, width_name, "3-mapping")

    # Refused by the request's sniff: the message is next to the file field.
    settings.INTAKE_MAX_SHEETS = 20
    sheets = tmp_path / "sheets.xlsx"
    sheets.write_bytes(hostile.many_sheets(40))
    page.goto("/placements/upload/")
    page.set_input_files("input[name=file]", str(sheets))
    page.get_by_role("button", name="Upload and continue").click()
    page.get_by_text("the workbook has 40 sheets; the limit is 20").wait_for()
    shot(page, width_name, "4-refused-by-the-request")

    # Refused by the worker: reading, then the placement's page with the message.
    declared = tmp_path / "declared.xlsx"
    declared.write_bytes(hostile.build({"Accounts": [["Reference", "Debtor name", "Balance"], ["R-1", "Acme", 1]]},
                                       declared_sheets=30))
    page.goto("/placements/upload/")
    page.set_input_files("input[name=file]", str(declared))
    page.get_by_role("button", name="Upload and continue").click()
    page.get_by_text("the workbook has 30 sheets; the limit is 20").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Upload a corrected file").is_visible()
    shot(page, width_name, "5-refused-by-the-worker")

    # A placement whose worker died: the page says so and offers Cancel.
    with unscoped():
        batch = PlacementBatch.objects.filter(file_name="open-items.xlsx").get()
    with tenant_scope(world.alpha.agency):
        PlacementBatch.objects.filter(pk=batch.pk).update(
            status=PlacementBatch.Status.COMMITTING, attempts=1, progress=41, valid_rows=3,
            heartbeat_at=timezone.now() - timedelta(minutes=3))
    page.goto(f"/placements/{batch.pk}/")
    page.get_by_text("The work on this file has stopped").wait_for()
    shot(page, width_name, "6-stalled")
    page.get_by_role("button", name="Cancel this placement").click()
    page.get_by_text("Placement cancelled; nothing was placed.").wait_for()
    with tenant_scope(world.alpha.agency):
        assert PlacementBatch.objects.get(pk=batch.pk).status == PlacementBatch.Status.CANCELLED
