"""portal.rows writes rows as save() would, holds a payment post's writes until they are needed,
and prepares its statements once per PostgreSQL session."""
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from collections_work.models import Activity, DebtorAccount
from portal import rows
from portal.models import AuditEvent
from portal.tenancy import tenant_scope
from tests.factories import DebtorAccountFactory

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="batches and prepared statements are PostgreSQL's")


@pytest.fixture
def account(world):
    account = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="ROW-1", status="active",
                                   principal=Decimal("500.00"))
    with tenant_scope(account.agency_id):
        yield account


def activity(account, summary="Note: called"):
    return Activity(agency_id=account.agency_id, client_id=account.client_id, account=account, kind="note",
                    summary=summary, body="", outcome="", client_visible=True, occurred_at=timezone.now())


def test_an_inserted_row_is_the_row_save_would_write(account):
    by_orm, by_rows = activity(account), activity(account)
    by_rows.occurred_at = by_orm.occurred_at
    by_orm.save()
    assert rows.insert(by_rows) is by_rows and by_rows.pk not in (None, by_orm.pk)
    stored = {row.pk: model_to_dict(row, exclude=["id"]) for row in Activity.objects.filter(account=account)}
    assert stored[by_rows.pk] == stored[by_orm.pk]


def test_an_audit_event_keeps_its_json_and_its_time(account):
    event = AuditEvent(agency_id=account.agency_id, action="test.rows", before={"balance": "1.00"},
                       after={"balance": "0.00", "note": "paid"}, ip_address="")
    rows.insert(event)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.before, stored.after, stored.ip_address) == ({"balance": "1.00"}, {"balance": "0.00", "note": "paid"}, None)
    assert stored.created_at is not None  # auto_now_add applied, as save() applies it


def test_an_update_writes_its_fields_and_refuses_a_row_that_is_not_there(account):
    before = account.updated_at
    account.status = "hold"
    rows.update(account, ["status", "updated_at"])
    stored = DebtorAccount.objects.get(pk=account.pk)
    assert stored.status == "hold" and stored.updated_at > before
    ghost = DebtorAccount(pk=account.pk + 10_000, status="hold")
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        rows.update(ghost, ["status"])


def test_a_row_already_saved_is_not_inserted_again(account):
    row = rows.insert(activity(account))
    with pytest.raises(rows.RowWriteError):
        rows.insert(row)


def test_a_read_in_a_batch_sees_the_writes_held_before_it(account):
    with transaction.atomic(), rows.batched():
        rows.insert(activity(account, "Note: held"), returning=False)
        account.status = "hold"
        rows.update(account, ["status"])
        assert Activity.objects.filter(account=account, summary="Note: held").count() == 1
        assert DebtorAccount.objects.get(pk=account.pk).status == "hold"
    assert Activity.objects.filter(account=account, summary="Note: held").count() == 1


@on_postgresql
def test_a_held_write_that_fails_raises_when_sent_and_nothing_of_the_batch_stays(account):
    taken = rows.insert(activity(account, "Note: first"))
    with pytest.raises(IntegrityError), transaction.atomic(), rows.batched():
        account.status = "hold"
        rows.update(account, ["status"])
        rows.insert(activity(account, "Note: second"), returning=False)
        duplicate = activity(account, "Note: same id")
        duplicate.pk = taken.pk
        rows.insert(duplicate)  # carries its id: held, and refused when the batch is sent
    assert DebtorAccount.objects.get(pk=account.pk).status == "active"
    assert list(Activity.objects.filter(account=account).values_list("summary", flat=True)) == ["Note: first"]


def test_select_maps_columns_in_any_order_and_keeps_the_others_as_attributes(account):
    found = rows.select(DebtorAccount, "SELECT balance, id, client_reference, 7 AS seven FROM "
                                       f"{DebtorAccount._meta.db_table} WHERE id = %s", [account.pk])
    assert [(row.pk, row.balance, row.client_reference, row.seven) for row in found] == [
        (account.pk, Decimal("500.00"), "ROW-1", 7)]
    assert found[0].status == "active"  # a column it did not read loads when asked for, as .only() does


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_prepared_statements_outlive_a_rollback_and_a_new_connection_prepares_again(world):
    account = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="ROW-2", status="active")
    sql = f"SELECT {rows.columns(DebtorAccount)} FROM {DebtorAccount._meta.db_table} WHERE id = %s"
    with pytest.raises(RuntimeError), transaction.atomic():
        assert rows.select(DebtorAccount, sql, [account.pk])[0].client_reference == "ROW-2"  # prepared here
        raise RuntimeError("roll back")
    assert rows.select(DebtorAccount, sql, [account.pk])[0].client_reference == "ROW-2"
    connection.close()
    assert rows.select(DebtorAccount, sql, [account.pk])[0].client_reference == "ROW-2"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'portal_%%'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_is_refused(world):
    with pytest.raises(rows.RowWriteError, match="inside transaction.atomic"), rows.batched():
        pass


def test_an_error_leaving_the_batch_still_writes_what_it_held_first(account):
    with transaction.atomic():
        with pytest.raises(ValueError), rows.batched():
            rows.insert(activity(account, "Note: held then error"), returning=False)
            raise ValueError("the caller's own error")
        assert Activity.objects.filter(summary="Note: held then error").count() == 1


def test_a_held_value_changed_after_the_call_is_written_as_it_was(account):
    after = {"balance": "0.00"}
    with transaction.atomic(), rows.batched():
        event = rows.insert(AuditEvent(agency_id=account.agency_id, action="test.rows", after=after), returning=False)
        after["balance"] = "changed later"
    assert AuditEvent.objects.filter(action="test.rows").get().after == {"balance": "0.00"}
    assert event.pk is None or connection.vendor != "postgresql"


def test_a_timeline_row_needs_a_tenant_in_scope_as_create_does(world):
    from portal.tenancy import TenantScopeError

    account = DebtorAccountFactory(client=world.alpha.clients[0].client, client_reference="ROW-3")
    with pytest.raises(TenantScopeError):
        rows.insert(activity(account))


def test_a_related_object_saved_after_it_was_set_is_written_by_its_id(account, world):
    from accounts.models import User

    actor = User(email="late@alpha.test")
    row = activity(account)
    row.actor = actor
    actor.save()
    rows.insert(row)
    assert Activity.objects.get(pk=row.pk).actor_id == actor.pk
