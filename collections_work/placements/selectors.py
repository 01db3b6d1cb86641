"""Reads for the placement pages (scoped by the caller's tenant)."""
from django.db.models import Count, Max, Sum

from accounts.models import Client
from collections_work.models import DebtorAccount, PlacementBatch


def intake_by_client() -> list[dict]:
    """Per client: accounts placed, their balance, the last placement, batches and rejected rows."""
    accounts = {row["client_id"]: row for row in DebtorAccount.objects.values("client_id").annotate(
        accounts=Count("id"), last_placed=Max("placed_at"))}
    balances: dict[int, list] = {}  # per currency: amounts in different currencies are never added up
    for row in DebtorAccount.objects.values("client_id", "currency").annotate(balance=Sum("balance")).order_by(
            "client_id", "currency"):
        balances.setdefault(row["client_id"], []).append(row)
    batches = {row["client_id"]: row for row in PlacementBatch.objects.filter(kind="placement").values("client_id").annotate(
        batches=Count("id"), rejected=Sum("invalid_rows"))}
    return [{"client": client, **accounts.get(client.pk, {}), **batches.get(client.pk, {}),
             "balances": balances.get(client.pk, [])}
            for client in Client.objects.order_by("name")]
