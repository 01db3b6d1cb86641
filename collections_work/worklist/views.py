"""The worklist: a collector's queues and "Next account", the account workspace and its
actions, the managers' queue/team/template pages and figures, and the debtor's opt-out link.

Who may do what (anything else is a 404):

    worklist, queue pages, next account, workspace and its actions   agency staff
    manage queues, teams, templates; supervisor figures             agency admin, manager
    opt-out link                                                    anyone holding the signed link
"""
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import permissions
from accounts.access import agency_admin_required, managers_required, staff_required
from accounts.models import ContractTerms
from collections_work.compliance import contact_decision, policy_for, reachable_contacts, read_opt_out_token
from collections_work.debtor_accounts import panels, scoring
from collections_work.debtor_accounts.views import TIMELINE_LIMIT
from collections_work.models import Contact, Dispute, DebtorAccount, EmailTemplate, Queue, Team
from collections_work.worklist import claim
from collections_work.worklist import selectors as work_selectors
from collections_work.worklist import services as work_services
from collections_work.worklist.forms import (
    CallbackForm,
    CallForm,
    CeaseForm,
    ContactPolicyForm,
    DebtorTimeZoneForm,
    DisputeForm,
    DisputeResolveForm,
    EmailForm,
    EmailTemplateForm,
    FiguresRangeForm,
    NoteForm,
    PromiseForm,
    QueueForm,
    StaffStatusForm,
    TeamForm,
)
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.tenancy import get_scoped_or_404, tenant_scope
from portal.text import date_text

# --- The collector's worklist ---------------------------------------------------------------------


@staff_required
def worklist_home(request):
    now = timezone.now()
    queues = []
    for queue in claim.queues_of(request.user, request.agency):
        workable = claim.queue_accounts(queue, collector=request.user, now=now).filter(
            claim.workable_now(now), claim.callable_rule(request.agency.pk, now))
        count, more = work_selectors.capped_count(workable)
        queues.append({"queue": queue, "count": count, "more": more})
    return render(request, "worklist/home.html", {
        "queues": queues,
        "claim": claim.current_claim(request.user, now),
        "callbacks": claim.due_callbacks(request.user, now=now),
        "is_manager": permissions.can_manage_worklist(request.user),
        "panels": panels.render(panels.WORKLIST_HOME, request, None),
    })


@staff_required
@require_POST
def worklist_next(request):
    claimed = claim.account_claim_next(agency=request.agency, collector=request.user)
    if claimed is None:
        messages.info(request, "Nothing to work right now: every account in your queues is taken, waiting for a later time, "
                                "or outside its debtor's calling hours.")
        return redirect("worklist_home")
    return redirect("account_workspace", pk=claimed.account_id)


@staff_required
def queue_detail(request, pk):
    """The top of one queue, in its order (the accounts someone holds or that wait are marked)."""
    queue = get_scoped_or_404(Queue.objects.prefetch_related("clients"), pk=pk)
    now = timezone.now()
    accounts = claim.queue_accounts(queue, collector=request.user, now=now)
    workable = accounts.filter(claim.workable_now(now), claim.callable_rule(request.agency.pk, now))
    count, more = work_selectors.capped_count(workable)
    top = list(workable.select_related("client").only(
        "pk", "client_reference", "debtor_name", "balance", "currency", "status", "priority",
        "delinquency_date", "last_worked_at", "client__name")[:work_selectors.QUEUE_PAGE_SIZE])
    return render(request, "worklist/queue.html", {"queue": queue, "accounts": top, "count": count, "more": more})


# --- The account workspace ------------------------------------------------------------------------

def _workspace_account(pk):
    return get_scoped_or_404(DebtorAccount.objects.select_related("client", "debtor", "claimed_by",
                                                                 "assigned_collector", "agency"), pk=pk)


