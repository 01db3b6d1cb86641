"""Posting payments: idempotency keys, allocation (installments oldest first, then fees ->
interest -> principal in the client's order), settlements, overpayments, commission, reversals of
every kind, and the trust ledger they write."""
import threading
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from accounts.models import ContractTerms
from collections_work.models import Activity, DebtorAccount
from payments.ledger import selectors as ledger
from payments.models import Installment, JournalEntry, JournalLine, Payment, PaymentPlan, PlanOffer, Reversal
from payments.limits import latest_payment_date
from payments.posting.services import IdempotencyConflict, payment_post, payment_reverse
from portal.errors import DomainError
from portal.models import AuditEvent
from portal.tenancy import tenant_scope, unscoped
from tests.factories import DebtorAccountFactory
from tests.payments.conftest import reload

D = Decimal
TODAY = timezone.localdate


def post(alpha, account, amount, *, key=None, method="check", received_by="agency", on=None):
    return payment_post(agency=alpha.agency, actor=alpha.collector, account=account, amount=amount,
                        received_on=on or TODAY(), method=method, received_by=received_by, source="staff",
                        idempotency_key=key)


def reverse_payment(alpha, payment, kind="bounced_check", amount=None, **extra):
    return payment_reverse(agency=alpha.agency, actor=alpha.collector, payment=payment, kind=kind, amount=amount,
                           reason=extra.pop("reason", "returned by the bank"), **extra)


@pytest.fixture
def plain(alpha):
    """1,000.00 principal + 100.00 interest + 50.00 fees, placed 200 days past due (tiered fees
    would take the 181-365 tier); flat 25 % contingency fee."""
    return DebtorAccountFactory(client=alpha.clients[0].client, client_reference="PAY-1", principal=D("1000.00"),
                                interest=D("100.00"), fees=D("50.00"), debt_purpose="commercial",
                                delinquency_date=TODAY() - timedelta(days=200),
                                placed_at=timezone.now() - timedelta(days=10))


def balances_of(account):
    fresh = reload(account)
    return fresh.paid, fresh.balance, fresh.status


# --- Idempotency ---------------------------------------------------------------------------------

def test_the_same_key_records_one_payment_and_a_different_payment_under_it_is_refused(alpha, plain):
    first = post(alpha, plain, "100.00", key="form-1")
    again = post(alpha, plain, "100.00", key="form-1")
    assert not first.replayed and again.replayed and again.payment.pk == first.payment.pk
    with pytest.raises(IdempotencyConflict, match="already used for a different payment"):
        post(alpha, plain, "120.00", key="form-1")
    with pytest.raises(IdempotencyConflict):
        post(alpha, plain, "100.00", key="form-1", method="cash")
    assert Payment.objects.count() == 1 and balances_of(plain)[0] == D("100.00")


def test_a_double_submitted_form_posts_once(alpha, plain, client):
    client.force_login(alpha.collector)
    page = client.get(reverse("account_workspace", args=[plain.pk])).content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"amount": "75.00", "received_on": TODAY().isoformat(), "method": "check", "received_by": "agency",
            "reference": "CHK 1", "idempotency_key": key}
    assert client.post(reverse("payment_post", args=[plain.pk]), form).status_code == 302
    again = client.post(reverse("payment_post", args=[plain.pk]), form, follow=True).content.decode()
    assert "was already posted" in again and Payment.objects.count() == 1


def test_an_amount_with_a_decimal_comma_is_refused_and_a_reused_key_says_why(alpha, plain, client):
    """Chromium's number box read "12,3" as 123 (the comma as a grouping mark): the amount is a text
    box on the decimal keypad and the server refuses a decimal comma. A key reused for another
    amount said nothing (its error sat on the hidden key field)."""
    import re

    client.force_login(alpha.collector)
    page = client.get(reverse("account_workspace", args=[plain.pk])).content.decode()
    amount_box = re.search(r'<input[^>]*name="amount"[^>]*>', page).group(0)
    assert 'type="text"' in amount_box and 'inputmode="decimal"' in amount_box
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"amount": "12,3", "received_on": TODAY().isoformat(), "method": "check", "received_by": "agency",
            "idempotency_key": key}
    answer = client.post(reverse("payment_post", args=[plain.pk]), form, follow=True).content.decode()
    assert "is not an amount: write cents after a dot, as in 12.30" in answer and Payment.objects.count() == 0
    assert client.post(reverse("payment_post", args=[plain.pk]), form | {"amount": "1,000.00"}).status_code == 302
    assert Payment.objects.get().amount == D("1000.00")
    reused = client.post(reverse("payment_post", args=[plain.pk]), form | {"amount": "20.00"}, follow=True)
    assert "already used for a different payment" in reused.content.decode() and Payment.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises writers)")
