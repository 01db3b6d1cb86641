"""Each role lands on its own home; roles change only through agency admins, with an audit trail."""
import pytest

from accounts.models import Membership, Role
from portal.models import AuditEvent


@pytest.mark.parametrize("persona, home", [
    (lambda w: w.alpha.admin, "/agency/"),
    (lambda w: w.alpha.manager, "/agency/"),
    (lambda w: w.alpha.collector, "/worklist/"),
    (lambda w: w.alpha.clients[0].admin, "/client/"),
    (lambda w: w.alpha.clients[0].user, "/client/"),
])
def test_each_role_lands_on_its_own_home_with_its_navigation(world, signed_in, persona, home):
    browser = signed_in(persona(world))
    response = browser.get("/")
    assert response.status_code == 302 and response.url == home
    page = browser.get(home).content.decode()
    staff_nav = 'href="/agency/clients/"' in page
    assert staff_nav == home.startswith(("/agency/", "/worklist/"))
    assert ('href="/agency/audit/"' in page) == (persona(world) == world.alpha.admin)


def test_client_users_cannot_reach_staff_pages(world, signed_in):
    browser = signed_in(world.alpha.clients[0].admin)
    for url in ["/agency/", "/agency/clients/", "/agency/team/", "/agency/audit/", "/agency/settings/",
                "/agency/clients/new/"]:
        assert browser.get(url).status_code == 404, url


def test_staff_cannot_open_client_pages(world, signed_in):
    browser = signed_in(world.alpha.admin)
    for url in ["/client/", "/client/team/", "/client/api-keys/", "/client/onboarding/"]:
        assert browser.get(url).status_code == 404, url


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/agency/clients/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_agency_admin_changes_a_role_and_it_is_audited(world, signed_in, all_tenants):
    with all_tenants():
        membership = Membership.objects.get(user=world.alpha.collector)
    response = signed_in(world.alpha.admin).post(f"/memberships/{membership.pk}/role/", {"role": "manager"})
    assert response.status_code == 302
    with all_tenants():
        membership.refresh_from_db()
        event = AuditEvent.objects.get(action="membership.role_changed")
    assert membership.role == Role.MANAGER
    assert event.before == {"role": "collector"} and event.after == {"role": "manager"}


def test_managers_cannot_change_roles_and_the_last_admin_cannot_be_demoted(world, signed_in, all_tenants):
    with all_tenants():
        collector = Membership.objects.get(user=world.alpha.collector)
        admin = Membership.objects.get(user=world.alpha.admin)
    assert signed_in(world.alpha.manager).post(f"/memberships/{collector.pk}/role/", {"role": "agency_admin"}).status_code == 404
    # the only admin demoting themself is refused with a message
    browser = signed_in(world.alpha.admin)
    response = browser.post(f"/memberships/{admin.pk}/role/", {"role": "collector"}, follow=True)
    assert "at least one active agency admin" in response.content.decode()
    with all_tenants():
        collector.refresh_from_db()
        admin.refresh_from_db()
    assert collector.role == Role.COLLECTOR and admin.role == Role.AGENCY_ADMIN


def test_a_staff_role_cannot_be_turned_into_a_client_role(world, signed_in, all_tenants):
    with all_tenants():
        collector = Membership.objects.get(user=world.alpha.collector)
    response = signed_in(world.alpha.admin).post(f"/memberships/{collector.pk}/role/", {"role": "client_admin"}, follow=True)
    assert "cannot be swapped" in response.content.decode()


def test_a_deactivated_member_loses_access_at_once(world, signed_in, client, all_tenants):
    with all_tenants():
        collector = Membership.objects.get(user=world.alpha.collector)
    signed_in(world.alpha.admin).post(f"/memberships/{collector.pk}/active/", {"active": "0"})
    client.force_login(world.alpha.collector)
    assert client.get("/agency/").status_code == 404
    assert client.get("/").status_code == 403  # "no access yet" page


def test_client_admin_deactivates_a_colleague_but_not_another_clients_user(world, signed_in, all_tenants):
    first, second = world.alpha.clients
    with all_tenants():
        colleague = Membership.objects.get(user=first.user)
        stranger = Membership.objects.get(user=second.user)
    browser = signed_in(first.admin)
    assert browser.post(f"/memberships/{colleague.pk}/active/", {"active": "0"}).status_code == 302
    assert browser.post(f"/memberships/{stranger.pk}/active/", {"active": "0"}).status_code == 404
    with all_tenants():
        colleague.refresh_from_db()
        stranger.refresh_from_db()
    assert not colleague.is_active and stranger.is_active


def test_staff_invite_form_errors_are_flashed(world, signed_in):
    response = signed_in(world.alpha.admin).post("/agency/team/invite/", {"email": "not-an-email", "role": "collector"},
                                                 follow=True)
    assert "Enter a valid email address" in response.content.decode()
