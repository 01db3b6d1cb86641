"""Helpers for the browser journeys: TOTP codes, signing in and out, invitation links."""
import re
from urllib.parse import urlsplit

from tests.totp import fresh_totp, totp  # noqa: F401  (re-exported for the journeys)


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
