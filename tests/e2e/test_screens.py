"""Screenshots of every page, as each demo persona sees it, at desktop and phone widths.

Also a smoke test: every page must answer with the expected status (no 500s, no 404s where a
page should be). Pages wider than the screen are listed in the index, not failed on.

    PORTAL_NO_BOOTSTRAP=1 .venv/bin/python -m pytest tests/e2e/test_screens.py -q

writes test-artifacts/screens/<desktop|mobile>/NN-<persona>-<page>.png and an index.md per width
(URL, status, horizontal overflow and the elements causing it).
"""
import json
import re
from decimal import Decimal

import pytest
from django.core import mail

from accounts import services
from accounts.demo import DEMO_PASSWORD, seed_demo
from collections_work.demo import seed_worklist_demo
from accounts.models import Agency, Client, ContractTerms, Role, User
from portal.tenancy import tenant_scope
from tests.e2e.conftest import ARTIFACTS, DESKTOP, MOBILE
from tests.e2e.helpers import fresh_totp, invitation_link, path_of, sign_in, sign_out, wait_for_path
from tests.factories import TEST_PASSWORD, MembershipFactory, UserFactory

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
    page.locator("input[name=remittance_day]").fill("31")
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
