"""Background tasks of the accounts app."""
from celery import shared_task

from accounts import lockout


@shared_task(name="accounts.tasks.signin_failures_prune")
def signin_failures_prune():
    """Hourly: forget failed sign-ins older than a day (the audit log keeps them)."""
    return lockout.signin_failures_prune()
