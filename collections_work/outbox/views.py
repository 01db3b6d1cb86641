"""The outbox page for agency staff: every email and letter with its state, filterable; resend
for a failed email."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from collections_work.models import Letter
from collections_work.outbox import selectors, services
from portal.errors import DomainError
from portal.models import OutboundEmail
from portal.tenancy import get_scoped_or_404

ROWS_PER_PAGE = 50
LETTER_KINDS = dict(Letter.Kind.choices)


def _described(row: dict) -> dict:
    if row["channel"] == "letter":
        row["title"] = LETTER_KINDS.get(row["title"], row["title"])
    return row


@staff_required
def outbox(request):
    state = request.GET.get("state", "")
    channel = request.GET.get("channel", "")
    state = state if state in dict(selectors.STATES) else ""
    channel = channel if channel in dict(selectors.CHANNELS) else ""
    query = request.GET.get("q", "")[:100]
    rows = selectors.outbox_rows(state=state, channel=channel, query=query)
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [_described(row) for row in page.object_list]
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "outbox/outbox.html", {
        "page": page, "rows": rows, "state": state, "channel": channel, "q": query, "query": params.urlencode(),
        "states": selectors.STATES, "channels": selectors.CHANNELS, "counts": selectors.outbox_counts()})


@staff_required
@require_POST
def email_resend(request, pk):
    get_scoped_or_404(OutboundEmail, pk=pk)  # another agency's email answers like a missing one
    try:
        email = services.email_resend(agency=request.agency, actor=request.user, email_id=pk)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"“{email.subject}” to {email.to} will be sent again.")
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/outbox/") else "outbox")
