"""Payments on the staff and client side, and the trust ledger's pages.

    post a payment, reverse one (workspace)               agency staff
    the client's payments, reversals and commission       client users
    the ledger per client, "owed to the client now"       agency admins
    the payments journal by day and method (CSV export)   agency admins and managers
"""
import csv
from decimal import Decimal

from django.contrib import messages
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import agency_admin_required, client_required, managers_required, staff_required
from accounts.models import Client
from collections_work.debtor_accounts import panels
from collections_work.models import DebtorAccount
from payments.forms import JournalRangeForm, PaymentPostForm, ReversalForm
from payments.ledger import selectors as ledger
from payments.models import Payment, Reversal
from payments.posting import services
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.spreadsheets import neutralise_formula
from portal.tenancy import get_scoped_or_404


@staff_required
@require_POST
def payment_post(request, pk):
    account = get_scoped_or_404(DebtorAccount.objects.select_related("client", "debtor", "agency"), pk=pk)
    form = PaymentPostForm(request.POST, agency=request.agency)
    if form.is_valid():
        try:
            posted = services.payment_post(agency=request.agency, actor=request.user, account=account,
                                           source=Payment.Source.STAFF, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            account.refresh_from_db()
            text = (f"Payment of {posted.payment.amount:,.2f} {account.currency} "
                    f"{'was already posted' if posted.replayed else 'posted'}; the balance is "
                    f"{account.balance:,.2f}.")
            messages.success(request, text)
            return redirect("account_workspace", pk=account.pk)
    return panels.redraw(panels.WORKSPACE, request, account, name="post", form=form, status=400)


@staff_required
@require_POST
def payment_reverse(request, pk):
    payment = get_scoped_or_404(Payment.objects.select_related("account"), pk=pk)
    form = ReversalForm(request.POST)
    if form.is_valid():
        try:
            reversal = services.payment_reverse(agency=request.agency, actor=request.user, payment=payment,
                                                **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{reversal.get_kind_display()} of {reversal.amount:,.2f} recorded; "
                                      "the account's balance and plan follow.")
            return redirect("account_workspace", pk=payment.account_id)
    form.payment = payment
    return panels.redraw(panels.WORKSPACE, request, payment.account, name="payments", form=form, status=400)


@client_required
def client_payments(request):
    """What was paid on the client's accounts, the commission on each, and what was reversed."""
    payments = list(Payment.objects.select_related("account").order_by("-received_on", "-id")
                    .annotate(commission_kept=F("commission") - Coalesce(Sum("reversals__commission"), Value(Decimal("0.00"), output_field=DecimalField())))[:500])
    reversals = list(Reversal.objects.select_related("payment__account").order_by("-created_at")[:200])
    return render(request, "payments/client_payments.html", {"payments": payments, "reversals": reversals,
                                                            "position": ledger.client_position(request.client)})


@agency_admin_required
def ledger_overview(request):
    """Every client with what the trust account owes it now."""
    clients = list(Client.objects.order_by("name"))
    for client in clients:
        client.position = ledger.client_position(client)
    return render(request, "payments/ledger_overview.html", {"clients": clients})


@agency_admin_required
def client_ledger(request, pk):
    client = get_scoped_or_404(Client, pk=pk)
    return render(request, "payments/client_ledger.html", {
        "client": client, "rows": ledger.client_ledger(client), "position": ledger.client_position(client)})


@managers_required
def payments_journal(request):
    """Payments and reversals by day and method, with totals; `?format=csv` downloads it."""
    form = JournalRangeForm(request.GET or None)
    start, end = form.range(today=request.agency.local_date())
    rows, totals = ledger.payments_journal(start, end, request.agency.zone())
    if request.GET.get("format") == "csv":
        return _journal_csv(rows, totals, start, end)
    if not form.is_bound:  # the boxes show the days the page shows
        form = JournalRangeForm(initial={"start": start, "end": end})
    for row in rows:
        row["method_label"] = Payment.Method(row["method"]).label
        row["received_by_label"] = Payment.ReceivedBy(row["received_by"]).label
    return render(request, "payments/journal.html", {"form": form, "rows": rows, "totals": totals,
                                                     "start": start, "end": end})


class _Echo:
    def write(self, value):
        return value


def _journal_csv(rows, totals, start, end):
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(["day", "method", "received by", "payments", "count", "reversed", "net"])
        for row in rows:
            yield writer.writerow([row["day"].isoformat(), neutralise_formula(Payment.Method(row["method"]).label),
                                   neutralise_formula(Payment.ReceivedBy(row["received_by"]).label),
                                   f"{row['payments']:.2f}", row["count"], f"{row['reversed']:.2f}", f"{row['net']:.2f}"])
        yield writer.writerow(["total", "", "", f"{totals['payments']:.2f}", totals["count"],
                               f"{totals['reversed']:.2f}", f"{totals['net']:.2f}"])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payments-journal-{start}-{end}.csv"'
    return response
