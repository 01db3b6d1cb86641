"""The database's own guard on a contact's debtor and a debtor's client (statement triggers on
PostgreSQL, migrations 0008 and 0009).

Neither link has a row-level FK (a placement writes millions of these rows); the triggers must
still refuse what the FK refused, and let the ORM's cascade through.
"""
import pytest
from django.db import IntegrityError, connection, transaction

from collections_work.models import Contact, Debtor
from portal.tenancy import tenant_scope
from tests.factories import ContactFactory, DebtorFactory

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="the guard triggers exist on PostgreSQL only (SQLite relies on the ORM)")


@pytest.fixture
def debtor(world):
    debtor = DebtorFactory(client=world.alpha.clients[0].client, name="Pat Debtor", debtor_key="pat")
    ContactFactory(debtor=debtor, kind="email", value="pat@example.test")
    with tenant_scope(world.alpha.agency):
        yield debtor


def _execute(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@postgresql_only
def test_a_contact_for_a_debtor_that_does_not_exist_is_refused(debtor):
    with pytest.raises(IntegrityError, match="refers to a debtor that does not exist"):
        _execute("INSERT INTO collections_work_contact (agency_id, client_id, debtor_id, kind, value, label, "
                 "time_zone, created_at) VALUES (%s, %s, %s, 'phone', '555', '', '', now())",
                 [debtor.agency_id, debtor.client_id, debtor.pk + 1000])
    assert Contact.objects.filter(value="555").count() == 0


@postgresql_only
def test_moving_a_contact_to_a_debtor_that_does_not_exist_is_refused(debtor):
    with pytest.raises(IntegrityError, match="refers to a debtor that does not exist"):
        _execute("UPDATE collections_work_contact SET debtor_id = %s WHERE debtor_id = %s", [debtor.pk + 1000, debtor.pk])
    assert Contact.objects.get(value="pat@example.test").debtor_id == debtor.pk


@postgresql_only
def test_a_debtor_with_contacts_cannot_be_deleted_behind_the_orms_back(debtor):
    with pytest.raises(IntegrityError, match="still has contacts"):
        _execute("DELETE FROM collections_work_debtor WHERE id = %s", [debtor.pk])
    assert Debtor.objects.filter(pk=debtor.pk).exists()


def test_deleting_a_debtor_through_the_orm_takes_its_contacts_with_it(debtor):
    debtor.delete()
    assert not Contact.objects.filter(value="pat@example.test").exists()


@postgresql_only
def test_a_debtor_for_a_client_that_does_not_exist_is_refused(debtor):
    with pytest.raises(IntegrityError, match="refers to a client that does not exist"):
        _execute("INSERT INTO collections_work_debtor (agency_id, client_id, kind, name, tax_id_last4, time_zone, "
                 "debtor_key, created_at) VALUES (%s, %s, 'person', 'Nobody', '', '', 'nobody', now())",
                 [debtor.agency_id, debtor.client_id + 1000])
    with pytest.raises(IntegrityError, match="refers to a client that does not exist"):
        _execute("UPDATE collections_work_debtor SET client_id = %s WHERE id = %s", [debtor.client_id + 1000, debtor.pk])
    assert not Debtor.objects.filter(debtor_key="nobody").exists()
    assert Debtor.objects.get(pk=debtor.pk).client_id == debtor.client_id


@postgresql_only
def test_a_client_with_debtors_cannot_be_deleted_behind_the_orms_back(debtor):
    with pytest.raises(IntegrityError, match="still has debtors"):
        _execute("DELETE FROM accounts_client WHERE id = %s", [debtor.client_id])
    assert Debtor.objects.filter(pk=debtor.pk).exists()
