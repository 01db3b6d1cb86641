"""RFC 6238 TOTP codes (30 s, 6 digits, SHA-1), as an authenticator app computes them."""
import base64
import hashlib
import hmac
import re
import struct
import time


def totp_code(secret: str, at: float | None = None) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


SECRET_IN_PAGE = re.compile(r'data-totp-secret="([A-Z2-7]+)"')


def secret_from_activation_page(html: str) -> str:
    """The base32 secret the activation page offers for typing in by hand."""
    match = SECRET_IN_PAGE.search(html)
    if not match:
        raise AssertionError("No TOTP secret on the activation page")
    return match.group(1)
