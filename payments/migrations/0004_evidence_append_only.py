"""On PostgreSQL, a trigger makes the e-signature evidence append-only in the database too
(the model refuses updates and deletes; this stops raw SQL and other clients as well)."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION payments_evidence_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'acceptance evidence is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_evidence_append_only
  BEFORE UPDATE OR DELETE ON payments_acceptanceevidence
  FOR EACH ROW EXECUTE FUNCTION payments_evidence_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS payments_evidence_append_only ON payments_acceptanceevidence;
DROP FUNCTION IF EXISTS payments_evidence_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_plans_links_evidence")]
    operations = [migrations.RunPython(forwards, backwards)]
