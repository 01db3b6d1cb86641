"""Tracking placed accounts: the filtered list, keyset paging, exports, the account page and its
actions, for client users (own client only) and agency staff (every client)."""
import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from collections_work.debtor_accounts import services
from collections_work.placements.services import accounts_place
from collections_work.models import Activity, DebtorAccount, Document
from payments.models import Payment
from portal.models import AuditEvent
from portal.tenancy import tenant_scope, unscoped


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def days_ago(days):
    return (timezone.localdate() - timedelta(days=days)).isoformat()


def place(agency, persona, *rows):
    """Place `rows` for persona.client (a ClientPersonas) as its admin; returns {reference: account}."""
    full = [{"due_date": days_ago(30), **row} for row in rows]
    with tenant_scope(agency, persona.client):
        batch, accounts = accounts_place(agency=agency, actor=persona.admin, client=persona.client,
                                                  rows=full, source="form")
    return batch, {a.client_reference: a for a in accounts}


def row(reference, name, principal="100.00", **extra):
    return {"client_reference": reference, "debtor_name": name, "principal": principal, **extra}


def page_of(user_browser, name, pk):
    return user_browser.get(reverse(name, args=[pk])).content.decode()


def refs(response):
    return [a.client_reference for a in response.context["page"].rows]


def reload(account):
    with unscoped():
        return DebtorAccount.objects.get(pk=account.pk)


@pytest.fixture
def books(world):
    """Accounts at both Alpha clients and at Bravo (a foreign agency to every Alpha persona)."""
    alpha, bravo = world.alpha, world.bravo
    batch1, c1 = place(alpha.agency, alpha.clients[0],
                       row("A-100", "Acme Widgets", "100.00", delinquency_date=days_ago(10)),
                       row("A-200", "Borealis Foods", "2500.00", delinquency_date=days_ago(120)),
                       row("A-300", "Cobalt Mining", "750.00", delinquency_date=days_ago(200)),
                       row("B-400", "Delta Dairy", "40.00", delinquency_date=days_ago(400)))
    batch1b, c1b = place(alpha.agency, alpha.clients[0], row("A-500", "Echo Energy", "900.00"))
    _, c2 = place(alpha.agency, alpha.clients[1], row("Z-900", "Zephyr Client Two Debtor", "555.00"))
    _, bravo_accounts = place(bravo.agency, bravo.clients[0], row("BR-1", "Bravo Foreign Debtor", "321.00"))
    return {"c1": c1, "c2": c2, "bravo": bravo_accounts, "batch1": batch1, "batch1b": batch1b}


# --- The list ---------------------------------------------------------------------------------

def test_client_user_sees_only_their_clients_accounts(world, books, signed_in):
    response = signed_in(world.alpha.clients[0].user).get(reverse("debtor_account_list"))
    assert response.status_code == 200
    assert sorted(refs(response)) == ["A-100", "A-200", "A-300", "A-500", "B-400"]
    body = response.content.decode()
    assert "Zephyr" not in body and "Bravo Foreign" not in body
    assert 'name="client"' not in body  # no client filter for client users
    assert "Showing 5 accounts" in body


@pytest.mark.parametrize("query, expected", [
    ({"age": "0-90"}, {"A-100", "A-500"}),
    ({"age": "91-180"}, {"A-200"}),
    ({"age": "181-365"}, {"A-300"}),
    ({"age": "365+"}, {"B-400"}),
    ({"balance_min": "500", "balance_max": "1000"}, {"A-300", "A-500"}),
    ({"balance_min": "1000"}, {"A-200"}),
    ({"balance_max": "99.99"}, {"B-400"}),
    ({"q": "cobalt"}, {"A-300"}),
    ({"q": "A-"}, set()),  # too short to look inside references: a whole reference only
    ({"q": "a-100"}, {"A-100"}),
    ({"q": "00"}, set()),
    ({"q": "b-400"}, {"B-400"}),
    ({"q": "nothing like this"}, set()),
    ({"status": "on_hold"}, {"A-200"}),
    ({"status": "new", "age": "0-90"}, {"A-100", "A-500"}),
])
def test_list_filters(world, books, signed_in, query, expected):
    persona = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency, persona.client):
        services.account_set_status(agency=world.alpha.agency, actor=persona.admin, account=books["c1"]["A-200"],
                                    status=DebtorAccount.Status.ON_HOLD, reason="Talking to them ourselves")
    response = signed_in(persona.user).get(reverse("debtor_account_list"), query)
    assert set(refs(response)) == expected
    body = response.content.decode()
    for name, value in query.items():  # the form keeps what was asked
        assert f'value="{value}"' in body or f'value="{value}" selected' in body, name


