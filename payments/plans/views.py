"""Plans, agreements and links on the staff and client side.

    cancel a plan, verify a PDF sent back, invite to settle, revoke a link    agency staff
    download a signed agreement                                              staff, client users
"""
from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import members_required, staff_required
from collections_work.debtor_accounts import panels
from collections_work.models import DebtorAccount
from payments.forms import AgreementVerifyForm, OfferSendForm, PlanCancelForm
from payments.links.services import link_issue, link_revoke
from payments.models import AcceptanceEvidence, PaymentPlan, SecureLink
from payments.plans import services
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.tenancy import get_scoped_or_404
from portal.text import date_text


@staff_required
@require_POST
def plan_cancel(request, pk):
    plan = get_scoped_or_404(PaymentPlan.objects.select_related("account"), pk=pk)
    form = PlanCancelForm(request.POST)
    if form.is_valid():
        try:
            services.plan_cancel(agency=request.agency, actor=request.user, plan=plan, reason=form.cleaned_data["reason"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Plan cancelled; the account is back in collection.")
            return redirect("account_workspace", pk=plan.account_id)
    return panels.redraw(panels.WORKSPACE, request, plan.account, name="plan", form=form, status=400)


@members_required
def agreement_download(request, pk):
    """The signed agreement PDF, exactly as stored when the debtor signed."""
    evidence = get_scoped_or_404(AcceptanceEvidence.objects.select_related("account"), pk=pk)
    response = FileResponse(evidence.agreement_pdf.open("rb"), as_attachment=True, content_type="application/pdf",
                            filename=f"agreement-{evidence.account.client_reference}-{evidence.reference}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required
@require_POST
def agreement_verify(request, pk):
    """Does this PDF match an agreement signed on this account, byte for byte?"""
    account = get_scoped_or_404(DebtorAccount.objects.select_related("client", "debtor", "agency"), pk=pk)
    form = AgreementVerifyForm(request.POST, request.FILES)
    if form.is_valid():
        match = services.agreement_verify(agency=request.agency, actor=request.user, account=account,
                                          uploaded_file=form.cleaned_data["file"])
        if match is None:
            messages.error(request, "No match: this file is not an agreement signed on this account, or it was "
                                    "changed after signing.")
        else:
            messages.success(request, f"Match: the agreement {match.typed_name} signed on "
                                      f"{date_text(match.accepted_at, '%b %d, %Y at %H:%M')} UTC (evidence {match.reference}).")
        return redirect("account_workspace", pk=account.pk)
    return panels.redraw(panels.WORKSPACE, request, account, name="verify", form=form, status=400)


@staff_required
@require_POST
def invitation_send(request, pk):
    """An invitation to settle: a secure link with no offer, where the debtor builds a plan."""
    account = get_scoped_or_404(DebtorAccount.objects.select_related("client", "debtor", "agency"), pk=pk)
    form = OfferSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose email or letter.")
        return redirect("account_workspace", pk=account.pk)
    try:
        _link, url = link_issue(agency=request.agency, actor=request.user, account=account,
                                channel=form.cleaned_data["channel"])
    except DomainError as error:
        messages.error(request, f"Not sent: {error.message}")
        return redirect("account_workspace", pk=account.pk)
    if form.cleaned_data["channel"] == "letter":
        response = render(request, "payments/link_for_letter.html", {"account": account, "url": url, "offer": None})
        response["Cache-Control"] = "no-store"
        return response
    messages.success(request, "Invitation to settle emailed to the debtor with a secure link.")
    return redirect("account_workspace", pk=account.pk)


@staff_required
@require_POST
def link_revoke_view(request, pk):
    link = get_scoped_or_404(SecureLink.objects.select_related("account"), pk=pk)
    try:
        link_revoke(agency=request.agency, actor=request.user, link=link)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Link revoked: it no longer opens the account.")
    return redirect("account_workspace", pk=link.account_id)
