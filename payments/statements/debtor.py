"""Monthly statements for debtors on a plan: what they paid so far, what remains, the schedule
and a fresh secure link to their page. Issued once per account and month (a unique key), stored
as a PDF; emailed when the debtor has an email on file and the contact policy allows it now,
otherwise printed with the day's letters (collections_work.letters).
"""
import hashlib

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from collections_work.compliance import send_decision
from collections_work.debtor_accounts import events
from collections_work.letters.services import mailing_address, queue_letter
from collections_work.compliance import opt_out_link
from collections_work.models import Letter
from payments.links.services import debtor_email_of, link_make
from payments.models import DebtorStatement, PaymentPlan
from payments.plans.wording import plan_in_words
from payments.schedule import ScheduledPayment
from portal.emails import email_schedule
from portal.pdf import render_pdf


def plans_due_a_statement(period):
    """Current plans whose account has no statement for the month starting `period`."""
    issued = DebtorStatement.objects.filter(period=period).values("account_id")
    return PaymentPlan.objects.filter(status=PaymentPlan.Status.CURRENT).exclude(account_id__in=issued)


def debtor_statement_issue(*, plan, period, now=None) -> tuple[DebtorStatement | None, bool]:
    """The plan's statement for the month starting `period` (a date): (statement, True) when made
    now, (the existing one, False) otherwise."""
    now = now or timezone.now()
    account = plan.account
    existing = DebtorStatement.objects.filter(account=account, period=period).first()
    if existing is not None:
        return existing, False
    email = debtor_email_of(account)
    # Emailed unless email may never go to the debtor (then printed); a statement made in the
    # debtor's night is emailed once the worker's contact-policy check lets it (deferred).
    by_email = email is not None and send_decision(account=account, channel="email", contact=email,
                                                   at=now).action != "cancel"
    link, url = link_make(account=account, channel="email" if by_email else "letter",
                          sent_to=email.value if by_email else "", now=now)
    installments = list(plan.installments.order_by("number"))
    paid = sum((i.paid_amount for i in installments), plan.total_amount * 0)
    context = {"account": account, "agency": account.agency, "client": account.client, "plan": plan,
               "installments": installments, "paid": paid, "remaining": plan.total_amount - paid, "period": period,
               "issued_on": account.agency.local_date(now), "describe": describe_plan(plan, installments),
               "link": None if by_email else url, "mailing_address": mailing_address(account)}  # an emailed statement carries its link in the email only
    pdf = _render(context)
    statement = DebtorStatement(agency_id=account.agency_id, client=account.client, account=account, plan=plan,
                                period=period, issued_at=now)
    statement.pdf.save(f"plan-statement-{account.pk}-{period:%Y-%m}.pdf", ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            statement.save(force_insert=True)
            if by_email:
                email_schedule(key=f"debtor-statement:{statement.pk}", to=email.value, template="debtor_statement",
                               subject=f"Your {period:%B %Y} statement: account {account.client_reference}",
                               agency=account.agency, client=account.client, attachment=statement.pdf.name,
                               account=account, kind="debtor_statement", context=context | {"link": None},
                               secrets={"link": url, "opt_out_link": opt_out_link(email)})
                how = f"emailed to {email.value}"
            else:
                queue_letter(account=account, kind=Letter.Kind.PLAN_STATEMENT, key=f"plan-statement:{period:%Y-%m}",
                             pdf_name=statement.pdf.name, content={"period": period.isoformat(),
                                                                   "sha256": hashlib.sha256(pdf).hexdigest()})
                how = "queued for print"
            events.letter_recorded(account, summary=f"Plan statement for {period:%B %Y} {how}", at=now)
    except IntegrityError:
        return DebtorStatement.objects.get(account=account, period=period), False
    return statement, True


def describe_plan(plan, installments) -> str:
    payments = [ScheduledPayment(i.number, i.due_date, i.amount, i.is_down_payment) for i in installments]
    # What was owed when the plan began: today's balance plus what the plan has brought in since
    # (not plus the plan's total, which would state twice the debt as "settled").
    paid = sum((i.paid_amount for i in installments), plan.total_amount * 0)
    return plan_in_words(payments, frequency=plan.frequency, balance=plan.account.balance + paid,
                         currency=plan.account.currency) if payments else ""


def _render(context) -> bytes:
    return render_pdf("payments/debtor_statement.html", context, "payments/debtor_statement.css")
