"""The Letters page in Chromium, at desktop and phone widths: a collector downloads the day's
print batch and marks it mailed. Screenshots go to test-artifacts/screens/letters-*.png."""
from datetime import date

from django.core.files.base import ContentFile

from accounts.models import Role
from collections_work.models import Letter, PrintBatch
from portal.tenancy import tenant_scope
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in, wait_for_path
from tests.factories import TEST_PASSWORD, AgencyFactory, ClientFactory, DebtorAccountFactory, MembershipFactory, UserFactory

WIDER_THAN_SCREEN = "() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"


def test_a_collector_downloads_the_days_print_batch_and_marks_it_mailed(new_page, live_server):
    agency = AgencyFactory(name="Harbor Recovery", slug="harbor-letters")
    collector = UserFactory(email="collector@harbor-letters.test", full_name="Cole Lector")
    MembershipFactory(user=collector, agency=agency, role=Role.COLLECTOR)
    with tenant_scope(agency):
        for day, count in ((date(2026, 11, 30), 14), (date(2026, 12, 1), 1203)):
            batch = PrintBatch(agency=agency, day=day, letter_count=count)
            batch.pdf.save("batch.pdf", ContentFile(b"%PDF-1.4 print batch"), save=False)
            batch.save()
        client = ClientFactory(agency=agency, name="Northwind Supply")
        for reference, status, reason in (
                ("NW-20931", "queued", "A dispute is open on this account: no contact until it is resolved."),
                ("NW-20877", "cancelled", "The debtor asked us to stop contacting them on Nov 28, 2026.")):
            account = DebtorAccountFactory(client=client, client_reference=reference, debtor__name="Dana Whitfield-Oyelaran")
            letter = Letter(agency=agency, client=client, account=account, kind="validation", key="validation-notice",
                            status=status, **({"hold_reason": reason} if status == "queued" else {"cancel_reason": reason}))
            letter.pdf.save("letter.pdf", ContentFile(b"%PDF-1.4 letter"), save=False)
            letter.save()
    shots = ARTIFACTS / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("desktop", DESKTOP), ("mobile", MOBILE)):
        page = new_page(viewport=viewport)
        sign_in(page, collector.email, TEST_PASSWORD)
        page.goto("/letters/")
        assert page.get_by_role("heading", name="Letters to print").is_visible()
        assert page.get_by_text("1,203 letters").is_visible()
        assert page.get_by_role("button", name="Mark mailed").first.is_visible()  # no sideways scroll to reach it
        assert page.get_by_text("A dispute is open on this account").is_visible()  # held, with the reason
        assert page.get_by_text("The debtor asked us to stop contacting them").is_visible()  # cancelled
        assert not page.evaluate(WIDER_THAN_SCREEN), f"the Letters page scrolls sideways at {label} width"
        page.screenshot(path=str(shots / f"letters-{label}.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").first.click()
    assert download.value.suggested_filename == "letters-2026-12-01.pdf"
    page.get_by_role("button", name="Mark mailed").first.click()
    wait_for_path(page, "/letters/")
    assert page.get_by_text("recorded as mailed").is_visible()
    with tenant_scope(agency):
        assert PrintBatch.objects.get(day=date(2026, 12, 1)).status == "mailed"
