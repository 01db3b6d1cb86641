"""Pages for placing accounts: upload, mapping, checking, placing, history, and one-account form."""
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import permissions
from accounts.access import managers_required, members_required, placers_required
from collections_work.debtor_accounts.selectors import open_accounts_summary, placement_batches
from collections_work.debtor_accounts import services as account_services
from collections_work.models import ColumnMapping, PlacementBatch
from collections_work.placements import selectors, services
from collections_work.placements.intake import kinds
from collections_work.placements.forms import MappingForm, SavedMappingForm, SingleAccountForm, UploadForm
from collections_work.placements.intake import jobs
from collections_work.placements.intake.pipeline import get_progress
from collections_work.placements.intake.values import excel_serial_date
from portal.errors import DomainError
from portal.forms import add_domain_error, posted_data
from portal.tenancy import get_scoped_or_404
from portal.uploads import refused_upload, upload_limit

PLACEMENTS_PER_PAGE = 50
DOCUMENTS_PER_ACCOUNT = 10  # the one-account form's request may carry this many full-size documents


def _may_place(request) -> bool:
    """Whether to offer placing on a page (the client is checked again when placing)."""
    return request.membership.role in permissions.PLACERS


def _client_for(request, form):
    return form.cleaned_data["client"] if request.membership.is_staff_role else request.client


def _batch_for(request, pk, queryset=PlacementBatch):
    """The batch `pk` in the viewer's tenant; a batch of another kind (payments) only for those
    its kind lets use it, so client users never see an agency's payment batches (Http404)."""
    batch = get_scoped_or_404(queryset, pk=pk)
    if batch.kind != kinds.PLACEMENT:
        kind = kinds.get(batch.kind)
        if kind is None or not kind.may_use(request.user, batch.client):
            raise Http404("No such batch.")
        request.nav_path = reverse(kind.urls["list"])  # the menu shows the kind's section (Payments)
    return batch


def _may_act(request, batch) -> bool:
    """Whether to offer the batch's actions (a kind's batch is shown only to those who may use it)."""
    return batch.kind != kinds.PLACEMENT or _may_place(request)


PLACEMENT_WORDS = {"title": "Placement", "list_url": "placement_list", "upload_url": "placement_upload"}


def _words(batch) -> dict:
    """What the shared pages call a batch and where they link (a kind's words override these)."""
    kind = kinds.get(batch.kind) if batch.kind != kinds.PLACEMENT else None
    return PLACEMENT_WORDS | ({"list_url": kind.urls.get("list"), "upload_url": kind.urls.get("upload"),
                               **kind.words} if kind else {})


def _template(batch, page: str, default: str) -> str:
    kind = kinds.get(batch.kind) if batch.kind != kinds.PLACEMENT else None
    return kind.templates.get(page, default) if kind else default


@members_required
def placement_list(request):
    page = Paginator(placement_batches().filter(kind=kinds.PLACEMENT).order_by("-pk"), PLACEMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "intake/placement_list.html", {
        "page": page, "can_place": _may_place(request),
        "limits": services.settings_intake_limits(),
    })


@placers_required
@upload_limit(lambda: settings.INTAKE_MAX_BYTES)
def placement_upload(request):
    """The upload reads at most INTAKE_MAX_BYTES of the file (portal.uploads), stores it after a
    bounded sniff and goes to the mapping page, which shows "Reading your file…" until the worker
    has read it."""
    staff = request.membership.is_staff_role
    form = UploadForm(posted_data(request), request.FILES or None, staff=staff)
    refused = refused_upload(request)
    if refused is not None:
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", refused.message)
    elif request.method == "POST" and form.is_valid():
        try:
            batch = services.placement_upload(agency=request.agency, actor=request.user,
                                              client=_client_for(request, form), uploaded_file=form.cleaned_data["file"])
        except DomainError as error:
            add_domain_error(form, error)
            if error.field is None:  # file problems belong next to the file input
                form.errors.pop("__all__", None)
                form.add_error("file", error.message)
        else:
            return redirect("placement_mapping", pk=batch.pk)
    return render(request, "intake/upload.html", {"form": form, "limits": services.settings_intake_limits()})