@pytest.mark.django_db(transaction=True)
def test_the_same_key_from_twenty_threads_records_one_payment(world):
    with tenant_scope(world.alpha.agency):
        account = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="RACE-1",
                                       principal=D("500.00"), debt_purpose="commercial")
    results, errors = [], []
    start = threading.Barrier(20)

    def worker():
        try:
            start.wait()
            with tenant_scope(world.alpha.agency):
                results.append(post(world.alpha, account, "40.00", key="same-key"))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with unscoped():
        assert Payment.objects.filter(account=account).count() == 1
        assert DebtorAccount.objects.get(pk=account.pk).paid == D("40.00")
        assert JournalEntry.objects.filter(payment__account=account).count() == 1
    assert sum(1 for result in results if not result.replayed) == 1


# --- Allocation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("order, amount, expected", [
    ("fees,interest,principal", "30.00", (D("30.00"), D("0.00"), D("0.00"))),
    ("fees,interest,principal", "120.00", (D("50.00"), D("70.00"), D("0.00"))),
    ("fees,interest,principal", "400.00", (D("50.00"), D("100.00"), D("250.00"))),
    ("interest,fees,principal", "120.00", (D("20.00"), D("100.00"), D("0.00"))),
    ("principal,interest,fees", "1080.00", (D("0.00"), D("80.00"), D("1000.00"))),
])
def test_a_payment_pays_the_parts_in_the_clients_order(alpha, plain, order, amount, expected):
    ContractTerms.objects.filter(client=plain.client).update(allocation_order=order)
    payment = post(alpha, plain, amount).payment
    assert (payment.to_fees, payment.to_interest, payment.to_principal) == expected
    fresh = reload(plain)
    assert (fresh.fees_paid, fresh.interest_paid, fresh.principal_paid) == expected
    assert fresh.balance == D("1150.00") - D(amount)


def test_a_payment_over_the_balance_is_refused_with_the_balance(alpha, plain):
    with pytest.raises(DomainError, match="more than the balance of 1,150.00"):
        post(alpha, plain, "1150.01")
    assert not Payment.objects.exists()


def test_commission_follows_the_terms_tier_by_age_at_placement(alpha, plain):
    ContractTerms.objects.filter(client=plain.client).update(flat_fee_percent=D("25.00"))
    flat = post(alpha, plain, "101.00").payment
    assert flat.commission_percent == D("25.00") and flat.commission == D("25.25")
    terms = ContractTerms.objects.get(client=plain.client)
    terms.fee_type = "tiered"
    terms.save()
    for low, high, percent in ((0, 180, "20.00"), (181, 365, "30.00"), (366, None, "40.00")):
        terms.fee_tiers.create(agency=alpha.agency, min_age_days=low, max_age_days=high, fee_percent=D(percent))
    tiered = post(alpha, plain, "10.00").payment  # 190 days past due when placed
    assert tiered.commission_percent == D("30.00") and tiered.commission == D("3.00")


def make_plan(alpha, account, amounts, kind="installments", total=None):
    """A current plan with installments of `amounts`, due 10, 40, 70... days ago-or-ahead."""
    total = total or sum(D(a) for a in amounts)
    offer = PlanOffer.objects.create(agency=alpha.agency, client=account.client, account=account, kind=kind,
                                     total_amount=total, installment_count=len(amounts), first_due_date=TODAY(),
                                     status="accepted")
    plan = PaymentPlan.objects.create(agency=alpha.agency, client=account.client, account=account, offer=offer,
                                      kind=kind, total_amount=total, accepted_at=timezone.now())
    for number, amount in enumerate(amounts, start=1):
        Installment.objects.create(agency=alpha.agency, client=account.client, plan=plan, number=number,
                                   due_date=TODAY() + timedelta(days=30 * (number - 1)), amount=D(amount))
    DebtorAccount.objects.filter(pk=account.pk).update(status="plan")
    account.refresh_from_db()
    return plan


def paid_amounts(plan):
    return [i.paid_amount for i in plan.installments.order_by("number")]


