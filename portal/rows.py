"""Writing model rows with SQL built once per model, and sending them together, for hot paths.

A payment post writes eight rows. Through Model.save() and QuerySet.create() much of a post's
CPU went on building the same INSERT and UPDATE statements again on every call, and on this
machine every statement's round trip to PostgreSQL costs about 0.3 ms of CPU (bench/payments).
`insert`, `insert_many` and `update` send the statements save() would send, with the same
per-field conversion (Field.pre_save, so auto_now and auto_now_add apply, then
Field.get_db_prep_save), from SQL kept per model and field list, prepared once per PostgreSQL
session (portal.prepared). Inside `batched()` (PostgreSQL) the writes whose results nobody
waits for are held and sent in one round trip: see there.

What they leave out: pre_save/post_save signals (they refuse a model that has receivers for
them), model validation (save() does none either), and expressions (F(), Now()) as values. A
model whose fields the database fills in (db_default, GeneratedField) goes through save().
"""
import contextvars
from contextlib import contextmanager
from functools import cache

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import DEFERRED, signals

from portal.prepared import prepared
from portal.tenancy import TenantManager


def _db():
    """The default database's connection itself: `django.db.connection` is a proxy whose every
    attribute goes through a thread-local lookup, which the field conversions make thousands of."""
    return connections[DEFAULT_DB_ALIAS]


class RowWriteError(ValueError):
    """A row these helpers cannot write as save() would (the message says why)."""


def _check(model) -> None:
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        raise RowWriteError(f"{model.__name__} has save signal receivers: write it with save().")
    if model._meta.proxy or model._meta.parents:  # save() writes the parents' tables too
        raise RowWriteError(f"{model.__name__} is a proxy or inherits a table: write it with save().")


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
    """The writes held by batched(): each statement's text with its values already bound (so a
    value changed after the call, or one that cannot be written, counts where the call was)."""

    def __init__(self):
        self.texts, self.sending = [], False

    def take(self) -> bytes:
        """The held writes as one text (psycopg2 sends it in one round trip and returns the last
        statement's rows); nothing is held after."""
        text, self.texts = b";\n".join(self.texts), []
        return text

    def send(self) -> None:
        if self.texts:
            self.sending = True
            try:
                with _db().cursor() as cursor:
                    cursor.execute(self.take())
            finally:
                self.sending = False

    def send_first(self, execute, sql, params, many, context):
        """Django's execute wrapper: any other statement (a read, an ORM write, a savepoint and
        its release) waits until the held writes are sent, so it sees them."""
        if not self.sending:
            self.send()
        return execute(sql, params, many, context)


_held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("rows_held", default=None)


@contextmanager
def batched():
    """Hold the writes of insert/insert_many/update made in the block and send them together:
    when the block ends, with the next write that must return an id, or before any other
    statement (a read in the block sees them; so does a savepoint, which is why a held write
    that fails may raise from an inner atomic()). PostgreSQL only (it takes several statements
    in one text); elsewhere every write is sent at once.

    Only inside transaction.atomic() (RowWriteError otherwise): a write that fails raises where
    the writes are sent, and leaving atomic() with it rolls the transaction back. An exception
    that leaves the block sends what is held first, as save() would have written it already.

    A write is held when nothing is waited for: an UPDATE (its row count is not checked, so
    update only rows you hold locked), an INSERT of rows that carry their primary key (ids
    reserved beforehand) or of rows inserted with `returning=False`."""
    db = _db()
    if not db.in_atomic_block:
        raise RowWriteError("batched() holds writes until they are needed: use it inside transaction.atomic().")
    if db.vendor != "postgresql" or _held.get() is not None:
        yield
        return
    held = _Held()
    token = _held.set(held)
    try:
        with db.execute_wrapper(held.send_first):
            try:
                yield
            except BaseException:
                try:
                    held.send()
                except DatabaseError:
                    pass  # the transaction is failing already: the first error is the one to see
                raise
            held.send()
    finally:
        _held.reset(token)


def _send(sql: str, params: list, *, waits: bool):
    """Run one statement, or hold it (batched, `waits` False); returns its rows when `waits`,
    else its row count (None when held)."""
    held = _held.get()
    with _db().cursor() as cursor:
        sql = prepared(cursor, sql)
        if held is not None and (held.texts or not waits):
            held.texts.append(cursor.mogrify(sql, params))
            if not waits:
                return None
            cursor.execute(held.take())  # the held writes and this statement in one round trip
        else:
            cursor.execute(sql, params)
        if waits:
            return cursor.fetchall()
        return cursor.rowcount


def _check_scope(model) -> None:
    """As TenantManager.create: a tenant model's row is written only with a tenant in scope."""
    manager = model._default_manager
    if isinstance(manager, TenantManager):
        manager._scope()  # raises TenantScopeError with none


def insert_many(objs: list, *, returning: bool = True, scoped: bool = True) -> list:
    """INSERT the unsaved instances `objs` (one model) in one statement, as save(force_insert=True)
    would write each, and mark them saved. Returns `objs`. Each gets its primary key, unless it
    carried one already or `returning` is False and the rows are held by batched() (then nobody
    may read the ids: they stay None). `scoped`: a tenant model needs a tenant in scope, as
    TenantManager.create does (False for rows written with none, e.g. sign-in audit events).

    Raises RowWriteError for a saved instance, a model with save signal receivers, an
    expression as a value or columns the database fills in; ValueError for a related object
    not saved yet (as save()); TenantScopeError; the database's IntegrityError as save() would
    (inside batched(), where the writes are sent)."""
    if not objs:
        return objs
    model = type(objs[0])
    _check(model)
    if scoped:
        _check_scope(model)
    if any(obj._state.adding is False or type(obj) is not model for obj in objs):
        raise RowWriteError(f"insert writes new {model.__name__} rows only.")
    with_pk = objs[0].pk is not None
    if any((obj.pk is not None) != with_pk for obj in objs):
        raise RowWriteError(f"Insert {model.__name__} rows with their ids, or all without.")
    db = _db()
    fields, start, placeholders, returning_sql = _insert_plan(model, with_pk, db.vendor)
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="save")  # a related object saved since
    params = [value for obj in objs for value in _values(obj, fields, True, db)]
    sql = start + ", ".join([placeholders] * len(objs))
    waits = not with_pk and (returning or _held.get() is None)
    ids = _send(sql + returning_sql if waits else sql, params, waits=waits)
    for index, obj in enumerate(objs):
        if waits:  # RETURNING keeps the VALUES order (as bulk_create relies on)
            obj.pk = ids[index][0]
        obj._state.adding, obj._state.db = False, db.alias
    return objs


def insert(obj, *, returning: bool = True, scoped: bool = True):
    """INSERT one unsaved instance as save(force_insert=True) would; returns it, saved. Raises
    as insert_many, which says when its primary key stays None."""
    return insert_many([obj], returning=returning, scoped=scoped)[0]


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
    fields = tuple(dict.fromkeys(fields))  # a name given twice is written once, as save() does
    if not fields:
        return
    obj._prepare_related_fields_for_save(operation_name="save", fields=[model._meta.get_field(f) for f in fields])
    db = _db()
    plan_fields, sql = _update_sql(model, fields, db.vendor)
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
    attributes of the same name. Returns a list (the rows are read at once). On PostgreSQL the
    statement is prepared (portal.prepared): each parameter's type must be clear from its
    context (`id = %s`, not `%s IS NULL` or `IN %s`)."""
    db = _db()
    with db.cursor() as cursor:
        cursor.execute(prepared(cursor, sql), params)
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
