"""Reminders and notices to debtors on a plan or with a promise to pay (scheduled work)."""
