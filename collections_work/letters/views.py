"""Letters for agency staff: each day's print batch (one PDF for the print vendor) to download and
mark mailed once the vendor mailed it, and what waits for the next batch."""
from django.contrib import messages
from django.template.defaultfilters import pluralize
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from collections_work.letters import services
from collections_work.models import Letter, PrintBatch
from portal.errors import DomainError
from portal.tenancy import get_scoped_or_404
from portal.text import date_text


def _agency_today(agency):
    from zoneinfo import ZoneInfo

    return timezone.localdate(timezone=ZoneInfo(agency.time_zone))


HELD_SHOWN = 100  # the newest held and cancelled letters the page lists (the outbox has them all)


@staff_required
def print_batch_list(request):
    batches = PrintBatch.objects.select_related("mailed_by").order_by("-day")[:200]
    queued = Letter.objects.filter(status=Letter.Status.QUEUED)
    letters = Letter.objects.select_related("account").order_by("-created_at", "-pk")
    return render(request, "letters/print_batch_list.html", {
        "batches": batches, "waiting": queued.filter(hold_reason="").count(),
        # Kept out of the last batch by the contact policy (asked again at each batch), and
        # cancelled before printing: each with the policy's reason.
        "held": letters.filter(status=Letter.Status.QUEUED).exclude(hold_reason="")[:HELD_SHOWN],
        "cancelled": letters.filter(status=Letter.Status.CANCELLED)[:HELD_SHOWN],
        "today_made": PrintBatch.objects.filter(day=_agency_today(request.agency)).exists()})


@staff_required
def print_batch_file(request, pk):
    """The batch's PDF exactly as it was made."""
    batch = get_scoped_or_404(PrintBatch, pk=pk)
    response = FileResponse(batch.pdf.open("rb"), as_attachment=True, filename=f"letters-{batch.day}.pdf",
                            content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required
@require_POST
def print_batch_now(request):
    """Make today's batch now rather than at the end of the day (once per day)."""
    batch = services.print_batch_make(agency_id=request.agency.pk, day=_agency_today(request.agency),
                                       actor=request.user)
    if batch is None:
        held = Letter.objects.filter(status=Letter.Status.QUEUED).exclude(hold_reason="").count()
        messages.info(request, f"No letter may go to print now: {held} held by the contact policy (below)."
                      if held else "No letters are waiting for print.")
    else:
        messages.success(request, f"Today's batch holds {batch.letter_count} letter{pluralize(batch.letter_count)}: "
                                  "download it for the print vendor.")
    return redirect("print_batch_list")


@staff_required
@require_POST
def print_batch_mailed(request, pk):
    batch = get_scoped_or_404(PrintBatch, pk=pk)
    try:
        services.print_batch_mailed(agency=request.agency, actor=request.user, batch=batch)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The {date_text(batch.day, '%b %d')} batch is recorded as mailed; each letter's timeline says so.")
    return redirect("print_batch_list")
