"""The trust ledger's guards in the database (PostgreSQL): journal entries and lines are never
updated or deleted, and an entry whose lines do not balance is refused at commit (a deferred
constraint trigger, so the lines of one entry can be inserted one by one). Direct payments
recorded before the ledger existed become payments received by the client."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION payments_ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the trust ledger is append-only (% refused): post a correcting entry', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_journalentry_append_only BEFORE UPDATE OR DELETE ON payments_journalentry
  FOR EACH ROW EXECUTE FUNCTION payments_ledger_append_only();
CREATE TRIGGER payments_journalline_append_only BEFORE UPDATE OR DELETE ON payments_journalline
  FOR EACH ROW EXECUTE FUNCTION payments_ledger_append_only();

CREATE OR REPLACE FUNCTION payments_journal_balances() RETURNS trigger AS $$
DECLARE
  difference numeric;
BEGIN
  SELECT COALESCE(SUM(debit), 0) - COALESCE(SUM(credit), 0) INTO difference
    FROM payments_journalline WHERE entry_id = NEW.entry_id;
  IF difference <> 0 THEN
    RAISE EXCEPTION 'journal entry % does not balance: debits minus credits is %', NEW.entry_id, difference
      USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER payments_journal_balances AFTER INSERT ON payments_journalline
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_journal_balances();
"""
DROP = """
DROP TRIGGER IF EXISTS payments_journal_balances ON payments_journalline;
DROP FUNCTION IF EXISTS payments_journal_balances();
DROP TRIGGER IF EXISTS payments_journalline_append_only ON payments_journalline;
DROP TRIGGER IF EXISTS payments_journalentry_append_only ON payments_journalentry;
DROP FUNCTION IF EXISTS payments_ledger_append_only();
"""


def forwards(apps, schema_editor):
    apps.get_model("payments", "Payment").objects.filter(method="direct").update(received_by="client", source="client")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0005_payments_ledger")]
    operations = [migrations.RunPython(forwards, backwards)]
