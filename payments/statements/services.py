"""Remittance statements (keyword-only, audited): issued once per client and month from the
payments and the trust ledger, rendered to PDF (WeasyPrint) and CSV, stored, emailed to the
client's admins; an agency admin marks one remitted, which posts the remittance entry.

The figures (Decimal cents; `totals` stores them as strings) reconcile what is owed to the client:
    opening owed + collected by the agency - reversed - commission - remitted = closing owed,
where owed = payable less the commission the client owes (trust ledger). Each ledger entry is in
exactly one statement (_counted): the first issued after it was posted whose period reaches its
date; a remittance in the first issued after it was marked, whatever its day, so a remittance
marked after the next period ended is not asked for again. Payments the client reports as paid
to it directly add only their commission. Net remittance
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
from django.db import IntegrityError, connection, transaction
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
from portal.text import date_text

ZERO = Decimal("0.00")
L = LedgerAccount


def previous_month(today: date) -> tuple[date, date]:
    """(first day, last day) of the month before `today`'s."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _owed(client, counted: Q) -> tuple[Decimal, Decimal]:
    """(payable, commission receivable) over the client's ledger lines whose entries `counted` selects."""
    lines = JournalLine.objects.filter(counted, client=client,
                                       ledger_account__in=(L.CLIENT_PAYABLE, L.COMMISSION_RECEIVABLE))
    sums = {row["ledger_account"]: (row["debit"] or ZERO, row["credit"] or ZERO)
            for row in lines.values("ledger_account").annotate(debit=Sum("debit"), credit=Sum("credit"))}
    payable = sums.get(L.CLIENT_PAYABLE, (ZERO, ZERO))
    receivable = sums.get(L.COMMISSION_RECEIVABLE, (ZERO, ZERO))
    return payable[1] - payable[0], receivable[0] - receivable[1]


def _counted(cutoff, end: date) -> Q:
    """The ledger entries a statement for a period ending `end` counts, its figures taken at
    `cutoff` (its issued_at): those dated up to its end, and every remittance (one pays an earlier
    statement, whatever day it was marked), posted before the cutoff. Each entry is thus in exactly
    one statement: a payment dated in a month already stated goes on the next one, and a remittance
    marked after the next period ended is not asked for again."""
    dated = Q(entry__kind=JournalEntry.Kind.REMITTANCE) | Q(entry__effective_on__lte=end)
    return dated & Q(entry__posted_at__lt=cutoff)


def figures_cutoff(now):
    """The moment a statement's figures are taken at (stored as its issued_at): `now`, or on
    PostgreSQL the start of the oldest other transaction still running, if earlier. An entry such
    a transaction is writing (a long payment file, say) is dated after it and commits later: it goes
    on the next statement instead of on neither."""
    if connection.vendor != "postgresql":
        return now
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")
        oldest = cursor.fetchone()[0]
    return min(now, oldest) if oldest is not None else now


def _earlier_statement(client, start: date):
    """The client's latest statement (latest revision) for a period before `start`, or None."""
    return (RemittanceStatement.objects.filter(client=client, period_end__lt=start)
            .order_by("-period_start", "-revision").first())


def settle_up(payable: Decimal, receivable: Decimal, *, net: bool) -> dict:
    """What a statement closing with `payable` and commission `receivable` asks for. Either may be
    below zero: money reversed after it was remitted (the client owes it back), commission given
    back after it was kept. Returns {"to_remit", "commission_invoice", "due_back"} (>= 0) and
    "offset": what the remittance entry takes off the receivable (negative: commission given back
    is paid out with it). Decimal cents."""
    if not net:  # gross: the payable is remitted whole, the commission invoiced apart
        give_back = max(-receivable, ZERO)
        return {"to_remit": max(payable, ZERO) + give_back, "offset": -give_back,
                "commission_invoice": max(receivable, ZERO), "due_back": max(-payable, ZERO)}
    owed = payable - receivable
    if owed >= 0:  # the commission kept from the payable, the rest remitted
        return {"to_remit": owed, "offset": receivable, "commission_invoice": ZERO, "due_back": ZERO}
    offset = max(min(receivable, payable), ZERO)  # what the payable still covers of the commission
    invoice = max(receivable - offset, ZERO)
    return {"to_remit": ZERO, "offset": offset, "commission_invoice": invoice, "due_back": -owed - invoice}


