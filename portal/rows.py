"""Writing model rows with SQL built once per model, and sending them together, for hot paths.

A payment post writes eight rows. Through Model.save() and QuerySet.create() much of a post's
CPU went on building the same INSERT and UPDATE statements again on every call, and on this
machine every statement's round trip to PostgreSQL costs about 0.3 ms of CPU (bench/payments).
`insert`, `insert_many` and `update` send the statements save() would send, with the same
per-field conversion (Field.pre_save, so auto_now and auto_now_add apply, then
Field.get_db_prep_save), from SQL kept per model and field list. Inside `batched()` (PostgreSQL)
the writes whose results nobody waits for are held and sent in one round trip: see there.

What they leave out: pre_save/post_save signals (they refuse a model that has receivers for
them), model validation (save() does none either), and expressions (F(), Now()) as values. A
model whose fields the database fills in (db_default, GeneratedField) goes through save().
"""
import contextvars
import re
import weakref
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import DEFERRED, signals


def _db():
    """The default database's connection itself: `django.db.connection` is a proxy whose every
    attribute goes through a thread-local lookup, which the field conversions make thousands of."""
    return connections[DEFAULT_DB_ALIAS]


class RowWriteError(ValueError):
    """A row these helpers cannot write as save() would (the message says why)."""


def _check(model) -> None:
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        raise RowWriteError(f"{model.__name__} has save signal receivers: write it with save().")


@cache
def _insert_plan(model, with_pk: bool, vendor: str):
    """(the fields written, the INSERT's start, one row's placeholders, the RETURNING clause);
    `with_pk`: the rows carry their primary key (reserved beforehand)."""
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields if with_pk or field is not meta.auto_field]
    if any(field.generated or field.has_db_default() for field in fields):
        raise RowWriteError(f"{model.__name__} has columns the database fills in: write it with save().")
    quote = _db().ops.quote_name
    start = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) VALUES "
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return fields, start, placeholders, f" RETURNING {quote(meta.pk.column)}"


def _values(obj, fields, add: bool, db) -> list:
    values = []
    for field in fields:
        value = field.pre_save(obj, add)
        if hasattr(value, "resolve_expression"):
            raise RowWriteError(f"{type(obj).__name__}.{field.name} is an expression: write it with save().")
        values.append(field.get_db_prep_save(value, db))
    return values


class _Held:
    """The writes held by batched(): SQL texts and their parameters, in order."""

    def __init__(self):
        self.sql, self.params, self.sending = [], [], False

    def take(self, sql: str = "", params=()) -> tuple[str, list]:
        """The held writes followed by `sql` as one text (psycopg2 sends it in one round trip and
        returns the last statement's rows), and their parameters; nothing is held after."""
        texts, values = [*self.sql, sql] if sql else self.sql, [*self.params, *params]
        self.sql, self.params = [], []
        return ";\n".join(texts), values

    def send_first(self, execute, sql, params, many, context):
        """Django's execute wrapper: any other statement (a read, an ORM write, a savepoint)
        waits until the held writes are sent, so it sees them."""
        if self.sql and not self.sending:
            self.sending = True
            try:
                with _db().cursor() as cursor:
                    cursor.execute(*self.take())
            finally:
                self.sending = False
        return execute(sql, params, many, context)


_held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("rows_held", default=None)


@contextmanager
def batched():
    """Hold the writes of insert/insert_many/update made in the block and send them together:
    when the block ends, with the next write that must return an id, or before any other
    statement (so a read in the block sees them). Use it inside transaction.atomic(): a write
    that fails raises where they are sent, and the transaction is rolled back.

    A write is held when nothing is waited for: an UPDATE (its row count is not checked, so
    update only rows you hold locked), an INSERT of rows that carry their primary key (ids
    reserved beforehand) or of rows inserted with `returning=False`. PostgreSQL only (it takes
    several statements in one text); elsewhere every write is sent at once."""
    db = _db()
    if db.vendor != "postgresql" or _held.get() is not None:
        yield
        return
    held = _Held()
    token = _held.set(held)
    try:
        with db.execute_wrapper(held.send_first):
            yield
            if held.sql:
                with db.cursor() as cursor:
                    cursor.execute(*held.take())
    finally:
        _held.reset(token)


# Statements prepared on each PostgreSQL connection ({SQL: name}), by the psycopg2 connection:
# a new connection (Django reconnects) starts empty, and a closed one's entry goes with it.
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
PREPARED_MAX_PARAMS = 200  # a journal entry's lines are 2-4 rows of 6


def _prepared_call(db, sql: str, param_count: int) -> str:
    """`sql` as the EXECUTE of a prepared statement (PostgreSQL): planning a statement cost about
    0.2 ms of the database's CPU each time, more than running it, and a prepared one is planned
    once per connection (PostgreSQL then keeps a generic plan when it is as good). The PREPARE
    is sent alone the first time; PostgreSQL keeps it for the session even when the
    transaction rolls back. Elsewhere, with DB_PREPARED_STATEMENTS off (a pooler in transaction
    mode, which moves sessions between clients), for SQL with %% or named placeholders, or for
    a long insert_many (each row count would be another statement kept), `sql` as is."""
    if (db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS or "%%" in sql or "%(" in sql
            or param_count > PREPARED_MAX_PARAMS):
        return sql
    db.ensure_connection()  # after a close, db.connection is None until the next cursor
    names = _prepared.setdefault(db.connection, {})
    name = names.get(sql)
    if name is None:
        name = f"portal_rows_{len(names) + 1}"
        numbered = iter(range(1, param_count + 1))
        with db.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS " + re.sub("%s", lambda _: f"${next(numbered)}", sql))
        names[sql] = name
    return f"EXECUTE {name}" + (f"({', '.join(['%s'] * param_count)})" if param_count else "")


