"""Parts of the account page and the workspace that other apps draw (payments, plans...).

collections_work never imports the apps above it; an app that wants a say on these pages
registers panels in its AppConfig.ready:

    panels.register(panels.Panel(page=panels.ACCOUNT_PAGE, slot=panels.ACTIONS, name="payment",
                                 template="payments/_direct_payment_action.html", context=...))

`context(request, account, bound)` returns the template's context, or None to leave the panel
out for this viewer and account. `bound` is the form a refused POST brought back (with its
input and errors) when the panel's `name` is the one being redrawn, else None.
Slots: ACTIONS (the actions card), SIDE (below it) and MAIN (beside the timeline).

A panel's own view answers a refused POST with `redraw(page, request, account, name, form)`:
the whole page again, that panel open with the form's input and errors. Each page registers
its renderer here (debtor_accounts.views, worklist.views), so the panel's app never imports
the page's views.
"""
from dataclasses import dataclass
from typing import Callable

from django.template.loader import render_to_string

ACCOUNT_PAGE = "account_page"
WORKSPACE = "workspace"
WORKLIST_HOME = "worklist_home"  # no account: `account` is None
ACTIONS, SIDE, MAIN = "actions", "side", "main"

_registry: list["Panel"] = []
_pages: dict[str, Callable] = {}  # page -> renderer(request, account, *, forms, open_form, status)


@dataclass(frozen=True)
class Panel:
    page: str
    slot: str
    name: str
    template: str
    context: Callable
    order: int = 100


def register(panel: Panel) -> None:
    """Add `panel` (once: a second registration under the same page and name replaces it)."""
    _registry[:] = [p for p in _registry if (p.page, p.name) != (panel.page, panel.name)] + [panel]
    _registry.sort(key=lambda p: p.order)


def render(page: str, request, account, *, bound_name: str | None = None, bound=None) -> dict[str, list[str]]:
    """{slot: [rendered HTML, ...]} of the panels registered for `page` that apply here."""
    drawn: dict[str, list[str]] = {ACTIONS: [], SIDE: [], MAIN: []}
    for panel in _registry:
        if panel.page != page:
            continue
        context = panel.context(request, account, bound if panel.name == bound_name else None)
        if context is None:
            continue
        context = {"account": account, "open": panel.name == bound_name, **context}
        drawn[panel.slot].append(render_to_string(panel.template, context, request=request))
    return drawn


def register_page(page: str, renderer: Callable) -> None:
    """The page's own views module offers its renderer for `redraw`."""
    _pages[page] = renderer


def redraw(page: str, request, account, *, name: str, form, status: int = 200):
    """The response for a panel's refused POST: `page` drawn again with panel `name` open, bound to
    `form` (its input and errors)."""
    return _pages[page](request, account, forms={name: form}, open_form=name, status=status)
