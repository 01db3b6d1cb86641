"""Remittance statements: the figures (net and gross remittance), the PDF's text and the CSV, issued
once, emailed to the client's admins, remitted into the ledger once, corrected by a revision."""
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from pypdf import PdfReader

from accounts.models import ContractTerms
from payments.ledger import selectors as ledger
from payments.models import JournalEntry, RemittanceStatement
from payments.posting.services import payment_post, payment_reverse
from payments.statements.services import clients_due, previous_month, statement_issue, statement_mark_remitted
from portal.errors import DomainError
from tests.factories import DebtorAccountFactory

D = Decimal


def reconciles(totals) -> bool:
    """The statement's summary adds up: opening + collected - reversed - commission - remitted = closing."""
    t = {key: D(value) for key, value in totals.items() if key != "method"}
    return t["opening_owed"] + t["collected_by_agency"] - t["reversed"] - t["commission"] - t["remitted"] == t["closing_owed"]


def month_of(day):
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


@pytest.fixture
def october(alpha):
    """Client 1 (25 % flat): 400.00 to the agency on ST-1, 100.00 of it reversed; 200.00 paid to
    the client directly on ST-2. This month's period."""
    client = alpha.clients[0].client
    ContractTerms.objects.filter(client=client).update(flat_fee_percent=D("25.00"), remittance_method="net")
    one = DebtorAccountFactory(client=client, client_reference="ST-1", principal=D("1000.00"), debt_purpose="commercial",
                               debtor__name="Harbor Freight Partners")
    two = DebtorAccountFactory(client=client, client_reference="ST-2", principal=D("900.00"), debt_purpose="commercial")
    today = alpha.agency.local_date()  # the statement's days are the agency's
    agency_payment = payment_post(agency=alpha.agency, actor=alpha.collector, account=one, amount="400.00",
                                  received_on=today, method="check", source="staff").payment
    payment_reverse(agency=alpha.agency, actor=alpha.collector, payment=agency_payment, kind="bounced_check",
                    amount="100.00", reason="part bounced")
    payment_post(agency=alpha.agency, actor=alpha.clients[0].admin, account=two, amount="200.00", received_on=today,
                 method="direct", received_by="client", source="client")
    return client, *month_of(today)


def pdf_text(statement):
    with statement.pdf.open("rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def test_a_net_statement_shows_collections_commission_and_what_is_remitted(alpha, october,
                                                                           django_capture_on_commit_callbacks):
    client, start, end = october
    with django_capture_on_commit_callbacks(execute=True):
        statement, created = statement_issue(client=client, period_start=start, period_end=end)
    assert created
    totals = {k: v for k, v in statement.totals.items()}
    # 400 in, 100 back, commission 25 % of 300 + 25 % of 200 (direct) = 125; owed: 300 - 75 - 50 = 175
    assert totals == {"collected_by_agency": "400.00", "collected_by_client": "200.00", "reversed": "100.00",
                      "commission": "125.00", "opening_owed": "0.00", "closing_owed": "175.00",
                      "closing_payable": "225.00", "closing_receivable": "50.00", "to_remit": "175.00",
                      "commission_invoice": "0.00", "remitted": "0.00", "due_back": "0.00", "method": "net"}
    assert reconciles(totals)
    text = pdf_text(statement)
    for expected in ("Remittance statement", "Alpha Recovery Client 1", "ST-1", "ST-2", "Harbor Freight Partners",
                     "400.00", "-100.00", "Net remittance to you", "175.00", "Bounced check"):
        assert expected in text, expected
    with statement.csv.open("rb") as handle:
        rows = handle.read().decode().splitlines()
    assert rows[0] == "day,account,debtor,what,received by,amount,commission" and "to remit,175.00" in rows
    assert [m.to for m in mail.outbox] == [[alpha.clients[0].admin.email]]
    assert mail.outbox[0].attachments[0][0].endswith(".pdf")
    again, created_again = statement_issue(client=client, period_start=start, period_end=end)
    assert again.pk == statement.pk and not created_again