def test_installments_are_paid_oldest_first_and_a_part_payment_stays_partly_paid(alpha, plain):
    plan = make_plan(alpha, plain, ["400.00", "400.00", "350.00"])
    post(alpha, plain, "500.00")
    assert paid_amounts(plan) == [D("400.00"), D("100.00"), D("0.00")]
    post(alpha, plain, "650.00")
    plan.refresh_from_db()
    assert paid_amounts(plan) == [D("400.00"), D("400.00"), D("350.00")]
    assert plan.status == "completed" and balances_of(plain) == (D("1150.00"), D("0.00"), "paid")


def test_a_settlement_paid_in_full_writes_off_the_rest_and_the_account_is_settled(alpha, plain):
    plan = make_plan(alpha, plain, ["400.00", "400.00"], kind="lump_sum", total=D("800.00"))
    post(alpha, plain, "400.00")
    assert balances_of(plain) == (D("400.00"), D("750.00"), "plan")
    post(alpha, plain, "400.00")
    fresh = reload(plain)
    assert (fresh.paid, fresh.adjusted, fresh.balance, fresh.status) == (D("800.00"), D("350.00"), D("0.00"), "settled")
    plan.refresh_from_db()
    assert plan.status == "completed"
    adjustment = JournalEntry.objects.get(kind="settlement")
    assert {(l.ledger_account, l.debit, l.credit) for l in adjustment.lines.all()} == {
        ("settlement_discounts", D("350.00"), D("0.00")), ("claims_collected", D("0.00"), D("350.00"))}
    assert Activity.objects.filter(account=plain, summary__startswith="Settlement completed: 350.00").exists()
    with pytest.raises(DomainError, match="settled"):
        post(alpha, plain, "1.00")


def test_a_settled_accounts_amount_cards_add_up_to_its_balance(alpha, plain, client):
    """Principal, interest and fees less what was paid and what the settlement wrote off is the
    balance: the cards showed what was placed and paid, and nothing for the write-off."""
    make_plan(alpha, plain, ["800.00"], kind="lump_sum", total=D("800.00"))
    post(alpha, plain, "800.00")  # fees 50, interest 100, principal 650 (the client's order)
    client.force_login(alpha.clients[0].user)
    page = client.get(reverse("debtor_account_detail", args=[plain.pk])).content.decode()
    cards = page.split('class="stats account-amounts"')[1].split("</div>\n</div>")[0]
    for text in ("650.00 paid", "100.00 paid", "50.00 paid", "Written off", "350.00", "settlement discount"):
        assert text in cards


def test_the_timeline_and_ledger_say_how_it_was_paid_in_plain_words(alpha, plain):
    """They lowercased the method's label: "by paid directly to the client", "(bank transfer (ach))"."""
    post(alpha, plain, "10.00", method="ach")
    payment_post(agency=alpha.agency, actor=alpha.clients[0].admin, account=plain, amount="5.00", received_on=TODAY(),
                 method="direct", received_by="client", source="client")
    summaries = list(Activity.objects.filter(account=plain, kind="payment").values_list("summary", flat=True))
    assert any(s.startswith("Payment received: 10.00 USD by bank transfer (ACH) on ") for s in summaries)
    assert any(s.startswith("Direct payment reported: 5.00 USD paid to the client directly on ") for s in summaries)
    memos = set(JournalEntry.objects.filter(kind="payment").values_list("memo", flat=True))
    assert memos == {"Payment 10.00 on PAY-1, by bank transfer (ACH)", "Payment 5.00 on PAY-1, paid to the client directly"}


# --- Reversals -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, extra", [("returned_ach", {"return_code": "r01"}), ("bounced_check", {}),
                                         ("card_refund", {}), ("chargeback", {})])
def test_every_kind_of_reversal_undoes_the_payment_and_its_commission(alpha, plain, kind, extra):
    payment = post(alpha, plain, "1150.00", method="ach").payment
    assert balances_of(plain)[2] == "paid"
    reversal = reverse_payment(alpha, payment, kind=kind, **extra)
    assert reversal.amount == D("1150.00") and reversal.commission == payment.commission
    assert (reversal.from_fees, reversal.from_interest, reversal.from_principal) == (D("50.00"), D("100.00"), D("1000.00"))
    if kind == "returned_ach":
        assert reversal.return_code == "R01"
    fresh = reload(plain)
    assert (fresh.paid, fresh.balance, fresh.status) == (D("0.00"), D("1150.00"), "active")
    assert (fresh.fees_paid, fresh.interest_paid, fresh.principal_paid) == (D("0.00"),) * 3
    assert AuditEvent.objects.filter(action="payment.reversed").exists()
    assert Activity.objects.filter(account=plain, summary__contains="1,150.00 USD taken back").exists()
    assert ledger.client_position(plain.client).payable == D("0.00")


