"""The daily plan steps and promise reminders, judged by the debtor's day: a reminder N days before
an installment is due, a notice on the day, a late notice after the grace days, the plan broken
after N missed installments; each message once however often the job runs; and every message asks
the contact policy when it is sent (deferred to the next allowed time, or cancelled, with the
reason on the timeline). Time is moved with time-machine."""
from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from collections_work.models import Activity, ContactPolicy, DebtorAccount, Promise
from payments.models import Installment, PaymentPlan, PlanOffer, PlanStepSettings
from payments.tasks import plans_daily, promise_reminders
from portal.models import OutboundEmail
from portal.tenancy import tenant_scope
from tests.payments.conftest import make_identifiable_account

UTC = dt_timezone.utc
DUE = date(2026, 12, 10)


def plan_for(alpha, account, dues, amount="100.00"):
    offer = PlanOffer.objects.create(agency=alpha.agency, client=account.client, account=account, kind="installments",
                                     total_amount=Decimal(amount) * len(dues), installment_count=len(dues),
                                     first_due_date=dues[0], status="accepted")
    plan = PaymentPlan.objects.create(agency=alpha.agency, client=account.client, account=account, offer=offer,
                                      kind="installments", total_amount=Decimal(amount) * len(dues),
                                      accepted_at=datetime(2026, 11, 1, tzinfo=UTC))
    for number, due in enumerate(dues, start=1):
        Installment.objects.create(agency=alpha.agency, client=account.client, plan=plan, number=number,
                                   due_date=due, amount=Decimal(amount))
    DebtorAccount.objects.filter(pk=account.pk).update(status="plan")
    return plan


@pytest.fixture
def planned(alpha):
    """A debtor in Chicago on a plan: installments due Dec 10 and Jan 10."""
    with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=UTC), tick=False):
        account = make_identifiable_account(alpha.clients[0], "RM-1", time_zone="America/Chicago")
    return account, plan_for(alpha, account, [DUE, date(2027, 1, 10)])


def run_daily(at, capture):
    with time_machine.travel(at, tick=False), capture(execute=True):
        return plans_daily.delay().get()


def subjects():
    return [message.subject for message in mail.outbox]


