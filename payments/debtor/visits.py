"""A debtor's verified visit: a short session bound to one secure link.

After the identity check the session remembers that link (and which facts were confirmed). A
visit opens that link's account only, ends after DEBTOR_VISIT_IDLE_MINUTES without a request (its
idle clock is kept to the minute, SEEN_PRECISION),
and ends at once when the link is revoked, expires or locks. Each page also counts against a
per-IP budget (DEBTOR_PAGES_PER_MINUTE), so the pages cannot be scraped or hammered.
"""
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from payments.links.services import LinkUnavailable, link_find
from portal.audit import request_ip
from portal.tenancy import tenant_scope

SESSION_KEY = "debtor_visits"
SEEN_PRECISION = timedelta(minutes=1)


def visit_start(request, link, facts: list[str]) -> None:
    """Remember a verified visit to `link` in this session (a new session key: no fixation)."""
    visits = request.session.get(SESSION_KEY, {})  # loads it: a key that is not a live session is dropped
    if request.session.session_key is not None:
        # A session that already exists (perhaps planted) gets a new key. A new one is created
        # with a fresh key when the response saves it: cycling it too would write it twice.
        request.session.cycle_key()
    now = timezone.now().isoformat()
    visits[str(link.pk)] = {"verified_at": now, "seen": now, "facts": list(facts)}
    request.session[SESSION_KEY] = visits


def visit_end(request, link) -> None:
    visits = request.session.get(SESSION_KEY, {})
    if visits.pop(str(link.pk), None) is not None:
        request.session[SESSION_KEY] = visits


def visit_of(request, link) -> dict | None:
    """The live visit to `link` in this session, its idle clock reset; None when there is none,
    it idled out, or the link is no longer active (the visit is then forgotten)."""
    visit = request.session.get(SESSION_KEY, {}).get(str(link.pk))
    if visit is None:
        return None
    now = timezone.now()
    idle = timedelta(minutes=settings.DEBTOR_VISIT_IDLE_MINUTES)
    if link.state(now) != "active" or now - datetime.fromisoformat(visit["seen"]) > idle:
        visit_end(request, link)
        return None
    if now - datetime.fromisoformat(visit["seen"]) >= SEEN_PRECISION:
        # The idle clock moves by the minute: a session write (UPDATE and commit) on every click
        # cost more than the rest of a page's queries (bench/debtor); a visit then ends 29-30
        # idle minutes after the last page, not to the second.
        visit["seen"] = now.isoformat()
        request.session.modified = True
    return visit


def client_ip(request) -> str | None:
    """The visitor's address as the portal's middleware worked it out (proxies considered)."""
    return request_ip.get() or request.META.get("REMOTE_ADDR")


def _over_page_budget(request) -> bool:
    key = f"debtor-pages:{client_ip(request)}:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, 120)
    try:
        return cache.incr(key) > settings.DEBTOR_PAGES_PER_MINUTE
    except ValueError:
        return False


def debtor_page(*, verified: bool = True):
    """Decorate a debtor view taking (request, link, ...): the token in the URL is resolved to
    its link and the link's agency scope is opened; with `verified`, a live visit to that link
    is required (otherwise back to the identity check). Unknown, expired, revoked or locked
    links get a page that says so; too many requests from one IP address get 429."""
    def decorator(view):
        @wraps(view)
        def wrapped(request, token, *args, **kwargs):
            if _over_page_budget(request):
                return HttpResponse("Too many requests. Wait a minute and try again.", status=429,
                                    content_type="text/plain")
            try:
                link = link_find(token)
            except LinkUnavailable as error:
                return unavailable(request, error, status=404)
            with tenant_scope(link.agency_id, link.client_id):
                if verified:
                    request.debtor_visit = visit_of(request, link)
                    if request.debtor_visit is None:
                        if link.state(timezone.now()) != "active":
                            return unavailable(request, LinkUnavailable(link.state(timezone.now())), status=410)
                        return redirect("debtor_landing", token=token)
                response = view(request, link, *args, **kwargs)
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        return wrapped
    return decorator


def unavailable(request, error: LinkUnavailable, *, status: int, link=None):
    return render(request, "debtor/unavailable.html", {"message": error.message, "state": error.state,
                                                      "agency": getattr(link, "agency", None)}, status=status)
