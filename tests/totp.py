"""RFC 6238 TOTP codes (SHA-1, 30-second steps), as an authenticator app computes them, and the
secret the portal's activation page offers. No extra dependency."""
import base64
import hashlib
import hmac
import re
import struct
import time


def totp(secret: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    clean = secret.replace(" ", "").strip().upper()
    key = base64.b32decode(clean + "=" * (-len(clean) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10 ** digits:0{digits}d}"


def fresh_totp(secret: str, min_seconds_left: float = 5) -> str:
    """A code with at least `min_seconds_left` of its 30-second window to go (waits if needed)."""
    left = 30 - time.time() % 30
    if left < min_seconds_left:
        time.sleep(left + 0.2)
    return totp(secret)


SECRET_IN_PAGE = re.compile(r'data-totp-secret="([A-Z2-7]+)"')


def secret_from_activation_page(html: str) -> str:
    """The base32 secret the activation page offers for typing in by hand."""
    match = SECRET_IN_PAGE.search(html)
    if not match:
        raise AssertionError("No TOTP secret on the activation page")
    return match.group(1)