def test_the_statement_email_is_recorded_with_the_statement_not_after_it(alpha, october):
    """A worker lost right after the statement commits (no after-commit work runs) still leaves
    the admins' email in the send log, pending: beat's deliver_pending_emails sends it. Recorded
    after commit, it was never sent, and the next run skipped the issued statement."""
    from portal.models import OutboundEmail

    client, start, end = october
    statement, _ = statement_issue(client=client, period_start=start, period_end=end)  # no on_commit runs here
    emails = OutboundEmail.objects.filter(idempotency_key__startswith=f"statement:{statement.pk}:")
    assert [(email.to, email.status) for email in emails] == [(alpha.clients[0].admin.email, "pending")]
    assert mail.outbox == []


def test_remitting_posts_the_entry_once_and_leaves_nothing_owed(alpha, october):
    client, start, end = october
    statement, _ = statement_issue(client=client, period_start=start, period_end=end)
    statement_mark_remitted(agency=alpha.agency, actor=alpha.admin, statement=statement)
    entry = JournalEntry.objects.get(kind="remittance")
    assert {(l.ledger_account, l.debit, l.credit) for l in entry.lines.all()} == {
        ("client_payable", D("225.00"), D("0.00")), ("trust_cash", D("0.00"), D("175.00")),
        ("commission_receivable", D("0.00"), D("50.00"))}
    position = ledger.client_position(client)
    assert position.payable == D("0.00") and position.receivable == D("0.00")
    with pytest.raises(DomainError, match="Already recorded"):
        statement_mark_remitted(agency=alpha.agency, actor=alpha.admin, statement=statement)
    call_command("ledger_check")


def test_marking_remitted_on_the_page_asks_that_the_money_was_sent_first(alpha, october, client):
    """A remittance entry cannot be taken back: one stray click on the list recorded it."""
    statement, _ = statement_issue(client=october[0], period_start=october[1], period_end=october[2])
    client.force_login(alpha.admin)
    page = client.get(reverse("statement_list")).content.decode()
    assert "175.00 was sent to" in page and "cannot be undone" in page
    url = reverse("statement_remitted", args=[statement.pk])
    refused = client.post(url, follow=True).content.decode()
    assert "tick that the money was sent" in refused
    assert not JournalEntry.objects.filter(kind="remittance").exists()
    client.post(url, {"confirm": "sent"})
    statement.refresh_from_db()
    assert statement.remitted_at is not None and JournalEntry.objects.filter(kind="remittance").count() == 1


def test_a_gross_statement_remits_everything_and_invoices_the_commission(alpha, october):
    client, start, end = october
    ContractTerms.objects.filter(client=client).update(remittance_method="gross")
    other = DebtorAccountFactory(client=client, client_reference="ST-3", principal=D("500.00"), debt_purpose="commercial")
    payment_post(agency=alpha.agency, actor=alpha.collector, account=other, amount="100.00",
                 received_on=alpha.agency.local_date(), method="cash", source="staff")
    statement, _ = statement_issue(client=client, period_start=start, period_end=end)
    # net entries before the switch: payable 225; gross payment: payable +100, receivable +25
    assert statement.totals["to_remit"] == "325.00" and statement.totals["commission_invoice"] == "75.00"
    assert "Commission invoiced to you" in pdf_text(statement)


