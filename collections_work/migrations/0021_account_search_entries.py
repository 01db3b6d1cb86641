"""The search's trigram index moves to a narrow side table (issue 13, item 12).

A name search sorted by name with tens of thousands of matches read every match's account row
(25,000 rows over 21,700 heap blocks of a 1,000,000-account table: ~250 ms). The side table holds
only what a search needs (account id, agency, client, debtor name, the folded "name reference"),
so the same search reads ~100 bytes a match, sorts there, and joins only its page's accounts.

On PostgreSQL it is kept by triggers on the account table, so every writer (placement, the
kernel, the admin, raw SQL) keeps it right without knowing of it:

    acct_search_insert    AFTER INSERT, per statement, from the transition table (a placement's
                          20,000-row chunk is one INSERT into the side table)
    acct_search_update    AFTER UPDATE OF the four columns, per row, only when one of them changed
                          (both are upserts, so a row missing or stale here is made good)
    acct_search_delete    AFTER DELETE, per statement
    acct_search_truncate  AFTER TRUNCATE

The existing accounts are copied in under a SHARE ROW EXCLUSIVE lock (writes wait; reads go on),
then the index is built and `acct_search` on the account table dropped (that last step waits for
running reads and holds off new ones for a moment). Run it with the new code: a portal still on the
old code searches without an index once this commits. Going back rebuilds `acct_search`
non-concurrently (writes wait ~15 s per 1,000,000 accounts). SQLite keeps searching the account
table (the side table stays empty there). Functions from migration 0016.
"""
import django.db.models.deletion
from django.db import migrations, models

ACCOUNTS = "collections_work_debtoraccount"
ENTRIES = "collections_work_accountsearchentry"
COLUMNS = "account_id, agency_id, client_id, debtor_name, search_text"
UPSERT = ("ON CONFLICT (account_id) DO UPDATE SET agency_id = EXCLUDED.agency_id, client_id = EXCLUDED.client_id, "
          "debtor_name = EXCLUDED.debtor_name, search_text = EXCLUDED.search_text")


def _schema_of(cursor, extension):
    cursor.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                   "WHERE e.extname = %s", [extension])
    return cursor.fetchone()[0]


def _functions(own):
    entries, search = f'"{own}".{ENTRIES}', f'"{own}".portal_account_search'
    return [
        f"""CREATE OR REPLACE FUNCTION "{own}".portal_search_entries_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
                INSERT INTO {entries} ({COLUMNS})
                SELECT id, agency_id, client_id, debtor_name, {search}(debtor_name, client_reference) FROM new_rows
                {UPSERT};  -- a data-only restore may have loaded this table first
                RETURN NULL;
            END $$""",
        f"""CREATE OR REPLACE FUNCTION "{own}".portal_search_entries_update() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
                INSERT INTO {entries} ({COLUMNS})
                VALUES (NEW.id, NEW.agency_id, NEW.client_id, NEW.debtor_name,
                        {search}(NEW.debtor_name, NEW.client_reference))
                {UPSERT};
                RETURN NULL;
            END $$""",
        f"""CREATE OR REPLACE FUNCTION "{own}".portal_search_entries_delete() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
                DELETE FROM {entries} e USING old_rows o WHERE e.account_id = o.id;
                RETURN NULL;
            END $$""",
        f"""CREATE OR REPLACE FUNCTION "{own}".portal_search_entries_truncate() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
                DELETE FROM {entries};  -- not TRUNCATE: a flush truncates both tables in one statement
                RETURN NULL;
            END $$""",
    ]


def _triggers(own):
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}"
                          for c in ("debtor_name", "client_reference", "agency_id", "client_id"))
    return [
        f"""CREATE TRIGGER acct_search_insert AFTER INSERT ON {ACCOUNTS} REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION "{own}".portal_search_entries_insert()""",
        f"""CREATE TRIGGER acct_search_update
            AFTER UPDATE OF debtor_name, client_reference, agency_id, client_id ON {ACCOUNTS}
            FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION "{own}".portal_search_entries_update()""",
        f"""CREATE TRIGGER acct_search_delete AFTER DELETE ON {ACCOUNTS} REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION "{own}".portal_search_entries_delete()""",
        f"""CREATE TRIGGER acct_search_truncate AFTER TRUNCATE ON {ACCOUNTS}
            FOR EACH STATEMENT EXECUTE FUNCTION "{own}".portal_search_entries_truncate()""",
    ]


def _schemas(cursor):
    """(the portal's own schema, pg_trgm's schema): every name in the SQL is qualified."""
    cursor.execute("SELECT current_schema()")
    return cursor.fetchone()[0], _schema_of(cursor, "pg_trgm")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        own, trgm = _schemas(cursor)
        # SHARE ROW EXCLUSIVE at once (CREATE TRIGGER's own lock), not SHARE and then an upgrade,
        # which could deadlock with another session's SHARE lock.
        cursor.execute(f"LOCK TABLE {ACCOUNTS} IN SHARE ROW EXCLUSIVE MODE")
        for statement in _functions(own) + _triggers(own):
            cursor.execute(statement)
        cursor.execute(f"""INSERT INTO {ENTRIES} ({COLUMNS})
            SELECT id, agency_id, client_id, debtor_name, "{own}".portal_account_search(debtor_name, client_reference)
            FROM {ACCOUNTS}""")
        cursor.execute(f'CREATE INDEX entry_search ON {ENTRIES} USING gin (search_text "{trgm}".gin_trgm_ops)')
        cursor.execute("DROP INDEX IF EXISTS acct_search")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        own, trgm = _schemas(cursor)
        for name in ("insert", "update", "delete", "truncate"):
            cursor.execute(f"DROP TRIGGER IF EXISTS acct_search_{name} ON {ACCOUNTS}")
            cursor.execute(f'DROP FUNCTION IF EXISTS "{own}".portal_search_entries_{name}()')
        cursor.execute(f"""CREATE INDEX IF NOT EXISTS acct_search ON {ACCOUNTS}
            USING gin ("{own}".portal_account_search(debtor_name, client_reference) "{trgm}".gin_trgm_ops)""")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_agency_autopay_settings'),
        ('collections_work', '0020_letter_hold_reason'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountSearchEntry',
            fields=[
                ('account', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='search_entry', serialize=False, to='collections_work.debtoraccount')),
                ('debtor_name', models.CharField(max_length=200)),
                ('search_text', models.TextField()),
                ('agency', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.agency')),
                ('client', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.client')),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
