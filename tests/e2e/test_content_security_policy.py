"""Pages under the Content-Security-Policy in Chromium, beyond the journeys (which all fail on a
refusal, see conftest.new_page): the Django admin, the API docs and the two-factor set-up with its
QR code. A positive control shows a refusal is really seen."""
import pytest
from allauth.account.models import EmailAddress

from accounts.models import User
from tests.e2e.helpers import sign_in, wait_for_path
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.e2e


def test_admin_api_docs_and_totp_setup_work_under_the_policy(transactional_db, world, page):
    root = User.objects.create_superuser(email="root@portal.test", password=TEST_PASSWORD)
    EmailAddress.objects.create(user=root, email=root.email, verified=True, primary=True)

    page.goto("/admin/")  # the admin's login sends to the one sign-in and back
    wait_for_path(page, "/accounts/login/")
    page.fill("input[name=login]", root.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_for_path(page, "/admin/")
    page.goto("/admin/accounts/user/")
    page.get_by_role("link", name=world.alpha.admin.email, exact=True).click()  # the change form and its scripts
    page.wait_for_selector("#user_form")

    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)  # Swagger UI ran and drew the schema
    assert page.locator(".swagger-ui .opblock").count() >= 3

    page.goto("/accounts/2fa/totp/activate/")
    qr = page.locator("img[src^='data:image']")
    qr.wait_for()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the data: QR code is allowed and drawn
    assert not page.policy_complaints


@pytest.mark.policy_complaints_expected
def test_an_inline_script_is_refused_and_seen(transactional_db, world, page):
    """The control: without it, "no complaints" could mean the listener hears nothing."""
    sign_in(page, world.alpha.clients[0].admin.email, TEST_PASSWORD, expect_path="/client/")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'document.title = "inline ran"'; document.body.appendChild(s); }""")
    page.wait_for_timeout(300)
    assert page.title() != "inline ran"
    assert any("inline script" in text and "Content Security Policy" in text for text in page.policy_complaints)
