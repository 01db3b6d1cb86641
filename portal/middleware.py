"""Request-wide context: the client IP for the audit log, and the viewer's time zone."""
import zoneinfo

from django.utils import timezone

from portal.audit import request_ip
from portal.client_ip import client_ip


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)


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
