"""Project-level pages: health check."""
from django.db import DatabaseError, connection
from django.http import JsonResponse

from portal import dependencies
from portal.models import Heartbeat

# What a request needs to be served: without the database nothing works; without the cache,
# sign-in with two-factor, the API throttle and the worklist refuse. The broker is reported but
# does not fail the check: work handed to it while it is down is kept and re-sent.
REQUIRED = ("database", "cache")


def healthz(request):
    """Each dependency checked for real and reported: {"status": "ok"|"degraded"|"down",
    "checks": {name: {"ok", "ms", "error"?}}, "database": vendor, "heartbeats": {name: time}}.
    503 when one the request path needs (REQUIRED) is down, so a load balancer stops sending."""
    checks = {"database": dependencies.check_database(), "cache": dependencies.check_cache(),
              "broker": dependencies.check_broker()}
    beats = {}
    if checks["database"]["ok"]:
        try:
            beats = {h.name: h.seen_at.isoformat() for h in Heartbeat.objects.all()}
        except DatabaseError:
            beats = {}
    healthy = all(checks[name]["ok"] for name in REQUIRED)
    status = ("ok" if checks["broker"]["ok"] else "degraded") if healthy else "down"
    return JsonResponse({"status": status, "database": connection.vendor, "checks": checks, "heartbeats": beats},
                        status=200 if healthy else 503)
