"""Remittance statements (keyword-only, audited): issued once per client and month from the
payments and the trust ledger, rendered to PDF (WeasyPrint) and CSV, stored, emailed to the
client's admins; an agency admin marks one remitted, which posts the remittance entry.

The figures (Decimal cents; `totals` stores them as strings) reconcile what is owed to the client:
    opening owed + collected by the agency - reversed - commission - remitted = closing owed,
where owed = payable less the commission the client owes (trust ledger, by effective date);
payments the client reports as paid to it directly add only their commission. Net remittance
remits what is owed when positive; gross remittance remits what is payable and invoices the
commission. Money reversed after it was remitted leaves the payable below zero: nothing is
remitted and the statement says it is due back (it is netted from later collections).
A payment dated in a month whose statement was already issued (a check received on the 30th,
posted on the 3rd) is a row of the next statement, not a change to the one issued.
"""
import csv
import hashlib
import io
from calendar import monthrange
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from accounts import permissions
from accounts.models import ContractTerms, Membership, Role
from payments.ledger import services as ledger
from payments.models import JournalEntry, JournalLine, LedgerAccount, Payment, Reversal
from payments.models.statements import RemittanceStatement
from portal.audit import audit_record
from portal.emails import email_schedule
from portal.errors import DomainError
from portal.pdf import render_pdf
from portal.spreadsheets import neutralise_formula

ZERO = Decimal("0.00")
L = LedgerAccount


def previous_month(today: date) -> tuple[date, date]:
    """(first day, last day) of the month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _owed(client, *, before: date | None = None, through: date | None = None,
          leaving_out=()) -> tuple[Decimal, Decimal]:
    """(payable, commission receivable) on the client's ledger up to a date (effective dates),
    without the payment entries of the payments `leaving_out` (ids)."""
    lines = JournalLine.objects.filter(client=client, ledger_account__in=(L.CLIENT_PAYABLE, L.COMMISSION_RECEIVABLE))
    if before is not None:
        lines = lines.filter(entry__effective_on__lt=before)
    if through is not None:
        lines = lines.filter(entry__effective_on__lte=through)
    if leaving_out:
        lines = lines.exclude(entry__kind=JournalEntry.Kind.PAYMENT, entry__payment_id__in=leaving_out)
    sums = {row["ledger_account"]: (row["debit"] or ZERO, row["credit"] or ZERO)
            for row in lines.values("ledger_account").annotate(debit=Sum("debit"), credit=Sum("credit"))}
    payable = sums.get(L.CLIENT_PAYABLE, (ZERO, ZERO))
    receivable = sums.get(L.COMMISSION_RECEIVABLE, (ZERO, ZERO))
    return payable[1] - payable[0], receivable[0] - receivable[1]


def _late_payments(client, start: date):
    """Payments dated before `start` but posted after the client's last earlier statement was
    issued: that statement could not show them, so this one does (none before a first statement)."""
    earlier = (RemittanceStatement.objects.filter(client=client, period_end__lt=start)
               .order_by("-period_start", "-revision").first())
    if earlier is None:
        return Payment.objects.none()
    return Payment.objects.filter(client=client, received_on__lt=start, created_at__gt=earlier.issued_at)


def _remitted(client, start: date, end: date) -> Decimal:
    """What remittance entries effective in the period sent to the client from the trust account."""
    return (JournalLine.objects.filter(client=client, ledger_account=L.TRUST_CASH, entry__kind=JournalEntry.Kind.REMITTANCE,
                                       entry__effective_on__gte=start, entry__effective_on__lte=end)
            .aggregate(total=Sum("credit"))["total"] or ZERO)


def settle_up(payable: Decimal, receivable: Decimal, *, net: bool) -> dict:
    """What a statement closing with `payable` (may be below zero: money reversed after it was
    remitted) and commission `receivable` asks for: {"to_remit", "offset" (commission kept from
    the payable, net remittance), "commission_invoice", "due_back"}, all >= 0, Decimal cents."""
    offset = min(receivable, max(payable, ZERO)) if net else ZERO
    to_remit = max(payable, ZERO) - offset
    return {"to_remit": to_remit, "offset": offset, "commission_invoice": receivable - offset,
            "due_back": max(-payable, ZERO)}


def statement_figures(client, start: date, end: date) -> dict:
    """Every figure of the statement: {"rows": [per payment or reversal], "totals": {...},
    "method": "net" | "gross"}; totals in Decimal cents (see the module's docstring)."""
    late = {p.pk for p in _late_payments(client, start)}
    in_period = Q(received_on__gte=start, received_on__lte=end)
    payments = list(Payment.objects.filter(in_period | Q(pk__in=late), client=client).select_related("account"))
    zone = client.agency.zone()  # the period's days are the agency's (as the reversals' ledger dates)
    began, ended = (datetime.combine(start, time.min, tzinfo=zone),
                    datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))
    reversals = list(Reversal.objects.filter(client=client, created_at__gte=began, created_at__lt=ended)
                     .select_related("payment__account").order_by("created_at", "id"))
    rows = [{"day": p.received_on, "reference": p.account.client_reference, "debtor": p.account.debtor_name,
             "what": p.get_method_display() + (f", posted {timezone.localtime(p.created_at, zone):%b} "
                                               f"{timezone.localtime(p.created_at, zone).day}" if p.pk in late else ""),
             "received_by": p.received_by, "amount": p.amount, "commission": p.commission} for p in payments]
    rows += [{"day": timezone.localtime(r.created_at, zone).date(), "reference": r.payment.account.client_reference,
              "debtor": r.payment.account.debtor_name, "what": r.get_kind_display(), "received_by": r.payment.received_by,
              "amount": -r.amount, "commission": -r.commission} for r in reversals]
    rows.sort(key=lambda row: (row["reference"], row["day"]))
    opening = _owed(client, before=start, leaving_out=late)
    closing = _owed(client, through=end)
    terms = ContractTerms.objects.filter(client=client).first()
    net = terms is None or terms.remittance_method == ContractTerms.RemittanceMethod.NET
    by_client = Payment.ReceivedBy.CLIENT
    settled = settle_up(*closing, net=net)
    totals = {
        "collected_by_agency": sum((p.amount for p in payments if p.received_by != by_client), ZERO),
        "collected_by_client": sum((p.amount for p in payments if p.received_by == by_client), ZERO)
                               - sum((r.amount for r in reversals if r.payment.received_by == by_client), ZERO),
        "reversed": sum((r.amount for r in reversals if r.payment.received_by != by_client), ZERO),
        "commission": sum((p.commission for p in payments), ZERO) - sum((r.commission for r in reversals), ZERO),
        "remitted": _remitted(client, start, end),
        "opening_owed": opening[0] - opening[1], "closing_owed": closing[0] - closing[1],
        "closing_payable": closing[0], "closing_receivable": closing[1],
        "to_remit": settled["to_remit"], "commission_invoice": settled["commission_invoice"],
        "due_back": settled["due_back"],
    }
    cents = {name: Decimal(value).quantize(Decimal("0.01")) for name, value in totals.items()}
    return {"rows": rows, "totals": cents, "method": "net" if net else "gross"}


