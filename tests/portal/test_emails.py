"""The send log: each email is recorded under a unique key and sent exactly once."""
from django.core import mail

from portal.emails import email_schedule
from portal.models import OutboundEmail
from portal.tasks import deliver_email, deliver_pending_emails
from portal.tenancy import unscoped


def schedule(world):
    return email_schedule(key="welcome:1", to="someone@example.test", subject="Hello", template="invitation",
                          agency=world.alpha.agency,
                          context={"agency": world.alpha.agency, "link": "http://x/invitations/abc/",
                                   "invitation": None, "inviter": world.alpha.admin, "client": None})


def test_an_email_is_sent_once_even_if_scheduled_and_delivered_twice(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = schedule(world)
        second = schedule(world)
    assert first.pk == second.pk
    assert deliver_email.delay(first.pk, world.alpha.agency.pk).get() == "skipped"  # a retry after success
    assert len(mail.outbox) == 1 and "http://x/invitations/abc/" in mail.outbox[0].body
    with unscoped():
        assert OutboundEmail.objects.get().status == OutboundEmail.Status.SENT


def test_pending_emails_whose_hand_off_was_lost_are_re_offered(world, django_capture_on_commit_callbacks):
    email = schedule(world)  # no on_commit: as if the worker never heard of it
    with unscoped():
        OutboundEmail.objects.filter(pk=email.pk).update(created_at=email.created_at.replace(year=2020))
    assert deliver_pending_emails.delay().get() == 1
    assert len(mail.outbox) == 1
    assert deliver_pending_emails.delay().get() == 0


def test_an_unreachable_broker_does_not_fail_the_action_and_the_email_stays_pending(
        world, django_capture_on_commit_callbacks, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(deliver_email, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        email = schedule(world)  # would have raised after commit, after the caller's changes were saved
    with unscoped():
        assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.PENDING
    assert not mail.outbox  # beat's deliver_pending_emails sends it later


def test_link_secrets_are_sent_but_not_kept_in_the_send_log(world, django_capture_on_commit_callbacks):
    """An invitation's token is a credential: the email carries it, the send log never stores it
    in the bodies, and the copy kept to send it is gone once it is sent."""
    from accounts import services
    from accounts.models import Role
    from portal.tenancy import tenant_scope

    with django_capture_on_commit_callbacks(execute=False) as callbacks, tenant_scope(world.alpha.agency):
        invitation, token = services.invitation_create(agency=world.alpha.agency, actor=world.alpha.admin,
                                                       email="new-person@example.test", role=Role.COLLECTOR)
    with unscoped():
        pending = OutboundEmail.objects.get(to="new-person@example.test")
    assert token not in pending.body_text and token not in pending.body_html
    assert "[secret link: not kept in the send log]" in pending.body_text
    for callback in callbacks:
        callback()
    sent = mail.outbox[0]
    assert f"/invitations/{token}/" in sent.body and f"/invitations/{token}/" in sent.alternatives[0][0]
    with unscoped():
        stored = OutboundEmail.objects.get(pk=pending.pk)
    assert stored.status == OutboundEmail.Status.SENT and stored.secret_values == {}
    assert token not in stored.body_text + stored.body_html
