"""Screenshots of every page, as each demo persona sees it, at desktop and phone widths.

Also a smoke test: every page must answer with the expected status (no 500s, no 404s where a
page should be). Pages wider than the screen are listed in the index, not failed on.

    PORTAL_NO_BOOTSTRAP=1 .venv/bin/python -m pytest tests/e2e/test_screens.py -q

writes test-artifacts/screens/<desktop|mobile>/NN-<persona>-<page>.png and an index.md per width
(URL, status, horizontal overflow and the elements causing it).

The debtor's pages (and the staff panels for offers, plans and links) have their own album,
test-artifacts/screens/debtor-<desktop|mobile>/, with the signed agreement.pdf and audit.md; there
a contrast below WCAG 2.1 AA, a sideways scroll or (at 390 px) a tap target under 44 px fails.
"""
import json
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone

from accounts import services
from accounts.demo import DEMO_PASSWORD, seed_demo
from collections_work.demo import seed_worklist_demo
from accounts.models import Agency, Client, ContractTerms, Role, User
from collections_work.models import ContactPolicy
from payments.links.services import link_issue
from portal.tenancy import tenant_scope
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import fresh_totp, invitation_link, path_of, sign_in, sign_out, wait_for_path
from tests.factories import TEST_PASSWORD, MembershipFactory, UserFactory
from tests.payments.conftest import make_identifiable_account

SCREENS = ARTIFACTS / "screens"
NEW_PASSWORD = "Blue-lantern-harbour-73"

