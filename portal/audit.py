"""Writing the audit log. Call `audit_record` inside the transaction of the change it records."""
import contextvars
from decimal import Decimal

from django.db import models

from portal.models import AuditEvent

# The request's client IP, set by middleware so services need not pass the request around.
request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_ip", default=None)


def snapshot(obj: models.Model, fields: list[str]) -> dict:
    """A JSON-safe picture of `fields` on `obj`, for before/after in the audit log."""
    picture = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, models.Model):
            value = value.pk
        elif isinstance(value, Decimal):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        picture[name] = value
    return picture


def audit_record(*, action, actor=None, agency=None, client=None, obj=None, before=None, after=None, actor_email=""):
    """Append one event. `actor` may be None for the system or an anonymous visitor."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent(
        agency=agency,
        client=client,
        actor=actor,
        actor_email=actor.email if actor is not None else actor_email,
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        ip_address=request_ip.get(),
    ).save_new()