def test_a_partial_reversal_takes_the_last_paid_part_first_and_never_more_than_is_left(alpha, plain):
    payment = post(alpha, plain, "300.00").payment  # fees 50, interest 100, principal 150
    first = reverse_payment(alpha, payment, amount="200.00")
    assert (first.from_fees, first.from_interest, first.from_principal) == (D("0.00"), D("50.00"), D("150.00"))
    assert first.commission == D("50.00")  # 200/300 of 75.00
    with pytest.raises(DomainError, match="At most 100.00"):
        reverse_payment(alpha, payment, amount="100.01")
    reverse_payment(alpha, payment)  # the rest
    payment.refresh_from_db()
    assert payment.reversed_amount == D("300.00") and balances_of(plain)[1] == D("1150.00")
    with pytest.raises(DomainError, match="already reversed in full"):
        reverse_payment(alpha, payment, amount="0.01")


def test_an_ach_return_needs_its_code_and_every_reversal_a_reason(alpha, plain):
    payment = post(alpha, plain, "10.00").payment
    with pytest.raises(DomainError, match="return code"):
        reverse_payment(alpha, payment, kind="returned_ach")
    with pytest.raises(DomainError, match="Say why"):
        reverse_payment(alpha, payment, reason=" ")
    assert not Reversal.objects.exists()


def test_a_reversal_reopens_the_installments_and_a_settled_account_goes_back_on_its_plan(alpha, plain):
    plan = make_plan(alpha, plain, ["400.00", "400.00"], kind="lump_sum", total=D("800.00"))
    post(alpha, plain, "400.00")
    second = post(alpha, plain, "400.00").payment
    assert balances_of(plain)[2] == "settled"
    reverse_payment(alpha, second, kind="chargeback", reason="card stolen")
    fresh = reload(plain)
    plan.refresh_from_db()
    assert (fresh.paid, fresh.adjusted, fresh.balance, fresh.status) == (D("400.00"), D("0.00"), D("750.00"), "plan")
    assert plan.status == "current" and paid_amounts(plan) == [D("400.00"), D("0.00")]
    assert JournalEntry.objects.filter(kind="settlement").count() == 2  # the write-off and its reinstatement


def test_the_ledger_balances_and_says_what_is_owed_to_the_client(alpha, plain):
    ContractTerms.objects.filter(client=plain.client).update(flat_fee_percent=D("25.00"), remittance_method="net")
    post(alpha, plain, "200.00")
    post(alpha, plain, "100.00", received_by="client", method="direct")
    position = ledger.client_position(plain.client)
    assert position.payable == D("150.00") and position.receivable == D("25.00") and position.owed_now == D("125.00")
    for entry in JournalEntry.objects.all():
        lines = list(entry.lines.all())
        assert sum(l.debit for l in lines) == sum(l.credit for l in lines)
    assert ledger.unbalanced_entries() == [] and ledger.accounts_not_matching_payments() == []


def test_ledger_check_reports_what_it_checked_and_fails_on_a_difference(alpha, plain, capsys):
    post(alpha, plain, "200.00")
    call_command("ledger_check")
    out = capsys.readouterr().out
    assert "Checked 1 journal entries (3 lines)" in out and "balances" in out
    DebtorAccount.objects.filter(pk=plain.pk).update(paid=D("250.00"))  # changed behind the kernel's back
    with pytest.raises(SystemExit) as failed:
        call_command("ledger_check")
    assert failed.value.code == 1
    assert f"account {plain.pk}: paid since placement 250.00, payments less reversals 200.00" in capsys.readouterr().out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the ledger's triggers exist on PostgreSQL only")
