"""Journey: a client uploads real-looking exports (an A/R aging export, a German export, a
per-party export) through the upload page; the mapping is right on arrival and the check says
what the rows are (parties, debtors on file, time zones). Screenshots at 1280 and 390 px go to
test-artifacts/e2e/intake-*.png."""
import pytest

from tests.collections_work.placements.test_intake_real_exports import AGING, GERMAN, PER_PARTY
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in
from tests.e2e.test_intake_journey import real_worker  # noqa: F401 - a fixture
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.e2e


def upload_and_check(page, path, shot):
    page.goto("/placements/upload/")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Upload and continue").click()
    page.wait_for_url("**/mapping/", timeout=60_000)
    page.locator("select[name=map_client_reference]").wait_for(timeout=60_000)  # read: the columns are shown
    (ARTIFACTS / "e2e").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e" / f"intake-{shot}-mapping.png"), full_page=True)
    mapping = {name: page.locator(f"select[name=map_{name}] option:checked").inner_text()
               for name in ("client_reference", "debtor_name", "email", "principal", "due_date", "delinquency_date",
                            "address_line1", "party_role")}
    formats = (page.locator("select[name=amount_format]").input_value(),
               page.locator("select[name=date_format]").input_value())
    page.get_by_role("button", name="Check the rows").click()
    page.get_by_text("Ready to place").first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "e2e" / f"intake-{shot}-checked.png"), full_page=True)
    return mapping, formats


@pytest.mark.parametrize("viewport, suffix", [(DESKTOP, "1280"), (MOBILE, "390")])
def test_real_exports_are_mapped_and_checked_right(world, new_page, real_worker, tmp_path, viewport,  # noqa: F811
                                                   suffix):
    page = new_page(viewport=viewport)
    persona = world.alpha.clients[0]
    sign_in(page, persona.admin.email, TEST_PASSWORD, expect_path="/client/")

    (tmp_path / "aging.csv").write_bytes(AGING)
    mapping, formats = upload_and_check(page, tmp_path / "aging.csv", f"aging-{suffix}")
    assert mapping["email"] == "Email" and mapping["delinquency_date"].startswith("—")
    assert mapping["client_reference"] == "Invoice #" and mapping["principal"] == "Balance"
    assert formats == ("dot", "%m/%d/%Y")
    assert page.get_by_text("Every row is valid").is_visible()
    page.get_by_role("button", name="Place 3 accounts").click()
    page.get_by_text("3 accounts placed").wait_for(timeout=60_000)

    (tmp_path / "export.csv").write_bytes(GERMAN)
    mapping, formats = upload_and_check(page, tmp_path / "export.csv", f"german-{suffix}")
    assert mapping["email"] == "E-Mail" and mapping["address_line1"] == "Straße"
    assert formats == ("comma", "%d.%m.%Y")
    assert page.get_by_text("Every row is valid").is_visible()

    (tmp_path / "parties.csv").write_bytes(PER_PARTY)
    mapping, _ = upload_and_check(page, tmp_path / "parties.csv", f"parties-{suffix}")
    assert mapping["party_role"] == "Role"
    assert page.get_by_text("another party (co-debtor or guarantor) of an account").is_visible()
    assert page.get_by_text("from the ZIP code").is_visible()
    page.get_by_role("button", name="Place 2 accounts").click()
    page.get_by_text("2 accounts placed").wait_for(timeout=60_000)
