"""Offers on the staff and client side (thin: parse a form, call a service, redirect; a refused
form is drawn again on its page through debtor_accounts.panels).

    build (with a preview of the schedule), send, withdraw    agency staff, from the workspace
    approve / decline an offer beyond the terms               the client's admin, account page
    offers waiting for the client                             client users (admins decide)
    self-service plan rules per client                        agency admins
"""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import agency_admin_required, client_admin_required, client_required, staff_required
from accounts.models import Client, ContractTerms
from collections_work.debtor_accounts import panels
from collections_work.models import DebtorAccount
from payments.forms import DecisionForm, OfferSendForm, PlanOfferForm
from payments.models import PlanOffer, PlanRule
from payments.offers import services
from payments.offers.forms import PlanRuleForm, PlanRuleFormSet
from payments.offers.rules import DEFAULT_DEFER_DAYS
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.tenancy import get_scoped_or_404


@staff_required
@require_POST
def offer_create(request, pk):
    """Build an offer from the workspace; "Preview" shows the whole schedule before saving."""
    account = get_scoped_or_404(DebtorAccount.objects.select_related("client", "debtor", "agency"), pk=pk)
    form = PlanOfferForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if "preview" in request.POST:
                form.proposal = services.offer_check(account=account, **{k: v for k, v in data.items() if k != "note"})
                return panels.redraw(panels.WORKSPACE, request, account, name="offer", form=form)
            offer = services.offer_create(agency=request.agency, actor=request.user, account=account, **data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Offer started: {services.describe(offer)} — "
                                      f"{offer.get_status_display().lower()}.")
            if offer.outside_terms:
                messages.warning(request, "Outside the client's terms: " + "; ".join(offer.outside_terms)
                                 + ". The client has to approve it before it is offered to the debtor.")
            return redirect("account_workspace", pk=account.pk)
    return panels.redraw(panels.WORKSPACE, request, account, name="offer", form=form, status=400)


def _offer_or_404(pk):
    return get_scoped_or_404(PlanOffer.objects.select_related("account__client", "account__debtor"), pk=pk)


@staff_required
@require_POST
def offer_send(request, pk):
    """Send by email now, or make the link for a letter: shown on this page once, never again."""
    offer = _offer_or_404(pk)
    form = OfferSendForm(request.POST)
    if form.is_valid():
        try:
            offer, url = services.offer_send(agency=request.agency, actor=request.user, offer=offer,
                                             channel=form.cleaned_data["channel"])
        except DomainError as error:
            messages.error(request, f"Not sent: {error.message}")
        else:
            if form.cleaned_data["channel"] == "letter":
                response = render(request, "payments/link_for_letter.html", {"account": offer.account, "url": url,
                                                                            "offer": offer})
                response["Cache-Control"] = "no-store"
                return response
            messages.success(request, "Offer emailed to the debtor with a secure link.")
    return redirect("account_workspace", pk=offer.account_id)


@staff_required
@require_POST
def offer_withdraw(request, pk):
    offer = _offer_or_404(pk)
    try:
        services.offer_withdraw(agency=request.agency, actor=request.user, offer=offer)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Offer withdrawn; its links no longer work.")
    return redirect("account_workspace", pk=offer.account_id)


@client_admin_required
@require_POST
def offer_decide(request, pk):
    """The client admin approves or declines an offer beyond its terms."""
    offer = _offer_or_404(pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        decide = services.offer_approve if form.cleaned_data["decision"] == "approve" else services.offer_decline
        try:
            offer = decide(agency=request.agency, actor=request.user, offer=offer, note=form.cleaned_data["note"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Offer {offer.get_status_display().lower()}. The agency sees your answer.")
            if request.POST.get("next") == "list":
                return redirect("client_offers")
            return redirect("debtor_account_detail", pk=offer.account_id)
    form.offer = offer
    return panels.redraw(panels.ACCOUNT_PAGE, request, offer.account, name="offers", form=form,
                         status=400)


def _awaiting():
    return (PlanOffer.objects.filter(status=PlanOffer.Status.AWAITING_CLIENT)
            .select_related("account", "created_by").order_by("created_at"))


@client_required
def client_offers(request):
    """Offers beyond the client's terms that wait for its answer, oldest first."""
    offers = list(_awaiting())
    for offer in offers:
        offer.summary = services.describe(offer)
    return render(request, "payments/client_offers.html", {"offers": offers, "form": DecisionForm(),
                                                           "can_decide": request.membership.role == "client_admin"})


@client_required
def client_offer_summary(request):
    """The count on the client's home page (loaded by htmx, so accounts needs no import)."""
    return render(request, "payments/_client_offer_summary.html", {"count": _awaiting().count()})


@agency_admin_required
def plan_rules(request, pk):
    """A client's self-service plan rules by balance range (defaults from its contract terms)."""
    client = get_scoped_or_404(Client, pk=pk)
    saved = PlanRule.objects.filter(client=client).order_by("balance_from")
    initial = [_rule_initial(rule) for rule in saved] or _defaults(client)
    formset = PlanRuleFormSet(request.POST or None, initial=initial)
    if request.method == "POST" and formset.is_valid():
        try:
            services.plan_rules_save(agency=request.agency, actor=request.user, client=client,
                                     rules=[form.cleaned_data for form in formset.forms
                                            if form.cleaned_data and not form.cleaned_data.get("DELETE")])
        except DomainError as error:
            formset._non_form_errors = formset.error_class([error.message])
        else:
            messages.success(request, f"Plan rules for {client.name} saved.")
            return redirect("client_detail", pk=client.pk)
    return render(request, "payments/plan_rules.html", {"client": client, "formset": formset, "saved": saved.exists()},
                  status=400 if request.method == "POST" else 200)


def _rule_initial(rule) -> dict:
    return {name: getattr(rule, name) for name in PlanRuleForm.base_fields if name != "DELETE"}


def _defaults(client) -> list[dict]:
    terms = ContractTerms.objects.filter(client=client).first()
    if terms is None:
        return []
    return [{"balance_from": 0, "balance_to": None, "min_installment": terms.min_installment,
             "max_months": terms.max_plan_months, "min_settlement_percent": terms.settlement_floor_percent,
             "max_defer_days": DEFAULT_DEFER_DAYS}]