def test_the_database_refuses_an_unbalanced_entry_and_any_change_to_the_ledger(alpha, plain):
    from django.db import transaction

    post(alpha, plain, "200.00")
    line = JournalLine.objects.first()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        JournalLine.objects.filter(pk=line.pk).update(debit=D("1.00"))
    with pytest.raises(Exception, match="does not balance"), transaction.atomic():
        entry = JournalEntry(agency=alpha.agency, client=plain.client, kind="remittance", memo="lopsided",
                             effective_on=TODAY())
        entry.save()
        JournalLine.objects.create(agency=alpha.agency, client=plain.client, entry=entry, ledger_account="trust_cash",
                                   debit=D("5.00"))
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


# --- Pages and the API -------------------------------------------------------------------------------

def test_staff_reverse_from_the_workspace_and_the_client_sees_payments_and_commission(alpha, plain, client):
    payment = post(alpha, plain, "120.00").payment
    client.force_login(alpha.collector)
    url = reverse("payment_reverse", args=[payment.pk])
    refused = client.post(url, {"kind": "returned_ach", "reason": "returned", "idempotency_key": "k1"})
    assert refused.status_code == 400 and "return code" in refused.content.decode()
    client.post(url, {"kind": "returned_ach", "return_code": "R02", "amount": "20.00", "reason": "account closed",
                      "idempotency_key": "k2"})
    client.force_login(alpha.clients[0].user)
    page = client.get(reverse("debtor_account_detail", args=[plain.pk])).content.decode()
    assert "120.00" in page and "30.00" in page and "Returned ACH (R02)" in page
    listing = client.get(reverse("client_payments")).content.decode()
    assert "PAY-1" in listing and "20.00" in listing


def test_the_clients_payments_list_shows_the_commission_kept_after_reversals(alpha, plain, client):
    bounced = post(alpha, plain, "100.00").payment  # 25 % commission: 25.00, all given back
    reverse_payment(alpha, bounced)
    halved = post(alpha, plain, "40.00").payment  # 10.00, half given back
    reverse_payment(alpha, halved, kind="card_refund", amount="20.00")
    client.force_login(alpha.clients[0].user)
    page = client.get(reverse("client_payments")).content.decode()
    rows = {row.split("</td>")[2]: row for row in page.split("<tr>") if "PAY-1" in row}
    assert "0.00<br><small class=\"muted\">of 25.00; the rest given back" in rows['<td class="num">100.00']
    assert "5.00<br><small class=\"muted\">of 10.00; the rest given back" in rows['<td class="num">40.00']
    payment_post(agency=alpha.agency, actor=alpha.clients[0].admin, account=plain, amount="7.00", received_on=TODAY(),
                 method="direct", received_by="client", source="client")
    page = client.get(reverse("client_payments")).content.decode()
    assert "Paid to you directly" in page and "to the client · to you" not in page


def test_the_workspace_offers_the_usual_reversal_and_shows_the_commission_kept(alpha, plain, client):
    """A check bounces, an ACH debit is returned: the form had offered "Returned ACH" for every
    payment, and a fully reversed payment still showed its whole commission."""
    check = post(alpha, plain, "100.00", method="check").payment
    card = post(alpha, plain, "40.00", method="card").payment
    reverse_payment(alpha, card, kind="card_refund")
    client.force_login(alpha.collector)
    page = client.get(reverse("account_workspace", args=[plain.pk])).content.decode()
    form = page.split(f'action="{reverse("payment_reverse", args=[check.pk])}"')[1].split("</form>")[0]
    assert '<option value="bounced_check" selected>' in form
    card_row = page.split(">40.00</td>")[1].split("</tr>")[0]
    assert "0.00<br><span class=\"muted\">of 10.00</span>" in card_row


def test_the_payments_journal_totals_by_day_and_method_and_exports_csv(alpha, plain, client):
    today = alpha.agency.local_date()  # the journal's days are the agency's (a reversal is dated so)
    post(alpha, plain, "100.00", method="check", on=today)
    post(alpha, plain, "50.00", method="check", on=today)
    card = post(alpha, plain, "25.00", method="card", on=today).payment
    reverse_payment(alpha, card, kind="card_refund", reason="asked for it back")
    client.force_login(alpha.manager)
    page = client.get(reverse("payments_journal")).content.decode()
    assert "150.00" in page and "175.00" in page
    # the From and To boxes show the days the page shows (they were empty under "Dec 1 – Dec 2")
    assert f'name="start" value="{today.replace(day=1).isoformat()}"' in page
    assert f'name="end" value="{today.isoformat()}"' in page
    csv_text = b"".join(client.get(reverse("payments_journal") + "?format=csv").streaming_content).decode()
    assert f"{today.isoformat()},Check,The agency (trust account),150.00,2,0.00,150.00" in csv_text
    assert "total,,,175.00,3,25.00,150.00" in csv_text


