"""Bad input, each a kind (issue 11, case 8): hidden characters in names and references, digits
of other scripts read as amounts, NUL bytes in search boxes, long document names.

Each gets a clear message that says what and where, never a 500 and never a silent reading."""
import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from collections_work.models import DebtorAccount, Document
from collections_work.debtor_accounts.services import account_add_document
from collections_work.placements.services import accounts_place
from portal.tenancy import tenant_scope, unscoped
from tests.collections_work.api.test_api import ACCOUNTS, BULK, Api, account, key_header

ARABIC_345 = "\u0663\u0664\u0665"  # ٣٤٥: Decimal() and int() read it as 345


@pytest.fixture
def api(world, client):
    return Api(client, key_header(world.alpha.clients[0]))


@pytest.fixture
def placed(world):
    """Two accounts of Alpha's first client: 100.00 and 900.00."""
    persona = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency, persona.client):
        _, accounts = accounts_place(agency=world.alpha.agency, actor=persona.admin, client=persona.client,
                                     source="form", rows=[
                                         {"client_reference": "S-100", "debtor_name": "Small Debtor",
                                          "principal": "100.00", "due_date": "2024-01-31"},
                                         {"client_reference": "L-900", "debtor_name": "Large Debtor",
                                          "principal": "900.00", "due_date": "2024-01-31"}])
    return {a.client_reference: a for a in accounts}


def stored_references():
    with unscoped():
        return set(DebtorAccount.objects.values_list("client_reference", flat=True))


# --- Control and invisible characters in names and references ---------------------------------

