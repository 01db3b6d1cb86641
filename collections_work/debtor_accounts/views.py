"""Debtor account pages: the filtered list, its exports, the account page and its actions.

Who may do what (anything else is a 404, like a page that does not exist):

    list, account page, exports, document download   every role (staff: all clients)
    recall / hold / release                          client admin
    add a note, add a document                       client admin, agency staff
    message the agency                               client admin, client user (read-only)
    what other apps add (debtor_accounts.panels)     as they decide (payments: direct payments)

Client roles see only the activities and documents marked client-visible. The rules are
accounts.permissions'.
"""
from datetime import date
from decimal import InvalidOperation

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import permissions
from accounts.access import account_editors_required, client_admin_required, client_required, members_required
from accounts.models import Client
from collections_work.debtor_accounts import actions, exports, panels, search, selectors, services
from collections_work.debtor_accounts.actions import By
from collections_work.debtor_accounts.forms import (
    AccountDocumentForm,
    AccountFilterForm,
    AccountMessageForm,
    AccountNoteForm,
    AccountStatusForm,
)
from collections_work.models import Activity, Contact, DebtorAccount, Document, PlacementBatch
from portal.audit import audit_record
from portal.errors import DomainError
from portal.forms import add_domain_error
from portal.tenancy import get_scoped_or_404
from portal.text import date_text
from portal.uploads import refused_upload, upload_limit

PAGE_SIZE = 50
TIMELINE_LIMIT = 100
BATCH_CHOICES_LIMIT = 100

account_viewers = members_required
note_writers = account_editors_required


def _is_staff(request) -> bool:
    return request.membership.is_staff_role


def _account_or_404(pk, *related):
    return get_scoped_or_404(DebtorAccount.objects.select_related("client", *related), pk=pk)


# --- The list -------------------------------------------------------------------------------

def _filters(request):
    filters = selectors.AccountFilters.from_params(request.GET)
    if not _is_staff(request):
        filters.client = None  # the tenant scope already holds a client user to their client
    return filters


def _batch_choices(staff: bool, selected: int | None):
    batches = list(selectors.placement_batches().filter(kind="placement", status=PlacementBatch.Status.COMPLETED)[:BATCH_CHOICES_LIMIT])
    choices = []
    for batch in batches:
        label = f"#{batch.pk} · {date_text(timezone.localtime(batch.created_at))}"
        label += f" · {batch.file_name}" if batch.file_name else f" · {batch.get_source_display()}"
        if staff:
            label += f" · {batch.client.name}"
        choices.append((batch.pk, label))
    if selected and selected not in {pk for pk, _ in choices}:
        choices.append((selected, f"#{selected}"))  # an older batch, named in the link the user followed
    return choices


def _page(queryset, sort, cursor):
    """One keyset page; a damaged or hand-made cursor starts over at the first page instead of failing."""
    try:
        return selectors.keyset_page(queryset, sort, cursor, size=PAGE_SIZE)
    except (ValueError, TypeError, ArithmeticError, InvalidOperation, OverflowError, ValidationError):
        return selectors.keyset_page(queryset, sort, None, size=PAGE_SIZE)


def _days_past_due(account, today: date):
    return (today - account.delinquency_date).days if account.delinquency_date else None


@account_viewers
def account_list(request):
    staff = _is_staff(request)
    filters = _filters(request)
    clients = list(Client.objects.order_by("name").values_list("pk", "name")) if staff else None
    form = AccountFilterForm(request.GET or None, batches=_batch_choices(staff, filters.batch), clients=clients)
    queryset = selectors.debtor_accounts(filters)
    if staff:
        queryset = queryset.select_related("client")
    page = _page(queryset, filters.sort, request.GET.get("after"))
    today = timezone.localdate()
    for account in page.rows:
        account.days_past_due = _days_past_due(account, today)
    query = request.GET.copy()
    query.pop("after", None)
    filtered = any([filters.q, filters.status, filters.age, filters.balance_min is not None,
                    filters.balance_max is not None, filters.batch, filters.client])
    return render(request, "debtor_accounts/list.html", {
        "form": form, "page": page, "query": query.urlencode(), "show_client": staff, "filtered": filtered,
        "xlsx_max_rows": exports.XLSX_MAX_ROWS,
        "whole_reference_only": bool(filters.q) and not search.searchable(filters.q),
        "min_substring": search.MIN_SUBSTRING,
    })