def test_a_correction_is_a_new_revision_that_says_what_it_corrects(alpha, october, client):
    client_row, start, end = october
    first, _ = statement_issue(client=client_row, period_start=start, period_end=end)
    with pytest.raises(DomainError, match="Say what the correction changes"):
        statement_issue(client=client_row, period_start=start, period_end=end, corrects=first, note="")
    second, created = statement_issue(client=client_row, period_start=start, period_end=end, corrects=first,
                                      note="A late-reported direct payment")
    assert created and second.revision == 2 and second.corrects == first
    assert "corrects revision 1" in pdf_text(second) and "A late-reported direct payment" in pdf_text(second)
    with pytest.raises(DomainError, match="latest revision"):
        statement_mark_remitted(agency=alpha.agency, actor=alpha.admin, statement=first)
    with first.pdf.open("rb") as handle:
        assert handle.read()  # the first one is kept as it was issued
    client.force_login(alpha.clients[0].user)
    page = client.get(reverse("statement_list")).content.decode()
    assert "rev. 2" in page and "A late-reported direct payment" in page
    pdf = client.get(reverse("statement_file", args=[second.pk, "pdf"]))
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_clients_are_due_on_their_remittance_day_once(alpha, october):
    client, _start, _end = october
    ContractTerms.objects.filter(client=client).update(remittance_day=15)
    assert client not in clients_due(date(2027, 1, 14))
    assert client in clients_due(date(2027, 1, 15)) and client in clients_due(date(2027, 1, 20))  # caught up
    start, end = previous_month(date(2027, 1, 15))
    assert (start, end) == (date(2026, 12, 1), date(2026, 12, 31))
    statement_issue(client=client, period_start=start, period_end=end)
    assert client not in clients_due(date(2027, 1, 20))
    assert RemittanceStatement.objects.count() == 1


def test_a_remittance_day_past_the_months_end_is_its_last_day(alpha, october):
    """Day 31 (end of month remittance): due on November 30 and on February 28 of a common year,
    not before, and once."""
    client, _start, _end = october
    ContractTerms.objects.filter(client=client).update(remittance_day=31)
    assert client not in clients_due(date(2026, 11, 29)) and client in clients_due(date(2026, 11, 30))
    assert client not in clients_due(date(2027, 2, 27)) and client in clients_due(date(2027, 2, 28))
    assert client not in clients_due(date(2027, 3, 30)) and client in clients_due(date(2027, 3, 31))
    statement_issue(client=client, period_start=date(2027, 2, 1), period_end=date(2027, 2, 28))
    assert client not in clients_due(date(2027, 3, 31))


def test_day_31_can_be_agreed_and_the_terms_say_what_it_means(alpha, client):
    from tests.accounts.test_contract_terms import VALID, tiers

    terms_client = alpha.clients[0].client
    client.force_login(alpha.admin)
    answer = client.post(f"/agency/clients/{terms_client.pk}/terms/", VALID | tiers() | {"remittance_day": "31"})
    assert answer.status_code == 302
    assert ContractTerms.objects.get(client=terms_client).remittance_day == 31
    page = client.get(f"/agency/clients/{terms_client.pk}/").content.decode()
    assert "on day 31 of each month (the last day in shorter months)" in page


def test_a_reversal_late_on_the_months_last_evening_is_in_that_months_statement(alpha):
    """23:30 on January 31 in Los Angeles is February 1 in UTC: the bounced check belongs to the
    agency's January, in the statement's rows and in its closing figures."""
    import time_machine
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from payments.statements.services import statement_figures

    los_angeles = ZoneInfo("America/Los_Angeles")
    alpha.agency.time_zone = "America/Los_Angeles"
    alpha.agency.save(update_fields=["time_zone"])
    client = alpha.clients[0].client
    account = DebtorAccountFactory(client=client, client_reference="EVE-1", principal=D("500.00"),
                                   debt_purpose="commercial")
    with time_machine.travel(datetime(2027, 1, 20, 10, 0, tzinfo=los_angeles), tick=False):
        payment = payment_post(agency=alpha.agency, actor=alpha.collector, account=account, amount="200.00",
                               received_on=date(2027, 1, 20), method="check", source="staff").payment
    with time_machine.travel(datetime(2027, 1, 31, 23, 30, tzinfo=los_angeles), tick=False):
        payment_reverse(agency=alpha.agency, actor=alpha.collector, payment=payment, kind="bounced_check",
                        amount="200.00", reason="bounced")
    february = datetime(2027, 2, 5, 12, 0, tzinfo=los_angeles)  # the figures are taken after all of it
    january = statement_figures(client, date(2027, 1, 1), date(2027, 1, 31), cutoff=february)
    assert [(row["day"], row["amount"]) for row in january["rows"]] == [(date(2027, 1, 20), D("200.00")),
                                                                      (date(2027, 1, 31), D("-200.00"))]
    assert january["totals"]["reversed"] == D("200.00") and january["totals"]["closing_owed"] == D("0.00")
    assert statement_figures(client, date(2027, 2, 1), date(2027, 2, 28), cutoff=february)["rows"] == []


