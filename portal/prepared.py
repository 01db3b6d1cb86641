"""Statements prepared once per PostgreSQL session, then only EXECUTEd.

Planning a statement often costs PostgreSQL more than running it (the worklist's claim: 0.7 ms
against 0.3 ms at a million accounts; a payment post's small statements: about 0.2 ms each,
bench/payments). A statement whose text repeats with new values is prepared once per database
session; after five runs PostgreSQL keeps one generic plan when it is as good as planning each
time. Used by the worklist's claim (collections_work/worklist/claim_sql.py) and portal.rows.

Not for a connection pooler in transaction mode (PgBouncer's pool_mode=transaction), which hands a
session to another client between transactions: set DB_PREPARED_STATEMENTS=false there, and
statements are sent as they are.
"""
import secrets

from django.conf import settings

MAX_PREPARED = 200  # per session: past it, the session's statements are deallocated and prepared anew
MAX_PARAMS = 200  # a longer statement (a long multi-row INSERT) is sent as it is, not kept


def prepared(cursor, statement: str) -> str:
    """`EXECUTE name (%s, ...)` for `statement` (SQL with %s placeholders, each parameter's type
    clear from its context, as PREPARE needs), preparing it first in this session if needed; the
    statement itself on another backend, with DB_PREPARED_STATEMENTS off, for SQL with %% or
    named placeholders, or past MAX_PARAMS. `cursor`: an open Django cursor (the connection is
    made and health-checked before its session is looked up)."""
    count = statement.count("%s")
    db = cursor.db
    if (db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS or "%%" in statement or "%(" in statement
            or count > MAX_PARAMS):
        return statement
    session = _session(db)
    names = session["names"]
    name = names.get(statement)
    if name is None:
        if len(names) >= MAX_PREPARED:
            for old in names.values():
                cursor.execute(f"DEALLOCATE {old}")
            names.clear()
        session["count"] += 1
        name = f"portal_{session['prefix']}_{session['count']}"
        pieces = statement.split("%s")
        numbered = "".join(piece + (f"${number}" if number < len(pieces) else "")
                           for number, piece in enumerate(pieces, start=1))
        cursor.execute(f"PREPARE {name} AS {numbered}")  # kept by the session even if the transaction rolls back
        names[statement] = name
    return f"EXECUTE {name}" + (f" ({', '.join(['%s'] * count)})" if count else "")


def names_in_session(db) -> dict:
    """{name: statement} of what this session has prepared (the bench prints them)."""
    return {name: statement for statement, name in _session(db)["names"].items()}


def _session(db) -> dict:
    """What the connection's current database session has prepared (a new session has nothing).
    The names carry a random prefix so they cannot meet another client's in a reused server
    session (a pooler in session mode without a reset)."""
    held = getattr(db, "_portal_prepared", None)
    if held is None or held[0] is not db.connection:
        held = db._portal_prepared = (db.connection, {"prefix": secrets.token_hex(4), "count": 0, "names": {}})
    return held[1]
