"""Letters in the worker: a validation notice after an account's first contact, and each day's
print batch. Task names are explicit so queued messages and schedules find them."""
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from collections_work.letters import services
from collections_work.models import DebtorAccount
from portal.tenancy import each_agency, tenant_scope


@shared_task(name="collections_work.letters.validation_notice", acks_late=True, reject_on_worker_lost=True)
def validation_notice(account_id: int, agency_id: int):
    """Make the account's validation notice if it has none (safe to run any number of times)."""
    with tenant_scope(agency_id):
        account = DebtorAccount.objects.select_related("debtor", "client", "agency").filter(pk=account_id).first()
        letter = services.validation_notice_ensure(account) if account is not None else None
        return letter.status if letter else "none"


def after_first_contact(account) -> None:
    """Called inside the transaction of a contact with the debtor: once it commits, the worker
    makes the validation notice (consumer accounts; once)."""
    if account.debt_purpose == "consumer":
        transaction.on_commit(lambda: validation_notice.delay(account.pk, account.agency_id))


@shared_task(name="collections_work.letters.print_batches", acks_late=True, reject_on_worker_lost=True)
def print_batches():
    """Every agency's letters queued for print become today's batch (one PDF each; the agency's
    date), after making the validation notices whose hand-off was lost. Once per agency and day
    (a unique key); a re-run finds the day's batch made."""
    from zoneinfo import ZoneInfo

    from accounts.models import Agency

    made = 0
    for agency_id in each_agency():
        day = timezone.localdate(timezone=ZoneInfo(Agency.objects.get(pk=agency_id).time_zone))
        for account in services.accounts_missing_validation_notice():  # a lost hand-off: caught up here
            services.validation_notice_ensure(account)
        made += services.print_batch_make(agency_id=agency_id, day=day) is not None
    return made