def _channel_check(account, channel, contacts, now) -> dict:
    """What the workspace says about calling or emailing now: nothing on file to use (and then no
    form is offered), or the compliance decision with its reasons."""
    usable, missing = reachable_contacts(account, channel, contacts)
    if missing:
        return {"reachable": False, "allowed": False, "reasons": [missing]}
    decision = contact_decision(account=account, channel=channel, at=now)
    return {"reachable": True, "allowed": decision.allowed, "reasons": decision.reasons}


def workspace_page(request, account, *, forms=None, open_form=None, status=200):
    """The workspace with its action forms (a refused one keeps its input and reason), and the
    panels other apps registered for it (debtor_accounts.panels; their views redraw the page
    with their refused form through this function)."""
    forms = forms or {}
    now = timezone.now()
    parts = scoring.score_parts(account, now=now)
    contacts = list(Contact.objects.filter(debtor_id=account.debtor_id).order_by("kind", "id"))
    timeline = list(account.activities.select_related("actor")[:TIMELINE_LIMIT])
    deliveries = work_selectors.email_deliveries(timeline)
    for activity in timeline:
        activity.delivery = deliveries.get(activity.pk)
    terms = ContractTerms.objects.filter(client_id=account.client_id).prefetch_related("fee_tiers").first()
    context = {
        "account": account,
        "parts": parts,
        "score": scoring.priority_of(parts) / 10,
        # A waiting account's score is sunk on purpose; the header shows what it will be when due.
        "waiting": next((part for part in parts if part.name == "waiting"), None),
        "score_when_due": scoring.priority_of([part for part in parts if part.name != "waiting"]) / 10,
        "contacts": contacts,
        "parties": list(account.parties.select_related("debtor")),
        "timeline": timeline,
        "documents": list(account.documents.all()),
        "promises": list(account.promises.select_related("made_by")[:10]),
        "callbacks": list(account.callbacks.filter(done_at__isnull=True).select_related("collector")),
        "disputes": list(account.disputes.filter(resolved_at__isnull=True)),
        "terms": terms,
        "call_check": _channel_check(account, "call", contacts, now),
        "email_check": _channel_check(account, "email", contacts, now),
        "held_by_other": account.claimed_by_id not in (None, request.user.pk) and account.claim_expires_at
        and account.claim_expires_at > now,
        "mine": account.claimed_by_id == request.user.pk and account.claim_expires_at and account.claim_expires_at > now,
        "open_form": open_form,
        "templates_exist": EmailTemplate.objects.filter(active=True).exists(),
        "call_form": forms.get("call") or CallForm(account=account),
        "note_form": forms.get("note") or NoteForm(),
        "promise_form": forms.get("promise") or PromiseForm(),
        "callback_form": forms.get("callback") or CallbackForm(),
        "email_form": forms.get("email") or EmailForm(account=account),
        "dispute_form": forms.get("dispute") or DisputeForm(),
        "resolve_form": forms.get("resolve") or DisputeResolveForm(),
        "cease_form": forms.get("cease") or CeaseForm(),
        "status_form": forms.get("status") or StaffStatusForm(account=account),
        "zone_form": forms.get("zone") or DebtorTimeZoneForm(initial={"time_zone": account.debtor.time_zone}),
        "panels": panels.render(panels.WORKSPACE, request, account, bound_name=open_form, bound=forms.get(open_form)),
    }
    return render(request, "worklist/workspace.html", context, status=status)


panels.register_page(panels.WORKSPACE, workspace_page)


@staff_required
def account_workspace(request, pk):
    return workspace_page(request, _workspace_account(pk))


def _action(request, pk, name, form, run, done):
    """Run one workspace action: valid form -> service -> back to the workspace with `done`;
    otherwise the workspace again with the form, its input and the reason."""
    account = _workspace_account(pk)
    if form.is_valid():
        try:
            result = run(account, form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, done(result) if callable(done) else done)
            return redirect("account_workspace", pk=account.pk)
    return workspace_page(request, account, forms={name: form}, open_form=name, status=400)


def _service_kwargs(request):
    return {"agency": request.agency, "actor": request.user}