def _send(sql: str, params: list, *, waits: bool):
    """Run one statement, or hold it (batched, `waits` False); returns its rows when `waits`."""
    sql = _prepared_call(_db(), sql, len(params))
    held = _held.get()
    if held is not None and not waits:
        held.sql.append(sql)
        held.params.extend(params)
        return None
    if held is not None:
        sql, params = held.take(sql, params)
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        if waits:
            return cursor.fetchall()
        return cursor.rowcount


def insert_many(objs: list, *, returning: bool = True) -> list:
    """INSERT the unsaved instances `objs` (one model) in one statement, as save(force_insert=True)
    would write each, and mark them saved. Returns `objs`. Each gets its primary key, unless it
    carried one already or `returning` is False and the rows are held by batched() (then nobody
    may read the ids: they stay None).

    Raises RowWriteError for a saved instance, a model with save signal receivers, an
    expression as a value or columns the database fills in; the database's IntegrityError as
    save() would (inside batched(), where the writes are sent). Like save(), it writes the
    tenant ids the instance holds (no scope is needed)."""
    if not objs:
        return objs
    model = type(objs[0])
    _check(model)
    if any(obj._state.adding is False or type(obj) is not model for obj in objs):
        raise RowWriteError(f"insert writes new {model.__name__} rows only.")
    with_pk = objs[0].pk is not None
    if any((obj.pk is not None) != with_pk for obj in objs):
        raise RowWriteError(f"Insert {model.__name__} rows with their ids, or all without.")
    db = _db()
    fields, start, placeholders, returning_sql = _insert_plan(model, with_pk, db.vendor)
    params = [value for obj in objs for value in _values(obj, fields, True, db)]
    sql = start + ", ".join([placeholders] * len(objs))
    waits = not with_pk and (returning or _held.get() is None)
    ids = _send(sql + returning_sql if waits else sql, params, waits=waits)
    for index, obj in enumerate(objs):
        if waits:  # RETURNING keeps the VALUES order (as bulk_create relies on)
            obj.pk = ids[index][0]
        obj._state.adding, obj._state.db = False, db.alias
    return objs


def insert(obj, *, returning: bool = True):
    """INSERT one unsaved instance as save(force_insert=True) would; returns it, saved. Raises
    as insert_many, which says when its primary key stays None."""
    return insert_many([obj], returning=returning)[0]


@cache
def _update_sql(model, field_names: tuple[str, ...], vendor: str):
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    if any(field.primary_key or field.generated or not field.concrete for field in fields):
        raise RowWriteError(f"{model.__name__}: update writes plain columns only.")
    quote = _db().ops.quote_name
    sets = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return fields, f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s"


def update(obj, fields: list[str]) -> None:
    """UPDATE the saved instance `obj`'s `fields` (names) as save(update_fields=fields) would,
    auto_now fields among them set to now. Raises DatabaseError when no row has its primary key
    (as save() does; not checked inside batched()), RowWriteError as insert_many."""
    model = type(obj)
    _check(model)
    db = _db()
    plan_fields, sql = _update_sql(model, tuple(fields), db.vendor)
    if _send(sql, [*_values(obj, plan_fields, False, db), obj.pk], waits=False) == 0:
        raise DatabaseError("Save with update_fields did not affect any rows.")


@cache
def _select_plan(model, columns: tuple[str, ...], vendor: str):
    """How a row of `columns` becomes a `model` instance: (each concrete field's column index, or
    None when the row lacks it; {index: (converters, Col)}; the other columns' (index, name))."""
    meta = model._meta
    index = {name: position for position, name in enumerate(columns)}
    positions = [index.get(field.column) for field in meta.concrete_fields]
    converters, db = {}, _db()
    for field, position in zip(meta.concrete_fields, positions):
        if position is not None:
            col = field.get_col(meta.db_table)
            found = db.ops.get_db_converters(col) + col.get_db_converters(db)
            if found:
                converters[position] = (found, col)
    taken = {field.column for field in meta.concrete_fields}
    extras = [(position, name) for position, name in enumerate(columns) if name not in taken]
    return positions, converters, extras


@cache
def columns(model, alias: str = "") -> str:
    """The model's columns for a SELECT list, quoted, each after `alias.` when given. Named, not
    `*`: a prepared statement's `*` is fixed when it is prepared, and a column added later (a
    migration while connections stay open) would fail it."""
    quote, prefix = _db().ops.quote_name, f"{alias}." if alias else ""
    return ", ".join(prefix + quote(field.column) for field in model._meta.concrete_fields)


def select(model, sql: str, params: list) -> list:
    """Instances of `model` from hand-written SQL, as QuerySet.raw() makes them but with the
    column mapping and the backend's converters worked out once per column list: the model's
    columns (any order; a missing one is deferred) become its fields, other columns become
    attributes of the same name. Returns a list (the rows are read at once)."""
    db = _db()
    sql = _prepared_call(db, sql, len(params))
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        columns = tuple(column[0] for column in cursor.description)
    positions, converters, extras = _select_plan(model, columns, db.vendor)
    instances = []
    for row in rows:
        row = list(row)
        for position, (functions, col) in converters.items():
            for function in functions:
                row[position] = function(row[position], col, db)
        obj = model(*[DEFERRED if position is None else row[position] for position in positions])
        obj._state.adding, obj._state.db = False, db.alias
        for position, name in extras:
            setattr(obj, name, row[position])
        instances.append(obj)
    return instances
