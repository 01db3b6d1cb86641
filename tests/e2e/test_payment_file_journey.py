"""Journey: an agency manager posts the bank's lockbox file from the payments journal (desktop),
sees a row with an unknown reference rejected, posts the rest, and on a phone uploads the same
file again and is told it is all already posted. Screenshots of each step go to
test-artifacts/e2e/payment-files/ (looked at by a person; nothing compares pixels)."""
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from collections_work.models import DebtorAccount
from payments.models import Payment
from portal.tenancy import tenant_scope
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import sign_in
from tests.factories import TEST_PASSWORD, DebtorAccountFactory

pytestmark = pytest.mark.e2e
SHOTS = ARTIFACTS / "e2e" / "payment-files"


def shot(page, name):
    if os.environ.get("E2E_SCREENSHOTS", "1") != "0":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def lockbox(tmp_path):
    day = (timezone.localdate() - timedelta(days=1)).strftime("%m/%d/%Y")
    path = tmp_path / "lockbox-1130.csv"
    path.write_text("Transaction ID,Account Number,Payment Amount,Deposit Date,Payment Type,Check No\n"
                    f"LBX-1,PF-1,$250.00,{day},CHK,1001\n"
                    f"LBX-2,PF-2,75.00,{day},ACH,\n"
                    f"LBX-3,NO-SUCH-REF,10.00,{day},CHK,1002\n")
    return path


def test_manager_posts_a_lockbox_file_and_the_same_file_again_posts_nothing(
        transactional_db, world, new_page, tmp_path):
    alpha = world.alpha
    for reference, principal in (("PF-1", "900.00"), ("PF-2", "300.00")):
        DebtorAccountFactory(client=alpha.clients[0].client, client_reference=reference, principal=Decimal(principal),
                             debt_purpose="commercial")
    file = lockbox(tmp_path)

    page = new_page(DESKTOP)
    sign_in(page, alpha.manager.email, TEST_PASSWORD)
    page.goto("/agency/payments/")
    page.get_by_role("button", name="Payment files").click()
    page.get_by_role("button", name="Post a file").click()
    page.select_option("select[name=client]", label=alpha.clients[0].client.name)
    page.set_input_files("input[name=file]", str(file))
    shot(page, "1-upload-1280")
    page.get_by_role("button", name="Upload and continue").click()
    page.wait_for_url("**/mapping/")
    page.get_by_text("Match your columns").wait_for()
    assert page.locator("select[name=map_amount]").input_value() == "2"
    assert page.locator("select[name=map_transaction_id]").input_value() == "0"
    page.fill("input[name=save_as]", "Bank lockbox")
    shot(page, "2-mapping-1280")
    page.get_by_role("button", name="Check the rows").click()

    page.get_by_text("Ready to post").first.wait_for(timeout=60_000)
    assert page.get_by_text("no account of this client has client reference 'NO-SUCH-REF'").is_visible()
    shot(page, "3-preview-1280")
    page.get_by_role("button", name="Post 2 payments").click()
    page.get_by_text("2 payments posted (325.00)").wait_for(timeout=60_000)
    shot(page, "4-done-1280")
    with tenant_scope(alpha.agency):
        assert Payment.objects.filter(source="file").count() == 2
        assert DebtorAccount.objects.get(client_reference="PF-1").balance == Decimal("650.00")

    phone = new_page(MOBILE)
    sign_in(phone, alpha.manager.email, TEST_PASSWORD)
    phone.goto("/agency/payments/files/upload/")
    phone.select_option("select[name=client]", label=alpha.clients[0].client.name)
    phone.set_input_files("input[name=file]", str(file))
    phone.get_by_role("button", name="Upload and continue").click()
    phone.wait_for_url("**/mapping/")
    phone.get_by_text("from your saved mapping “Bank lockbox”").wait_for()
    shot(phone, "5-mapping-390")
    phone.get_by_role("button", name="Check the rows").click()
    phone.get_by_text("2 already posted").first.wait_for(timeout=60_000)
    assert phone.get_by_role("button", name="Post 0 payments").count() == 0
    shot(phone, "6-preview-again-390")
    phone.goto("/agency/payments/files/")
    shot(phone, "7-list-390")
    with tenant_scope(alpha.agency):
        assert Payment.objects.filter(source="file").count() == 2
