"""Tenant scoping that fails closed.

Every tenant-owned model uses `TenantManager`. Its querysets read the scope of the current
request or task (a context variable): the agency, and for client users also the client. With
no scope active, any query on tenant data raises `TenantScopeError` instead of returning every
agency's rows. Code that must see across tenants (the superuser admin, migrations of data,
management commands) says so with `unscoped()`.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import models
from django.http import Http404


class TenantScopeError(RuntimeError):
    """A query on tenant data ran with no tenant in scope."""


@dataclass(frozen=True)
class Scope:
    agency_id: int | None  # None only for the all-tenants scope
    client_id: int | None = None
    all_tenants: bool = False


_ALL = Scope(agency_id=None, all_tenants=True)
_current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("tenant_scope", default=None)


def current_scope() -> Scope | None:
    return _current_scope.get()


def scope_sql(alias: str, *, client_column: str | None = "client_id") -> tuple[str, list]:
    """For hand-written SQL on a tenant table aliased `alias`: the " AND ..." conditions and their
    parameters that keep it to the current scope, as TenantManager does (the agency, and the
    client when the scope has one and `client_column` is given; nothing for the all-tenants
    scope). Raises TenantScopeError with no scope."""
    scope = _current_scope.get()
    if scope is None:
        raise TenantScopeError("Hand-written SQL with no tenant in scope; wrap it in tenant_scope(agency) or unscoped().")
    if scope.all_tenants:
        return "", []
    sql, params = f" AND {alias}.agency_id = %s", [scope.agency_id]
    if scope.client_id is not None and client_column:
        sql, params = sql + f" AND {alias}.{client_column} = %s", params + [scope.client_id]
    return sql, params


@contextmanager
def tenant_scope(agency, client=None):
    """Run the block as `agency` (and, for client users, `client`). Accepts objects or ids."""
    agency_id = getattr(agency, "pk", agency)
    client_id = getattr(client, "pk", client)
    if agency_id is None:
        raise TenantScopeError("tenant_scope() needs an agency.")
    token = _current_scope.set(Scope(agency_id=agency_id, client_id=client_id))
    try:
        yield
    finally:
        _current_scope.reset(token)


@contextmanager
def unscoped():
    """Deliberately see every tenant's rows (superuser admin, maintenance commands)."""
    token = _current_scope.set(_ALL)
    try:
        yield
    finally:
        _current_scope.reset(token)


def activate_scope(scope: Scope | None):
    """For middleware: set the scope and return a token to reset it with."""
    return _current_scope.set(scope)


def deactivate_scope(token) -> None:
    _current_scope.reset(token)


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Filters by the scope's agency, and by its client where the model has one.

    `client_lookup` names how a row belongs to a client: "client" for client-owned rows,
    "pk" for the Client model itself, None for rows owned by the agency alone.
    """

    def __init__(self, client_lookup: str | None = None):
        super().__init__()
        self.client_lookup = client_lookup

    def deconstruct(self):
        # Migrations need no knowledge of the scoping argument.
        return super().deconstruct()[:2] + (None, [], {})

    def _scope(self) -> Scope:
        scope = _current_scope.get()
        if scope is None:
            raise TenantScopeError(
                f"Query on {self.model.__name__} with no tenant in scope; "
                "wrap it in tenant_scope(agency) or unscoped()."
            )
        return scope

    def create(self, **kwargs):
        """As QuerySet.create, without building the scoped queryset an INSERT does not use (a
        payment post makes several rows; the filter cost more than the INSERT's own Python)."""
        self._scope()
        return super().get_queryset().create(**kwargs)

    def raw(self, raw_query, params=(), translations=None, using=None):
        """As QuerySet.raw, without the scoped queryset raw SQL ignores: the SQL keeps itself to
        the scope (scope_sql). Raises TenantScopeError with no scope, as a query would."""
        self._scope()
        return super().get_queryset().raw(raw_query, params, translations, using)

    def get_queryset(self):
        scope = self._scope()
        queryset = super().get_queryset()
        if scope.all_tenants:
            return queryset
        queryset = queryset.filter(agency_id=scope.agency_id)
        if scope.client_id is not None and self.client_lookup:
            queryset = queryset.filter(**{self.client_lookup: scope.client_id})
        return queryset


class TenantModel(models.Model):
    """Abstract base for rows that belong to one agency."""

    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True


def get_scoped_or_404(queryset_or_model, **lookup):
    """Fetch one row visible in the current scope, or 404 (never 403) for anything else."""
    manager = getattr(queryset_or_model, "objects", queryset_or_model)
    try:
        return manager.get(**lookup)
    except (manager.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def each_agency():
    """For timed jobs: yield every agency's id, with that agency's scope open while the caller
    works on it (one agency at a time, so a job never mixes tenants)."""
    from django.apps import apps

    with unscoped():
        agency_ids = list(apps.get_model("accounts", "Agency").objects.values_list("pk", flat=True))
    for agency_id in agency_ids:
        with tenant_scope(agency_id):
            yield agency_id
