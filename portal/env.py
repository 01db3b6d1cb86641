"""Strict readers for settings taken from the environment.

A variable that is set but malformed stops start-up with a message naming it, rather than
silently falling back to a default.
"""
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} must be set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_trusted_proxies(name: str) -> int | tuple:
    """The reverse proxies in front of the portal, for reading the client's address.

    Unset or empty: none (REMOTE_ADDR is the client and X-Forwarded-For is ignored). A whole
    number N: that many proxies always stand in front (the client is the Nth address from the
    right of X-Forwarded-For). Otherwise a comma-separated list of addresses or CIDR networks
    (`10.0.0.0/8,192.168.1.7`): requests from them are proxied, and X-Forwarded-For is read from
    the right, skipping addresses in those networks. Returns the count or a tuple of networks.
    """
    import ipaddress

    value = os.environ.get(name, "").strip()
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    networks = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}={value!r}: {item!r} is neither a whole number of proxies nor an address or "
                "network such as 10.0.0.0/8.") from None
    return tuple(networks)


def env_fernet_keys(name: str, *, required: bool, fallback_secret: str) -> list[str]:
    """One or more Fernet keys (comma-separated; the first encrypts, all decrypt).

    Unset or empty: with `required` (production) start-up stops naming the variable; otherwise a
    key is derived from `fallback_secret` (SECRET_KEY) so development and tests need nothing.
    A malformed key stops start-up with the variable's name, never a silent fallback."""
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    keys = [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]
    if not keys:
        if required:
            raise ImproperlyConfigured(
                f"The environment variable {name} must be set in production (a Fernet key: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())').")
        digest = hashlib.sha256(b"portal payments encryption|" + fallback_secret.encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    for key in keys:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(f"{name} holds a value that is not a Fernet key (32 url-safe base64 bytes).") from None
    return keys