def statement_figures(client, start: date, end: date, *, cutoff=None) -> dict:
    """Every figure of the statement for `start`..`end` taken at `cutoff` (default: now; see
    figures_cutoff): {"rows": [per payment or reversal], "totals": {...}, "method": "net" |
    "gross"}; totals in Decimal cents (see the module's docstring). What an earlier statement
    counted (_counted) is its opening; what it did not, up to the cutoff, this one's rows."""
    cutoff = cutoff or timezone.now()
    zone = client.agency.zone()  # the days are the agency's (as the reversals' ledger dates)
    earlier = _earlier_statement(client, start)
    if earlier is None:
        opening = _owed(client, Q(entry__effective_on__lt=start, entry__posted_at__lt=cutoff))
        fresh_payments = Q(received_on__gte=start)
        fresh_reversals = Q(created_at__gte=datetime.combine(start, time.min, tzinfo=zone))
        fresh_remittances = Q()
    else:
        opening = _owed(client, _counted(earlier.issued_at, earlier.period_end))
        fresh_payments = Q(received_on__gt=earlier.period_end) | Q(created_at__gte=earlier.issued_at)
        after = datetime.combine(earlier.period_end + timedelta(days=1), time.min, tzinfo=zone)
        fresh_reversals = Q(created_at__gte=after) | Q(created_at__gte=earlier.issued_at)
        fresh_remittances = Q(entry__posted_at__gte=earlier.issued_at)
    ended = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    payments = list(Payment.objects.filter(fresh_payments, client=client, received_on__lte=end, created_at__lt=cutoff)
                    .select_related("account"))
    reversals = list(Reversal.objects.filter(fresh_reversals, client=client, created_at__lt=min(ended, cutoff))
                     .select_related("payment__account").order_by("created_at", "id"))
    closing = _owed(client, _counted(cutoff, end))
    remitted = (JournalLine.objects.filter(fresh_remittances, client=client, ledger_account=L.TRUST_CASH,
                                           entry__kind=JournalEntry.Kind.REMITTANCE, entry__posted_at__lt=cutoff)
                .aggregate(total=Sum("credit"))["total"] or ZERO)
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
        "remitted": remitted,
        "opening_owed": opening[0] - opening[1], "closing_owed": closing[0] - closing[1],
        "closing_payable": closing[0], "closing_receivable": closing[1],
        "to_remit": settled["to_remit"], "commission_invoice": settled["commission_invoice"],
        "due_back": settled["due_back"],
    }
    cents = {name: Decimal(value).quantize(Decimal("0.01")) for name, value in totals.items()}
    return {"rows": _rows(payments, reversals, start, zone), "totals": cents, "method": "net" if net else "gross"}


def _rows(payments, reversals, start, zone) -> list[dict]:
    """The statement's rows: each payment (one dated before the period says when it was posted)
    and each reversal, by account and day."""
    def what(payment):  # the client's document: a direct payment was paid to "you"
        how = "Paid to you directly" if payment.method == Payment.Method.DIRECT_TO_CLIENT else (
            payment.get_method_display() + (" (to you)" if payment.received_by == Payment.ReceivedBy.CLIENT else ""))
        if payment.received_on >= start:
            return how
        posted = timezone.localtime(payment.created_at, zone)
        return f"{how}, posted {posted:%b} {posted.day}"

    rows = [{"day": p.received_on, "reference": p.account.client_reference, "debtor": p.account.debtor_name,
             "what": what(p), "received_by": p.received_by, "amount": p.amount, "commission": p.commission}
            for p in payments]
    rows += [{"day": timezone.localtime(r.created_at, zone).date(), "reference": r.payment.account.client_reference,
              "debtor": r.payment.account.debtor_name, "what": r.get_kind_display(), "received_by": r.payment.received_by,
              "amount": -r.amount, "commission": -r.commission} for r in reversals]
    rows.sort(key=lambda row: (row["reference"], row["day"]))
    return rows


def statement_issue(*, client, period_start: date, period_end: date, corrects=None, note: str = "",
                    now=None) -> tuple[RemittanceStatement, bool]:
    """Issue the client's statement for the period, once: returns (statement, True) when issued
    now, (the existing one, False) when it was issued before. A correction (`corrects`, with a
    `note` saying what changed) is the next revision of the same period. Emails go to the
    client's admins are recorded in the same transaction and sent after commit."""
    now = figures_cutoff(now or timezone.now())
    revision = 1
    if corrects is None:
        existing = RemittanceStatement.objects.filter(client=client, period_start=period_start, revision=1).first()
        if existing is not None:
            return existing, False
    else:
        if not (note or "").strip():
            raise DomainError("Say what the correction changes.", field="note")
        revision = RemittanceStatement.objects.filter(client=client, period_start=period_start).count() + 1
    figures = statement_figures(client, period_start, period_end, cutoff=now)
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
            raise DomainError(f"Already recorded as remitted on {date_text(agency.local_date(statement.remitted_at))}.")
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
