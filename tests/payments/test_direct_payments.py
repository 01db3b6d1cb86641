"""A client admin reports a payment the debtor made straight to the client: the balance drops by
exactly that many cents (never below zero), the account is paid in full at zero, and the payment,
its timeline entry and its audit event are written together or not at all."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from collections_work.models import Activity, DebtorAccount
from collections_work.placements.services import accounts_place
from payments.models import Payment
from payments.services import payment_report_direct
from portal.errors import DomainError, NotAllowed
from portal.models import AuditEvent
from portal.tenancy import tenant_scope, unscoped


@pytest.fixture
def books(world):
    """Client 1 of Alpha has A-100 (100.00), A-300 (750.00) and B-400 (40.00)."""
    persona = world.alpha.clients[0]
    rows = [{"client_reference": ref, "debtor_name": f"Debtor {ref}", "principal": amount, "due_date": "2024-01-31"}
            for ref, amount in (("A-100", "100.00"), ("A-300", "750.00"), ("B-400", "40.00"))]
    with tenant_scope(world.alpha.agency, persona.client):
        _, accounts = accounts_place(agency=world.alpha.agency, actor=persona.admin, client=persona.client,
                                     rows=rows, source="form")
    return {"c1": {a.client_reference: a for a in accounts}}


def reload(account):
    with unscoped():
        return DebtorAccount.objects.get(pk=account.pk)


def pay(browser, account, amount, received_on=None, **extra):
    return browser.post(reverse("debtor_account_payment_report", args=[account.pk]), {
        "amount": amount, "received_on": (received_on or timezone.localdate()).isoformat(), **extra})


def test_direct_payment_lowers_the_balance_in_cents(world, books, signed_in):
    account = books["c1"]["A-300"]  # 750.00
    browser = signed_in(world.alpha.clients[0].admin)
    paid_on = timezone.localdate() - timedelta(days=3)
    response = pay(browser, account, "250.10", paid_on, reference="WIRE-9", note="Paid at the counter")
    assert response.status_code == 302
    fresh = reload(account)
    assert fresh.paid == Decimal("250.10") and fresh.balance == Decimal("499.90")
    assert fresh.last_payment_date == paid_on and fresh.status == DebtorAccount.Status.NEW
    with unscoped():
        payment = Payment.objects.get(account=account)
        activity = Activity.objects.get(account=account, kind=Activity.Kind.PAYMENT)
        event = AuditEvent.objects.get(action="payment.direct_reported")
    assert payment.method == Payment.Method.DIRECT_TO_CLIENT and payment.amount == Decimal("250.10")
    assert payment.reference == "WIRE-9" and payment.reported_by == world.alpha.clients[0].admin
    assert activity.client_visible and "250.10" in activity.summary
    assert event.before["balance"] == "750.00" and event.after["balance"] == "499.90"
    # an older payment reported later does not move the last payment date back
    pay(browser, account, "0.90", paid_on - timedelta(days=10))
    fresh = reload(account)
    assert fresh.balance == Decimal("499.00") and fresh.last_payment_date == paid_on


def test_the_same_form_sent_twice_records_one_payment(world, books, signed_in):
    """The form carries a key made when it was drawn: the browser's resubmit (or a second click
    that got through) recorded the payment, and its commission, twice."""
    account = books["c1"]["A-300"]
    browser = signed_in(world.alpha.clients[0].admin)
    form = browser.get(reverse("debtor_account_detail", args=[account.pk])).content.decode()
    key = form.split('name="idempotency_key" value="')[1].split('"')[0]
    assert f'value="{timezone.localdate().isoformat()}"' in form  # received on: today
    for _ in range(2):
        pay(browser, account, "33.00", reference="CHK 555", idempotency_key=key)
    with unscoped():
        assert Payment.objects.filter(account=account).count() == 1
    assert reload(account).balance == Decimal("717.00")


def test_paying_the_whole_balance_marks_the_account_paid(world, books, signed_in):
    account = books["c1"]["B-400"]  # 40.00
    browser = signed_in(world.alpha.clients[0].admin)
    response = pay(browser, account, "40.00")
    assert response.status_code == 302
    fresh = reload(account)
    assert fresh.balance == Decimal("0.00") and fresh.paid == Decimal("40.00")
    assert fresh.status == DebtorAccount.Status.PAID
    body = browser.get(response.url).content.decode()
    assert "paid in full" in body
    assert reverse("debtor_account_payment_report", args=[account.pk]) not in body
    refused = pay(browser, account, "0.01")
    assert refused.status_code == 200 and "cannot take another payment" in refused.content.decode()


@pytest.mark.parametrize("amount, received, message", [
    ("100.01", 0, "more than the balance of 100.00 USD"),
    ("0", 0, "Ensure this value is greater than or equal to 0.01."),
    ("-5", 0, "Ensure this value is greater than or equal to 0.01."),
    ("12.345", 0, "Ensure that there are no more than 2 decimal places."),
    ("abc", 0, "Enter a number."),
    ("1e3", 0, "is not an amount"),
    ("10.00", -1, "The payment date cannot be in the future."),
    ("", 0, "This field is required."),
])
def test_bad_direct_payments_are_refused_with_a_clear_message(world, books, signed_in, amount, received, message):
    account = books["c1"]["A-100"]  # 100.00
    response = pay(signed_in(world.alpha.clients[0].admin), account, amount,
                   timezone.localdate() - timedelta(days=received))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'id="payment_amount"' in response.content.decode()
    fresh = reload(account)
    assert fresh.balance == Decimal("100.00") and fresh.paid == Decimal("0.00") and fresh.last_payment_date is None
    with unscoped():
        assert not Payment.objects.filter(account=account).exists()
        assert not Activity.objects.filter(account=account).exists()


def test_payment_service_refuses_bad_amounts_itself(world, books):
    persona, account = world.alpha.clients[0], books["c1"]["A-100"]
    with tenant_scope(world.alpha.agency, persona.client):
        for amount in ("0.00", "-1", "1.005", "NaN", "Infinity", "lots", "100.01"):
            with pytest.raises(DomainError):
                payment_report_direct(agency=world.alpha.agency, actor=persona.admin, account=account, amount=amount,
                                      received_on=timezone.localdate())
        with pytest.raises(NotAllowed):
            payment_report_direct(agency=world.alpha.agency, actor=persona.user, account=account, amount="1.00",
                                  received_on=timezone.localdate())
        payment = payment_report_direct(agency=world.alpha.agency, actor=persona.admin, account=account,
                                        amount="100", received_on=timezone.localdate())
    assert payment.amount == Decimal("100.00") and reload(account).status == DebtorAccount.Status.PAID


def test_paying_off_a_held_account_clears_the_hold(world, books, signed_in):
    from collections_work.debtor_accounts.services import account_set_status

    persona, account = world.alpha.clients[0], books["c1"]["B-400"]
    with tenant_scope(world.alpha.agency, persona.client):
        account_set_status(agency=world.alpha.agency, actor=persona.admin, account=account,
                           status=DebtorAccount.Status.ON_HOLD, reason="Talking to them")
    assert pay(signed_in(persona.admin), account, "40").status_code == 302
    fresh = reload(account)
    assert fresh.status == DebtorAccount.Status.PAID and fresh.hold_reason == ""


@pytest.mark.django_db(transaction=True)
def test_two_reports_at_once_cannot_overpay(world, books):
    """Two 60.00 reports race for a 100.00 balance: the row lock lets exactly one through."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update) need PostgreSQL")
    persona, account = world.alpha.clients[0], books["c1"]["A-100"]
    barrier, outcomes = threading.Barrier(2), []

    def report():
        try:
            with tenant_scope(world.alpha.agency, persona.client):
                barrier.wait()
                payment_report_direct(agency=world.alpha.agency, actor=persona.admin, account=account,
                                      amount=Decimal("60.00"), received_on=timezone.localdate())
            outcomes.append("paid")
        except DomainError as error:
            outcomes.append(error.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes)[1] == "paid" and "more than the balance of 40.00" in sorted(outcomes)[0]
    fresh = reload(account)
    assert fresh.balance == Decimal("40.00") and fresh.paid == Decimal("60.00")
    with unscoped():
        assert Payment.objects.filter(account=account).count() == 1
