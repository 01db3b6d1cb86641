"""Who may open which page. A page outside your role is a 404: it does not say it exists."""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from accounts.models import CLIENT_ROLES, STAFF_ROLES, Role

MANAGERS = frozenset({Role.AGENCY_ADMIN, Role.MANAGER})


def role_required(roles):
    roles = frozenset(roles)

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            membership = getattr(request, "membership", None)
            if membership is None or membership.role not in roles:
                raise Http404("No such page for your role.")
            return view(request, *args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator


staff_required = role_required(STAFF_ROLES)
managers_required = role_required(MANAGERS)
agency_admin_required = role_required({Role.AGENCY_ADMIN})
client_required = role_required(CLIENT_ROLES)
client_admin_required = role_required({Role.CLIENT_ADMIN})
