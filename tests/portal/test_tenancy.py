"""Tenant scoping fails closed: no scope, no rows; a scope shows one agency (and one client)."""
import pytest

from accounts.models import Client, Membership
from portal.tenancy import TenantScopeError, get_scoped_or_404, tenant_scope, unscoped
from django.http import Http404


def test_a_tenant_query_with_no_scope_raises_instead_of_returning_everything(world):
    with pytest.raises(TenantScopeError, match="no tenant in scope"):
        list(Client.objects.all())
    with pytest.raises(TenantScopeError):
        Membership.objects.count()
    with pytest.raises(TenantScopeError, match="no tenant in scope"):  # creating a row is checked too
        Client.objects.create(agency=world.alpha.agency, name="Made with no scope")
    with unscoped():
        assert not Client.objects.filter(name="Made with no scope").exists()


def test_an_agency_scope_sees_only_that_agencys_rows(world):
    with tenant_scope(world.alpha.agency):
        names = set(Client.objects.values_list("name", flat=True))
    assert names == {"Alpha Recovery Client 1", "Alpha Recovery Client 2"}


def test_a_client_scope_sees_only_that_clients_rows(world):
    first = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency, first.client):
        assert list(Client.objects.all()) == [first.client]
        assert {m.user for m in Membership.objects.all()} == {first.admin, first.user}


def test_scoped_lookup_of_another_tenants_row_is_a_404(world):
    foreign = world.bravo.clients[0].client
    with tenant_scope(world.alpha.agency), pytest.raises(Http404):
        get_scoped_or_404(Client, pk=foreign.pk)
    with tenant_scope(world.alpha.agency), pytest.raises(Http404):
        get_scoped_or_404(Client, pk="not-a-number")


def test_scopes_nest_and_restore(world):
    with tenant_scope(world.alpha.agency):
        with tenant_scope(world.bravo.agency):
            assert Client.objects.filter(name__startswith="Bravo").count() == 2
        assert Client.objects.filter(name__startswith="Bravo").count() == 0
    with unscoped():
        assert Client.objects.count() == 4
    with pytest.raises(TenantScopeError):
        Client.objects.count()
