from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.utils import is_mfa_enabled


class PortalAccountAdapter(DefaultAccountAdapter):
    """The portal is invitation-only: nobody signs themselves up."""

    def is_open_for_signup(self, request):
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # Adding the first authenticator protects an account that has only a password, so asking
        # for that password again right after sign-in adds friction and no safety. Once MFA is on,
        # changing it needs a fresh re-authentication as usual.
        user = getattr(context.request, "user", None)
        if app == "allauth.mfa" and user is not None and user.is_authenticated and not is_mfa_enabled(user):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)
