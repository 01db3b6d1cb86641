"""Debtors, debtor accounts, placements, activities and queues (filled by later issues)."""
