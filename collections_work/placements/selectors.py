"""Reads for the placement pages (scoped by the caller's tenant)."""
from django.db.models import Count, Max, Sum

from accounts.models import Client
from collections_work.models import DebtorAccount, PlacementBatch


def intake_by_client() -> list[dict]:
    """Per client: accounts placed, their balance, the last placement, batches and rejected rows."""
    accounts = {row["client_id"]: row for row in DebtorAccount.objects.values("client_id").annotate(
        accounts=Count("id"), balance=Sum("balance"), last_placed=Max("placed_at"))}
    batches = {row["client_id"]: row for row in PlacementBatch.objects.filter(kind="placement").values("client_id").annotate(
        batches=Count("id"), rejected=Sum("invalid_rows"))}
    return [{"client": client, **accounts.get(client.pk, {}), **batches.get(client.pk, {})}
            for client in Client.objects.order_by("name")]
