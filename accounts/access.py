"""Who may open which page. A page outside your role is a 404: it does not say it exists.
The role sets are accounts.permissions', shared with the services."""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from accounts import permissions


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


staff_required = role_required(permissions.STAFF)
managers_required = role_required(permissions.MANAGERS)
agency_admin_required = role_required(permissions.AGENCY_ADMINS)
client_required = role_required(permissions.CLIENTS)
client_admin_required = role_required(permissions.CLIENT_ADMINS)
placers_required = role_required(permissions.PLACERS)
members_required = role_required(permissions.EVERYONE)
account_editors_required = role_required(permissions.ACCOUNT_EDITORS)
