"""Request-wide context: the client IP for the audit log, and the viewer's time zone."""
import zoneinfo

from django.utils import timezone
from django.utils.cache import patch_cache_control

from portal.audit import request_ip
from portal.client_ip import client_ip
from portal.text import strip_nul


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)


def permissions_policy_header(policy: dict) -> str:
    """{"camera": [], "payment": ["self"]} -> 'camera=(), payment=(self)'."""
    def origin(value):
        return value if value in ("self", "*") else f'"{value}"'
    return ", ".join(f"{feature}=({' '.join(origin(v) for v in allowed)})" for feature, allowed in policy.items())


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response (settings.PERMISSIONS_POLICY); the CSP is django-csp's."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.header = permissions_policy_header(settings.PERMISSIONS_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.header)
        return response


class QueryNulMiddleware:
    """NUL bytes in a page's query string (`?q=%00`) are removed before any view reads it: a GET
    to the same address without them, and a message saying so. PostgreSQL refuses NUL in text,
    so the account list answered 500 and its CSV export came out empty; one place covers every
    free-text filter of every page, present and future. The API (JSON, no messages) refuses NUL
    itself with a 400 per field (DRF's CharField)."""

    MESSAGE = "A NUL character (%00) was removed from the search: it cannot be part of any text."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (request.method in ("GET", "HEAD") and not request.path.startswith("/api/")
                and any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values)):
            from django.contrib import messages
            from django.http import HttpResponseRedirect, QueryDict

            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(strip_nul(key)[0], [strip_nul(value)[0] for value in values])
            messages.warning(request, self.MESSAGE)
            query = cleaned.urlencode()
            return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
        return self.get_response(request)


class DebtorDataNoStoreMiddleware:
    """`Cache-Control: private, no-store` on every response of a view that belongs to an app
    holding debtor data (settings.DEBTOR_DATA_APPS: the account list and page, the workspace,
    exports, placements, the API, payments). Decided here by the view's module, once, so a page
    added to those apps later is covered without anyone remembering to decorate it."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.prefixes = tuple(f"{app}." for app in settings.DEBTOR_DATA_APPS)

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        module = getattr(getattr(match, "func", None), "__module__", "") or ""
        if module.startswith(self.prefixes):
            patch_cache_control(response, private=True, no_store=True)
            if "max-age" in response.get("Cache-Control", ""):
                patch_cache_control(response, max_age=0)
        return response


class DependencyDownMiddleware:
    """A request that fails because Redis or the broker is unreachable gets a 503 page (JSON under
    /api/) saying so, instead of a 500: sign-in fails closed with a clear message (issue 11, case 5)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from portal.dependencies import is_dependency_down
        from portal.errors_views import dependency_down

        if is_dependency_down(exception):
            return dependency_down(request, exception)
        return None


class UserTimezoneMiddleware:
    """Show times in the viewer's zone (stored in UTC)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = getattr(request.user, "time_zone", None) if request.user.is_authenticated else None
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone_name or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
