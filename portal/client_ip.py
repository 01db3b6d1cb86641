"""The one place that decides a request's client address.

The sign-in lockout, allauth's rate limits, the API throttle and the audit log all call
`client_ip`, so a proxy in front of the portal is configured once (`TRUSTED_PROXIES`, see
portal/env.py `env_trusted_proxies` and README "Security"). X-Forwarded-For is read only from
a proxy the settings trust; from anyone else it is ignored, since a client can send any value.
"""
import ipaddress

from django.conf import settings


def _address(text: str):
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:5123"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's IP address as text, or None when the connection has none.

    Input: the request's REMOTE_ADDR and X-Forwarded-For header, and settings.TRUSTED_PROXIES
    (0: no proxy; N: N proxies always in front; a tuple of networks: the proxies' addresses).
    A malformed or too-short X-Forwarded-For never yields an address the proxies did not write:
    the answer is then the last trusted hop (at worst REMOTE_ADDR)."""
    peer = _address(request.META.get("REMOTE_ADDR") or "")
    trusted = getattr(settings, "TRUSTED_PROXIES", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer is None or not trusted or not forwarded:
        return str(peer) if peer is not None else None
    hops = [_address(item) for item in forwarded.split(",")]
    if isinstance(trusted, int):
        # N proxies: the last one is REMOTE_ADDR, the N-1 before it appended their peers, so the
        # client is the Nth entry from the right. Fewer entries: the request did not come the
        # whole way through the proxies, so nothing in the header can be trusted.
        if len(hops) < trusted:
            return str(peer)
        candidate = hops[-trusted]
        return str(candidate) if candidate is not None else str(peer)
    if not any(peer in network for network in trusted):
        return str(peer)  # a direct connection: its X-Forwarded-For is whatever the client wrote
    current = peer
    for hop in reversed(hops):
        if hop is None:
            return str(current)
        current = hop
        if not any(hop in network for network in trusted):
            return str(hop)
    return str(current)
