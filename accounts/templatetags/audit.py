"""Template filters for the audit log: before/after pictures shown as the keys that changed."""
from django import template

from portal.audit import action_label

register = template.Library()


@register.filter
def audit_action(code) -> str:
    """The action in words (portal.audit.ACTION_LABELS)."""
    return action_label(str(code))

MISSING = object()


def _label(key) -> str:
    return str(key).replace("_", " ")


def _tier(value) -> str | None:
    """[min, max, fee] as the terms page writes a tier: "0–90 days: 20.00%"."""
    if isinstance(value, (list, tuple)) and len(value) == 3 and not any(isinstance(v, (list, tuple, dict)) for v in value):
        low, high, fee = value
        return f"{low}{'–' + str(high) if high is not None else '+'} days: {fee}%"
    return None


def _show(value) -> str:
    if value is MISSING or value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        return "; ".join(_tier(item) or _show(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{_label(k)} {_show(v)}" for k, v in value.items())
    return str(value)


@register.filter
def audit_changes(event):
    """[{"key", "old", "new", "kind"}] for the keys whose value differs between event.before and
    event.after. kind is "changed" (old → new), "added" (only in after, e.g. a creation) or
    "removed" (only in before). Unchanged keys are left out."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    rows = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old == new:
            continue
        if old is MISSING:
            if new is None or new == "":
                continue  # a creation's empty values say nothing
            kind = "added"
        elif new is MISSING:
            kind = "removed"
        else:
            kind = "changed"
        rows.append({"key": _label(key), "old": _show(old), "new": _show(new), "kind": kind})
    return rows
