"""Tokens with 256 bits of randomness, and the keyed hashes they are stored as."""
import hashlib
import hmac
import secrets

from django.conf import settings


def new_token() -> str:
    return secrets.token_urlsafe(32)


def keyed_hash(value: str) -> str:
    return hmac.new(settings.HASH_PEPPER.encode(), value.encode(), hashlib.sha256).hexdigest()


def hashes_match(value: str, stored_hash: str) -> bool:
    return hmac.compare_digest(keyed_hash(value), stored_hash)