def at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC), tick=False)


def client_on_terms(alpha, method):
    customer = alpha.clients[0].client
    ContractTerms.objects.filter(client=customer).update(fee_type="flat", flat_fee_percent=D("25.00"),
                                                         remittance_method=method)
    account = DebtorAccountFactory(client=customer, client_reference="BB-1", principal=D("5000.00"),
                                   debt_purpose="commercial")
    return customer, account


def post(alpha, account, amount, day):
    with at(day):
        return payment_post(agency=alpha.agency, actor=alpha.collector, account=account, amount=amount,
                            received_on=day, method="check", source="staff").payment


def issue(customer, first: date, *, remit_by=None):
    last = month_of(first)[1]
    with at(last + timedelta(days=2)):
        statement, _ = statement_issue(client=customer, period_start=first, period_end=last)
        if remit_by is not None:
            statement = statement_mark_remitted(agency=remit_by.agency, actor=remit_by.admin, statement=statement)
    return statement


@pytest.mark.parametrize("method, due_back, next_remittance", [("net", "750.00", "750.00"),
                                                                ("gross", "1000.00", "1000.00")])
def test_a_payment_bounced_after_it_was_remitted_is_due_back_and_netted_from_the_next(
        method, due_back, next_remittance, alpha):
    """October's 1,000.00 was remitted in November, then the check bounced: the client owes it
    back. Marking November remitted crashed (a negative ledger line) and the PDF said "Remittance
    to you -1,000.00" (gross) or called the money owed back "commission" (net)."""
    customer, account = client_on_terms(alpha, method)
    payment = post(alpha, account, "1000.00", date(2026, 10, 15))
    issue(customer, date(2026, 10, 1), remit_by=alpha)
    with at(date(2026, 11, 10)):
        payment_reverse(agency=alpha.agency, actor=alpha.collector, payment=payment, kind="bounced_check",
                        amount=None, reason="NSF")
    november = issue(customer, date(2026, 11, 1), remit_by=alpha)
    totals = november.totals
    assert reconciles(totals) and totals["remitted"] == ("750.00" if method == "net" else "1000.00")
    assert (totals["to_remit"], totals["due_back"], totals["commission_invoice"]) == ("0.00", due_back, "0.00")
    assert november.remitted_at is not None and november.remittance_entry is None
    assert JournalEntry.objects.filter(kind="remittance").count() == 1  # October's only: no money moved
    text = pdf_text(november).replace("\n", " ")
    remit_line = "Net remittance to you 0.00" if method == "net" else "Remittance to you (gross) 0.00"
    assert remit_line in text and f"unless paid) {D(due_back):,.2f}" in text and "Commission invoiced" not in text
    post(alpha, account, "2000.00", date(2026, 12, 1))  # the next collections pay it back first
    december = issue(customer, date(2026, 12, 1), remit_by=alpha)
    assert reconciles(december.totals) and december.totals["opening_owed"] == november.totals["closing_owed"]
    assert (december.totals["to_remit"], december.totals["due_back"]) == (next_remittance, "0.00")


def test_a_payment_dated_in_a_month_already_stated_is_on_the_next_statement(alpha):
    """A check received October 30 but posted November 3, after October's statement was issued:
    it was on neither statement, and November opened higher than October closed."""
    from payments.statements.services import statement_figures

    customer, account = client_on_terms(alpha, "net")
    post(alpha, account, "400.00", date(2026, 10, 20))
    october = issue(customer, date(2026, 10, 1))
    with at(date(2026, 11, 3)):
        payment_post(agency=alpha.agency, actor=alpha.collector, account=account, amount="300.00",
                     received_on=date(2026, 10, 30), method="check", source="staff")
    post(alpha, account, "100.00", date(2026, 11, 20))
    november = issue(customer, date(2026, 11, 1))
    assert november.totals["opening_owed"] == october.totals["closing_owed"] == "300.00"
    assert november.totals["collected_by_agency"] == "400.00" and november.totals["closing_owed"] == "600.00"
    assert reconciles(november.totals)
    text = pdf_text(november).replace("\n", " ")
    assert "Oct 30, 2026 BB-1 Debtor BB-1 Check, posted Nov 3 300.00 75.00" in text
    # before any statement, every earlier payment is in the opening balance, not repeated as a row
    assert [row["amount"] for row in statement_figures(customer, date(2026, 10, 1), date(2026, 10, 31))["rows"]] == [
        D("400.00"), D("300.00")]


