"""Error pages in the portal's layout; under /api/ the same errors as JSON.

An API client must always get JSON it can parse, also for a URL that does not exist, a server
error, or a dependency that is down (issue 11, case 5)."""
import logging

from django.http import JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
DEPENDENCY_DOWN = ("A service the portal needs (its cache or task queue) is not responding. "
                   "Sign-in and saving are held back until it is back.")
RETRY_AFTER_SECONDS = 30


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "errors/404.html", status=404)


def forbidden(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return render(request, "errors/403.html", status=403)


def server_error(request):
    if is_api(request):
        return JsonResponse({"detail": "Server error. It has been logged; please try again in a minute."},
                            status=500)
    return render(request, "errors/500.html", status=500)


def dependency_down(request, exc):
    """503 (JSON under /api/) for a request that failed because Redis or the broker is unreachable:
    the request is refused whole (fail closed), never half-done and never a 500."""
    log.warning("Dependency down during %s %s: %r", request.method, request.path, exc)
    if is_api(request):
        response = JsonResponse({"detail": DEPENDENCY_DOWN}, status=503)
    else:
        from django.http import HttpResponse

        response = HttpResponse(render_to_string("errors/503.html", {"message": DEPENDENCY_DOWN}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
