"""Automatic payments on schedule, against the real localstripe: a saved card is charged on the
installment's due date in the morning of the debtor's zone (Chicago here), once per try; a
decline emails the debtor a notice with a secure link and the card is tried again after the
agency's retry days, up to its number of tries. Time is moved with time-machine."""
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from collections_work.models import Activity
from payments.models import AutopayAttempt, AutopayCard, Installment, JournalEntry, Payment, PaymentPlan
from payments.tasks import autopay_due
from tests.payments.conftest import reload
from tests.stripe_local import CARD_DECLINED_WHEN_CHARGED, CARD_OK

CHICAGO = ZoneInfo("America/Chicago")
D = Decimal


def at_chicago(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO)


def saved_card(localstripe, plan, number):
    stripe = localstripe.client()
    customer = stripe.v1.customers.create(params={"name": "Dana"})
    method = stripe.v1.payment_methods.create(params={"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    stripe.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    return AutopayCard.objects.create(agency=plan.agency, client=plan.client, plan=plan, customer_id=customer.id,
                                      payment_method_id=method.id, last4=number[-4:], saved_at=plan.accepted_at)


def run_at(moment, capture):
    with time_machine.travel(moment, tick=False), capture(execute=True):
        return autopay_due()


@pytest.fixture
def plan(on_plan):
    account, _path = on_plan
    return PaymentPlan.objects.get(account=account)


def first_installment(plan):
    return Installment.objects.filter(plan=plan).order_by("number").first()


def test_a_saved_card_is_charged_once_on_the_due_dates_morning_where_the_debtor_lives(
        stripe_alpha, plan, localstripe, django_capture_on_commit_callbacks):
    saved_card(localstripe, plan, CARD_OK)
    first = first_installment(plan)
    assert run_at(at_chicago(first.due_date - timedelta(days=1), 23, 30), django_capture_on_commit_callbacks) == {}
    # 08:59 in Chicago is 14:59 UTC, long after 09:00 in New York: still not yet for this debtor.
    assert run_at(at_chicago(first.due_date, 8, 59), django_capture_on_commit_callbacks) == {}
    assert not AutopayAttempt.objects.exists()

    assert run_at(at_chicago(first.due_date, 9, 1), django_capture_on_commit_callbacks) == {"charged": 1}
    assert run_at(at_chicago(first.due_date, 9, 16), django_capture_on_commit_callbacks) == {}  # the next beat
    payment = Payment.objects.get()
    attempt = AutopayAttempt.objects.get()
    assert (payment.source, payment.amount, payment.idempotency_key) == ("autopay", D("300.00"),
                                                                         f"stripe:{attempt.payment_intent_id}")
    assert attempt.idempotency_key == f"autopay:{first.pk}:1"
    assert JournalEntry.objects.filter(payment=payment).exists()  # posted as an online payment is
    first.refresh_from_db()
    assert first.paid_amount == D("300.00") and reload(plan.account).balance == D("900.00")
    intent = localstripe.client().v1.payment_intents.retrieve(attempt.payment_intent_id)
    assert intent.status == "succeeded" and intent.amount == 30000


def test_a_declined_card_notifies_the_debtor_with_a_link_and_is_tried_again_per_the_agency_setting(
        stripe_alpha, plan, localstripe, client, django_capture_on_commit_callbacks):
    agency = plan.agency
    agency.autopay_retry_days, agency.autopay_max_tries = 2, 3
    agency.save()
    card = saved_card(localstripe, plan, CARD_DECLINED_WHEN_CHARGED)
    first = first_installment(plan)
    due = first.due_date

    assert run_at(at_chicago(due, 9, 5), django_capture_on_commit_callbacks) == {"declined": 1}
    assert run_at(at_chicago(due, 9, 20), django_capture_on_commit_callbacks) == {}  # twice delivered: one try
    assert not Payment.objects.exists() and reload(plan.account).balance == D("1200.00")
    [notice] = mail.outbox
    retry_day = due + timedelta(days=2)
    assert notice.to == [plan.account.debtor.contacts.get(kind="email").value]
    assert "did not go through" in notice.subject
    assert "Your card was declined." in notice.body
    assert f"We will try the card again on {retry_day:%B} {retry_day.day}, {retry_day.year}" in notice.body
    link = [word for word in notice.body.split() if "/d/" in word][0]
    assert client.get("/" + link.split("/", 3)[3]).status_code == 200  # the link opens the debtor's page
    timeline = Activity.objects.get(account=plan.account, summary__startswith="Automatic payment of 300.00")
    assert "declined (Your card was declined.)" in timeline.summary and "emailed" in timeline.summary

    assert run_at(at_chicago(retry_day - timedelta(days=1), 12), django_capture_on_commit_callbacks) == {}
    assert run_at(at_chicago(retry_day, 9, 2), django_capture_on_commit_callbacks) == {"declined": 1}
    assert len(mail.outbox) == 2

    # The debtor saves a card that works; the third (last) try pays the installment.
    good = localstripe.client().v1.payment_methods.create(params={"type": "card", "card": {
        "number": CARD_OK, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    localstripe.client().v1.payment_methods.attach(good.id, params={"customer": card.customer_id})
    AutopayCard.objects.filter(pk=card.pk).update(payment_method_id=good.id, last4="4242")
    assert run_at(at_chicago(retry_day + timedelta(days=2), 9, 2), django_capture_on_commit_callbacks) == {"charged": 1}
    assert list(AutopayAttempt.objects.values_list("try_number", "status")) == [
        (1, "failed"), (2, "failed"), (3, "succeeded")]
    assert Payment.objects.get().source == "autopay" and len(mail.outbox) == 3  # the receipt
    assert {key for key in AutopayAttempt.objects.values_list("installment_id", flat=True)} == {first.pk}


def test_after_the_last_try_the_card_is_not_charged_again_and_the_notice_says_so(
        stripe_alpha, plan, localstripe, django_capture_on_commit_callbacks):
    agency = plan.agency
    agency.autopay_retry_days, agency.autopay_max_tries = 1, 2
    agency.save()
    saved_card(localstripe, plan, CARD_DECLINED_WHEN_CHARGED)
    due = first_installment(plan).due_date
    run_at(at_chicago(due, 10), django_capture_on_commit_callbacks)
    run_at(at_chicago(due + timedelta(days=1), 10), django_capture_on_commit_callbacks)
    for days in (2, 3, 9):
        assert run_at(at_chicago(due + timedelta(days=days), 10), django_capture_on_commit_callbacks) == {}
    assert AutopayAttempt.objects.count() == 2 and not Payment.objects.exists()
    assert "We will not try the card again for this installment." in mail.outbox[-1].body


def test_two_schedulers_at_once_make_one_try_and_one_notice(transactional_db, stripe_alpha, plan, localstripe):
    """Two beats (or one task delivered twice) run autopay_due at the same moment on PostgreSQL:
    one try is made and charged, one notice is sent."""
    import threading

    from django.db import connection

    from portal.models import OutboundEmail

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL)")
    card = saved_card(localstripe, plan, CARD_DECLINED_WHEN_CHARGED)
    first = first_installment(plan)
    start, results, errors = threading.Barrier(2), [], []

    def beat():
        try:
            start.wait(timeout=30)
            results.append(autopay_due())
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    with time_machine.travel(at_chicago(first.due_date, 9, 5), tick=False):
        threads = [threading.Thread(target=beat) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert list(AutopayAttempt.objects.values_list("try_number", "status")) == [(1, "failed")]
    assert OutboundEmail.objects.filter(idempotency_key=f"autopay-declined:{first.pk}:1").count() == 1
    assert not Payment.objects.exists()
    intents = localstripe.client().v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    assert len([intent for intent in intents if intent.customer == card.customer_id]) == 1  # charged once


def test_an_agency_admin_sets_when_saved_cards_are_charged_and_retried(world, client):
    client.force_login(world.alpha.admin)
    page = client.get("/agency/settings/").content.decode()
    assert "Charge saved cards at (the debtor&#x27;s hour)" in page or "Charge saved cards at (the debtor's hour)" in page
    form = {"name": "Alpha Recovery", "time_zone": "America/New_York", "autopay_hour": "7",
            "autopay_retry_days": "5", "autopay_max_tries": "4"}
    assert client.post("/agency/settings/", form).status_code == 302
    agency = type(world.alpha.agency).objects.get(pk=world.alpha.agency.pk)
    assert (agency.autopay_hour, agency.autopay_retry_days, agency.autopay_max_tries) == (7, 5, 4)
    refused = client.post("/agency/settings/", {**form, "autopay_hour": "23", "autopay_max_tries": "0"})
    assert refused.status_code == 200
    assert "Ensure this value is less than or equal to 20." in refused.content.decode()
    assert "Ensure this value is greater than or equal to 1." in refused.content.decode()
    agency.refresh_from_db()
    assert agency.autopay_hour == 7  # nothing half-saved
