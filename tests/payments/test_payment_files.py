"""Posting payments from a bank lockbox or processor file, as an agency manager does it: upload,
match the columns, see every row's problem and what is already posted, post the file all at once,
download the rejected rows; and the same file again posts nothing new."""
import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from collections_work.models import ColumnMapping, DebtorAccount, PlacementBatch
from payments.batch import services as batch_services
from payments.ledger import selectors as ledger
from payments.models import JournalEntry, Payment
from portal.errors import DomainError
from portal.models import AuditEvent
from portal.tenancy import tenant_scope
from tests.factories import DebtorAccountFactory

D = Decimal
TODAY = timezone.localdate


@pytest.fixture
def books(alpha):
    """Two accounts of Alpha's client 1: PAY-1 owes 1,150.00, PAY-2 owes 300.00."""
    client = alpha.clients[0].client
    first = DebtorAccountFactory(client=client, client_reference="PAY-1", principal=D("1000.00"),
                                 interest=D("100.00"), fees=D("50.00"), debt_purpose="commercial")
    second = DebtorAccountFactory(client=client, client_reference="PAY-2", principal=D("300.00"),
                                  debt_purpose="commercial")
    return first, second


def lockbox_csv(first, second, day=None) -> bytes:
    day = (day or TODAY() - timedelta(days=1)).strftime("%m/%d/%Y")
    rows = [
        ["Transaction ID", "Account Number", "Portal ID", "Payment Amount", "Deposit Date", "Payment Type", "Check No"],
        ["T-1001", "PAY-1", "", "$200.00", day, "CHK", "5521"],
        ["T-1002", "", str(second.pk), "50.00", day, "ACH", ""],
        ["T-1003", "NOPE-9", "", "10.00", day, "check", ""],      # unknown reference
        ["T-1004", "PAY-1", "", "12.3x", day, "check", ""],       # bad amount
        ["T-1005", "PAY-2", "", "5,000.00", day, "check", ""],    # over the balance (250.00 left after row 3)
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def latest_batch(alpha):
    with tenant_scope(alpha.agency):
        return PlacementBatch.objects.latest("pk")


def upload_and_check(alpha, browser, capture, name, content, **mapping_changes):
    """Upload as the manager, let the worker read the file, accept the guessed mapping (with
    `mapping_changes`), let the worker check the rows. Returns the batch."""
    with capture(execute=True):
        response = browser.post("/agency/payments/files/upload/", {
            "client": alpha.clients[0].client.pk, "file": SimpleUploadedFile(name, content)})
    batch = latest_batch(alpha)
    assert response.status_code == 302 and response.url == f"/placements/{batch.pk}/mapping/"
    assert batch.kind == "payments"
    data = {f"map_{field}": str(index) for field, index in batch.mapping.items()}
    data.update({"amount_format": "dot", "date_format": "%m/%d/%Y", "default_method": "check", "save_as": ""})
    data.update(mapping_changes)
    with capture(execute=True):
        response = browser.post(f"/placements/{batch.pk}/mapping/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return latest_batch(alpha)


def post_file(browser, capture, batch):
    with capture(execute=True):
        return browser.post(f"/placements/{batch.pk}/place/")


def ledger_is_clean(capsys):
    call_command("ledger_check")
    out = capsys.readouterr().out
    assert "Checked" in out
    return out


@pytest.fixture
def manager(alpha, signed_in):
    return signed_in(alpha.manager)


def test_a_lockbox_csv_is_checked_row_by_row_and_posted_into_the_ledger(
        alpha, books, manager, django_capture_on_commit_callbacks, capsys):
    first, second = books
    batch = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "lockbox.csv",
                             lockbox_csv(first, second), save_as="Bank lockbox")
    # The columns were recognised from their names.
    assert set(batch.mapping) >= {"transaction_id", "client_reference", "account_id", "amount", "received_on",
                                  "method", "payment_reference"}
    page = manager.get(f"/placements/{batch.pk}/").content.decode()
    assert "Ready to post" in page and "Post 2 payments" in page and "totalling 250.00" in page
    errors = {(e["row"], e["column"]): e["message"] for e in batch.errors_sample}
    assert errors[(4, "Account Number")] == "no account of this client has client reference 'NOPE-9'"
    assert errors[(5, "Payment Amount")] == "Payment Amount '12.3x' is not an amount"
    assert errors[(6, "Payment Amount")] == (
        "Payment Amount 5,000.00 is more than the balance of account PAY-2 after row 3 of this file: 250.00")
    assert "NOPE-9" in page and "12.3x" in page

    post_file(manager, django_capture_on_commit_callbacks, batch)
    page = manager.get(f"/placements/{batch.pk}/").content.decode()
    assert "2 payments posted (250.00)" in page and "3 rejected" in page
    with tenant_scope(alpha.agency):
        payments = {p.account.client_reference: p for p in Payment.objects.select_related("account")}
        assert set(payments) == {"PAY-1", "PAY-2"}
        assert payments["PAY-1"].amount == D("200.00") and payments["PAY-1"].method == "check"
        assert payments["PAY-1"].reference == "5521" and payments["PAY-1"].source == "file"
        assert payments["PAY-1"].reported_by == alpha.manager and "row 2" in payments["PAY-1"].note
        assert payments["PAY-2"].method == "ach"
        assert DebtorAccount.objects.get(pk=first.pk).balance == D("950.00")
        assert DebtorAccount.objects.get(pk=second.pk).balance == D("250.00")
        assert JournalEntry.objects.count() == 2
        assert ledger.unbalanced_entries() == [] and ledger.accounts_not_matching_payments() == []
        assert ColumnMapping.objects.get(name="Bank lockbox", kind="payments").mapping["amount"] == "Payment Amount"
        # The audit log says what the file was, and each payment has its own entry.
        actions = list(AuditEvent.objects.filter(object_id=str(batch.pk)).values_list("action", flat=True))
        assert {"payment_file.uploaded", "payment_file.mapping_set", "payment_file.completed"} <= set(actions)
        assert AuditEvent.objects.filter(action="payment.posted").count() == 2
    assert "Checked 2 journal entries" in ledger_is_clean(capsys)
    rejected = manager.get(f"/placements/{batch.pk}/rejected-rows.csv")
    rejected_rows = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rejected_rows[1:]] == ["4", "5", "6"]
    assert "more than the balance" in rejected_rows[3][1]
    listing = manager.get("/agency/payments/files/").content.decode()
    assert "lockbox.csv" in listing and "Completed" in listing
    # Placements are not payment files: the placement pages do not list this one.
    assert "lockbox.csv" not in manager.get("/placements/").content.decode()


