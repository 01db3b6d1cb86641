"""Remittance statements: the client reads and downloads its statements; agency admins see every
client's, issue a correction, and record a remittance."""
from decimal import Decimal

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import permissions
from accounts.access import agency_admin_required, role_required
from payments.models import RemittanceStatement
from payments.statements import services
from portal.errors import DomainError
from portal.tenancy import get_scoped_or_404


statement_readers = role_required(permissions.MANAGERS | permissions.CLIENTS)


@statement_readers
def statement_list(request):
    """Client users: their own statements. Agency admins and managers: every client's (collectors
    work accounts, not the books)."""
    statements = RemittanceStatement.objects.select_related("client", "remitted_by").order_by(
        "-period_start", "client__name", "-revision")[:500]
    return render(request, "payments/statement_list.html", {
        "statements": statements, "staff": request.membership.is_staff_role,
        "can_remit": request.membership.role == "agency_admin"})


@statement_readers
def statement_file(request, pk, kind):
    """The PDF or CSV exactly as issued."""
    statement = get_scoped_or_404(RemittanceStatement, pk=pk)
    if kind not in ("pdf", "csv"):
        raise Http404
    file = statement.pdf if kind == "pdf" else statement.csv
    response = FileResponse(file.open("rb"), as_attachment=True,
                            filename=f"remittance-{statement.client.name}-{statement.period_start:%Y-%m}-r{statement.revision}.{kind}",
                            content_type="application/pdf" if kind == "pdf" else "text/csv")
    response["Cache-Control"] = "private, no-store"
    return response


@agency_admin_required
@require_POST
def statement_remitted(request, pk):
    statement = get_scoped_or_404(RemittanceStatement, pk=pk)
    if request.POST.get("confirm") != "sent":  # a ledger entry cannot be taken back: one click is not enough
        messages.error(request, f"Nothing was recorded for {statement.client.name}: tick that the money was sent, "
                                "then press Record remittance.")
        return redirect("statement_list")
    try:
        services.statement_mark_remitted(agency=request.agency, actor=request.user, statement=statement)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        statement.refresh_from_db()
        if statement.remittance_entry_id is None:
            messages.success(request, f"Nothing was due to {statement.client.name} on this statement: recorded, "
                                      "no money moved.")
        else:
            messages.success(request, f"Remittance of {Decimal(statement.totals['to_remit']):,.2f} to {statement.client.name} "
                                      "recorded in the trust ledger.")
    return redirect("statement_list")


@agency_admin_required
@require_POST
def statement_correct(request, pk):
    """Issue a corrected statement for the same period, saying what it corrects."""
    statement = get_scoped_or_404(RemittanceStatement, pk=pk)
    try:
        corrected, _created = services.statement_issue(client=statement.client, period_start=statement.period_start,
                                                       period_end=statement.period_end, corrects=statement,
                                                       note=request.POST.get("note", ""))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Revision {corrected.revision} issued and emailed to the client's admins.")
    return redirect("statement_list")
