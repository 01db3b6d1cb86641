"""Helpers for the browser journeys: TOTP codes, signing in and out, invitation links."""
import base64
import hashlib
import hmac
import re
import struct
import time
from urllib.parse import urlsplit


# --- TOTP (RFC 6238: SHA-1, 30-second steps, 6 digits), no extra dependency -------------------

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


# --- Pages ------------------------------------------------------------------------------------

def wait_for_path(page, path):
    """Wait until the page is at exactly `path` (query string ignored)."""
    page.wait_for_url(lambda url: urlsplit(url).path == path)


def sign_in(page, email, password, *, expect_path=None):
    """Email + password on allauth's sign-in page."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Sign in").click()
    if expect_path:
        wait_for_path(page, expect_path)
    return page


def sign_out(page):
    """Through the user menu in the top bar, like a person would."""
    page.locator("header.topbar details.dropdown summary").click()
    page.get_by_role("button", name="Sign out").click()
    wait_for_path(page, "/accounts/login/")


def invitation_link(outbox, email, live_server_url):
    """The accept link from the last invitation mailed to `email`, pointed at the live server."""
    messages = [m for m in outbox if email in m.to]
    assert messages, f"no email to {email}; outbox has {[m.to for m in outbox]}"
    match = re.search(r"https?://\S+/invitations/[^/\s]+/", messages[-1].body)
    assert match, messages[-1].body
    return re.sub(r"^https?://[^/]+", live_server_url, match.group(0))


def path_of(page):
    return urlsplit(page.url).path