def test_an_xlsx_processor_export_without_transaction_ids_posts_and_the_same_file_again_posts_nothing(
        alpha, books, manager, django_capture_on_commit_callbacks, capsys):
    first, second = books
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    day = datetime.combine(TODAY() - timedelta(days=2), datetime.min.time())
    sheet.append(["Customer Number", "Amount Received", "Payment Date", "Memo"])
    sheet.append(["PAY-1", 100, day, "first"])
    sheet.append(["PAY-1", 100, day, "a second, equal payment the same day"])
    sheet.append(["PAY-2", 75.5, day, ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    content = buffer.getvalue()

    batch = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "processor.xlsx", content)
    assert batch.options["preview"] == {"new": 3, "already": 0, "amount": "275.50"}
    post_file(manager, django_capture_on_commit_callbacks, batch)
    with tenant_scope(alpha.agency):
        assert Payment.objects.count() == 3  # the two equal payments are two payments
        assert DebtorAccount.objects.get(pk=first.pk).balance == D("950.00")
        assert DebtorAccount.objects.get(pk=second.pk).balance == D("224.50")
    ledger_is_clean(capsys)

    again = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "processor.xlsx", content)
    assert again.options["preview"] == {"new": 0, "already": 3, "amount": "0.00"}
    page = manager.get(f"/placements/{again.pk}/").content.decode()
    assert "3 already posted" in page and "Post " not in page.split("Rows with errors")[0].split("already posted")[-1]
    assert "would post nothing new" in page
    refused = post_file(manager, django_capture_on_commit_callbacks, again)
    assert refused.status_code == 302
    with tenant_scope(alpha.agency):
        assert Payment.objects.count() == 3
        assert PlacementBatch.objects.get(pk=again.pk).status == "previewed"