def test_the_api_reports_a_direct_payment_once_per_key(world, alpha, plain, client):
    from tests.collections_work.api.test_api import key_header

    headers = key_header(alpha.clients[0])
    body = {"client_reference": "PAY-1", "amount": "80.00", "received_on": TODAY().isoformat(), "method": "check"}
    missing = client.post("/api/v1/payments/", body, content_type="application/json", **headers)
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()
    first = client.post("/api/v1/payments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="T-1", **headers)
    again = client.post("/api/v1/payments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="T-1", **headers)
    assert first.status_code == 201 and again.status_code == 200 and again.json()["replayed"] is True
    assert first.json()["received_by"] == "client" and first.json()["balance"] == "1070.00"
    conflict = client.post("/api/v1/payments/", body | {"amount": "81.00"}, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="T-1", **headers)
    assert conflict.status_code == 409 and "different payment" in conflict.json()["detail"]
    listing = client.get("/api/v1/payments/?client_reference=PAY-1", **headers).json()
    assert len(listing) == 1 and listing[0]["amount"] == "80.00" and listing[0]["commission"] == "20.00"
    other = client.get("/api/v1/payments/", **key_header(world.alpha.clients[1])).json()
    assert other == []


def test_the_api_pages_through_every_payment_once_by_its_next_links(alpha, plain, client):
    from tests.collections_work.api.test_api import key_header

    headers = key_header(alpha.clients[0])
    for n in range(5):
        post(alpha, plain, "10.00", on=TODAY() - timedelta(days=n % 2))  # two days, several a day
    url, seen, pages = "/api/v1/payments/?client_reference=PAY-1&limit=2", [], 0
    while url:
        response = client.get(url, **headers)
        assert response.status_code == 200 and len(response.json()) <= 2
        seen += [(row["received_on"], row["id"]) for row in response.json()]
        link = response.headers.get("Link", "")
        url = link[link.index("<") + 1:link.index(">")].split("testserver", 1)[1] if link else ""
        pages += 1
    with unscoped():
        expected = list(Payment.objects.filter(account=plain).order_by("-received_on", "-id")
                        .values_list("received_on", "id"))
    assert pages == 3 and seen == [(day.isoformat(), pk) for day, pk in expected]
    assert len(client.get("/api/v1/payments/", **headers).json()) == 5  # 100 a page unless asked
    assert client.get("/api/v1/payments/?limit=0", **headers).json() == {"limit": ["Give a whole number from 1 to 1000."]}
    assert client.get("/api/v1/payments/?cursor=nonsense", **headers).status_code == 400


def test_two_long_api_keys_that_differ_only_at_the_end_are_two_payments(alpha, plain, client):
    from tests.collections_work.api.test_api import key_header

    headers = key_header(alpha.clients[0])
    body = {"client_reference": "PAY-1", "amount": "10.00", "received_on": TODAY().isoformat()}

    def report(key, **changes):
        return client.post("/api/v1/payments/", body | changes, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY=key, **headers)

    first, second = report("x" * 240 + "-TXN-0001"), report("x" * 240 + "-TXN-0002")
    assert first.status_code == 201 and second.status_code == 201
    assert report("x" * 240 + "-TXN-0002").json()["replayed"] is True
    assert report("x" * 240 + "-TXN-0002", amount="11.00").status_code == 409
    too_long = report("k" * 256)
    assert too_long.status_code == 400
    assert too_long.json()["Idempotency-Key"] == ["The Idempotency-Key is 256 characters long; send at most 255."]
    with unscoped():
        assert Payment.objects.filter(account=plain).count() == 2


def test_a_long_key_stored_cut_short_before_is_still_a_replay_of_its_payment(alpha, plain):
    """Keys over 200 characters were stored cut to 200 before they were stored hashed: a retry of
    such a payment after the change finds it and posts nothing new."""
    long_key = "api:1:" + "r" * 250
    first = post(alpha, plain, "10.00", key=long_key)
    with unscoped():
        Payment.objects.filter(pk=first.payment.pk).update(idempotency_key=long_key[:200])  # as stored before
    again = post(alpha, plain, "10.00", key=long_key)
    assert again.replayed and again.payment.pk == first.payment.pk
    # A different payment: the cut-short key may have been another long key's, so it posts as its own.
    other = post(alpha, plain, "11.00", key=long_key)
    with unscoped():
        assert Payment.objects.filter(account=plain).count() == 2 and not other.replayed


@pytest.mark.parametrize("changes, field, message", [
    ({"amount": "\u0663"}, "amount", "Send the amount with the digits 0-9."),  # Arabic-Indic three
    ({"amount": "1\uff10.00"}, "amount", "Send the amount with the digits 0-9."),  # a full-width zero
    ({"received_on": "0001-01-01"}, "received_on", "The payment date Jan 1, 0001 is before Jan 1, 2000: check the date."),
    ({"received_on": "1900-01-01"}, "received_on", "The payment date Jan 1, 1900 is before Jan 1, 2000: check the date."),
    ({"received_on": "20261130"}, "received_on", "Send the date as YYYY-MM-DD, such as 2026-11-30 (not \"20261130\")."),
    ({"received_on": "2026-02-29"}, "received_on", "2026-02-29 is not a day of the calendar."),  # was "wrong format"
    ({"amount": "1e3"}, "amount", "Send the amount as digits with a dot before the cents, such as \"1234.50\" "
                                  "(not \"1e3\")."),
])
def test_the_api_refuses_foreign_digits_and_empty_dates_of_other_systems(alpha, plain, client, changes, field, message):
    from tests.collections_work.api.test_api import key_header

    body = {"client_reference": "PAY-1", "amount": "3.00", "received_on": TODAY().isoformat()} | changes
    response = client.post("/api/v1/payments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="K-1",
                           **key_header(alpha.clients[0]))
    assert response.status_code == 400 and response.json() == {field: [message]}
    with unscoped():
        assert not Payment.objects.filter(account=plain).exists()


def test_a_payment_reversed_in_parts_gives_back_all_of_its_commission(alpha, plain):
    """10 % of 100.00 is 10.00; thirds of it rounded one by one would give back 9.99 and leave the
    client owing a cent on a payment that is gone."""
    with unscoped():
        ContractTerms.objects.filter(client=plain.client).update(flat_fee_percent=D("10.00"))
    payment = post(alpha, plain, "100.00").payment
    assert payment.commission == D("10.00")
    parts = [reverse_payment(alpha, payment, amount=amount, idempotency_key=f"r{n}")
             for n, amount in enumerate(("33.34", "33.33", "33.33"))]
    assert [part.commission for part in parts] == [D("3.33"), D("3.33"), D("3.34")]
    with tenant_scope(alpha.agency):
        assert ledger.client_position(plain.client).payable == D("0.00")


# --- "In the future" is by the agency's calendar (or UTC's, where processors date payments) ------

@pytest.mark.parametrize("zone, utc_moment, latest", [
    # 09:00 on Dec 1 in Sydney, still Nov 30 in UTC: the agency's today is Dec 1.
    ("Australia/Sydney", datetime(2026, 11, 30, 22, 0, tzinfo=dt_timezone.utc), date(2026, 12, 1)),
    # 21:00 on Nov 30 in New York, Dec 1 in UTC: a processor's file may already say Dec 1.
    ("America/New_York", datetime(2026, 12, 1, 2, 0, tzinfo=dt_timezone.utc), date(2026, 12, 1)),
    ("America/New_York", datetime(2026, 12, 1, 17, 0, tzinfo=dt_timezone.utc), date(2026, 12, 1)),
])
def test_the_latest_payment_date_is_today_in_the_agencys_zone_or_in_utc(alpha, zone, utc_moment, latest):
    alpha.agency.time_zone = zone
    assert latest_payment_date(alpha.agency, utc_moment) == latest


def test_a_sydney_agency_posts_a_payment_received_today_before_utc_midnight(alpha):
    alpha.agency.time_zone = "Australia/Sydney"
    alpha.agency.save(update_fields=["time_zone"])
    with time_machine.travel(datetime(2026, 11, 30, 22, 0, tzinfo=dt_timezone.utc), tick=False):
        account = DebtorAccountFactory(client=alpha.clients[0].client, principal=D("100.00"))
        posted = post(alpha, account, "10.00", on=date(2026, 12, 1))
        assert posted.payment.received_on == date(2026, 12, 1)
        with pytest.raises(DomainError, match="cannot be in the future"):
            post(alpha, account, "10.00", on=date(2026, 12, 2))
