"""Invitations: emailed, hashed, expiring, single-use; accepting creates the user and membership."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Client, Invitation, Membership, Role, User
from accounts.services import invitation_create
from portal.errors import DomainError, NotAllowed
from portal.models import AuditEvent
from portal.secrets import keyed_hash
from tests.helpers import invitation_token_sent_to

NEW_PASSWORD = "a-long-enough-passphrase-7"


def accept(client, token, name="Jamie Newcomer", password=NEW_PASSWORD, confirm=None):
    return client.post(f"/invitations/{token}/", {"full_name": name, "password1": password,
                                                   "password2": confirm or password})


def test_agency_admin_onboards_a_client_and_its_admin_gets_an_emailed_link(
        world, signed_in, django_capture_on_commit_callbacks, all_tenants):
    browser = signed_in(world.alpha.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/agency/clients/new/", {"name": "Globex Parts", "admin_email": "AP@Globex.test"})
    with all_tenants():
        client = Client.objects.get(name="Globex Parts")
        invitation = Invitation.objects.get(client=client)
    assert response.status_code == 302 and response.url == f"/agency/clients/{client.pk}/terms/"
    assert client.agency == world.alpha.agency and client.status == Client.Status.INVITED
    assert invitation.email == "ap@globex.test" and invitation.role == Role.CLIENT_ADMIN
    assert len(mail.outbox) == 1 and "Alpha Recovery invited you" in mail.outbox[0].subject
    token = invitation_token_sent_to("ap@globex.test")
    assert invitation.token_hash == keyed_hash(token) and token not in invitation.token_hash


def test_following_the_link_does_not_spend_it_but_accepting_does(world, client, django_capture_on_commit_callbacks, as_tenant):
    with as_tenant(world.alpha.agency), django_capture_on_commit_callbacks(execute=True):
        invitation, token = invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                              email="new.collector@alpha.test", role=Role.COLLECTOR)
    assert client.get(f"/invitations/{token}/").status_code == 200  # a mail scanner's GET
    assert client.get(f"/invitations/{token}/").status_code == 200
    response = accept(client, token)
    assert response.status_code == 302
    user = User.objects.get(email="new.collector@alpha.test")
    assert user.check_password(NEW_PASSWORD) and user.full_name == "Jamie Newcomer"
    assert user.membership.role == Role.COLLECTOR and user.membership.agency == world.alpha.agency
    assert user.emailaddress_set.get().verified
    # single use: the second visit is refused and creates nothing
    client.logout()
    again = client.get(f"/invitations/{token}/")
    assert again.status_code == 410 and b"accepted" in again.content


def test_expired_and_revoked_invitations_are_refused(world, client, as_tenant, all_tenants):
    with as_tenant(world.alpha.agency):
        expired, expired_token = invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                                   email="late@alpha.test", role=Role.MANAGER)
        revoked, revoked_token = invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                                   email="gone@alpha.test", role=Role.MANAGER)
    with all_tenants():
        Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    signed = client
    signed.force_login(world.alpha.admin)
    assert signed.post(f"/invitations/{revoked.pk}/revoke/").status_code == 302
    signed.logout()
    for token, word in [(expired_token, b"expired"), (revoked_token, b"revoked")]:
        response = accept(client, token)
        assert response.status_code == 410 and word in response.content
    assert not User.objects.filter(email__in=["late@alpha.test", "gone@alpha.test"]).exists()


def test_weak_or_mismatched_passwords_are_shown_inline_and_nothing_is_created(world, client, as_tenant):
    with as_tenant(world.alpha.agency):
        _, token = invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                     email="weak@alpha.test", role=Role.COLLECTOR)
    response = accept(client, token, password="short")
    assert response.status_code == 200 and b"too short" in response.content
    response = accept(client, token, password=NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert b"do not match" in response.content
    assert not User.objects.filter(email="weak@alpha.test").exists()


def test_inviting_someone_already_on_the_team_is_refused_with_a_message(world, as_tenant):
    with as_tenant(world.alpha.agency), pytest.raises(DomainError, match="already a portal user here"):
        invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                          email=world.alpha.collector.email.upper(), role=Role.COLLECTOR)


def test_inviting_another_agencys_user_reveals_nothing_and_tells_only_the_addresss_owner(
        world, client, as_tenant, django_capture_on_commit_callbacks):
    email = world.bravo.admin.email
    with as_tenant(world.alpha.agency), django_capture_on_commit_callbacks(execute=True):
        invitation, token = invitation_create(agency=world.alpha.agency, actor=world.alpha.admin, email=email,
                                              role=Role.COLLECTOR)  # no error: the inviter learns nothing
    assert invitation.status == "pending"
    sent = mail.outbox[-1]
    assert sent.to == [email] and "already has a portal account with another organisation" in sent.body
    assert token not in sent.body  # no link that cannot work
    response = accept(client, token)
    assert b"belongs to one organisation" in response.content
    with as_tenant(world.bravo.agency):
        assert Membership.objects.get(user=world.bravo.admin).agency == world.bravo.agency  # unchanged


def test_collectors_cannot_invite_and_client_admins_invite_only_read_only_colleagues(world, as_tenant):
    with as_tenant(world.alpha.agency), pytest.raises(NotAllowed):
        invitation_create(agency=world.alpha.agency, actor=world.alpha.collector, email="x@alpha.test",
                          role=Role.COLLECTOR)
    other_client = world.alpha.clients[1].client
    with as_tenant(world.alpha.agency), pytest.raises(NotAllowed):
        invitation_create(agency=world.alpha.agency, actor=world.alpha.clients[0].admin, email="y@alpha.test",
                          role=Role.CLIENT_USER, client=other_client)


def test_client_admin_invites_a_read_only_colleague_who_then_signs_in(
        world, signed_in, client, django_capture_on_commit_callbacks, all_tenants):
    first = world.alpha.clients[0]
    browser = signed_in(first.admin)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/client/team/invite/", {"email": "colleague@client1.test"})
    token = invitation_token_sent_to("colleague@client1.test")
    browser.logout()
    accept(client, token, name="Cole League")
    colleague = User.objects.get(email="colleague@client1.test")
    assert colleague.membership.role == Role.CLIENT_USER and colleague.membership.client == first.client
    home = client.get("/", follow=True)
    assert home.status_code == 200 and first.client.name.encode() in home.content
    assert client.get("/client/api-keys/").status_code == 404  # read-only users manage nothing
    with all_tenants():
        actions = list(AuditEvent.objects.filter(client=first.client).values_list("action", flat=True))
    assert "invitation.created" in actions and "invitation.accepted" in actions


def test_accepting_an_invitation_twice_at_once_creates_one_membership(world, client, as_tenant, all_tenants):
    with as_tenant(world.alpha.agency):
        _, token = invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                     email="twice@alpha.test", role=Role.COLLECTOR)
    accept(client, token)
    client.logout()
    accept(client, token)
    with all_tenants():
        assert Membership.objects.filter(user__email="twice@alpha.test").count() == 1
