"""Pages for agency staff and client users: thin views that parse a form and call a service."""
from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import lockout, permissions, selectors, services
from accounts.access import (
    agency_admin_required,
    role_required,
    client_admin_required,
    client_required,
    managers_required,
    staff_required,
)
from accounts.filters import AuditEventFilter
from accounts.forms import (
    AgencySettingsForm,
    ClientInviteForm,
    ClientUserInviteForm,
    CompanyStepForm,
    ContactsStepForm,
    ContractTermsForm,
    FeeTierFormSet,
    InvitationAcceptForm,
    RemittanceStepForm,
    RoleForm,
    StaffInviteForm,
    TermsStepForm,
)
from accounts.models import ApiKey, Client, Invitation, Membership, Role
from portal.errors import DomainError
from portal.forms import add_domain_error, posted_data
from portal.models import AuditEvent
from portal.tenancy import get_scoped_or_404


def home(request):
    """Send each role to its own home page."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    membership = request.membership
    if membership is None:
        if request.user.is_superuser:
            return redirect("admin:index")
        return render(request, "accounts/no_access.html", status=403)
    if membership.role == Role.COLLECTOR:  # a collector's day starts at "Next account"
        return redirect("worklist_home")
    if membership.is_staff_role:
        return redirect("agency_home")
    if request.client.status != Client.Status.ACTIVE and membership.role == Role.CLIENT_ADMIN:
        return redirect("client_onboarding")
    return redirect("client_home")


def signin_unlock(request, token):
    """The emailed unlock link: GET shows a button (mail scanners open links), POST unlocks."""
    try:
        email, _failure = lockout.unlock_token_read(token)
    except DomainError as error:
        return render(request, "accounts/signin_unlock.html", {"error": error.message}, status=410)
    if request.method == "POST":
        try:
            lockout.signin_unlock(token=token)
        except DomainError as error:
            return render(request, "accounts/signin_unlock.html", {"error": error.message}, status=410)
        messages.success(request, f"Sign-in for {email} is unlocked. You can sign in now.")
        return redirect("account_login")
    return render(request, "accounts/signin_unlock.html", {"email": email})


# --- Agency staff -------------------------------------------------------------------------

@staff_required
def agency_home(request):
    clients = selectors.clients_overview()
    return render(request, "accounts/agency_home.html", {
        "clients": clients,
        "active_count": sum(1 for c in clients if c.status == Client.Status.ACTIVE),
        "onboarding_count": sum(1 for c in clients if c.status in (Client.Status.INVITED, Client.Status.ONBOARDING)),
        "staff_count": selectors.staff_memberships().filter(is_active=True).count(),
        "pending_invitations": selectors.pending_invitations()[:10],
    })


@staff_required
def client_list(request):
    return render(request, "accounts/client_list.html", {"clients": selectors.clients_overview()})


@managers_required
def client_invite(request):
    form = ClientInviteForm(posted_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            client, invitation = services.client_invite(
                agency=request.agency, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{client.name} created; an invitation went to {invitation.email}. "
                                      "Now set their contract terms.")
            return redirect("client_terms_edit", pk=client.pk)
    return render(request, "accounts/client_invite.html", {"form": form})


@staff_required
def client_detail(request, pk):
    client = get_scoped_or_404(Client, pk=pk)
    return render(request, "accounts/client_detail.html", {
        "client": client,
        "terms": client.terms,
        "members": selectors.client_memberships(client),
        "invitations": selectors.pending_invitations(client=client),
        "invite_form": ClientUserInviteForm(),
    })


@managers_required
def client_terms_edit(request, pk):
    client = get_scoped_or_404(Client, pk=pk)
    terms = client.terms
    form = ContractTermsForm(posted_data(request), instance=terms)
    initial_tiers = [{"min_age_days": t.min_age_days, "max_age_days": t.max_age_days, "fee_percent": t.fee_percent}
                     for t in terms.fee_tiers.all()]
    while len(initial_tiers) < 4:
        initial_tiers.append({})
    tiers = FeeTierFormSet(posted_data(request), initial=initial_tiers, prefix="tiers")
    if request.method == "POST" and form.is_valid() and tiers.is_valid():
        tier_rows = [t for t in tiers.cleaned_data if t and t.get("min_age_days") is not None]
        try:
            services.contract_terms_update(agency=request.agency, actor=request.user, terms=terms,
                                           values=form.cleaned_data, tiers=tier_rows)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Contract terms for {client.name} saved.")
            return redirect("client_detail", pk=client.pk)
    return render(request, "accounts/client_terms_edit.html", {"client": client, "form": form, "tiers": tiers})


@managers_required
@require_POST
def client_user_invite_by_staff(request, pk):
    client = get_scoped_or_404(Client, pk=pk)
    return _invite_client_user(request, client, "client_detail", {"pk": client.pk})


@managers_required
def team_list(request):
    return render(request, "accounts/team_list.html", {
        "members": selectors.staff_memberships(),
        "invitations": selectors.pending_invitations(client__isnull=True),
        "invite_form": StaffInviteForm(),
        "role_choices": [(r.value, r.label) for r in Role if r.value in ("agency_admin", "manager", "collector")],
    })


@agency_admin_required
@require_POST
def staff_invite(request):
    form = StaffInviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, _ = services.invitation_create(agency=request.agency, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("team_list")
    _flash_form_errors(request, form)
    return redirect("team_list")


@agency_admin_required
@require_POST
def membership_role(request, pk):
    membership = get_scoped_or_404(Membership, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(agency=request.agency, actor=request.user, membership=membership,
                                            role=form.cleaned_data["role"])
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
    return redirect("team_list" if membership.is_staff_role else "client_detail", **(
        {} if membership.is_staff_role else {"pk": membership.client_id}))


@role_required(permissions.AGENCY_ADMINS | permissions.CLIENT_ADMINS)
@require_POST
def membership_active(request, pk):
    membership = get_scoped_or_404(Membership, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.membership_set_active(agency=request.agency, actor=request.user, membership=membership, active=active)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user} can {'now' if active else 'no longer'} sign in.")
    return redirect(_team_page_for(request, membership))


@role_required(permissions.MANAGERS | permissions.CLIENT_ADMINS)
@require_POST
def invitation_revoke(request, pk):
    invitation = get_scoped_or_404(Invitation, pk=pk)
    try:
        services.invitation_revoke(agency=request.agency, actor=request.user, invitation=invitation)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect(_team_page_for(request, invitation))


def _team_page_for(request, row):
    if request.membership.is_client_role:
        return reverse("client_team")
    if row.client_id:
        return reverse("client_detail", args=[row.client_id])
    return reverse("team_list")


@agency_admin_required
def audit_log(request):
    events = AuditEventFilter(request.GET or None, request=request,
                              queryset=AuditEvent.objects.select_related("client"))
    page = Paginator(events.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/audit_log.html", {"filter": events, "page": page, "query": query.urlencode()})


@agency_admin_required
def agency_settings(request):
    form = AgencySettingsForm(posted_data(request), instance=request.agency)
    if request.method == "POST" and form.is_valid():
        services.agency_settings_update(agency=request.agency, actor=request.user, values=form.cleaned_data)
        messages.success(request, "Agency settings saved.")
        return redirect("agency_settings")
    return render(request, "accounts/agency_settings.html", {"form": form})


# --- Client users ---------------------------------------------------------------------------

@client_required
def client_home(request):
    client = request.client
    return render(request, "accounts/client_home.html", {
        "client": client, "terms": client.terms,
        "onboarding_done": client.status == Client.Status.ACTIVE,
    })


@client_required
def client_terms(request):
    return render(request, "accounts/client_terms.html", {"client": request.client, "terms": request.client.terms})


@client_required
def client_team(request):
    client = request.client
    return render(request, "accounts/client_team.html", {
        "client": client,
        "members": selectors.client_memberships(client),
        "invitations": selectors.pending_invitations(client=client),
        "invite_form": ClientUserInviteForm(),
    })


@client_admin_required
@require_POST
def client_user_invite(request):
    return _invite_client_user(request, request.client, "client_team", {})


def _invite_client_user(request, client, back, back_kwargs):
    form = ClientUserInviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, _ = services.invitation_create(agency=request.agency, actor=request.user, client=client,
                                                       email=form.cleaned_data["email"], role=Role.CLIENT_USER)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email} (read-only access).")
    _flash_form_errors(request, form)
    return redirect(back, **back_kwargs)


def _flash_form_errors(request, form):
    for field, errors in form.errors.items():
        label = form.fields[field].label or field.replace("_", " ").capitalize() if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


ONBOARDING_FORMS = {
    "company": (CompanyStepForm, "Company"),
    "contacts": (ContactsStepForm, "Contacts"),
    "remittance": (RemittanceStepForm, "Remittance"),
    "terms": (TermsStepForm, "Terms"),
}


@client_admin_required
def client_onboarding(request, step=None):
    client = request.client
    steps = services.ONBOARDING_STEPS
    if step is None:
        if client.status == Client.Status.ACTIVE:
            return redirect("client_home")
        return redirect("client_onboarding_step", step=steps[min(client.onboarding_step, len(steps) - 1)])
    if step not in ONBOARDING_FORMS or steps.index(step) > client.onboarding_step:
        raise Http404("No such onboarding step yet.")
    form_class, _title = ONBOARDING_FORMS[step]
    model_form = step in ("company", "contacts")
    kwargs = {"instance": client} if model_form else {}
    form = form_class(posted_data(request), **kwargs)
    if request.method == "POST" and form.is_valid():
        try:
            services.client_onboarding_save(agency=request.agency, actor=request.user, client=client,
                                            step=step, values=form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            following = steps.index(step) + 1
            if following < len(steps):
                return redirect("client_onboarding_step", step=steps[following])
            messages.success(request, f"Welcome aboard, {client.name}! Onboarding is complete.")
            return redirect("client_home")
    return render(request, "accounts/onboarding.html", {
        "client": client, "terms": client.terms, "form": form, "step": step,
        "steps": [{"key": key, "title": ONBOARDING_FORMS[key][1], "number": n + 1,
                   "done": n < client.onboarding_step, "current": key == step,
                   "reachable": n <= client.onboarding_step}
                  for n, key in enumerate(steps)],
    })


@client_admin_required
def api_keys(request):
    new_key = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name:
            messages.error(request, "Name: give the key a name, e.g. “Billing system”.")
        elif len(name) > 100:
            messages.error(request, "Name: keep it under 100 characters.")
        else:
            key, new_key = services.api_key_create(agency=request.agency, actor=request.user,
                                                   client=request.client, name=name)
            messages.success(request, f"API key “{key.name}” created. Copy it now: it will not be shown again.")
    return render(request, "accounts/api_keys.html", {"keys": ApiKey.objects.all(), "new_key": new_key})


@client_admin_required
@require_POST
def api_key_revoke(request, pk):
    key = get_scoped_or_404(ApiKey, pk=pk)
    services.api_key_revoke(agency=request.agency, actor=request.user, api_key=key)
    messages.success(request, f"API key “{key.name}” revoked.")
    return redirect("api_keys")


# --- Invitations (anyone holding the link) ---------------------------------------------------

def invitation_accept(request, token):
    """GET shows the form and spends nothing (mail scanners open links); POST accepts."""
    if request.user.is_authenticated:
        messages.info(request, "You are signed in already. Sign out first to accept an invitation for someone else.")
        return redirect("home")
    try:
        invitation = services.invitation_for_token(token)
    except DomainError as error:
        return render(request, "accounts/invitation_invalid.html", {"message": error.message}, status=410)
    form = InvitationAcceptForm(posted_data(request), email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(token=token, full_name=form.cleaned_data["full_name"],
                                              password=form.cleaned_data["password1"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {invitation.agency.name}'s portal.")
            return redirect("home")
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form})
