"""Offers, plans, payments and the trust ledger (filled by later issues)."""