def test_reminder_due_and_late_notices_go_once_each_on_the_debtors_day(alpha, planned,
                                                                      django_capture_on_commit_callbacks):
    account, plan = planned
    # 3 days before, but only 07:00 in Chicago (13:00 UTC): the day's messages start at 09:00 there.
    run_daily(datetime(2026, 12, 7, 13, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert subjects() == []
    run_daily(datetime(2026, 12, 7, 15, 5, tzinfo=UTC), django_capture_on_commit_callbacks)
    run_daily(datetime(2026, 12, 7, 16, 5, tzinfo=UTC), django_capture_on_commit_callbacks)  # the next hour: nothing new
    assert subjects() == ["Payment reminder: 100.00 USD due December 10, 2026"]
    reminder = mail.outbox[0]
    assert reminder.to == ["rm-1@debtor.test"]
    html = reminder.alternatives[0][0]
    assert "installment #1" in reminder.body and "installment #1" in html
    assert alpha.agency.name in reminder.body and "/opt-out/" in reminder.body and "/opt-out/" in html
    # The due date: the notice of the day (05:00 UTC on Dec 11 is still Dec 10 in Chicago: no late notice)
    run_daily(datetime(2026, 12, 10, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert subjects()[-1] == "Your payment of 100.00 USD is due today"
    # Late after the 5 grace days, and the first miss sends the account back to the queues
    run_daily(datetime(2026, 12, 15, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    run_daily(datetime(2026, 12, 15, 18, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert subjects()[-1] == "Your payment of 100.00 USD is late" and len(mail.outbox) == 3
    assert DebtorAccount.objects.get(pk=account.pk).status == DebtorAccount.Status.ACTIVE
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.CURRENT  # one miss of the two the agency allows
    keys = set(OutboundEmail.objects.values_list("idempotency_key", flat=True))
    first = plan.installments.get(number=1)
    assert f"installment-reminder:installment:{first.pk}:2026-12-10" in keys


def test_the_plan_breaks_after_the_agencys_number_of_missed_installments(alpha, planned, client,
                                                                        django_capture_on_commit_callbacks):
    account, plan = planned
    run_daily(datetime(2027, 1, 12, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.BROKEN
    assert plan.end_reason == "2 installments missed (#1 due Dec 10, 2026, #2 due Jan 10, 2027)"
    fresh = DebtorAccount.objects.get(pk=account.pk)
    assert fresh.status == DebtorAccount.Status.ACTIVE  # back in a queue
    entry = Activity.objects.filter(account=account, summary__startswith="Plan broken").get()
    assert entry.client_visible
    # The client sees it on the account's page
    client.force_login(alpha.clients[0].admin)
    page = client.get(reverse("debtor_account_detail", args=[account.pk]))
    assert "Plan broken: 2 installments missed" in page.content.decode()


def test_an_agency_that_breaks_plans_at_the_first_miss(alpha, planned, django_capture_on_commit_callbacks):
    account, plan = planned
    PlanStepSettings.objects.create(agency=alpha.agency, broken_after_missed=1, reminder_days_before=0)
    run_daily(datetime(2026, 12, 12, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    plan.refresh_from_db()
    assert plan.status == PaymentPlan.Status.BROKEN
    assert plan.end_reason.startswith("1 installments missed (#1 due Dec 10, 2026)")


def test_a_paid_installment_gets_no_reminder(alpha, planned, django_capture_on_commit_callbacks):
    _account, plan = planned
    Installment.objects.filter(plan=plan, number=1).update(paid_amount=Decimal("100.00"))
    run_daily(datetime(2026, 12, 7, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    run_daily(datetime(2026, 12, 10, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert subjects() == []


def test_a_promise_gets_a_reminder_the_day_before_it_is_due(alpha, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=UTC), tick=False):
        account = make_identifiable_account(alpha.clients[0], "PR-1", time_zone="America/Los_Angeles")
    Promise.objects.create(agency=alpha.agency, client=account.client, account=account, amount=Decimal("250.00"),
                           due_date=DUE, created_at=datetime(2026, 12, 1, tzinfo=UTC))
    for at in (datetime(2026, 12, 8, 20, tzinfo=UTC), datetime(2026, 12, 9, 16, tzinfo=UTC),  # 08:00 in LA: not yet
               datetime(2026, 12, 9, 18, tzinfo=UTC), datetime(2026, 12, 9, 23, tzinfo=UTC)):
        with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
            promise_reminders.delay().get()
    assert subjects() == ["Reminder: your payment of 250.00 USD is due tomorrow"]


def test_outside_the_contact_hours_a_message_is_deferred_to_the_next_allowed_time_not_dropped(
        alpha, planned, django_capture_on_commit_callbacks):
    account, _plan = planned
    with tenant_scope(alpha.agency):
        ContactPolicy.objects.filter(agency=alpha.agency).update(earliest_hour=10, latest_hour=12)
    # 09:30 in Chicago: the step makes the reminder; the policy says from 10:00
    run_daily(datetime(2026, 12, 7, 15, 30, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert subjects() == []
    email = OutboundEmail.objects.get()
    assert email.status == OutboundEmail.Status.DEFERRED
    assert email.next_attempt_at == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 10:00 in Chicago
    assert "Outside the contact hours 10:00–12:00" in email.hold_reason
    assert Activity.objects.filter(account=account, summary__contains="deferred until Dec 7, 2026").exists()
    # Beat re-offers it when its time has come
    from portal.tasks import deliver_pending_emails

    with time_machine.travel(datetime(2026, 12, 7, 16, 1, tzinfo=UTC), tick=False):
        deliver_pending_emails.delay().get()
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT and len(mail.outbox) == 1


def test_a_message_that_may_never_go_is_cancelled_with_the_reason(alpha, planned,
                                                                  django_capture_on_commit_callbacks):
    account, _plan = planned
    DebtorAccount.objects.filter(pk=account.pk).update(cease_communication_at=datetime(2026, 12, 1, tzinfo=UTC))
    run_daily(datetime(2026, 12, 7, 16, tzinfo=UTC), django_capture_on_commit_callbacks)
    email = OutboundEmail.objects.get()
    assert email.status == OutboundEmail.Status.CANCELLED and mail.outbox == []
    assert "asked us to stop contacting them" in email.hold_reason
    assert Activity.objects.filter(account=account, summary__contains="cancelled: The debtor asked us").exists()
