"""Encryption of secrets the portal must read back (an agency's Stripe secret key and webhook
signing secret): Fernet (AES-128-CBC with an HMAC-SHA256, from the `cryptography` package).

The keys come from PAYMENTS_ENCRYPTION_KEY (settings.PAYMENTS_ENCRYPTION_KEYS): one or more
Fernet keys, comma-separated; the first encrypts, every one of them decrypts, so a key is
rotated by putting the new one first and re-saving the secrets. Production requires the
variable; in development and tests a key is derived from SECRET_KEY (settings.py says so).
"""
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(Exception):
    """The stored value was not made with any of the configured keys (or was altered)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(text: str) -> str:
    return _fernet(tuple(settings.PAYMENTS_ENCRYPTION_KEYS)).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(tuple(settings.PAYMENTS_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("A stored secret cannot be decrypted with PAYMENTS_ENCRYPTION_KEY.") from None