# Elements sticking out past the right edge of the window, unless a scrolling box clips them.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const culprits = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (!box.width || box.right <= width + 1) continue;
    let parent = el.parentElement, clipped = false;
    while (parent && parent !== document.body) {
      if (getComputedStyle(parent).overflowX !== 'visible') { clipped = true; break; }
      parent = parent.parentElement;
    }
    if (clipped) continue;
    const cls = typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    culprits.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls} (right edge ${Math.round(box.right)}px)`);
  }
  const scrolled = [...document.querySelectorAll('.table-card')].filter(c => c.scrollWidth > c.clientWidth + 1).length;
  return {page_width: document.documentElement.scrollWidth, window_width: width,
          culprits: culprits.slice(0, 6), tables_scrolling: scrolled};
}"""


class Album:
    """Numbered screenshots for one width, plus the index describing them."""

    def __init__(self, width_name):
        self.folder = SCREENS / width_name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.rows = []
        self.problems = []

    def shot(self, page, persona, name, *, status=None, expect_status=None):
        page.wait_for_load_state("load")
        if expect_status is not None and status != expect_status:
            self.problems.append(f"{persona}/{name}: {page.url} answered {status}, expected {expect_status}")
        number = len(self.rows) + 1
        filename = f"{number:02d}-{persona}-{name}.png"
        page.screenshot(path=str(self.folder / filename), full_page=True)
        layout = page.evaluate(OVERFLOW_JS)
        self.rows.append({"file": filename, "persona": persona, "page": name, "path": path_of(page),
                          "status": status, **layout})

    def visit(self, page, persona, name, path, expect_status=200):
        response = page.goto(path)
        self.shot(page, persona, name, status=response.status if response else None, expect_status=expect_status)

    def write_index(self, title):
        lines = [f"# {title}", "", "| # | persona | page | path | status | page width | overflow culprits | tables scrolling |",
                 "|---|---|---|---|---|---|---|---|"]
        for row in self.rows:
            overflow = "" if row["page_width"] <= row["window_width"] else f"**{row['page_width']}px**"
            lines.append(f"| {row['file']} | {row['persona']} | {row['page']} | `{row['path']}` | {row['status'] or '-'} "
                         f"| {row['page_width']}/{row['window_width']} {overflow} | {'<br>'.join(row['culprits'])} "
                         f"| {row['tables_scrolling'] or ''} |")
        (self.folder / "index.md").write_text("\n".join(lines) + "\n")
        (self.folder / "index.json").write_text(json.dumps(self.rows, indent=1))


def _build_demo_world():
    """The demo agency (seed_demo) plus what makes pages non-trivial: pending invitations, a client
    with a long name, a client mid-onboarding, a terms change in the audit log, an MFA agency."""
    agency = seed_demo()
    seed_worklist_demo()
    admin = User.objects.get(email="admin@demo-recovery.test")
    owner = User.objects.get(email="owner@acme-supplies.test")
    with tenant_scope(agency):
        northwind = Client.objects.get(name="Northwind Wholesale")
        acme = Client.objects.get(name="Acme Supplies")
        services.invitation_create(agency=agency, actor=admin, email="new.collector@demo-recovery.test",
                                   role=Role.COLLECTOR)
        services.invitation_create(agency=agency, actor=owner, email="accounts.payable@acme-supplies.test",
                                   role=Role.CLIENT_USER, client=acme)
        long_client, _ = services.client_invite(
            agency=agency, actor=admin, name="Pacific Northwest Industrial Supply & Equipment Rental Company",
            admin_email="finance.department.controller@pacific-northwest-industrial-supply.example")
        services.client_invite(agency=agency, actor=admin, name="Harbor Freight Lines",
                               admin_email="owner@harbor-freight.test")
        terms = ContractTerms.objects.get(client=northwind)
        services.contract_terms_update(
            agency=agency, actor=admin, terms=terms,
            values={"fee_type": "tiered", "flat_fee_percent": Decimal("25.00"),
                    "settlement_floor_percent": Decimal("60.00"), "max_plan_months": 24,
                    "min_installment": Decimal("40.00"), "remittance_method": "gross", "remittance_day": 5},
            tiers=[{"min_age_days": 0, "max_age_days": 180, "fee_percent": Decimal("20.00")},
                   {"min_age_days": 181, "max_age_days": 365, "fee_percent": Decimal("28.00")},
                   {"min_age_days": 366, "max_age_days": None, "fee_percent": Decimal("35.00")}])
    mfa_agency = Agency.objects.create(name="Harbor Recovery", slug="harbor-recovery", mfa_required_for_staff=True)
    for key in ("desktop", "mobile"):
        staff = UserFactory(email=f"mfa-{key}@harbor-recovery.test", full_name="Mona Factor")
        MembershipFactory(user=staff, agency=mfa_agency, role=Role.AGENCY_ADMIN)
    return agency, northwind, acme, long_client


@pytest.mark.e2e
@pytest.mark.parametrize("width_name", ["desktop", "mobile"])
def test_screenshots_of_every_page_for_each_persona(new_page, live_server, width_name):
    viewport = DESKTOP if width_name == "desktop" else MOBILE
    album = Album(width_name)
    agency, northwind, acme, long_client = _build_demo_world()
    onboarding_link = invitation_link(mail.outbox, "owner@harbor-freight.test", live_server.url)
    colleague_link = invitation_link(mail.outbox, "accounts.payable@acme-supplies.test", live_server.url)

    # Signed out.
    page = new_page(viewport)
    album.visit(page, "anon", "login", "/accounts/login/")
    page.fill("input[name=login]", "admin@demo-recovery.test")
    page.fill("input[name=password]", "wrong-password-1")
    page.get_by_role("button", name="Sign in").click()
    album.shot(page, "anon", "login-error")
    album.visit(page, "anon", "password-reset", "/accounts/password/reset/")
    album.visit(page, "anon", "invitation", colleague_link)
    page.get_by_role("button", name="Create my account").click()
    album.shot(page, "anon", "invitation-errors")
    album.visit(page, "anon", "invitation-invalid", "/invitations/not-a-real-token/", expect_status=410)
    album.visit(page, "anon", "404", "/no-such-page/", expect_status=404)

    # Agency admin.
    page = new_page(viewport)
    sign_in(page, "admin@demo-recovery.test", DEMO_PASSWORD, expect_path="/agency/")
    album.shot(page, "admin", "home-after-sign-in", status=200)
    page.locator("header.topbar details.dropdown summary").click()
    page.locator("header.topbar details.dropdown ul").wait_for(state="visible")
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    album.shot(page, "admin", "user-menu-open")
    album.visit(page, "admin", "clients", "/agency/clients/")
    album.visit(page, "admin", "client-detail-flat", f"/agency/clients/{acme.pk}/")
    album.visit(page, "admin", "client-detail-tiered", f"/agency/clients/{northwind.pk}/")
    album.visit(page, "admin", "client-detail-invited-long-name", f"/agency/clients/{long_client.pk}/")
    album.visit(page, "admin", "client-invite", "/agency/clients/new/")
    page.get_by_role("button", name="Create client and send invitation").click()
    album.shot(page, "admin", "client-invite-errors")
    album.visit(page, "admin", "terms-edit", f"/agency/clients/{northwind.pk}/terms/")
    page.locator("input[name=tiers-1-min_age_days]").fill("200")
    page.locator("input[name=remittance_day]").fill("32")
    page.get_by_role("button", name="Save terms").click()
    album.shot(page, "admin", "terms-edit-errors")
    album.visit(page, "admin", "team", "/agency/team/")
    album.visit(page, "admin", "audit-log", "/agency/audit/")
    album.visit(page, "admin", "settings", "/agency/settings/")
    album.visit(page, "admin", "mfa-index", "/accounts/2fa/")
    album.visit(page, "admin", "password-change", "/accounts/password/change/")
    album.visit(page, "admin", "404", "/agency/clients/999999/", expect_status=404)

    # Manager and collector.
    page = new_page(viewport)
    sign_in(page, "manager@demo-recovery.test", DEMO_PASSWORD, expect_path="/agency/")
    album.shot(page, "manager", "home", status=200)
    album.visit(page, "manager", "team", "/agency/team/")
    album.visit(page, "manager", "audit-log-404", "/agency/audit/", expect_status=404)
    album.visit(page, "manager", "queues-and-figures", "/worklist/manage/")
    album.visit(page, "manager", "queue-new", "/worklist/manage/queues/new/")
    album.visit(page, "manager", "team-new", "/worklist/manage/teams/new/")
    album.visit(page, "manager", "template-new", "/worklist/manage/templates/new/")
    page = new_page(viewport)
    sign_in(page, "collector@demo-recovery.test", DEMO_PASSWORD, expect_path="/worklist/")
    album.shot(page, "collector", "home", status=200)
    album.visit(page, "collector", "client-detail", f"/agency/clients/{northwind.pk}/")
    album.visit(page, "collector", "team-404", "/agency/team/", expect_status=404)
    album.visit(page, "collector", "worklist", "/worklist/")
    page.get_by_role("button", name="Next account").click()
    page.wait_for_url("**/work/")
    album.shot(page, "collector", "workspace", status=200)
    page.keyboard.press("c")
    album.shot(page, "collector", "workspace-call-form", status=200)
    album.visit(page, "collector", "manage-404", "/worklist/manage/", expect_status=404)

    # Client admin of an active client.
    page = new_page(viewport)
    sign_in(page, "owner@acme-supplies.test", DEMO_PASSWORD, expect_path="/client/")
    album.shot(page, "client-admin", "home", status=200)
    album.visit(page, "client-admin", "terms", "/client/terms/")
    album.visit(page, "client-admin", "team", "/client/team/")
    album.visit(page, "client-admin", "api-keys-empty", "/client/api-keys/")
    page.get_by_label("Key name").fill("Billing system (NetSuite)")
    page.get_by_role("button", name="Create key").click()
    album.shot(page, "client-admin", "api-keys-new-key")
    album.visit(page, "client-admin", "agency-404", "/agency/", expect_status=404)

    # Read-only client user.
    page = new_page(viewport)
    sign_in(page, "viewer@acme-supplies.test", DEMO_PASSWORD, expect_path="/client/")
    album.shot(page, "client-user", "home", status=200)
    album.visit(page, "client-user", "team", "/client/team/")
    album.visit(page, "client-user", "api-keys-404", "/client/api-keys/", expect_status=404)

    # A new client admin: invitation, the four onboarding steps (with an error each), home.
    page = new_page(viewport)
    album.visit(page, "new-client", "invitation", onboarding_link)
    page.get_by_label("Your full name").fill("Hal Harbor")
    page.get_by_label("Choose a password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    wait_for_path(page, "/client/onboarding/company/")
    album.shot(page, "new-client", "onboarding-1-company", status=200)
    page.get_by_role("button", name="Save and continue").click()
    album.shot(page, "new-client", "onboarding-1-company-errors")
    page.get_by_label("Company legal name").fill("Harbor Freight Lines Inc.")
    page.locator("input[name=address_line1]").fill("1 Pier Avenue")
    page.get_by_label("City").fill("Seattle")
    page.get_by_label("Postal code").fill("98101")
    page.get_by_label("Country (2-letter code)").fill("US")
    page.get_by_role("button", name="Save and continue").click()
    wait_for_path(page, "/client/onboarding/contacts/")
    album.shot(page, "new-client", "onboarding-2-contacts", status=200)
    for name, value in [("billing_contact_name", "Bill Ing"), ("billing_contact_email", "billing@harbor-freight.test"),
                        ("operations_contact_name", "Opal Ops"), ("operations_contact_email", "ops@harbor-freight.test")]:
        page.locator(f"input[name={name}]").fill(value)
    page.get_by_role("button", name="Save and continue").click()
    wait_for_path(page, "/client/onboarding/remittance/")
    album.shot(page, "new-client", "onboarding-3-remittance", status=200)
    page.get_by_label("Bank name").fill("Puget Sound Bank")
    page.get_by_label("Name on the account").fill("Harbor Freight Lines Inc.")
    page.get_by_label("Routing number").fill("1250")
    page.get_by_label("Account number").fill("12")
    page.get_by_role("button", name="Save and continue").click()
    album.shot(page, "new-client", "onboarding-3-remittance-errors")
    page.get_by_label("Routing number").fill("125000105")
    page.get_by_label("Account number").fill("5550001234")
    page.get_by_role("button", name="Save and continue").click()
    wait_for_path(page, "/client/onboarding/terms/")
    album.shot(page, "new-client", "onboarding-4-terms", status=200)
    page.get_by_role("button", name="Accept and finish").click()
    album.shot(page, "new-client", "onboarding-4-terms-errors")
    page.get_by_label("I accept the agency's terms").check()
    page.get_by_role("button", name="Accept and finish").click()
    wait_for_path(page, "/client/")
    album.shot(page, "new-client", "home-after-onboarding", status=200)

    # Staff of an agency that requires MFA: set-up, recovery codes, the code prompt at sign-in.
    page = new_page(viewport)
    email = f"mfa-{width_name}@harbor-recovery.test"
    sign_in(page, email, TEST_PASSWORD, expect_path="/accounts/2fa/totp/activate/")
    album.shot(page, "mfa-staff", "totp-activate-required", status=200)
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill("000000" if fresh_totp(secret) != "000000" else "111111")
    page.get_by_role("button", name="Activate").click()
    album.shot(page, "mfa-staff", "totp-activate-wrong-code")
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(fresh_totp(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(re.compile(r"/accounts/(2fa/recovery-codes|reauthenticate)/"))
    if path_of(page) == "/accounts/reauthenticate/":
        album.shot(page, "mfa-staff", "reauthenticate-after-activation")
        page.locator("input[name=password]").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Confirm").click()
    wait_for_path(page, "/accounts/2fa/recovery-codes/")
    album.shot(page, "mfa-staff", "recovery-codes")
    sign_out(page)
    sign_in(page, email, TEST_PASSWORD, expect_path="/accounts/2fa/authenticate/")
    album.shot(page, "mfa-staff", "totp-authenticate", status=200)

    album.write_index(f"Screens at {viewport['width']}px")
    assert not album.problems, "\n".join(album.problems)


# --- The debtor's side ----------------------------------------------------------------------------

# Every piece of visible text with its colour and the colour behind it (the first ancestor with a
# background), its size and weight; WCAG 2.1 AA asks 4.5:1, or 3:1 for large text.
TEXT_COLOURS_JS = """() => {
  const rows = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === 'hidden' || el.closest('.visually-hidden, [aria-hidden=true]')) continue;
    let bg = 'rgba(0, 0, 0, 0)', parent = el;
    while (parent) {
      const colour = getComputedStyle(parent).backgroundColor;
      if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') { bg = colour; break; }
      parent = parent.parentElement;
    }
    rows.push({text: node.textContent.trim().slice(0, 40), tag: el.tagName.toLowerCase(), cls: String(el.className || ''),
               fg: style.color, bg: bg === 'rgba(0, 0, 0, 0)' ? 'rgb(255, 255, 255)' : bg,
               size: parseFloat(style.fontSize), weight: parseInt(style.fontWeight, 10), opacity: parseFloat(style.opacity)});
  }
  return rows;
}"""

# Things to tap that are smaller than 44 x 44 CSS px (a checkbox or radio counts with its label;
# a link inside a sentence is exempt, as WCAG's target-size criteria allow).
SMALL_TARGETS_JS = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    let target = el;
    if (el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')) target = el.closest('label');
    const box = target.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const sentence = el.tagName === 'A' && el.closest('p');
    if (sentence && sentence.textContent.trim() !== el.textContent.trim()) continue;
    if (box.height < 43.5 || box.width < 43.5) small.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`);
  }
  return small;
}"""


def _rgb(text):
    parts = [float(x) for x in re.findall(r"[\d.]+", text)]
    return parts[:3], (parts[3] if len(parts) > 3 else 1.0)


def _luminance(rgb):
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground, background) -> float:
    """WCAG 2.1 contrast ratio of two CSS rgb()/rgba() colours (a translucent foreground is
    blended onto the background first)."""
    (fg, alpha), (bg, _) = _rgb(foreground), _rgb(background)
    fg = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg)]
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_ratio_matches_wcag_examples():
    assert round(contrast_ratio("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert round(contrast_ratio("rgb(118, 118, 118)", "rgb(255, 255, 255)"), 2) == 4.54  # the lightest AA grey
    assert contrast_ratio("rgba(0, 0, 0, 0.5)", "rgb(255, 255, 255)") < 4.5


def audit(page, *, mobile):
    """Text below WCAG 2.1 AA contrast, and (on a phone) tap targets under 44 px."""
    problems = []
    for row in page.evaluate(TEXT_COLOURS_JS):
        large = row["size"] >= 24 or (row["size"] >= 18.66 and row["weight"] >= 700)
        ratio = contrast_ratio(row["fg"], row["bg"])
        if ratio < (3 if large else 4.5):
            problems.append(f"contrast {ratio:.2f} for <{row['tag']} class={row['cls']!r}> \"{row['text']}\" "
                            f"({row['fg']} on {row['bg']})")
    if mobile:
        problems += [f"small tap target: {target}" for target in page.evaluate(SMALL_TARGETS_JS)]
    return problems


def _letter_link(page):
    """The secure link shown once on the "link for a letter" page, as a path on the live server."""
    return urlsplit(page.locator(".link-box code").inner_text().strip()).path


@pytest.mark.e2e
@pytest.mark.parametrize("width_name", ["desktop", "mobile"])
def test_screenshots_of_the_debtor_pages_and_the_staff_panels_for_them(world, new_page, live_server, width_name,
                                                                      settings):
    """Every page a debtor sees (identity check with its error and locked states, account with
    offers and with a plan, an offer's signing page, the plan builder before and after the
    schedule, inside and outside the rules, dispute, call back, link not available) and the staff
    pages around them (the workspace's offer builder with its preview, the link for a letter,
    the client's offers and account page, the plan rules), in test-artifacts/screens/debtor-<width>/.
    The signed agreement is saved there too (agreement.pdf: `pdftoppm -png -r 80` shows it).

    Every debtor page is also checked: no text below WCAG 2.1 AA contrast, no horizontal scroll,
    and at 390 px no tap target under 44 px."""
    settings.DEBTOR_VERIFY_PER_IP = 100
    mobile = width_name == "mobile"
    viewport = MOBILE if mobile else DESKTOP
    album = Album(f"debtor-{width_name}")
    debtor_problems = []

    def debtor_shot(page, name, status):
        album.shot(page, "debtor", name, status=status, expect_status=status)
        debtor_problems.extend(f"{name}: {problem}" for problem in audit(page, mobile=mobile))
        row = album.rows[-1]
        if row["page_width"] > row["window_width"]:
            debtor_problems.append(f"{name}: the page scrolls sideways ({', '.join(row['culprits'])})")

    alpha = world.alpha
    with tenant_scope(alpha.agency):
        Agency.objects.filter(pk=alpha.agency.pk).update(postal_address="PO Box 4410, Springfield, IL 62708",
                                                         phone="+1 217 555 0100")
        ContactPolicy.objects.create(agency=alpha.agency, earliest_hour=0, latest_hour=24)
        account = make_identifiable_account(alpha.clients[0], "INV-20931", balance="1287.45", purpose="consumer")
        locked_account = make_identifiable_account(alpha.clients[0], "INV-20932", balance="310.00")
    first_due = timezone.localdate() + timedelta(days=10)

    # Collector: the offer builder with its preview (beyond the terms, then within), the link for a letter.
    staff = new_page(viewport)
    sign_in(staff, alpha.collector.email, TEST_PASSWORD)
    staff.goto(f"/debtor-accounts/{account.pk}/work/")

    def build_offer(count, down=""):
        offer_form = staff.locator("details[data-shortcut=f]")
        offer_form.locator("summary").click()
        offer_form.get_by_label("Offer").select_option("installments")
        offer_form.get_by_label("Total to pay").fill("1287.45")
        offer_form.get_by_label("Down payment").fill(down)
        offer_form.get_by_label("Installments", exact=True).fill(str(count))
        offer_form.get_by_label("First payment on").fill(first_due.isoformat())
        offer_form.get_by_role("button", name="Preview schedule").click()
        staff.locator("details[data-shortcut=f] .offer-preview").wait_for()

    build_offer(30)
    album.shot(staff, "collector", "workspace-offer-preview-beyond-terms", status=200)
    staff.locator("details[data-shortcut=f]").get_by_role("button", name="Save offer").click()
    staff.locator(".messages").wait_for()
    build_offer(5, down="100.00")
    album.shot(staff, "collector", "workspace-offer-preview-within-terms", status=200)
    staff.locator("details[data-shortcut=f]").get_by_role("button", name="Save offer").click()
    staff.locator(".messages").wait_for()
    album.shot(staff, "collector", "workspace-offers", status=200)
    sendable = staff.locator("#workspace-offers form", has=staff.get_by_role("button", name="Send")).first
    sendable.get_by_label("Send by").select_option("letter")
    sendable.get_by_role("button", name="Send").click()
    staff.locator(".link-box").wait_for()
    album.shot(staff, "collector", "link-for-a-letter", status=200)
    debtor_path = _letter_link(staff)
    with tenant_scope(alpha.agency):
        _link, locked_url = link_issue(agency=alpha.agency, actor=alpha.collector, account=locked_account,
                                       channel="letter")

    # Client admin: the offer beyond the terms on the home page, the list and the account page.
    client_page = new_page(viewport)
    sign_in(client_page, alpha.clients[0].admin.email, TEST_PASSWORD, expect_path="/client/")
    client_page.get_by_text("offer waits for your answer").wait_for()
    album.shot(client_page, "client-admin", "home-with-an-offer-to-approve", status=200)
    album.visit(client_page, "client-admin", "offers-to-approve", "/client/offers/")
    album.visit(client_page, "client-admin", "account-with-offer-to-approve", f"/debtor-accounts/{account.pk}/")

    # Agency admin: the plan rules (the defaults from the terms, then a mistake).
    admin = new_page(viewport)
    sign_in(admin, alpha.admin.email, TEST_PASSWORD)
    album.visit(admin, "admin", "plan-rules", f"/agency/clients/{alpha.clients[0].client.pk}/plan-rules/")
    admin.locator("input[name=form-0-balance_to]").fill("999.99")
    with admin.expect_response(lambda response: response.request.method == "POST") as refused:
        admin.get_by_role("button", name="Save rules").click()
    album.shot(admin, "admin", "plan-rules-errors", status=refused.value.status, expect_status=400)

    # The debtor: link not available, the identity check (wrong, empty, right), the account and its offer.
    debtor = new_page(viewport)
    response = debtor.goto("/d/not-a-real-link-0000000000000000000000000/")
    debtor_shot(debtor, "link-unknown", response.status)
    response = debtor.goto(debtor_path)
    debtor_shot(debtor, "identity-check", response.status)
    postal, last4 = (debtor.get_by_label("Postal code of your address on file"),
                     debtor.get_by_label("Last 4 digits of your SSN or tax ID"))
    postal.fill("62701")
    last4.fill("1234")
    debtor.get_by_role("button", name="Continue").click()
    debtor_shot(debtor, "identity-check-wrong", 400)
    postal.fill("")
    last4.fill("")
    debtor.get_by_role("button", name="Continue").click()
    debtor_shot(debtor, "identity-check-empty", 400)
    postal.fill("62701")
    last4.fill("6789")
    debtor.get_by_role("button", name="Continue").click()
    wait_for_path(debtor, debtor_path + "account/")
    debtor_shot(debtor, "account-with-offer", 200)
    debtor.keyboard.press("Tab")
    debtor.keyboard.press("Tab")  # past the skip link, onto the first action
    debtor_shot(debtor, "account-keyboard-focus", 200)
    debtor.locator(".offer-list").get_by_role("button").first.click()
    debtor.get_by_role("button", name="I agree").wait_for()
    debtor_shot(debtor, "offer-sign", 200)
    debtor.get_by_role("button", name="I agree").click()
    debtor_shot(debtor, "offer-sign-errors", 400)

    # The plan builder: empty, errors, inside the rules, outside them, one payment.
    response = debtor.goto(debtor_path + "plan/")
    debtor_shot(debtor, "plan-builder", response.status)
    debtor.get_by_role("button", name="Show the schedule").click()
    debtor_shot(debtor, "plan-builder-errors", 400)
    debtor.get_by_label("Or the number of months").fill("6")
    debtor.get_by_role("button", name="Show the schedule").click()
    debtor.locator("table.schedule").wait_for()
    debtor_shot(debtor, "plan-builder-inside-the-rules", 200)
    debtor.get_by_label("Or the number of months").fill("")
    debtor.get_by_label("Amount each month").fill("25")
    debtor.get_by_role("button", name="Show the new schedule").click()
    debtor.get_by_role("button", name="Send as a request").wait_for()
    debtor_shot(debtor, "plan-builder-outside-the-rules", 200)
    debtor.get_by_label("One payment", exact=True).check()
    debtor.get_by_label("Amount of the one payment").fill("1000")
    debtor_shot(debtor, "plan-builder-one-payment-chosen", 200)
    debtor.get_by_role("button", name="Show the new schedule").click()
    debtor_shot(debtor, "plan-builder-one-payment", 200)

    # Dispute and call back (each with a mistake first), then accepting the offer.
    response = debtor.goto(debtor_path + "dispute/")
    debtor_shot(debtor, "dispute", response.status)
    debtor.get_by_role("button", name="Send").click()
    debtor_shot(debtor, "dispute-errors", 400)
    response = debtor.goto(debtor_path + "callback/")
    debtor_shot(debtor, "call-back", response.status)
    debtor.get_by_label("Day").fill((timezone.localdate() + timedelta(days=2)).isoformat())
    debtor.get_by_label("Time (your local time)").fill("06:30")
    debtor.get_by_role("button", name="Ask for the call").click()
    debtor_shot(debtor, "call-back-errors", 400)
    debtor.get_by_label("Time (your local time)").fill("10:30")
    debtor.get_by_role("button", name="Ask for the call").click()
    wait_for_path(debtor, debtor_path + "account/")
    debtor_shot(debtor, "account-after-call-back", 200)
    debtor.locator(".offer-list").get_by_role("button").first.click()
    debtor.get_by_label(re.compile("agree to sign and receive")).check()
    debtor.get_by_label("Type your full name to sign").fill("Dana Inv-20931")
    debtor.get_by_role("button", name="I agree").click()
    wait_for_path(debtor, debtor_path + "account/")
    debtor_shot(debtor, "account-with-plan", 200)
    with debtor.expect_download() as download:
        debtor.get_by_role("button", name=re.compile("Download your signed agreement")).click()
    download.value.save_as(album.folder / "agreement.pdf")

    # A link locked after five wrong answers.
    locked = new_page(viewport)
    response = locked.goto(urlsplit(locked_url).path)
    debtor_shot(locked, "identity-check-other-link", response.status)
    for _ in range(4):
        locked.get_by_label("Postal code of your address on file").fill("10001")
        locked.get_by_label("Last 4 digits of your SSN or tax ID").fill("0000")
        locked.get_by_role("button", name="Continue").click()
    debtor_shot(locked, "identity-check-one-try-left", 400)
    locked.get_by_label("Postal code of your address on file").fill("10001")
    locked.get_by_label("Last 4 digits of your SSN or tax ID").fill("0000")
    locked.get_by_role("button", name="Continue").click()
    debtor_shot(locked, "link-locked", 410)

    # Staff again: the plan on the workspace and on the client's account page.
    album.visit(staff, "collector", "workspace-with-plan", f"/debtor-accounts/{account.pk}/work/")
    album.visit(client_page, "client-admin", "account-with-plan", f"/debtor-accounts/{account.pk}/")

    album.write_index(f"Debtor pages and their staff panels at {viewport['width']}px")
    (album.folder / "audit.md").write_text("\n".join(debtor_problems) + "\n")
    assert not album.problems, "\n".join(album.problems)
    assert not debtor_problems, "\n".join(debtor_problems)
