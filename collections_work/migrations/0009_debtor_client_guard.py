"""Intake speed: a debtor's link to its client is checked once per statement, not once per row.

As for contacts (0008): on PostgreSQL, statement triggers refuse debtors whose client does not
exist (SQLSTATE 23503, like an FK) and the deletion of a client that still has debtors. Clients
are never deleted by the portal (their placement batches' FKs refuse it too). SQLite (the
embedded mode) relies on the ORM alone.
"""
import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE FUNCTION collections_work_debtor_client_exists() RETURNS trigger AS $$
BEGIN
  -- A placement writes one client's debtors: look each distinct client up once.
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT client_id FROM written) w
             WHERE NOT EXISTS (SELECT 1 FROM accounts_client c WHERE c.id = w.client_id)) THEN
    RAISE foreign_key_violation USING MESSAGE = 'a debtor refers to a client that does not exist';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER debtor_client_exists_on_insert AFTER INSERT ON collections_work_debtor
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION collections_work_debtor_client_exists();
CREATE TRIGGER debtor_client_exists_on_update AFTER UPDATE ON collections_work_debtor
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION collections_work_debtor_client_exists();

CREATE FUNCTION collections_work_client_keeps_debtors() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM gone g
             WHERE EXISTS (SELECT 1 FROM collections_work_debtor d WHERE d.client_id = g.id)) THEN
    RAISE foreign_key_violation USING MESSAGE = 'a deleted client still has debtors';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER client_keeps_debtors AFTER DELETE ON accounts_client
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION collections_work_client_keeps_debtors();
"""
DROP = """
DROP TRIGGER IF EXISTS debtor_client_exists_on_insert ON collections_work_debtor;
DROP TRIGGER IF EXISTS debtor_client_exists_on_update ON collections_work_debtor;
DROP FUNCTION IF EXISTS collections_work_debtor_client_exists();
DROP TRIGGER IF EXISTS client_keeps_debtors ON accounts_client;
DROP FUNCTION IF EXISTS collections_work_client_keeps_debtors();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('collections_work', '0008_contact_debtor_guard'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name='debtor',
            name='client',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.client'),
        ),
    ]