@account_viewers
def account_export(request):
    kind = request.GET.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        return HttpResponse("Choose format=csv or format=xlsx.", status=400, content_type="text/plain")
    staff = _is_staff(request)
    filters = _filters(request)
    queryset = selectors.debtor_accounts(filters)
    audit_record(action="accounts.exported", actor=request.user, agency=request.agency, client=request.client,
                 after={"format": kind, "query": request.GET.urlencode()[:500]})
    if kind == "csv":
        response = StreamingHttpResponse(exports.csv_lines(queryset, filters.sort, include_client=staff),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exports.export_filename("csv")}"'
    else:
        handle, rows, truncated = exports.xlsx_file(queryset, filters.sort, include_client=staff)
        response = FileResponse(handle, as_attachment=True, filename=exports.export_filename("xlsx"),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        if truncated:
            response["X-Export-Truncated"] = str(rows)
    response["Cache-Control"] = "private, no-store"
    return response


# --- The account page ---------------------------------------------------------------------

def _actor_label(actor, viewer_is_client, agency_name):
    """Client users see the agency's name, not which collector did something."""
    if actor is None:
        return agency_name
    membership = getattr(actor, "membership", None)
    if viewer_is_client and (membership is None or membership.is_staff_role):
        return agency_name
    return actor.get_full_name()


def account_page(request, account, *, forms=None, open_form=None, status=200):
    """The account page, with the action forms (bound ones carry their errors) and the panels
    other apps registered (debtor_accounts.panels), whose views redraw the page through here."""
    membership = request.membership
    viewer_is_client = membership.is_client_role
    user = request.user
    agency_name = request.agency.name
    forms = forms or {}

    activities = account.activities.select_related("actor__membership")
    documents = account.documents.select_related("uploaded_by__membership")
    if viewer_is_client:
        activities = activities.filter(client_visible=True)
        documents = documents.filter(client_visible=True)
    timeline = list(activities[:TIMELINE_LIMIT + 1])
    timeline_truncated = len(timeline) > TIMELINE_LIMIT
    timeline = timeline[:TIMELINE_LIMIT]
    for activity in timeline:
        activity.who = _actor_label(activity.actor, viewer_is_client, agency_name)
    documents = list(documents)
    for document in documents:
        document.who = _actor_label(document.uploaded_by, viewer_is_client, agency_name)
    drawn = panels.render(panels.ACCOUNT_PAGE, request, account, bound_name=open_form, bound=forms.get(open_form))
    parties = list(account.parties.select_related("debtor"))
    # The contacts the client gave for the debtor and the other parties (the client's own data).
    contacts = {}
    for contact in Contact.objects.filter(debtor_id__in=[account.debtor_id] + [p.debtor_id for p in parties]).order_by(
            "kind", "id"):
        contacts.setdefault(contact.debtor_id, []).append(contact)
    for party in parties:
        party.contacts = contacts.get(party.debtor_id, [])
    can = {
        "status": permissions.can_recall_or_hold(user, account) and bool(actions.status_choices(account, By.CLIENT)),
        "note": permissions.can_change_account(user, account),
        "message": permissions.can_message_agency(user, account),
        "document": permissions.can_change_account(user, account),
    }
    for name in forms:  # a refused action keeps its form on screen, with the reason
        if name in can:
            can[name] = True
    context = {
        "account": account,
        "show_client": not viewer_is_client,
        "days_past_due": _days_past_due(account, timezone.localdate()),
        "timeline": timeline,
        "timeline_truncated": timeline_truncated,
        "timeline_limit": TIMELINE_LIMIT,
        "documents": documents,
        "panels": drawn,
        "parties": parties,
        "contacts": contacts.get(account.debtor_id, []),
        "can": can,
        "any_action": any(can.values()) or bool(drawn[panels.ACTIONS]),
        "open_form": open_form,
        "status_form": forms.get("status") or AccountStatusForm(account=account),
        "note_form": forms.get("note") or AccountNoteForm(),
        "message_form": forms.get("message") or AccountMessageForm(),
        "document_form": forms.get("document") or AccountDocumentForm(),
    }
    return render(request, "debtor_accounts/detail.html", context, status=status)


panels.register_page(panels.ACCOUNT_PAGE, account_page)


@account_viewers
def account_detail(request, pk):
    account = _account_or_404(pk, "placement_batch", "assigned_collector")
    return account_page(request, account)


def _done(request, account, message):
    messages.success(request, message)
    return redirect("debtor_account_detail", pk=account.pk)


# --- Actions --------------------------------------------------------------------------------

STATUS_DONE = {
    DebtorAccount.Status.RECALLED: "Account recalled. The agency stops working it.",
    DebtorAccount.Status.ON_HOLD: "Account put on hold. The agency pauses collection until you release it.",
    DebtorAccount.Status.ACTIVE: "Account released from hold.",
}


def _action(request, pk, name, form, run, done):
    """One account-page action: valid form -> service -> back to the page saying `done(result)`;
    otherwise the page again with the form open, its input and the reason."""
    account = _account_or_404(pk, "placement_batch")
    form = form(account)
    if form.is_valid():
        try:
            result = run(account, form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            return _done(request, account, done(result))
    return account_page(request, account, forms={name: form}, open_form=name)


def _by(request):
    return {"agency": request.agency, "actor": request.user}


@client_admin_required
@require_POST
def account_set_status(request, pk):
    return _action(request, pk, "status", lambda acct: AccountStatusForm(request.POST, account=acct),
                   lambda acct, data: services.account_set_status(**_by(request), account=acct, **data),
                   lambda acct: STATUS_DONE[acct.status])


@note_writers
@require_POST
def account_note(request, pk):
    return _action(request, pk, "note", lambda acct: AccountNoteForm(request.POST),
                   lambda acct, data: services.account_add_note(**_by(request), account=acct, text=data["text"],
                                                                kind=Activity.Kind.NOTE),
                   lambda _note: "Note added to the timeline.")


@client_required
@require_POST
def account_message(request, pk):
    return _action(request, pk, "message", lambda acct: AccountMessageForm(request.POST),
                   lambda acct, data: services.account_add_note(**_by(request), account=acct, text=data["text"],
                                                                kind=Activity.Kind.MESSAGE),
                   lambda _message: "Message sent to the agency.")


@note_writers
@upload_limit(lambda: services.DOCUMENT_MAX_BYTES)
@require_POST
def account_document_add(request, pk):
    return _action(request, pk, "document", lambda acct: _document_form(request),
                   lambda acct, data: services.account_add_document(**_by(request), account=acct,
                                                                    uploaded_file=data["file"]),
                   lambda document: f"{document.name} added.")


def _document_form(request):
    """The posted document form; a file past the limit (not read any further, portal.uploads)
    is the file field's error instead of "required"."""
    form = AccountDocumentForm(request.POST, request.FILES)
    refused = refused_upload(request)
    if refused is not None:
        form.errors.pop("file", None)
        form.add_error("file", refused.message)
    return form


@account_viewers
def document_download(request, pk):
    """A document through the tenant scope (media files are never served directly)."""
    document = get_scoped_or_404(Document, pk=pk)
    if request.membership.is_client_role and not document.client_visible:
        raise Http404
    try:
        handle = document.file.open("rb")
    except (FileNotFoundError, OSError, ValueError):
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=document.name, content_type=document.content_type)
    response["Cache-Control"] = "private, no-store"
    return response