@pytest.mark.parametrize("field, value, named", [
    ("debtor_name", "Acme\u200bSupplies LLC", "U+200B ZERO WIDTH SPACE"),
    ("debtor_name", "Acme\u2060Supplies", "U+2060 WORD JOINER"),
    ("debtor_name", "\ufeffAcme Supplies", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("client_reference", "INV-\u202e1001", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("client_reference", "INV-\u20661001", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("client_reference", "INV\x07-1001", "U+0007"),
    ("invoice_number", "A-1\u200d", "U+200D ZERO WIDTH JOINER"),
    ("guarantor_name", "Jane\x1bRoe", "U+001B"),
])
def test_the_api_refuses_hidden_characters_in_names_and_references_per_field(api, field, value, named):
    response = api.post(ACCOUNTS, account(**{field: value}))
    assert response.status_code == 400, response.content
    message = response.json()[field][0]
    assert "invisible or control character" in message and named in message
    assert "INV-1001" not in stored_references() and not stored_references()


def test_the_bulk_api_names_the_row_and_field(api):
    response = api.post(BULK, {"accounts": [account("OK-1"), account("BAD-2", debtor_name="Bad\u200bName")]})
    assert response.status_code == 400
    errors = json.dumps(response.json())
    assert '"row": 2' in errors and "debtor_name" in errors and "U+200B" in errors
    assert not stored_references()


def test_an_uploaded_file_gets_the_same_row_error(world):
    """The file upload, the one-account form and the API share the row rules: one fix, every way in."""
    from collections_work.placements.intake.rows import IntakeOptions, RowValidator

    validator = RowValidator(["Reference", "Debtor", "Balance"],
                             {"client_reference": 0, "debtor_name": 1, "principal": 2}, IntakeOptions())
    record, errors = validator.validate(7, ["R-1", "Zero\u200bWidth Ltd", "10.00"])
    assert record is None
    assert [(e.row, e.column) for e in errors] == [(7, "Debtor")] and "U+200B" in errors[0].message
    record, errors = validator.validate(8, ["R-2", "Plain Name Ltd", "10.00"])
    assert record is not None and not errors  # ordinary names, accents included, are fine
    record, errors = validator.validate(9, ["R-3", "Café Müller GmbH", "10.00"])
    assert record is not None and not errors


# --- Digits of other scripts are not amounts -----------------------------------------------------

@pytest.mark.parametrize("amount", [ARABIC_345, "\uff13\uff14\uff15", "1,\u0663\u0664\u0665.00", "\u0968\u0966"])
def test_the_api_does_not_read_other_scripts_digits_as_an_amount(api, amount):
    response = api.post(ACCOUNTS, account(principal=amount))
    assert response.status_code == 400
    assert "use the digits 0-9" in response.json()["principal"][0]
    assert not stored_references()


def test_the_list_filters_do_not_read_other_scripts_digits(world, placed, api, signed_in):
    refused = api.get(ACCOUNTS, {"balance_min": ARABIC_345})
    assert refused.status_code == 400 and "digits 0-9" in refused.json()["balance_min"][0]
    page = signed_in(world.alpha.clients[0].admin).get(reverse("debtor_account_list"), {"balance_min": ARABIC_345})
    body = page.content.decode()
    assert page.status_code == 200 and "S-100" in body  # the filter was not read as 345
    assert "Enter the amount with the digits 0-9." in body


def test_a_reported_payment_in_other_digits_is_refused(world, placed, signed_in):
    account_row = placed["L-900"]
    response = signed_in(world.alpha.clients[0].admin).post(
        reverse("debtor_account_payment_report", args=[account_row.pk]),
        {"amount": ARABIC_345, "received_on": date.today().isoformat()})
    with unscoped():
        assert DebtorAccount.objects.get(pk=account_row.pk).paid == Decimal("0.00")
    assert response.status_code in (200, 302)


def test_the_payment_service_refuses_other_digits_itself(world, placed):
    from payments.services import payment_report_direct
    from portal.errors import DomainError

    persona = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency, persona.client), pytest.raises(DomainError, match="digits 0-9"):
        payment_report_direct(agency=world.alpha.agency, actor=persona.admin, account=placed["L-900"],
                              amount=ARABIC_345, received_on=date.today())


# --- NUL in a search box ---------------------------------------------------------------------------

def test_a_nul_in_the_account_search_is_removed_with_a_message(world, placed, signed_in):
    browser = signed_in(world.alpha.clients[0].admin)
    response = browser.get(reverse("debtor_account_list") + "?q=Large%00&status=")
    assert response.status_code == 302 and "%00" not in response.url and "q=Large" in response.url
    page = browser.get(response.url)
    body = page.content.decode()
    assert page.status_code == 200 and "NUL character" in body and "L-900" in body and "S-100" not in body


def test_a_nul_in_the_export_query_still_exports_the_matching_rows(world, placed, signed_in):
    browser = signed_in(world.alpha.clients[0].admin)
    response = browser.get(reverse("debtor_account_export") + "?q=%00&format=csv", follow=True)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert {"S-100", "L-900"} <= {cell for row in rows for cell in row}


def test_a_nul_in_the_audit_log_filter_is_removed(world, signed_in):
    browser = signed_in(world.alpha.admin)
    response = browser.get(reverse("audit_log") + "?actor=%00admin", follow=True)
    assert response.status_code == 200 and "NUL character" in response.content.decode()


def test_the_account_filters_strip_nul_themselves(db):
    """The selector the API and the pages share does not pass a NUL on, whoever calls it."""
    from collections_work.debtor_accounts.selectors import AccountFilters

    assert AccountFilters.from_params({"q": "Acme\x00 "}).q == "Acme"


# --- Long document names keep their extension ----------------------------------------------------

def test_a_long_document_name_is_cut_in_its_stem_and_keeps_its_extension(world, placed, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    persona = world.alpha.clients[0]
    name = "statement-" + "x" * 300 + ".pdf"
    with tenant_scope(world.alpha.agency, persona.client):
        account_add_document(agency=world.alpha.agency, actor=persona.admin, account=placed["S-100"],
                             uploaded_file=SimpleUploadedFile(name, b"%PDF-1.4 statement"))
    with unscoped():
        document = Document.objects.get()
    assert len(document.name) == 200 and document.name.endswith(".pdf")
    assert document.name.startswith("statement-xxx")
