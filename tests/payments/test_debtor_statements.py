"""Monthly plan statements for debtors: once per account and month, the figures and schedule in
the PDF, emailed with a working secure link and an opt-out when allowed, otherwise printed."""
import io
import re

from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from collections_work.models import Contact, Letter
from payments.models import DebtorStatement, Installment
from payments.statements.debtor import debtor_statement_issue, plans_due_a_statement
from tests.payments.conftest import RIGHT_ANSWERS
from tests.payments.test_plans import sign


def signed_plan(client, sent_offer):
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    sign(client, path + f"offers/{offer.pk}/")
    client.logout()
    return offer.account.plans.get()


def pdf_text(statement):
    with statement.pdf.open("rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)


def test_a_plan_statement_is_emailed_once_a_month_with_its_link(alpha, sent_offer, client,
                                                                django_capture_on_commit_callbacks):
    plan = signed_plan(client, sent_offer)
    first = Installment.objects.filter(plan=plan).order_by("number").first()
    Installment.objects.filter(pk=first.pk).update(paid_amount=first.amount)
    period = timezone.localdate().replace(day=1)
    assert list(plans_due_a_statement(period)) == [plan]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        statement, created = debtor_statement_issue(plan=plan, period=period)
    assert created and list(plans_due_a_statement(period)) == []
    assert debtor_statement_issue(plan=plan, period=period) == (statement, False)
    text = pdf_text(statement)
    assert "Paid on the plan so far" in text and "300.00" in text and "900.00" in text
    assert all(i.due_date.strftime("%B") in text for i in plan.installments.all())
    message = mail.outbox[-1]
    assert message.to == ["pl-1@debtor.test"] and message.attachments[0][1].startswith(b"%PDF")
    link = re.search(r"https?://\S+/d/[\w-]+/", message.body).group(0)
    assert "Stop emails" in message.alternatives[0][0] and "/opt-out/" in message.body
    assert client.get("/" + link.split("/", 3)[3]).status_code == 200  # the link in the email opens
    assert link not in text  # an emailed statement does not carry its link in the stored PDF


def test_without_an_email_the_statement_is_printed_with_its_link(alpha, sent_offer, client):
    plan = signed_plan(client, sent_offer)
    Contact.objects.filter(debtor_id=plan.account.debtor_id, kind="email").update(opted_out_at=timezone.now())
    statement, _ = debtor_statement_issue(plan=plan, period=timezone.localdate().replace(day=1))
    letter = Letter.objects.get(account=plan.account, kind=Letter.Kind.PLAN_STATEMENT)
    assert letter.status == Letter.Status.QUEUED and letter.pdf.name == statement.pdf.name
    assert "/d/" in pdf_text(statement) and "12 Elm St" in pdf_text(statement)
    assert DebtorStatement.objects.count() == 1


def test_a_printed_statement_for_a_debtor_with_no_address_is_cancelled_not_mailed_to_a_name(alpha, sent_offer,
                                                                                            client):
    from collections_work.letters.services import print_batch_make

    plan = signed_plan(client, sent_offer)
    Contact.objects.filter(debtor_id=plan.account.debtor_id, kind="email").update(opted_out_at=timezone.now())
    Contact.objects.filter(debtor_id=plan.account.debtor_id, kind="address").delete()
    debtor_statement_issue(plan=plan, period=timezone.localdate().replace(day=1))
    assert print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate()) is None
    letter = Letter.objects.get(account=plan.account, kind=Letter.Kind.PLAN_STATEMENT)
    assert letter.status == Letter.Status.CANCELLED and letter.cancel_reason.startswith("No postal address on file")


def test_a_printed_statement_whose_debtor_moved_before_the_batch_is_cancelled_not_sent_to_the_old_address(
        alpha, sent_offer, client):
    from collections_work.letters.services import print_batch_make

    plan = signed_plan(client, sent_offer)
    Contact.objects.filter(debtor_id=plan.account.debtor_id, kind="email").update(opted_out_at=timezone.now())
    debtor_statement_issue(plan=plan, period=timezone.localdate().replace(day=1))
    Contact.objects.filter(debtor_id=plan.account.debtor_id, kind="address").update(
        value="77 New Rd, Peoria, IL 61602, US")
    assert print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate()) is None
    letter = Letter.objects.get(account=plan.account, kind=Letter.Kind.PLAN_STATEMENT)
    assert letter.status == Letter.Status.CANCELLED and "address changed" in letter.cancel_reason
