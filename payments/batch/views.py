"""Pages of payment files (bank lockbox and processor exports): the list and the upload. The
mapping, preview, progress, commit, cancel and rejected-rows pages are placement intake's
(collections_work.placements.views), which show a payment file with payments' wording."""
from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from accounts.access import managers_required
from collections_work.models import PlacementBatch
from collections_work.placements import services as intake
from collections_work.placements.forms import UploadForm
from payments.batch.services import KIND
from portal.errors import DomainError
from portal.forms import add_domain_error, posted_data
from portal.uploads import refused_upload, upload_limit

BATCHES_PER_PAGE = 50


@managers_required
def payment_batch_list(request):
    batches = PlacementBatch.objects.filter(kind=KIND).select_related("client", "created_by").order_by("-pk")
    page = Paginator(batches, BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "payments/batch_list.html", {"page": page})


@managers_required
@upload_limit(lambda: settings.INTAKE_MAX_BYTES)
def payment_batch_upload(request):
    """Store a lockbox or processor file (a bounded sniff only) and go to its column mapping."""
    form = UploadForm(posted_data(request), request.FILES or None, staff=True)
    form.fields["file"].label = "Bank or processor file (CSV or Excel .xlsx)"
    form.fields["file"].help_text = "One row per payment. You check the columns and every row before anything is posted."
    form.fields["client"].help_text = "The creditor whose accounts these payments are for."
    refused = refused_upload(request)
    if refused is not None:
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error("file", refused.message)
    elif request.method == "POST" and form.is_valid():
        try:
            batch = intake.placement_upload(agency=request.agency, actor=request.user, client=form.cleaned_data["client"],
                                            uploaded_file=form.cleaned_data["file"], kind=KIND)
        except DomainError as error:
            add_domain_error(form, error)
            if error.field is None:
                form.errors.pop("__all__", None)
                form.add_error("file", error.message)
        else:
            return redirect("placement_mapping", pk=batch.pk)
    return render(request, "payments/batch_upload.html", {"form": form, "limits": intake.settings_intake_limits()})