@staff_required
@require_POST
def workspace_call(request, pk):
    account = _workspace_account(pk)
    return _action(request, pk, "call", CallForm(request.POST, account=account), lambda acct, data: (
        work_services.call_log(**_service_kwargs(request), account=acct, outcome=data["outcome"],
                               contact_id=data["contact"], note=data["note"],
                               promise_amount=data["promise_amount"], promise_date=data["promise_date"])),
        lambda activity: f"{activity.summary} logged.")


@staff_required
@require_POST
def workspace_note(request, pk):
    return _action(request, pk, "note", NoteForm(request.POST), lambda acct, data: (
        work_services.note_add(**_service_kwargs(request), account=acct, text=data["text"])), "Note added.")


@staff_required
@require_POST
def workspace_promise(request, pk):
    return _action(request, pk, "promise", PromiseForm(request.POST), lambda acct, data: (
        work_services.promise_record(**_service_kwargs(request), account=acct, amount=data["amount"],
                                     due_date=data["due_date"])),
        lambda promise: f"Promise of {promise.amount:,.2f} by {date_text(promise.due_date, '%b %d')} recorded; "
                        "the account waits until then."
                        + "".join(f" It replaces the open promise of {old.amount:,.2f} by {date_text(old.due_date, '%b %d')}, "
                                  "now cancelled." for old in promise.replaced))


@staff_required
@require_POST
def workspace_callback(request, pk):
    return _action(request, pk, "callback", CallbackForm(request.POST), lambda acct, data: (
        work_services.callback_schedule(**_service_kwargs(request), account=acct, due_at=data["due_at"],
                                        note=data["note"])),
        lambda callback: f"Callback scheduled for {date_text(timezone.localtime(callback.due_at), '%b %d %H:%M')}.")


@staff_required
@require_POST
def workspace_email(request, pk):
    account = _workspace_account(pk)
    return _action(request, pk, "email", EmailForm(request.POST, account=account), lambda acct, data: (
        work_services.email_send(**_service_kwargs(request), account=acct, template_id=data["template"],
                                 contact_id=data["contact"])),
        "Email queued for sending, with its opt-out link.")


@staff_required
@require_POST
def workspace_dispute(request, pk):
    return _action(request, pk, "dispute", DisputeForm(request.POST), lambda acct, data: (
        work_services.dispute_record(**_service_kwargs(request), account=acct, reason=data["reason"])),
        "Dispute recorded. The account is on hold until it is resolved.")


@staff_required
@require_POST
def workspace_dispute_resolve(request, pk, dispute_pk):
    def run(acct, data):
        dispute = get_scoped_or_404(Dispute, pk=dispute_pk, account=acct)
        return work_services.dispute_resolve(**_service_kwargs(request), dispute=dispute,
                                             resolution=data["resolution"])
    return _action(request, pk, "resolve", DisputeResolveForm(request.POST), run, "Dispute resolved.")


@staff_required
@require_POST
def workspace_cease(request, pk):
    return _action(request, pk, "cease", CeaseForm(request.POST), lambda acct, data: (
        work_services.cease_record(**_service_kwargs(request), account=acct, note=data["note"])),
        "Cease-communication recorded: no more calls or emails on this account.")


@staff_required
@require_POST
def workspace_status(request, pk):
    account = _workspace_account(pk)
    return _action(request, pk, "status", StaffStatusForm(request.POST, account=account), lambda acct, data: (
        work_services.account_change_status(**_service_kwargs(request), account=acct, status=data["status"],
                                            reason=data["reason"])),
        lambda acct: f"Status changed to {acct.get_status_display().lower()}.")


@staff_required
@require_POST
def workspace_time_zone(request, pk):
    return _action(request, pk, "zone", DebtorTimeZoneForm(request.POST), lambda acct, data: (
        work_services.debtor_set_time_zone(**_service_kwargs(request), account=acct, time_zone=data["time_zone"])),
        lambda debtor: f"The debtor's time zone is now {debtor.time_zone or 'unknown (every US zone)'}.")


