"""Intake speed: a contact's link to its debtor is checked once per statement, not once per row.

The row-level FK ran one lookup-and-lock per contact (a third of the contact insert's time, ~2.4
contacts per placed row). On PostgreSQL, statement triggers now do the same job set-wise:
- inserting or updating contacts fails (SQLSTATE 23503, like an FK) if any refers to no debtor;
- deleting debtors fails while a contact still refers to one of them (the ORM deletes a
  debtor's contacts first: `on_delete=CASCADE`).
What the FK's lock added, keeping a debtor from being deleted while another transaction gives it
a contact, is kept by its accounts and parties: every debtor has one, and their FKs refuse the
delete. SQLite (the embedded mode) relies on the ORM alone.
"""
import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE FUNCTION collections_work_contact_debtor_exists() RETURNS trigger AS $$
BEGIN
  -- A scalar subquery per row (an index probe), never a hash of the whole debtor table.
  IF EXISTS (SELECT 1 FROM written c
             WHERE (SELECT d.id FROM collections_work_debtor d WHERE d.id = c.debtor_id) IS NULL) THEN
    RAISE foreign_key_violation USING MESSAGE = 'a contact refers to a debtor that does not exist';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER contact_debtor_exists_on_insert AFTER INSERT ON collections_work_contact
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION collections_work_contact_debtor_exists();
CREATE TRIGGER contact_debtor_exists_on_update AFTER UPDATE ON collections_work_contact
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION collections_work_contact_debtor_exists();

CREATE FUNCTION collections_work_debtor_keeps_contacts() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM gone g
             WHERE EXISTS (SELECT 1 FROM collections_work_contact c WHERE c.debtor_id = g.id)) THEN
    RAISE foreign_key_violation USING MESSAGE = 'a deleted debtor still has contacts';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER debtor_keeps_contacts AFTER DELETE ON collections_work_debtor
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION collections_work_debtor_keeps_contacts();
"""
DROP = """
DROP TRIGGER IF EXISTS contact_debtor_exists_on_insert ON collections_work_contact;
DROP TRIGGER IF EXISTS contact_debtor_exists_on_update ON collections_work_contact;
DROP FUNCTION IF EXISTS collections_work_contact_debtor_exists();
DROP TRIGGER IF EXISTS debtor_keeps_contacts ON collections_work_debtor;
DROP FUNCTION IF EXISTS collections_work_debtor_keeps_contacts();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('collections_work', '0007_account_fk_checks'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name='contact',
            name='debtor',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='collections_work.debtor'),
        ),
    ]