def test_list_filters_by_placement_batch(world, books, signed_in):
    browser = signed_in(world.alpha.clients[0].admin)
    response = browser.get(reverse("debtor_account_list"), {"batch": books["batch1b"].pk})
    assert refs(response) == ["A-500"]
    assert f'<option value="{books["batch1b"].pk}" selected' in response.content.decode()


def test_bad_filter_values_are_ignored_and_pointed_out_not_a_500(world, books, signed_in):
    response = signed_in(world.alpha.clients[0].user).get(
        reverse("debtor_account_list"), {"balance_min": "lots", "status": "bogus", "batch": "x", "sort": "drop table",
                                         "age": "9999", "after": "not-a-cursor"})
    assert response.status_code == 200
    assert len(refs(response)) == 5
    assert "Enter a number." in response.content.decode()


@pytest.mark.parametrize("params", [{"balance_min": "NaN"}, {"balance_min": "Infinity"}, {"balance_max": "-Infinity"},
                                    {"balance_min": "sNaN"}, {"balance_max": "1e99"}, {"batch": "9" * 20},
                                    {"client": "-1"}])
def test_edited_urls_with_impossible_numbers_list_and_export_without_a_500(world, books, signed_in, params):
    browser = signed_in(world.alpha.clients[0].user)
    response = browser.get(reverse("debtor_account_list"), params)
    assert response.status_code == 200 and len(refs(response)) == 5
    assert browser.get(reverse("debtor_account_export"), params | {"format": "csv"}).status_code == 200


@pytest.mark.parametrize("cursor", ['WyJhYmMiLCAxXQ', 'WyJOYU4iLCAxXQ', 'WyJJbmZpbml0eSIsIDFd', 'W1sxXSwgIngiXQ',
                                    'eyJhIjogMX0', '!!!'])
def test_tampered_cursors_start_over_instead_of_failing(world, books, signed_in, cursor):
    browser = signed_in(world.alpha.clients[0].user)
    for sort in ("placed", "balance", "-balance", "reference", "debtor"):
        response = browser.get(reverse("debtor_account_list"), {"sort": sort, "after": cursor})
        assert response.status_code == 200, (sort, cursor)


@pytest.mark.parametrize("sort, key", [
    ("placed", lambda a: (-a.placed_at.timestamp(), -a.pk)),
    ("-balance", lambda a: (-a.balance, -a.pk)),
    ("balance", lambda a: (a.balance, a.pk)),
    ("reference", lambda a: (a.client_reference, a.pk)),
    ("debtor", lambda a: (a.debtor_name, a.pk)),
])
def test_keyset_pages_walk_every_account_once_in_order(world, signed_in, sort, key):
    persona = world.alpha.clients[0]
    # 123 accounts in two placements; balances repeat so ties are broken by id.
    rows = [row(f"K-{n:03d}", f"Debtor {n % 7}", f"{100 + n % 5}.00") for n in range(123)]
    place(world.alpha.agency, persona, *rows[:80])
    place(world.alpha.agency, persona, *rows[80:])
    browser = signed_in(persona.user)
    seen, url, pages = [], reverse("debtor_account_list") + f"?sort={sort}", 0
    while url:
        response = browser.get(url)
        seen += response.context["page"].rows
        pages += 1
        match = re.search(r'href="\?([^"]*after=[^"]+)" rel="next"', response.content.decode())
        url = reverse("debtor_account_list") + "?" + match.group(1).replace("&amp;", "&") if match else None
        if match:
            assert "First page" in browser.get(url).content.decode()
    assert pages == 3
    assert len(seen) == 123 and len({a.pk for a in seen}) == 123
    with unscoped():
        expected = sorted(DebtorAccount.objects.filter(client=persona.client), key=key)
    assert [a.pk for a in seen] == [a.pk for a in expected]


