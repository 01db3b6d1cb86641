"""Browser fixtures for the end-to-end journeys: Debian's Chromium driven by Playwright (sync API)
against pytest-django's live server.

* No Chromium at /usr/bin/chromium: every test here is skipped with the reason (the root conftest
  turns those skips into a failed run when REQUIRE_BROWSER=1).
* A failing test leaves a full-page screenshot of each of its open pages in
  test-artifacts/e2e/<test name>.png (a second browser context gets <test name>-2.png, ...).
"""
import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio loop in this thread; the ORM calls the tests make between
# browser steps are still plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
DEFAULT_TIMEOUT_MS = 15_000


# --- Browser ----------------------------------------------------------------------------------

def _require_chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"Browser tests need Chromium at {CHROMIUM} (apt-get install chromium); not found.")


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# What Chromium prints when the Content-Security-Policy blocks something ("Refused to load the
# script ...", "Refused to apply inline style ...") or cannot read the Permissions-Policy header.
POLICY_COMPLAINT = re.compile(r"Refused to|Content Security Policy|Permissions-Policy", re.IGNORECASE)


@pytest.fixture
def new_page(request, browser, live_server):
    """new_page(viewport=DESKTOP) -> a Page in a fresh browser context (its own cookies).

    Every journey is also a check of the security headers: a page whose Content-Security-Policy
    blocks one of our own scripts or styles, or whose Permissions-Policy Chromium cannot read,
    fails the test at teardown with the messages (`page.policy_complaints` lists them)."""
    contexts = []
    complaints = []
    request.node._e2e_pages = []

    def make(viewport=None):
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=live_server.url, locale="en-US")
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.policy_complaints = []

        def listen(message, page=page):
            if POLICY_COMPLAINT.search(message.text):
                page.policy_complaints.append(f"{page.url}: {message.text}")
                complaints.append(page.policy_complaints[-1])

        page.on("console", listen)
        request.node._e2e_pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()
    if not request.node.get_closest_marker("policy_complaints_expected"):
        assert not complaints, "The security headers blocked part of a page:\n" + "\n".join(complaints)


@pytest.fixture
def page(new_page):
    return new_page()


def _safe_name(nodeid_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid_name).strip("_")[:150]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        _screenshot_pages(item, report)
    return report


def _screenshot_pages(item, report):
    pages = getattr(item, "_e2e_pages", [])
    folder = ARTIFACTS / "e2e"
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(pages, start=1):
        suffix = "" if number == 1 else f"-{number}"
        path = folder / f"{_safe_name(item.name)}{suffix}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as error:  # the page may be closed or crashed; the failure itself matters more
            report.sections.append(("e2e screenshot", f"could not save {path}: {error}"))
        else:
            report.sections.append(("e2e screenshot", f"{path} (at {page.url})"))
