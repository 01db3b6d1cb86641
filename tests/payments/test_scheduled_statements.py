"""The monthly statements on schedule (the beat tasks run in this process, eagerly; time moved with
time-machine): every active client gets last month's remittance statement on its remittance day,
once, stored and emailed to its admins and listed on its Statements page; every debtor on a plan
gets the month's plan statement once. The worker-killed case is test_statements_worker_killed."""
import io
from decimal import Decimal
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import ContractTerms
from payments.models import DebtorStatement, RemittanceStatement
from payments.posting.services import payment_post
from payments.tasks import debtor_statements_monthly, statements_monthly
from portal.models import OutboundEmail
from portal.tenancy import unscoped
from tests.factories import DebtorAccountFactory
from tests.payments.test_debtor_statements import signed_plan

NEW_YORK = ZoneInfo("America/New_York")


def next_month(day, on):
    return (day.replace(day=1) + timedelta(days=32)).replace(day=on)


def pdf_text(file):
    with file.open("rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


@pytest.fixture
def collected(alpha):
    """A payment to the agency for each of Alpha's clients this month; client 2 is remitted on the 20th."""
    for n, persona in enumerate(alpha.clients):
        account = DebtorAccountFactory(client=persona.client, client_reference=f"SCH-{n}", principal=Decimal("800.00"),
                                       debt_purpose="commercial")
        payment_post(agency=alpha.agency, actor=alpha.collector, account=account, amount=f"{100 * (n + 1)}.00",
                     received_on=timezone.localdate(), method="check", source="staff")
    with unscoped():  # Bravo's clients are remitted on the 28th, out of the way
        ContractTerms.objects.update(remittance_day=28)
    ContractTerms.objects.filter(client=alpha.clients[0].client).update(remittance_day=15)
    ContractTerms.objects.filter(client=alpha.clients[1].client).update(remittance_day=20)
    return alpha


def run(task, moment, capture):
    with time_machine.travel(moment, tick=False), capture(execute=True):
        return task()


def test_each_client_gets_last_months_statement_on_its_remittance_day_once(
        collected, client, django_capture_on_commit_callbacks):
    alpha = collected
    today = timezone.localdate()
    first, second = (persona.client for persona in alpha.clients)
    mail.outbox.clear()
    at = lambda day, hour=3: datetime(day.year, day.month, day.day, hour, 7, tzinfo=NEW_YORK)  # noqa: E731
    assert run(statements_monthly, at(next_month(today, 14)), django_capture_on_commit_callbacks) == 0
    assert run(statements_monthly, at(next_month(today, 15)), django_capture_on_commit_callbacks) == 1
    assert run(statements_monthly, at(next_month(today, 15), 4), django_capture_on_commit_callbacks) == 0
    assert list(RemittanceStatement.objects.values_list("client", flat=True)) == [first.pk]
    assert run(statements_monthly, at(next_month(today, 22)), django_capture_on_commit_callbacks) == 1  # caught up
    assert run(statements_monthly, at(next_month(today, 23)), django_capture_on_commit_callbacks) == 0

    for persona, amount in zip(alpha.clients, ("100.00", "200.00")):
        statement = RemittanceStatement.objects.get(client=persona.client)
        assert (statement.period_start, statement.revision) == (today.replace(day=1), 1)
        text = pdf_text(statement.pdf)
        assert f"SCH-{alpha.clients.index(persona)}" in text and amount in text
        assert statement.csv.open("rb").read().decode().startswith("day,account,debtor")
        emails = OutboundEmail.objects.filter(idempotency_key__startswith=f"statement:{statement.pk}:")
        assert list(emails.values_list("to", "status")) == [(persona.admin.email, "sent")]
        client.force_login(persona.admin)
        page = client.get(reverse("statement_list")).content.decode()
        assert f"{today:%B %Y}" in page and reverse("statement_file", args=[statement.pk, "pdf"]) in page
    assert sorted(message.to[0] for message in mail.outbox) == sorted(p.admin.email for p in alpha.clients)


def test_each_debtor_on_a_plan_gets_the_months_statement_once(alpha, sent_offer, client,
                                                                django_capture_on_commit_callbacks):
    plan = signed_plan(client, sent_offer)
    today = alpha.agency.local_date()  # the month is the agency's
    this_month = datetime(today.year, today.month, today.day, 12, 15, tzinfo=NEW_YORK) + timedelta(hours=1)
    assert run(debtor_statements_monthly, this_month, django_capture_on_commit_callbacks) == 0  # accepted this month
    mail.outbox.clear()
    first_of_next = next_month(today, 1)
    noon = datetime(first_of_next.year, first_of_next.month, 1, 12, 15, tzinfo=NEW_YORK)
    assert run(debtor_statements_monthly, noon, django_capture_on_commit_callbacks) == 1
    assert run(debtor_statements_monthly, noon + timedelta(days=1), django_capture_on_commit_callbacks) == 0
    statement = DebtorStatement.objects.get()
    assert (statement.plan, statement.period) == (plan, first_of_next)
    assert "Paid on the plan so far" in pdf_text(statement.pdf)
    [message] = mail.outbox
    assert message.to == ["pl-1@debtor.test"] and f"{first_of_next:%B %Y} statement" in message.subject


def test_a_plan_accepted_on_the_agencys_last_evening_of_a_month_gets_the_next_months_statement(
        alpha, sent_offer, client, django_capture_on_commit_callbacks):
    """20:00 on Nov 30 in Los Angeles is already Dec 1 in UTC: the plan was still accepted before
    December on the agency's clock, so December's statement is its first."""
    from payments.models import PaymentPlan

    los_angeles = ZoneInfo("America/Los_Angeles")
    alpha.agency.time_zone = "America/Los_Angeles"
    alpha.agency.save(update_fields=["time_zone"])
    plan = signed_plan(client, sent_offer)
    PaymentPlan.objects.filter(pk=plan.pk).update(accepted_at=datetime(2026, 11, 30, 20, 0, tzinfo=los_angeles))
    december = datetime(2026, 12, 1, 9, 30, tzinfo=los_angeles)
    assert run(debtor_statements_monthly, december, django_capture_on_commit_callbacks) == 1
    assert DebtorStatement.objects.get().period.isoformat() == "2026-12-01"
