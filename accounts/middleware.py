"""Per-request tenant scope and the staff MFA requirement."""
from django.shortcuts import redirect
from django.urls import reverse

from portal.tenancy import Scope, activate_scope, deactivate_scope, unscoped


def _membership_of(user):
    if not user.is_authenticated:
        return None
    membership = getattr(user, "membership", None)
    if membership is None or not membership.is_active:
        return None
    return membership


class TenantScopeMiddleware:
    """Sets request.membership/agency/client and scopes every tenant query to them.

    Signed-in superusers get the all-tenants scope on the Django admin only. Anyone else with
    no active membership has no scope at all, so a tenant query raises rather than leaks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from accounts.models import Membership  # noqa: F401  (ensures the relation is loaded)

        user = request.user
        membership = _membership_of(user)
        request.membership = membership
        request.agency = membership.agency if membership else None
        request.client = membership.client if membership and membership.is_client_role else None
        if user.is_authenticated and user.is_superuser and request.path.startswith(reverse("admin:index")):
            with unscoped():
                return self.get_response(request)
        scope = None
        if membership is not None:
            scope = Scope(agency_id=membership.agency_id, client_id=request.client.pk if request.client else None)
        token = activate_scope(scope)
        try:
            return self.get_response(request)
        finally:
            deactivate_scope(token)


class StaffMfaRequiredMiddleware:
    """Agency staff of an agency that requires MFA must set up TOTP before anything else."""

    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz", "/invitations/", "/sign-in/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        membership = getattr(request, "membership", None)
        if (
            membership is not None
            and membership.is_staff_role
            and membership.agency.mfa_required_for_staff
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not _has_totp(request.user)
        ):
            return redirect(reverse("mfa_activate_totp") + "?required=1")
        return self.get_response(request)


def _has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
