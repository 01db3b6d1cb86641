"""Counts read with thousands separators on the queue pages and the intake pages (issue 13, item 20)."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import time_machine
from django.urls import reverse

from collections_work.models import DebtorAccount, PlacementBatch
from portal.tenancy import tenant_scope
from tests.factories import DebtorAccountFactory

NOON_NY = datetime(2026, 12, 2, 17, 0, tzinfo=dt_timezone.utc)  # every US zone inside the calling hours


def many_open_accounts(client, count):
    """`count` open accounts of one debtor, written at once (a page's counts need many rows, not many debtors)."""
    first = DebtorAccountFactory(client=client, client_reference="MANY-0", debt_purpose="commercial",
                                 placed_at=NOON_NY - timedelta(days=3))
    DebtorAccount.objects.bulk_create([
        DebtorAccount(agency_id=first.agency_id, client_id=first.client_id, debtor_id=first.debtor_id,
                      debtor_name=first.debtor_name, debtor_time_zone=first.debtor_time_zone,
                      client_reference=f"MANY-{n}", debt_purpose="commercial", status="active",
                      principal=Decimal("100.00"), balance=Decimal("100.00"), placed_at=first.placed_at)
        for n in range(1, count)])


def test_queue_pages_count_with_thousands_separators(world, client):
    with tenant_scope(world.alpha.agency):
        many_open_accounts(world.alpha.clients[0].client, 1_234)
    with time_machine.travel(NOON_NY, tick=False):  # signed in at that time too: a session has an age
        client.force_login(world.alpha.collector)
        home = client.get(reverse("worklist_home")).content.decode()
        assert ">1,000+<" in home  # "ready now" is counted up to 1,000
        default_queue = home.split('href="/worklist/queues/', 1)[1].split("/", 1)[0]
        queue = client.get(f"/worklist/queues/{default_queue}/").content.decode()
        assert "1,000+ accounts ready now" in queue
    with time_machine.travel(NOON_NY, tick=False):
        client.force_login(world.alpha.manager)
        manage = client.get(reverse("worklist_manage")).content.decode()
    assert ">1,234<" in manage and ">1234<" not in manage


def test_intake_pages_count_with_thousands_separators(world, signed_in):
    persona = world.alpha.clients[0]
    with tenant_scope(world.alpha.agency):
        PlacementBatch.objects.create(agency=world.alpha.agency, client=persona.client, created_by=persona.admin,
                                      source="upload", file_name="big.csv", status="completed", total_rows=13_579,
                                      valid_rows=12_345, invalid_rows=1_234, created_count=12_345)
    summary = signed_in(persona.user).get(reverse("placement_summary")).content.decode()
    assert ">12,345<" in summary and ">1,234<" in summary
    history = signed_in(persona.admin).get(reverse("placement_list")).content.decode()
    assert "13,579" in history and "12,345" in history and "13579" not in history
    by_client = signed_in(world.alpha.admin).get(reverse("intake_summary")).content.decode()
    assert ">1,234<" in by_client  # rejected rows


def test_every_page_names_a_favicon_that_is_served(client):
    from django.contrib.staticfiles import finders

    page = client.get("/accounts/login/").content.decode()
    for name in ("favicon.ico", "favicon.svg", "apple-touch-icon.png"):
        assert f'href="/static/{name}"' in page, name
        assert finders.find(name), name