def test_the_same_lockbox_file_twice_posts_nothing_new(alpha, books, manager, django_capture_on_commit_callbacks):
    first, second = books
    content = lockbox_csv(first, second)
    batch = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "lockbox.csv", content)
    post_file(manager, django_capture_on_commit_callbacks, batch)
    # One more payment appears in the bank's next file, with the two already posted.
    extra = content.decode().rstrip("\r\n").split("\r\n")
    extra.append(f"T-1006,PAY-2,,20.00,{(TODAY() - timedelta(days=1)):%m/%d/%Y},check,")
    again = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "lockbox-2.csv",
                             "\r\n".join(extra).encode())
    assert again.options["preview"]["new"] == 1 and again.options["preview"]["already"] == 2
    page = manager.get(f"/placements/{again.pk}/").content.decode()
    assert "Post 1 payment<" in page and "2 already posted" in page
    post_file(manager, django_capture_on_commit_callbacks, again)
    with tenant_scope(alpha.agency):
        assert Payment.objects.count() == 3
        done = PlacementBatch.objects.get(pk=again.pk)
        assert (done.created_count, done.skipped_count) == (1, 2)
        assert DebtorAccount.objects.get(pk=second.pk).balance == D("230.00")


def test_a_transaction_id_posted_before_for_another_payment_is_refused(alpha, books, manager,
                                                                        django_capture_on_commit_callbacks):
    first, second = books
    batch = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "lockbox.csv",
                             lockbox_csv(first, second))
    post_file(manager, django_capture_on_commit_callbacks, batch)
    changed = lockbox_csv(first, second).replace(b"$200.00", b"$210.00")
    again = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "changed.csv", changed)
    errors = {(e["row"], e["column"]): e["message"] for e in again.errors_sample}
    assert errors[(2, "Transaction ID")].startswith(
        "transaction ID 'T-1001' was already posted for a different payment (200.00 on")


def test_a_failure_mid_commit_posts_nothing_from_the_file(alpha, books, manager, django_capture_on_commit_callbacks,
                                                          monkeypatch, capsys):
    first, second = books
    batch = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "lockbox.csv",
                             lockbox_csv(first, second))
    real_post, calls = batch_services.payment_post, []

    def second_row_fails(**kwargs):
        calls.append(kwargs["account"].client_reference)
        if len(calls) == 2:  # the first payment is already written in this transaction
            raise DomainError("The card processor said no.")
        return real_post(**kwargs)

    monkeypatch.setattr(batch_services, "payment_post", second_row_fails)
    post_file(manager, django_capture_on_commit_callbacks, batch)
    assert calls == ["PAY-1", "PAY-2"]
    with tenant_scope(alpha.agency):
        failed = PlacementBatch.objects.get(pk=batch.pk)
        assert failed.status == "failed"
        assert failed.error_message == "Row 3: The card processor said no. Nothing from this file was posted."
        assert Payment.objects.count() == 0 and JournalEntry.objects.count() == 0
        assert DebtorAccount.objects.get(pk=first.pk).balance == D("1150.00")
    page = manager.get(f"/placements/{batch.pk}/").content.decode()
    assert "Row 3: The card processor said no." in page and "Check the rows again" in page
    ledger_is_clean(capsys)


def test_only_agency_managers_post_payment_files_and_only_their_agencys(world, alpha, books, signed_in, client,
                                                                       django_capture_on_commit_callbacks):
    first, second = books
    manager = signed_in(alpha.manager)
    batch = upload_and_check(alpha, manager, django_capture_on_commit_callbacks, "lockbox.csv",
                             lockbox_csv(first, second))
    client.logout()
    for user in (alpha.clients[0].admin, alpha.collector):
        client.force_login(user)
        assert client.get("/agency/payments/files/").status_code in (403, 404)
        assert client.post("/agency/payments/files/upload/", {}).status_code in (403, 404)
        for url in (f"/placements/{batch.pk}/", f"/placements/{batch.pk}/mapping/",
                    f"/placements/{batch.pk}/rejected-rows.csv"):
            assert client.get(url).status_code in (403, 404), (user, url)
        assert client.post(f"/placements/{batch.pk}/place/").status_code in (403, 404)
        client.logout()
    client.force_login(world.bravo.manager)
    assert client.get(f"/placements/{batch.pk}/").status_code == 404
    assert client.post(f"/placements/{batch.pk}/place/").status_code == 404
    assert client.get(f"/placements/{batch.pk}/rejected-rows.csv").status_code == 404
    assert "lockbox.csv" not in client.get("/agency/payments/files/").content.decode()
    with tenant_scope(alpha.agency):
        assert Payment.objects.count() == 0
