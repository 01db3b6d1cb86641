"""REST API authentication with a client's API key (kept free of DRF views: settings import it)."""
from dataclasses import dataclass

from rest_framework import authentication, exceptions

from accounts.services import api_key_authenticate


@dataclass
class ApiClientPrincipal:
    """Who an API request acts as: a client, through one of its keys."""

    api_key: object
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def client(self):
        return self.api_key.client

    @property
    def agency(self):
        return self.api_key.agency

    @property
    def pk(self):
        return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw_key = header.partition(" ")
        if keyword != self.keyword:
            return None
        api_key = api_key_authenticate(raw_key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("This API key is not valid or has been revoked.")
        return ApiClientPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword
