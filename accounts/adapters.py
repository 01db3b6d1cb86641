from allauth.account.adapter import DefaultAccountAdapter


class PortalAccountAdapter(DefaultAccountAdapter):
    """The portal is invitation-only: nobody signs themselves up."""

    def is_open_for_signup(self, request):
        return False
