"""Reads on payments shared with other apps' pages (scoped by the caller's tenant)."""
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from payments.models import Payment


def collected_by_collector(start: date, end: date) -> dict[int, Decimal]:
    """Money received from `start` to `end` (inclusive), by the collector it is credited to."""
    rows = (Payment.objects.filter(received_on__gte=start, received_on__lte=end, credited_to__isnull=False)
            .values("credited_to").annotate(total=Sum("amount")))
    return {row["credited_to"]: row["total"] for row in rows}
