"""Project-level pages: health check."""
from django.db import connection
from django.http import JsonResponse

from portal.models import Heartbeat


def healthz(request):
    """Liveness of the web process, the database, and when the worker and beat last reported."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    beats = {h.name: h.seen_at.isoformat() for h in Heartbeat.objects.all()}
    return JsonResponse({"status": "ok", "database": connection.vendor, "heartbeats": beats})