def statement_issue(*, client, period_start: date, period_end: date, corrects=None, note: str = "",
                    now=None) -> tuple[RemittanceStatement, bool]:
    """Issue the client's statement for the period, once: returns (statement, True) when issued
    now, (the existing one, False) when it was issued before. A correction (`corrects`, with a
    `note` saying what changed) is the next revision of the same period. Emails go to the
    client's admins are recorded in the same transaction and sent after commit."""
    now = now or timezone.now()
    revision = 1
    if corrects is None:
        existing = RemittanceStatement.objects.filter(client=client, period_start=period_start, revision=1).first()
        if existing is not None:
            return existing, False
    else:
        if not (note or "").strip():
            raise DomainError("Say what the correction changes.", field="note")
        revision = RemittanceStatement.objects.filter(client=client, period_start=period_start).count() + 1
    figures = statement_figures(client, period_start, period_end)
    statement = RemittanceStatement(agency_id=client.agency_id, client=client, period_start=period_start,
                                    period_end=period_end, revision=revision, corrects=corrects,
                                    correction_note=(note or "").strip()[:300], issued_at=now,
                                    totals={k: str(v) for k, v in figures["totals"].items()} | {"method": figures["method"]})
    pdf = render_statement_pdf(statement, figures)
    name = f"remittance-{period_start:%Y-%m}-r{revision}"
    statement.pdf.save(f"{name}.pdf", ContentFile(pdf), save=False)
    statement.csv.save(f"{name}.csv", ContentFile(statement_csv(figures).encode()), save=False)
    statement.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    try:
        with transaction.atomic():
            statement.save(force_insert=True)
            audit_record(action="statement.issued", agency=client.agency, client=client, obj=statement,
                         after={"period": f"{period_start}..{period_end}", "revision": revision,
                                "to_remit": statement.totals["to_remit"]})
            # Recorded with the statement (one commit), handed to the worker after it: a worker lost
            # between the two would otherwise leave an issued statement that no one is ever sent.
            _email_admins(statement)
    except IntegrityError:  # issued meanwhile by another worker: that one stands
        return RemittanceStatement.objects.get(client=client, period_start=period_start, revision=revision), False
    return statement, True


