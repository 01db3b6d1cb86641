"""The audit log is append-only, written in the same transaction as the change, and browsable."""
import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import Role
from accounts.services import invitation_create
from portal.audit import audit_record
from portal.models import AppendOnlyError, AuditEvent
from portal.tenancy import unscoped


def test_audit_events_cannot_be_changed_or_deleted(world):
    event = audit_record(action="test.event", agency=world.alpha.agency)
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only")
def test_on_postgresql_the_database_itself_refuses_updates_and_deletes(world):
    event = audit_record(action="test.event", agency=world.alpha.agency)
    for statement in ("UPDATE portal_auditevent SET action='x' WHERE id=%s", "DELETE FROM portal_auditevent WHERE id=%s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [event.pk])


def test_a_change_that_fails_leaves_no_audit_event(world, as_tenant, monkeypatch):
    """The event and the change commit together, or neither does."""
    import accounts.services as services

    def broken_email(**kwargs):
        raise RuntimeError("mail template missing")

    monkeypatch.setattr(services, "email_schedule", broken_email)
    with as_tenant(world.alpha.agency), pytest.raises(RuntimeError):
        invitation_create(agency=world.alpha.agency, actor=world.alpha.admin, email="x@alpha.test", role=Role.MANAGER)
    with unscoped():
        assert not AuditEvent.objects.filter(action="invitation.created").exists()


def test_agency_admin_filters_the_audit_log_and_never_sees_another_agency(world, signed_in):
    audit_record(action="client.created", agency=world.alpha.agency, actor=world.alpha.manager, obj=world.alpha.clients[0].client)
    audit_record(action="terms.updated", agency=world.alpha.agency, actor=world.alpha.admin, obj=world.alpha.clients[1].client)
    audit_record(action="terms.updated", agency=world.bravo.agency, actor=world.bravo.admin, obj=world.bravo.clients[0].client)
    browser = signed_in(world.alpha.admin)
    page = browser.get("/agency/audit/").content.decode()
    assert "Alpha Recovery Client 1" in table_of(page) and "Alpha Recovery Client 2" in table_of(page)
    assert "Bravo Collections" not in page
    filtered = table_of(browser.get("/agency/audit/", {"action": "terms.updated"}).content.decode())
    assert "Alpha Recovery Client 2" in filtered and "Alpha Recovery Client 1" not in filtered
    by_actor = table_of(browser.get("/agency/audit/", {"actor": "manager@"}).content.decode())
    assert "Alpha Recovery Client 1" in by_actor and "Alpha Recovery Client 2" not in by_actor


def table_of(page: str) -> str:
    """The rows of the events table (not the filter form's dropdowns)."""
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_only_agency_admins_can_read_the_audit_log(world, signed_in):
    for person in (world.alpha.manager, world.alpha.collector, world.alpha.clients[0].admin):
        assert signed_in(person).get("/agency/audit/").status_code == 404


# --- Words, not codes and ids (issue 13, item 20) -------------------------------------------------

def test_the_audit_log_says_what_happened_in_words_and_names_accounts_by_their_reference(world, signed_in):
    from collections_work.worklist import services as work_services
    from portal.tenancy import tenant_scope
    from tests.factories import DebtorAccountFactory

    alpha = world.alpha
    with tenant_scope(alpha.agency):
        account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="INV-1001")
        dispute = work_services.dispute_record(agency=alpha.agency, actor=alpha.collector, account=account,
                                               reason="Goods never arrived")
    page = signed_in(alpha.admin).get("/agency/audit/").content.decode()
    rows = table_of(page)
    assert "Dispute opened" in rows and "Dispute on INV-1001" in rows
    assert f"Dispute on {dispute.account_id}" not in rows and f"Dispute on {dispute.pk}" not in rows
    assert ">dispute.opened<" not in rows  # the code stays only as the cell's tooltip
    assert '<option value="dispute.opened">Dispute opened</option>' in page  # the filter speaks words too


def test_every_action_the_code_writes_has_words():
    """Scans the code for the actions passed to audit_record: each has a label in ACTION_LABELS."""
    import re
    from pathlib import Path

    from portal.audit import ACTION_LABELS

    root = Path(__file__).resolve().parents[2]
    written = set()
    for app in ("accounts", "collections_work", "payments", "portal"):
        for path in (root / app).rglob("*.py"):
            written |= set(re.findall(r"audit_record\(\s*action=\"([a-z_.]+)\"", path.read_text()))
    # The actions whose code is built from a value, with every value they take.
    written |= {f"account.{kind}_added" for kind in ("note", "message")}
    written |= {f"client.onboarding.{step}" for step in ("company", "contacts", "remittance", "terms")}
    written |= {f"mfa.{kind}_{done}" for kind in ("totp", "recovery_codes", "webauthn") for done in ("added", "removed")}
    written |= {f"{kind}.{done}" for kind in ("queue", "team", "template") for done in ("created", "changed")}
    # Batches of files (collections_work.placements.intake.kinds.audit_action): placements and payment files.
    written |= {f"{prefix}.{verb}" for prefix in ("placement", "payment_file") for verb in (
        "uploaded", "read", "refused", "sheet_chosen", "mapping_set", "commit_started", "completed", "cancelled",
        "resent", "stalled_failed")}
    assert len(written) > 40
    assert sorted(written - set(ACTION_LABELS)) == []
    from portal.audit import action_label

    assert action_label("thing.was_done") == "Thing was done"  # a code someone forgot still reads as words