@placers_required
def placement_mapping(request, pk):
    """Match the columns. Everything shown comes from what the worker stored on the batch
    (headers, first rows): the file is never parsed here. While the worker reads the file the
    page says so and polls."""
    batch = _batch_for(request, pk)
    if batch.status == PlacementBatch.Status.READING:
        return render(request, "intake/reading.html", _progress_context(batch))
    if not services.placement_may_map(batch):
        return redirect("placement_detail", pk=batch.pk)
    if request.method == "POST" and "sheet" in request.POST:
        return _choose_sheet(request, batch)
    if request.method == "POST" and "saved" in request.POST:
        return _apply_saved(request, batch)
    form = MappingForm(posted_data(request), batch=batch)
    if request.method == "POST" and form.is_valid():
        try:
            services.placement_set_mapping(agency=request.agency, actor=request.user, batch=batch,
                                           mapping=form.mapping(), options=form.options(),
                                           on_duplicate=form.cleaned_data.get("on_duplicate", batch.on_duplicate),
                                           save_as=form.cleaned_data["save_as"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            return redirect("placement_detail", pk=batch.pk)
    sample, serial_dates = _sample_cells(batch)
    return render(request, "intake/mapping.html", {
        "batch": batch, "form": form, "sample": sample, "serial_dates": serial_dates, "words": _words(batch),
        "hidden_sheets": batch.options.get("hidden_sheets", []),
        "sheet_reason": SHEET_REASONS.get(batch.options.get("sheet_reason", ""), ""),
        "saved_form": SavedMappingForm(client=batch.client, kind=batch.kind),
        "has_saved": ColumnMapping.objects.filter(client=batch.client, kind=batch.kind).exists(),
    })


SHEET_REASONS = {"active": "the sheet the workbook opens on", "first visible": "the first visible sheet",
                 "first with a header": "the first visible sheet with column names", "chosen": "the sheet you chose",
                 "next visible": "the first visible sheet with column names"}
DATE_FIELDS = ("invoice_date", "due_date", "delinquency_date", "last_payment_date", "received_on")  # received_on: payment files


def _sample_cells(batch) -> tuple[list, bool]:
    """The first rows for the mapping page as {"text", "converted"} cells: a whole number in a
    column mapped to a date field of a workbook is shown as the date it will be placed as
    (Excel serial 45688 is 2025-01-31). Also whether any was converted."""
    date_system = batch.options.get("date_system", "") if batch.file_kind == "xlsx" else ""
    date_columns = {index for field, index in batch.mapping.items() if field in DATE_FIELDS} if date_system else set()
    rows, converted_any = [], False
    for row in batch.sample_rows[:5]:  # (the guess reads more rows than the page shows)
        cells = []
        for index, text in enumerate(row):
            converted = None
            if index in date_columns and text.isdigit():
                converted = excel_serial_date(int(text), date_system)
            converted_any = converted_any or converted is not None
            cells.append({"text": text, "converted": converted.isoformat() if converted else ""})
        rows.append(cells)
    return rows, converted_any


def _choose_sheet(request, batch):
    try:
        services.placement_choose_sheet(agency=request.agency, actor=request.user, batch=batch,
                                        sheet=request.POST["sheet"])
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("placement_mapping", pk=batch.pk)


def _apply_saved(request, batch):
    form = SavedMappingForm(request.POST, client=batch.client, kind=batch.kind)
    if form.is_valid():
        services.placement_apply_saved_mapping(agency=request.agency, actor=request.user, batch=batch,
                                               saved=form.cleaned_data["saved"])
        messages.success(request, f"Applied the saved mapping “{form.cleaned_data['saved'].name}”. Check it below.")
    return redirect("placement_mapping", pk=batch.pk)


def _progress_context(batch) -> dict:
    """The batch, its step's progress (the cache's, or the row's when the cache has none) and
    whether its job has stalled (no heartbeat and no live run: it can be cancelled)."""
    progress = get_progress(batch.pk)
    if progress.get("stage") != batch.status:  # the cache has an earlier step's, or nothing
        progress = {"stage": batch.status, "percent": batch.progress if batch.is_busy else 0}
    return {"batch": batch, "progress": progress, "stalled": jobs.is_stalled(batch), "words": _words(batch)}


@members_required
def placement_detail(request, pk):
    batch = _batch_for(request, pk, placement_batches())
    return render(request, _template(batch, "detail", "intake/placement_detail.html"), {
        **_progress_context(batch), "can_place": _may_act(request, batch),
        "can_map": services.placement_may_map(batch),
    })


@members_required
def placement_progress(request, pk):
    """Polled by htmx while a batch is read, checked or placed; reloads the page when it is done."""
    batch = _batch_for(request, pk)
    if not batch.is_busy:
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    return render(request, "intake/_progress.html", {
        **_progress_context(batch), "can_place": _may_act(request, batch),
        "titled": request.GET.get("titled") == "1"})  # the reading page's heading says what happens


@placers_required
@require_POST
def placement_commit(request, pk):
    batch = _batch_for(request, pk)
    try:
        services.placement_commit(agency=request.agency, actor=request.user, batch=batch)
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("placement_detail", pk=batch.pk)


@placers_required
@require_POST
def placement_cancel(request, pk):
    batch = _batch_for(request, pk)
    words = _words(batch)
    try:
        services.placement_cancel(agency=request.agency, actor=request.user, batch=batch)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.info(request, words.get("cancelled", "Placement cancelled; nothing was placed."))
    return redirect(words["list_url"])


@members_required
def placement_rejected_rows(request, pk):
    batch = _batch_for(request, pk)
    if not batch.rejected_file:
        raise Http404("No rejected rows file.")
    stem = batch.file_name.rsplit(".", 1)[0] or f"placement-{batch.pk}"
    return FileResponse(batch.rejected_file.open("rb"), as_attachment=True, filename=f"{stem}-rejected-rows.csv",
                        content_type="text/csv")


@placers_required
@upload_limit(lambda: account_services.DOCUMENT_MAX_BYTES, max_files=DOCUMENTS_PER_ACCOUNT)
def debtor_account_new(request):
    staff = request.membership.is_staff_role
    form = SingleAccountForm(posted_data(request), staff=staff)
    refused = refused_upload(request)  # a document past the limit: not read any further
    if refused is not None:
        form.is_valid()
        form.add_error(None, refused.message)
    elif request.method == "POST" and form.is_valid():
        try:
            batch, account = services.account_place_with_documents(
                agency=request.agency, actor=request.user, client=_client_for(request, form), row=form.row(),
                documents=request.FILES.getlist("documents"), on_duplicate=form.cleaned_data["on_duplicate"])
        except services.RowsInvalid as invalid:
            for problem in invalid.problems[0]["errors"]:
                field = problem["field"] if problem["field"] in form.fields else None
                form.add_error(field, problem["message"])
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            done = "updated" if batch.updated_count else "placed"
            messages.success(request, f"Account {account.client_reference} {done}.")
            return redirect("debtor_account_detail", pk=account.pk)
    return render(request, "intake/account_new.html", {"form": form})


@managers_required
def intake_summary(request):
    """Per client: what was placed, how much, how recently, and how many rows were rejected."""
    return render(request, "intake/summary.html", {"rows": selectors.intake_by_client()})


@members_required
def placement_summary(request):
    """The placements panel on each home page (loaded by htmx, so `accounts` needs no import)."""
    return render(request, "intake/_home_summary.html", {
        **open_accounts_summary(), "recent": placement_batches().filter(kind=kinds.PLACEMENT)[:5],
        "can_place": _may_place(request),
    })
