from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.utils import is_mfa_enabled
from django import forms

from accounts import lockout
from portal.client_ip import client_ip


class PortalAccountAdapter(DefaultAccountAdapter):
    """The portal is invitation-only: nobody signs themselves up. Password attempts go through
    the portal's targeted lockout (accounts/lockout.py) and the one client-IP function."""

    def is_open_for_signup(self, request):
        return False

    def get_client_ip(self, request):
        # allauth's own rate limits (two-factor codes, password resets) key on this too.
        return client_ip(request) or "0.0.0.0"

    def pre_authenticate(self, request, **credentials):
        """Refuse a password attempt the lockout holds back, before the password is checked.
        Replaces allauth's cache-based `login_failed` count for passwords (sign-in, re-authentication)."""
        refusal = lockout.signin_check(email=_address(credentials), ip=client_ip(request))
        if refusal is not None:
            raise forms.ValidationError(refusal.message, code="too_many_login_attempts")

    def authentication_failed(self, request, **credentials):
        lockout.signin_failure_record(email=_address(credentials), ip=client_ip(request))

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # Adding the first authenticator protects an account that has only a password, so asking
        # for that password again right after sign-in adds friction and no safety. Once MFA is on,
        # changing it needs a fresh re-authentication as usual.
        user = getattr(context.request, "user", None)
        if app == "allauth.mfa" and user is not None and user.is_authenticated and not is_mfa_enabled(user):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)


def _address(credentials) -> str:
    return credentials.get("email") or credentials.get("username") or ""