def render_statement_pdf(statement, figures) -> bytes:
    return render_pdf("payments/statement.html", {"statement": statement, "client": statement.client,
                                                  "agency": statement.client.agency, "zone": statement.client.agency.zone(),
                                                  **figures},
                      "payments/statement.css")


def statement_csv(figures) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "account", "debtor", "what", "received by", "amount", "commission"])
    for row in figures["rows"]:
        writer.writerow([row["day"].isoformat(), neutralise_formula(row["reference"]), neutralise_formula(row["debtor"]),
                         row["what"], row["received_by"], f"{row['amount']:.2f}", f"{row['commission']:.2f}"])
    writer.writerow([])
    for key, value in figures["totals"].items():
        writer.writerow([key.replace("_", " "), f"{value:.2f}"])
    return out.getvalue()


def _email_admins(statement):
    admins = Membership.objects.filter(client=statement.client, role=Role.CLIENT_ADMIN, is_active=True).select_related("user")
    for membership in admins:
        email_schedule(key=f"statement:{statement.pk}:{membership.user_id}", to=membership.user.email,
                       template="remittance_statement", agency=statement.client.agency, client=statement.client,
                       subject=f"Remittance statement for {statement.period_start:%B %Y}",
                       attachment=statement.pdf.name, context={"statement": statement, "agency": statement.client.agency})


def statement_mark_remitted(*, agency, actor, statement, now=None) -> RemittanceStatement:
    """An agency admin records that the statement's amount was sent to the client: the remittance
    entry moves it out of the trust account (and, for net remittance, settles the commission the
    client owed against it). Only the latest revision, once. A statement on which nothing was due
    (money reversed after an earlier remittance left the client owing) is recorded with no entry.
    Raises DomainError when already remitted or replaced by a correction; PermissionDenied for
    anyone but an agency admin."""
    permissions.require(permissions.can_administer_agency(actor), "Only agency admins record remittances.")
    now = now or timezone.now()
    with transaction.atomic():
        statement = RemittanceStatement.objects.select_for_update().get(pk=statement.pk)
        if statement.remitted_at is not None:
            raise DomainError(f"Already recorded as remitted on {statement.remitted_at:%b %d, %Y}.")
        if statement.corrections.exists():
            raise DomainError("A correction replaced this statement: remit the latest revision.")
        settled = settle_up(Decimal(statement.totals["closing_payable"]), Decimal(statement.totals["closing_receivable"]),
                            net=statement.totals["method"] == "net")
        entry = None
        if settled["to_remit"] or settled["offset"]:  # else nothing was due: recorded, no money moves
            entry = ledger.remittance_entry(client=statement.client, amount=settled["to_remit"], offset=settled["offset"],
                                            effective_on=agency.local_date(now), actor=actor,
                                            memo=f"Remittance for {statement.period_start:%B %Y} (statement r{statement.revision})")
        statement.remitted_at, statement.remitted_by, statement.remittance_entry = now, actor, entry
        statement.save(update_fields=["remitted_at", "remitted_by", "remittance_entry"])
        audit_record(action="statement.remitted", actor=actor, agency=agency, client=statement.client, obj=statement,
                     after={"amount": str(settled["to_remit"]), "commission_kept": str(settled["offset"]),
                            "due_back": str(settled["due_back"])})
    return statement


def clients_due(today: date):
    """Clients whose remittance day is today (or passed this month) and whose statement for last
    month is not issued yet (so a day the scheduler missed is caught up). A remittance day past
    the end of a shorter month (29-31) is that month's last day."""
    from accounts.models import Client

    start, _end = previous_month(today)
    issued = RemittanceStatement.objects.filter(period_start=start).values("client_id")
    clients = Client.objects.filter(status=Client.Status.ACTIVE).exclude(pk__in=issued)
    if today.day == monthrange(today.year, today.month)[1]:  # the month's last day: every remittance day has come
        return clients.filter(terms__isnull=False)
    return clients.filter(terms__remittance_day__lte=today.day)
