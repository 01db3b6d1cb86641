"""Journey: a client user uploads a CSV with some bad rows, corrects the mapping, commits,
watches the progress bar finish (a real Celery worker thread does the work), and finds the
accounts in the list."""
import time

import pytest
from celery.contrib.testing.worker import start_worker

from portal.celery import app as celery_app
from portal.tenancy import unscoped
from tests.e2e.helpers import sign_in
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.e2e
ROWS = 3000


def export_file(tmp_path):
    """A billing export: 'Ident' is a column the guesser cannot name; two rows are bad."""
    lines = ["Ident,Customer,Contact phone,Balance Due,Due Date"]
    for i in range(ROWS):
        amount = "12.3x" if i == 7 else ("" if i == 11 else f"${100 + i:,}.50")
        lines.append(f"INV-{i:05d},Customer {i} LLC,+1 555 01{i % 100:02d} {i % 10000:04d},\"{amount}\",2024-01-31")
    path = tmp_path / "billing-export.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def real_worker(settings, transactional_db):
    """A Celery worker thread on the in-memory broker, instead of running tasks inline; it reads
    and checks files in the sandbox's child process, as in production."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.INTAKE_SANDBOX_IN_PROCESS = False
    celery_app.conf.task_always_eager = False
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield
    celery_app.conf.task_always_eager = True


@pytest.fixture
def unhurried_commit(monkeypatch):
    """A small file places in a blink; a pause before the work keeps the progress bar on screen
    long enough for the journey to watch it, whatever the machine's speed."""
    from collections_work.placements.intake import pipeline

    real_commit = pipeline.commit

    def commit_after_a_pause(*args, **kwargs):
        time.sleep(2)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "commit", commit_after_a_pause)


def test_client_uploads_corrects_mapping_places_and_finds_accounts(world, page, real_worker, unhurried_commit,
                                                                   tmp_path):
    persona = world.alpha.clients[0]
    sign_in(page, persona.admin.email, TEST_PASSWORD, expect_path="/client/")
    page.get_by_role("link", name="Placements").first.click()
    page.get_by_role("button", name="Upload a file").click()
    page.set_input_files("input[name=file]", str(export_file(tmp_path)))
    page.get_by_role("button", name="Upload and continue").click()
    page.wait_for_url("**/mapping/")

    # The guesser could not know "Ident": the user picks it for the client reference.
    assert page.locator("select[name=map_client_reference]").input_value() == ""
    page.select_option("select[name=map_client_reference]", label="Ident")
    page.fill("input[name=save_as]", "Billing export")
    page.get_by_role("button", name="Check the rows").click()

    page.get_by_text("Ready to place").first.wait_for(timeout=60_000)
    assert page.locator(".stat-bad .value").inner_text() == "2"
    assert page.get_by_text("Balance Due '12.3x' is not an amount").is_visible()
    assert page.get_by_text("Principal / balance is missing").is_visible()

    page.get_by_role("button", name=f"Place {ROWS - 2:,} accounts").click()
    page.locator("progress").wait_for(state="visible")
    page.get_by_text(f"{ROWS - 2:,} accounts placed").wait_for(timeout=90_000)
    page.get_by_role("button", name="See these accounts").click()
    page.fill("input[name=q]", "INV-00001")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="INV-00001").wait_for()
    assert page.get_by_text("Customer 1 LLC").first.is_visible()
    with unscoped():
        from collections_work.models import DebtorAccount

        assert DebtorAccount.objects.filter(client=persona.client).count() == ROWS - 2
