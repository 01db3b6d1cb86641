"""Account search on PostgreSQL: anywhere in the reference or the debtor's name, case- and
accent-insensitive, answered by a trigram index (collections_work/debtor_accounts/search.py).

    portal_fold(text)                          lower(unaccent(text)), IMMUTABLE
    portal_account_search(name, reference)     portal_fold(name || ' ' || reference)
    acct_search                                GIN (portal_account_search(debtor_name, client_reference) gin_trgm_ops)

unaccent() is only STABLE (its dictionary is looked up by name), so an index cannot use it as it
is. Where the migration may (a superuser), `portal_unaccent` declares unaccent's C function
IMMUTABLE with the dictionary fixed, and both SQL functions are then inlined into the index
expression and the queries (measured: 1.3 us a row to fold, against 4.4 us through a SQL
wrapper that calls the STABLE function, which cannot be inlined). Without that right the wrapper
is used: the same results, a little slower to write. Every name in the function bodies is
schema-qualified, so a restore with an empty search_path can rebuild the index.

The index is built CONCURRENTLY (not atomic), so a running portal keeps writing meanwhile.
SQLite registers the same two functions in Python on every connection (collections_work.apps).
"""
from django.db import migrations

INDEX = "acct_search"
TABLE = "collections_work_debtoraccount"


def _schema_of(cursor, extension):
    cursor.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                   "WHERE e.extname = %s", [extension])
    return cursor.fetchone()[0]


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        cursor.execute("SELECT current_schema()")
        own = cursor.fetchone()[0]
        unaccent_schema, trgm_schema = _schema_of(cursor, "unaccent"), _schema_of(cursor, "pg_trgm")
        dictionary = f"'{unaccent_schema}.unaccent'::regdictionary"
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute(f"""CREATE OR REPLACE FUNCTION "{own}".portal_unaccent(regdictionary, text) RETURNS text
                LANGUAGE c IMMUTABLE PARALLEL SAFE STRICT AS '$libdir/unaccent', 'unaccent_dict'""")
            unaccent = f'"{own}".portal_unaccent({dictionary}, $1)'
        else:
            unaccent = f'"{unaccent_schema}".unaccent({dictionary}, $1)'
        cursor.execute(f"""CREATE OR REPLACE FUNCTION "{own}".portal_fold(text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT pg_catalog.lower({unaccent}) $$""")
        cursor.execute(f"""CREATE OR REPLACE FUNCTION "{own}".portal_account_search(text, text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT "{own}".portal_fold(coalesce($1, '') || ' ' || coalesce($2, '')) $$""")
        cursor.execute(f"""CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON {TABLE}
            USING gin ("{own}".portal_account_search(debtor_name, client_reference) "{trgm_schema}".gin_trgm_ops)""")


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        cursor.execute("DROP FUNCTION IF EXISTS portal_account_search(text, text)")
        cursor.execute("DROP FUNCTION IF EXISTS portal_fold(text)")
        cursor.execute("DROP FUNCTION IF EXISTS portal_unaccent(regdictionary, text)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('collections_work', '0015_placement_jobs'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