def test_statements_are_dated_on_the_agencys_calendar(alpha):
    """Issued by beat at 00:07 on December 1 in Sydney (still November 30 in UTC)."""
    alpha.agency.time_zone = "Australia/Sydney"
    alpha.agency.save(update_fields=["time_zone"])
    customer, account = client_on_terms(alpha, "net")
    post(alpha, account, "100.00", date(2026, 11, 5))
    with time_machine.travel(datetime(2026, 11, 30, 13, 7, tzinfo=UTC), tick=False):
        statement, _ = statement_issue(client=customer, period_start=date(2026, 11, 1), period_end=date(2026, 11, 30))
    assert "issued December 1, 2026" in pdf_text(statement)


def test_a_remittance_marked_after_the_next_month_ended_is_not_asked_for_again(alpha):
    """Remittance day 31: September's statement is issued October 31 and remitted November 1,
    after October ended. October's statement asked for September's 300.00 again."""
    customer, account = client_on_terms(alpha, "net")
    ContractTerms.objects.filter(client=customer).update(remittance_day=31)
    post(alpha, account, "400.00", date(2026, 9, 10))
    with at(date(2026, 10, 31)):
        september, _ = statement_issue(client=customer, period_start=date(2026, 9, 1), period_end=date(2026, 9, 30))
    with at(date(2026, 11, 1)):
        statement_mark_remitted(agency=alpha.agency, actor=alpha.admin, statement=september)
    with at(date(2026, 11, 30)):
        october, _ = statement_issue(client=customer, period_start=date(2026, 10, 1), period_end=date(2026, 10, 31))
    assert september.totals["to_remit"] == "300.00"
    assert (october.totals["opening_owed"], october.totals["remitted"], october.totals["to_remit"]) == (
        "300.00", "300.00", "0.00")
    assert reconciles(october.totals) and october.totals["due_back"] == "0.00"
    post(alpha, account, "100.00", date(2026, 11, 5))
    november = issue(customer, date(2026, 11, 1))
    assert november.totals["opening_owed"] == october.totals["closing_owed"] == "0.00"
    assert november.totals["remitted"] == "0.00" and november.totals["to_remit"] == "75.00" and reconciles(november.totals)


def test_commission_given_back_after_it_was_kept_is_paid_out_not_a_crash(alpha):
    """A direct payment's commission was kept from September's remittance; in October the client's
    check bounced, so the commission goes back: Mark remitted wrote a negative ledger line (500)."""
    customer, account = client_on_terms(alpha, "net")
    post(alpha, account, "400.00", date(2026, 9, 5))
    with at(date(2026, 9, 8)):
        direct = payment_post(agency=alpha.agency, actor=alpha.clients[0].admin, account=account, amount="200.00",
                              received_on=date(2026, 9, 8), method="direct", received_by="client", source="client").payment
    issue(customer, date(2026, 9, 1), remit_by=alpha)  # 300.00 owed less 50.00 commission kept: 250.00
    with at(date(2026, 10, 12)):
        payment_reverse(agency=alpha.agency, actor=alpha.clients[0].admin, payment=direct, kind="bounced_check",
                        amount=None, reason="bounced")
    october = issue(customer, date(2026, 10, 1), remit_by=alpha)
    assert reconciles(october.totals) and october.totals["to_remit"] == "50.00"
    assert october.remittance_entry is not None
    position = ledger.client_position(customer)
    assert position.payable == D("0.00") and position.receivable == D("0.00")