@staff_required
@require_POST
def workspace_release(request, pk):
    account = _workspace_account(pk)
    if account.claimed_by_id == request.user.pk:
        claim.account_release_claims(collector=request.user)
        messages.success(request, "Account given back to the queue.")
    return redirect("worklist_home")


# --- Managers ----------------------------------------------------------------------------------------

@managers_required
def worklist_manage(request):
    range_form = FiguresRangeForm(request.GET or None)
    start, end = range_form.range()
    return render(request, "worklist/manage.html", {
        "sizes": work_selectors.queue_sizes(request.agency),
        "teams": Team.objects.prefetch_related("members"),
        "templates": EmailTemplate.objects.all(),
        "figures": work_selectors.collector_figures(start, end),
        "today_figures": work_selectors.collector_figures(timezone.localdate(), timezone.localdate()),
        "range_form": range_form, "start": start, "end": end,
        "policy": policy_for(request.agency.pk),
    })


def _setting_form(request, form_class, instance, kind, done):
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            saved = work_services.worklist_setting_save(agency=request.agency, actor=request.user, kind=kind,
                                                        instance=instance if instance.pk else None, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{done} “{saved.name}” saved.")
            return redirect("worklist_manage")
    status = 400 if request.method == "POST" else 200
    return render(request, "worklist/setting_form.html", {"form": form, "kind": kind, "instance": instance},
                  status=status)


@managers_required
def queue_new(request):
    return _setting_form(request, QueueForm, Queue(agency=request.agency), "queue", "Queue")


@managers_required
def queue_edit(request, pk):
    queue = get_scoped_or_404(Queue, pk=pk)
    if queue.is_default:
        raise Http404("The default queue has no rules to edit.")
    return _setting_form(request, QueueForm, queue, "queue", "Queue")


@managers_required
@require_POST
def queue_delete(request, pk):
    queue = get_scoped_or_404(Queue, pk=pk)
    try:
        work_services.queue_delete(agency=request.agency, actor=request.user, queue=queue)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Queue “{queue.name}” deleted; its accounts stay in the other queues.")
    return redirect("worklist_manage")


@managers_required
def team_new(request):
    return _setting_form(request, TeamForm, Team(agency=request.agency), "team", "Team")


@managers_required
def team_edit(request, pk):
    return _setting_form(request, TeamForm, get_scoped_or_404(Team, pk=pk), "team", "Team")


@managers_required
def template_new(request):
    return _setting_form(request, EmailTemplateForm, EmailTemplate(agency=request.agency), "template",
                         "Email template")


@managers_required
def template_edit(request, pk):
    return _setting_form(request, EmailTemplateForm, get_scoped_or_404(EmailTemplate, pk=pk), "template",
                         "Email template")


@agency_admin_required
def contact_policy_edit(request):
    policy = policy_for(request.agency.pk)
    form = ContactPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            work_services.contact_policy_save(agency=request.agency, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Contact policy saved.")
            return redirect("worklist_manage")
    return render(request, "worklist/setting_form.html", {"form": form, "kind": "contact policy", "instance": None},
                  status=400 if request.method == "POST" else 200)


# --- The debtor's opt-out link (no sign-in) ----------------------------------------------------------

def contact_opt_out(request, token):
    """GET shows what the link does; only the POST opts out (mail scanners follow links)."""
    payload = read_opt_out_token(token)
    if payload is None:
        raise Http404("This opt-out link is not valid.")
    with tenant_scope(payload["a"]):
        contact = Contact.objects.select_related("agency").filter(pk=payload["c"]).first()
        if contact is None:
            raise Http404("This opt-out link is not valid.")
        if request.method == "POST":
            contact = work_services.contact_opt_out(contact=contact)
        return render(request, "worklist/opt_out.html", {"contact": contact, "agency": contact.agency,
                                                         "done": contact.opted_out_at is not None})