def test_staff_see_every_clients_accounts_with_a_client_filter(world, books, signed_in):
    for staff in (world.alpha.admin, world.alpha.manager, world.alpha.collector):
        browser = signed_in(staff)
        response = browser.get(reverse("debtor_account_list"))
        assert set(refs(response)) == {"A-100", "A-200", "A-300", "B-400", "A-500", "Z-900"}
        body = response.content.decode()
        assert "Alpha Recovery Client 2" in body and 'name="client"' in body and "Bravo Foreign" not in body
        only_two = browser.get(reverse("debtor_account_list"), {"client": world.alpha.clients[1].client.pk})
        assert refs(only_two) == ["Z-900"]
        foreign = browser.get(reverse("debtor_account_list"), {"client": world.bravo.clients[0].client.pk})
        assert refs(foreign) == []


def test_client_filter_is_ignored_for_client_users(world, books, signed_in):
    response = signed_in(world.alpha.clients[0].admin).get(
        reverse("debtor_account_list"), {"client": world.alpha.clients[1].client.pk})
    assert "Z-900" not in refs(response) and len(refs(response)) == 5


# --- Exports ---------------------------------------------------------------------------------

def csv_rows(response):
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_streams_the_filtered_accounts_with_formulas_neutralised(world, signed_in):
    persona = world.alpha.clients[0]
    place(world.alpha.agency, persona,
          row("=1+1", '=HYPERLINK("http://evil.example","click")', "1234.50", invoice_number="@SUM(A1)"),
          row("R-2", "+Plain Co", "10.00"), row("R-3", "Calm Co", "20.00"))
    response = signed_in(persona.user).get(reverse("debtor_account_export"), {"format": "csv", "balance_min": "15"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="debtor-accounts-' in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    assert header[:5] == ["Client reference", "Debtor", "Status", "Currency", "Principal"]
    assert "Client" not in header
    by_ref = {r[0]: dict(zip(header, r)) for r in rows}
    assert set(by_ref) == {"'=1+1", "R-3"}  # R-2 is under the balance filter
    evil = by_ref["'=1+1"]
    assert evil["Debtor"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert evil["Invoice number"] == "'@SUM(A1)" and evil["Balance"] == "1234.50" and evil["Status"] == "New"
    with unscoped():
        assert AuditEvent.objects.filter(action="accounts.exported", actor=persona.user).count() == 1


def test_xlsx_export_has_typed_cells_and_neutralised_text(world, signed_in):
    persona = world.alpha.clients[0]
    place(world.alpha.agency, persona,
          row("X-1", '=HYPERLINK("http://evil.example","x")', "1234.50", delinquency_date=days_ago(100)),
          row("X-2", "-2+3 Ltd", "99.99"))
    response = signed_in(world.alpha.admin).get(reverse("debtor_account_export"), {"format": "xlsx", "sort": "balance"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Accounts"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[:4] == ["Client reference", "Debtor", "Client", "Status"]  # staff get the client column
    by_ref = {r[0]: dict(zip(header, r)) for r in rows}
    assert list(by_ref) == ["X-2", "X-1"]
    assert by_ref["X-1"]["Debtor"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert by_ref["X-2"]["Debtor"] == "'-2+3 Ltd"
    assert by_ref["X-1"]["Balance"] == 1234.5 and by_ref["X-1"]["Days past due"] == 100
    assert by_ref["X-1"]["Client"] == "Alpha Recovery Client 1"
    for cell in next(sheet.iter_rows(min_row=2, max_row=3)):
        assert cell.data_type != "f"  # nothing the spreadsheet would run


def test_the_client_sees_the_debtors_contacts_it_gave_on_the_account_page_and_in_both_exports(world, signed_in):
    """The debtor's email, phone and address the client placed are the client's own data: shown on
    its account page and exported as columns, formulas neutralised (issue 13, item 19)."""
    persona = world.alpha.clients[0]
    _, accounts = place(world.alpha.agency, persona,
                        row("CT-1", "Contact Co", "100.00", email="ap@contact.example", phone="+1 212 555 0199",
                            address_line1="=1 Main St", city="Springfield", region="MA", postal_code="01101",
                            co_debtor_name="Co Signer", co_debtor_email="co@contact.example"),
                        row("CT-2", "No Contacts Co", "50.00"))
    browser = signed_in(persona.user)
    page = page_of(browser, "debtor_account_detail", accounts["CT-1"].pk)
    details = page[page.index("<strong>Details</strong>"):page.index("</article>", page.index("<strong>Details</strong>"))]
    for text in ("ap@contact.example", "+12125550199", "=1 Main St", "Springfield", "co@contact.example"):
        assert text in details, text
    assert "None given" in page_of(browser, "debtor_account_detail", accounts["CT-2"].pk)

    header, *rows = csv_rows(browser.get(reverse("debtor_account_export"), {"format": "csv", "sort": "reference"}))
    assert header[-3:] == ["Debtor email", "Debtor phone", "Debtor address"]
    by_ref = {r[0]: dict(zip(header, r)) for r in rows}
    assert by_ref["CT-1"]["Debtor email"] == "ap@contact.example"
    assert by_ref["CT-1"]["Debtor phone"] == "'+12125550199"  # starts with +: neutralised like any formula
    assert by_ref["CT-1"]["Debtor address"].startswith("'=1 Main St") and "Springfield" in by_ref["CT-1"]["Debtor address"]
    assert by_ref["CT-2"]["Debtor email"] == by_ref["CT-2"]["Debtor address"] == ""

    response = browser.get(reverse("debtor_account_export"), {"format": "xlsx", "sort": "reference"})
    sheet_rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Accounts"].iter_rows(values_only=True))
    by_ref = {r[0]: dict(zip(sheet_rows[0], r)) for r in sheet_rows[1:]}
    assert by_ref["CT-1"]["Debtor email"] == "ap@contact.example"
    assert by_ref["CT-1"]["Debtor address"].startswith("'=1 Main St")


def test_xlsx_export_is_capped_with_a_note(world, signed_in, monkeypatch):
    from collections_work.debtor_accounts import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    place(world.alpha.agency, world.alpha.clients[0], *[row(f"C-{n}", f"Cap {n}") for n in range(3)])
    response = signed_in(world.alpha.clients[0].user).get(reverse("debtor_account_export"), {"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    assert len(rows) == 4 and rows[-1][0].startswith("Only the first 2 accounts")
    assert response["X-Export-Truncated"] == "2"


def test_export_of_a_client_user_never_includes_another_client(world, books, signed_in):
    response = signed_in(world.alpha.clients[0].user).get(
        reverse("debtor_account_export"), {"format": "csv", "client": world.alpha.clients[1].client.pk})
    references = [r[0] for r in csv_rows(response)[1:]]
    assert sorted(references) == ["A-100", "A-200", "A-300", "A-500", "B-400"]


@pytest.mark.parametrize("persona, expected", [
    (lambda w: w.alpha.admin, {"A-100", "A-200", "A-300", "A-500", "B-400", "Z-900"}),
    (lambda w: w.alpha.collector, {"A-100", "A-200", "A-300", "A-500", "B-400", "Z-900"}),
    (lambda w: w.alpha.clients[0].admin, {"A-100", "A-200", "A-300", "A-500", "B-400"}),
    (lambda w: w.alpha.clients[1].user, {"Z-900"}),
])
def test_exports_never_include_foreign_accounts(world, books, signed_in, persona, expected):
    browser = signed_in(persona(world))
    for query in ({}, {"client": world.bravo.clients[0].client.pk}, {"q": "Bravo"}):
        rows = csv_rows(browser.get(reverse("debtor_account_export"), {"format": "csv", **query}))
        assert {r[0] for r in rows[1:]} <= expected and "BR-1" not in {r[0] for r in rows[1:]}
        if not query:
            assert {r[0] for r in rows[1:]} == expected
    workbook = load_workbook(io.BytesIO(b"".join(
        browser.get(reverse("debtor_account_export"), {"format": "xlsx"}).streaming_content)))
    assert {r[0] for r in list(workbook.active.iter_rows(values_only=True))[1:]} == expected


def test_unknown_export_format_is_a_400(world, signed_in):
    response = signed_in(world.alpha.clients[0].user).get(reverse("debtor_account_export"), {"format": "pdf"})
    assert response.status_code == 400


# --- The account page ---------------------------------------------------------------------------

@pytest.fixture
def busy_account(world, books):
    """A-200 with a note, a message, an internal collector call, a document and a direct payment."""
    alpha, persona = world.alpha, world.alpha.clients[0]
    account = books["c1"]["A-200"]
    with tenant_scope(alpha.agency, persona.client):
        services.account_add_note(agency=alpha.agency, actor=persona.admin, account=account, text="Called them twice")
        services.account_add_note(agency=alpha.agency, actor=persona.user, account=account,
                                  text="Please prioritise", kind=Activity.Kind.MESSAGE)
        services.account_add_document(agency=alpha.agency, actor=persona.admin, account=account,
                                      uploaded_file=SimpleUploadedFile("invoice-77.pdf", b"%PDF-1.4 invoice"))
        from payments.services import payment_report_direct

        payment_report_direct(agency=alpha.agency, actor=persona.admin, account=account, amount=Decimal("500.00"),
                              received_on=timezone.localdate(), reference="CHK-1234", note="")
    with tenant_scope(alpha.agency):
        Activity.objects.create(agency=alpha.agency, client=persona.client, account=account, kind=Activity.Kind.CALL,
                                actor=alpha.collector, summary="Internal: debtor sounded evasive",
                                client_visible=False, occurred_at=timezone.now())
        Document.objects.create(agency=alpha.agency, client=persona.client, account=account, name="skip-trace.pdf",
                                file="documents/none.pdf", content_type="application/pdf", size=10,
                                client_visible=False)
    return account


def test_account_page_shows_amounts_timeline_documents_and_payments(world, busy_account, books, signed_in):
    body = page_of(signed_in(world.alpha.clients[0].user), "debtor_account_detail", busy_account.pk)
    assert "Borealis Foods" in body and "A-200" in body
    assert "2,500.00" in body and "2,000.00" in body  # principal and the balance after the payment
    assert f"Placed (placement #{books['batch1'].pk})" in body
    assert "Called them twice" in body and "Please prioritise" in body
    assert "Direct payment reported: 500.00 USD" in body and "CHK-1234" in body
    assert "invoice-77.pdf" in body
    assert "Paid directly to the client" in body
    # a client sees neither the agency's internal activity nor its internal documents
    assert "Internal: debtor sounded evasive" not in body and "skip-trace.pdf" not in body
    # the read-only user gets the message form only
    assert reverse("debtor_account_message", args=[busy_account.pk]) in body
    for name in ("debtor_account_set_status", "debtor_account_note", "debtor_account_document_add",
                 "debtor_account_payment_report"):
        assert reverse(name, args=[busy_account.pk]) not in body, name


def test_staff_see_the_whole_timeline_and_the_client(world, busy_account, signed_in):
    body = page_of(signed_in(world.alpha.collector), "debtor_account_detail", busy_account.pk)
    assert "Internal: debtor sounded evasive" in body and "skip-trace.pdf" in body and "Agency only" in body
    assert "Alpha Recovery Client 1" in body
    assert reverse("debtor_account_note", args=[busy_account.pk]) in body
    assert reverse("debtor_account_document_add", args=[busy_account.pk]) in body
    for name in ("debtor_account_set_status", "debtor_account_message", "debtor_account_payment_report"):
        assert reverse(name, args=[busy_account.pk]) not in body, name


def test_client_admin_gets_every_client_action(world, books, signed_in):
    account = books["c1"]["A-100"]
    body = page_of(signed_in(world.alpha.clients[0].admin), "debtor_account_detail", account.pk)
    for name in ("debtor_account_set_status", "debtor_account_note", "debtor_account_message",
                 "debtor_account_document_add", "debtor_account_payment_report"):
        assert reverse(name, args=[account.pk]) in body, name


def test_client_sees_the_agency_not_the_collector_on_the_timeline(world, books, signed_in):
    account = books["c1"]["A-100"]
    with tenant_scope(world.alpha.agency):
        services.account_add_note(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                                  text="Left a voicemail", client_visible=True)
        services.account_add_note(agency=world.alpha.agency, actor=world.alpha.collector, account=account,
                                  text="Internal: debtor sounded evasive")
    body = page_of(signed_in(world.alpha.clients[0].user), "debtor_account_detail", account.pk)
    assert "Left a voicemail" in body and "Collector" not in body and "Alpha Recovery" in body
    assert "debtor sounded evasive" not in body  # staff notes are internal unless shared


# --- Actions --------------------------------------------------------------------------------

def test_client_admin_recalls_an_account(world, books, signed_in):
    persona, account = world.alpha.clients[0], books["c1"]["A-100"]
    browser = signed_in(persona.admin)
    response = browser.post(reverse("debtor_account_set_status", args=[account.pk]),
                            {"status": "recalled", "reason": "Settled with the customer"})
    assert response.status_code == 302 and response.url == reverse("debtor_account_detail", args=[account.pk])
    assert reload(account).status == DebtorAccount.Status.RECALLED
    with unscoped():
        assert AuditEvent.objects.filter(action="account.status_changed", object_id=str(account.pk)).exists()
    body = browser.get(response.url).content.decode()
    assert "Account recalled" in body and "Recalled: Settled with the customer" in body


def test_hold_then_release(world, books, signed_in):
    account = books["c1"]["A-100"]
    browser = signed_in(world.alpha.clients[0].admin)
    browser.post(reverse("debtor_account_set_status", args=[account.pk]), {"status": "on_hold", "reason": "Disputed"})
    assert reload(account).status == DebtorAccount.Status.ON_HOLD and reload(account).hold_reason == "Disputed"
    assert "On hold: Disputed" in browser.get(reverse("debtor_account_detail", args=[account.pk])).content.decode()
    browser.post(reverse("debtor_account_set_status", args=[account.pk]), {"status": "active", "reason": "Resolved"})
    assert reload(account).status == DebtorAccount.Status.ACTIVE and reload(account).hold_reason == ""


@pytest.mark.parametrize("data, message", [
    ({"status": "on_hold", "reason": ""}, "This field is required."),
    ({"status": "active", "reason": "release a new one?"}, "Select a valid choice."),
    ({"status": "closed", "reason": "x"}, "Select a valid choice."),
    ({}, "This field is required."),
])
def test_bad_status_changes_show_inline_errors_and_change_nothing(world, books, signed_in, data, message):
    account = books["c1"]["A-100"]
    browser = signed_in(world.alpha.clients[0].admin)
    response = browser.post(reverse("debtor_account_set_status", args=[account.pk]), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert reload(account).status == DebtorAccount.Status.NEW


def test_recalled_account_offers_no_status_change_and_refuses_one(world, books, signed_in):
    account = books["c1"]["A-100"]
    browser = signed_in(world.alpha.clients[0].admin)
    browser.post(reverse("debtor_account_set_status", args=[account.pk]), {"status": "recalled", "reason": "Done"})
    body = browser.get(reverse("debtor_account_detail", args=[account.pk])).content.decode()
    assert reverse("debtor_account_set_status", args=[account.pk]) not in body
    response = browser.post(reverse("debtor_account_set_status", args=[account.pk]),
                            {"status": "on_hold", "reason": "x"})
    assert response.status_code == 200 and reload(account).status == DebtorAccount.Status.RECALLED


def test_notes_by_client_admin_and_staff(world, books, signed_in):
    account = books["c1"]["A-100"]
    for actor, text in ((world.alpha.clients[0].admin, "Client note"), (world.alpha.manager, "Staff note")):
        response = signed_in(actor).post(reverse("debtor_account_note", args=[account.pk]), {"text": text})
        assert response.status_code == 302
    with unscoped():
        assert sorted(Activity.objects.filter(account=account, kind="note").values_list("body", flat=True)) == [
            "Client note", "Staff note"]
    empty = signed_in(world.alpha.clients[0].admin).post(reverse("debtor_account_note", args=[account.pk]),
                                                         {"text": "  "})
    assert empty.status_code == 200 and "This field is required." in empty.content.decode()


def test_read_only_user_sends_a_message_to_the_agency(world, books, signed_in):
    account = books["c1"]["A-100"]
    response = signed_in(world.alpha.clients[0].user).post(reverse("debtor_account_message", args=[account.pk]),
                                                           {"text": "Any news on this one?"})
    assert response.status_code == 302
    with unscoped():
        message = Activity.objects.get(account=account, kind=Activity.Kind.MESSAGE)
        assert AuditEvent.objects.filter(action="account.message_added").exists()
    assert message.body == "Any news on this one?" and message.actor == world.alpha.clients[0].user


def test_read_only_user_and_staff_are_refused_what_their_role_cannot_do(world, books, signed_in):
    account = books["c1"]["A-100"]
    refused = {
        world.alpha.clients[0].user: ["debtor_account_set_status", "debtor_account_note",
                                      "debtor_account_document_add", "debtor_account_payment_report"],
        world.alpha.collector: ["debtor_account_set_status", "debtor_account_message", "debtor_account_payment_report"],
        world.alpha.admin: ["debtor_account_set_status", "debtor_account_message", "debtor_account_payment_report"],
    }
    data = {"status": "recalled", "reason": "x", "text": "x", "amount": "1.00",
            "received_on": timezone.localdate().isoformat(), "file": SimpleUploadedFile("a.txt", b"x")}
    for user, routes in refused.items():
        browser = signed_in(user)
        for name in routes:
            assert browser.post(reverse(name, args=[account.pk]), data).status_code == 404, (user, name)
    fresh = reload(account)
    assert fresh.status == DebtorAccount.Status.NEW and fresh.balance == Decimal("100.00")
    with unscoped():
        assert not Activity.objects.filter(account=account).exists()
        assert not Payment.objects.filter(account=account).exists()
        assert not Document.objects.filter(account=account).exists()


def test_actions_answer_get_with_405_for_allowed_roles(world, books, signed_in):
    account = books["c1"]["A-100"]
    browser = signed_in(world.alpha.clients[0].admin)
    assert browser.get(reverse("debtor_account_note", args=[account.pk])).status_code == 405


def test_document_upload_and_scoped_download(world, books, signed_in):
    account = books["c1"]["A-100"]
    admin = signed_in(world.alpha.clients[0].admin)
    response = admin.post(reverse("debtor_account_document_add", args=[account.pk]),
                          {"file": SimpleUploadedFile("statement.pdf", b"%PDF-1.4 statement", "application/pdf")})
    assert response.status_code == 302
    with unscoped():
        document = Document.objects.get(account=account)
    reader = signed_in(world.alpha.clients[0].user)
    download = reader.get(reverse("debtor_account_document_download", args=[document.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 statement"
    assert download["Content-Type"] == "application/pdf"
    assert 'attachment; filename="statement.pdf"' in download["Content-Disposition"]
    staff = signed_in(world.alpha.collector).post(reverse("debtor_account_document_add", args=[account.pk]),
                                                  {"file": SimpleUploadedFile("trace.txt", b"notes")})
    assert staff.status_code == 302


@pytest.mark.parametrize("upload, message", [
    (SimpleUploadedFile("tool.exe", b"MZ"), "attach a PDF, image, CSV, text, Word or Excel file"),
    (SimpleUploadedFile("empty.pdf", b""), "The submitted file is empty."),
    (SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 a program"), "invoice.pdf is not what its name says"),
    (SimpleUploadedFile("scan.png", b"%PDF-1.4"), "scan.png is not what its name says (its content is a PDF document)"),
    (SimpleUploadedFile("notes.txt", b"\x89PNG\r\n\x1a\n"), "notes.txt is not what its name says"),
    (None, "This field is required."),
])
def test_bad_documents_are_refused_inline(world, books, signed_in, upload, message):
    account = books["c1"]["A-100"]
    response = signed_in(world.alpha.clients[0].admin).post(
        reverse("debtor_account_document_add", args=[account.pk]), {"file": upload} if upload else {})
    assert response.status_code == 200 and message in response.content.decode()
    with unscoped():
        assert not Document.objects.filter(account=account).exists()


def test_internal_documents_and_missing_files_are_404_for_clients(world, busy_account, signed_in):
    with unscoped():
        internal = Document.objects.get(name="skip-trace.pdf")
    assert signed_in(world.alpha.clients[0].admin).get(
        reverse("debtor_account_document_download", args=[internal.pk])).status_code == 404
    # staff may see it, but its file was never written: 404, not 500
    assert signed_in(world.alpha.admin).get(
        reverse("debtor_account_document_download", args=[internal.pk])).status_code == 404


# --- Foreign accounts ---------------------------------------------------------------------------

PERSONAS = {
    "admin": lambda w: w.alpha.admin,
    "manager": lambda w: w.alpha.manager,
    "collector": lambda w: w.alpha.collector,
    "client1_admin": lambda w: w.alpha.clients[0].admin,
    "client1_user": lambda w: w.alpha.clients[0].user,
}
ACCOUNT_ROUTES = [
    ("get", "debtor_account_detail"),
    ("post", "debtor_account_set_status"),
    ("post", "debtor_account_note"),
    ("post", "debtor_account_message"),
    ("post", "debtor_account_document_add"),
    ("post", "debtor_account_payment_report"),
]


def foreign_accounts(persona, world, books):
    accounts = [books["bravo"]["BR-1"]]
    if persona.startswith("client1"):
        accounts.append(books["c2"]["Z-900"])  # the other client of the same agency
    return accounts


@pytest.mark.parametrize("persona", PERSONAS)
def test_foreign_accounts_and_documents_are_404_on_every_route(world, books, signed_in, persona):
    user = PERSONAS[persona](world)
    # a document on every account, so the download route has a foreign target too
    documents = []
    for owner, account in ((world.bravo, books["bravo"]["BR-1"]), (world.alpha, books["c2"]["Z-900"])):
        with tenant_scope(owner.agency):
            documents.append((account, Document.objects.create(
                agency=owner.agency, client_id=account.client_id, account=account, name="secret.pdf",
                file="documents/x.pdf", content_type="application/pdf", size=1)))
    browser = signed_in(user)
    data = {"status": "recalled", "reason": "x", "text": "x", "amount": "1.00",
            "received_on": timezone.localdate().isoformat()}
    for account in foreign_accounts(persona, world, books):
        before = reload(account)
        for method, name in ACCOUNT_ROUTES:
            payload = dict(data, file=SimpleUploadedFile("a.txt", b"x")) if method == "post" else {}
            response = getattr(browser, method)(reverse(name, args=[account.pk]), payload)
            assert response.status_code == 404, (persona, name, account.client_reference)
            assert account.debtor_name not in response.content.decode()
        after = reload(account)
        assert (after.status, after.balance, after.updated_at) == (before.status, before.balance, before.updated_at)
        with unscoped():
            assert not Activity.objects.filter(account=account).exists()
            assert not Payment.objects.filter(account=account).exists()
            assert Document.objects.filter(account=account).count() == 1
        document = next(d for a, d in documents if a.pk == account.pk)
        assert browser.get(reverse("debtor_account_document_download", args=[document.pk])).status_code == 404
    for name in ("debtor_account_detail",):
        assert browser.get(reverse(name, args=[999999])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, world, books):
    for url in (reverse("debtor_account_list"), reverse("debtor_account_export"),
                reverse("debtor_account_detail", args=[books["c1"]["A-100"].pk])):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")
