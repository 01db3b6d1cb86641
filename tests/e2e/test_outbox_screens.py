"""The outbox in Chromium at 1280 and 390 px: each state with its reason, the filter, and resend
of a failed email; screenshots in test-artifacts/screens/outbox-<width>.png."""
from datetime import timedelta

from django.utils import timezone

from collections_work.models import Letter
from portal.models import OutboundEmail
from portal.tenancy import unscoped
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in, wait_for_path
from tests.factories import TEST_PASSWORD, DebtorAccountFactory


def outbox_rows(world):
    alpha = world.alpha
    client = alpha.clients[0].client
    account = DebtorAccountFactory(client=client, client_reference="INV-20417", contacts=["email"],
                                   debt_purpose="commercial", debtor__name="Harbor Freight Logistics LLC")
    common = {"agency": alpha.agency, "client": client, "account_id": account.pk, "body_text": "Hello",
              "to": "ap@harborfreight.example"}
    now = timezone.now()
    with unscoped():
        OutboundEmail.objects.create(idempotency_key="e2e:1", subject="Payment reminder: 250.00 USD due December 10, 2026",
                                     kind="installment_reminder", status="sent", sent_at=now, attempts=1, **common)
        OutboundEmail.objects.create(
            idempotency_key="e2e:2", subject="Your payment of 250.00 USD is due today", kind="installment_due",
            status="deferred", next_attempt_at=now + timedelta(hours=3),
            hold_reason="Outside the contact hours 08:00–21:00 in the debtor's local time (05:10 in America/Chicago).",
            **common)
        OutboundEmail.objects.create(idempotency_key="e2e:3", subject="Your payment of 250.00 USD is late",
                                     kind="installment_late", status="failed", attempts=5,
                                     last_error="550 5.1.1 <ap@harborfreight.example>: mailbox unavailable", **common)
        OutboundEmail.objects.create(idempotency_key="e2e:4", subject="Reminder: your payment of 90.00 USD is due tomorrow",
                                     kind="promise_reminder", status="cancelled",
                                     hold_reason="The debtor asked us to stop contacting them on Nov 28, 2026.", **common)
        OutboundEmail.objects.create(idempotency_key="e2e:5", subject="Your December 2026 statement",
                                     kind="debtor_statement", status="pending", **common)
        Letter.objects.create(agency=alpha.agency, client=client, account=account, kind="validation",
                              key="validation-notice", pdf="letters/v.pdf", status="queued")


def look(page, width_name):
    page.goto("/outbox/")
    page.get_by_role("heading", name="Outbox").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    path = ARTIFACTS / "screens" / f"outbox-{width_name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return overflow


def test_staff_read_the_outbox_filter_it_and_resend_a_failed_email(world, new_page):
    outbox_rows(world)
    desktop = new_page(DESKTOP)
    sign_in(desktop, world.alpha.manager.email, TEST_PASSWORD)
    wait_for_path(desktop, "/agency/")
    assert look(desktop, "1280") <= 0
    body = desktop.locator("main").inner_text()
    for text in ("Deferred", "Outside the contact hours", "Until", "550 5.1.1", "Cancelled", "Scheduled",
                 "Validation notice", "Sent"):
        assert text in body, text
    desktop.get_by_label("State").select_option("failed")
    desktop.get_by_role("button", name="Filter").click()
    desktop.wait_for_url("**/outbox/?state=failed**")
    assert "is due today" not in desktop.locator("main").inner_text()
    desktop.get_by_role("button", name="Resend").click()
    desktop.get_by_text("will be sent again").wait_for()

    phone = new_page(MOBILE)
    sign_in(phone, world.alpha.manager.email, TEST_PASSWORD)
    wait_for_path(phone, "/agency/")
    assert look(phone, "390") <= 0
