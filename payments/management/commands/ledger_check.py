"""`manage.py ledger_check`: every journal entry balances, and every account's paid amount (since
placement) equals its payments less their reversals. Prints what it checked; exits 1 with the
differences when anything is off."""
import time

from django.core.management.base import BaseCommand

from payments.ledger import selectors


class Command(BaseCommand):
    help = "Check that the trust ledger balances and matches the accounts' payments (exit 1 if not)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        entries, lines, accounts = selectors.ledger_counts()
        unbalanced = selectors.unbalanced_entries()
        mismatched = selectors.accounts_not_matching_payments()
        seconds = time.perf_counter() - started
        self.stdout.write(f"Checked {entries:,} journal entries ({lines:,} lines) and {accounts:,} debtor accounts "
                          f"in {seconds:.2f} s.")
        for entry_id, difference in unbalanced[:50]:
            self.stdout.write(f"  entry {entry_id} does not balance: debits - credits = {difference:,.2f}")
        for account_id, paid, net in mismatched[:50]:
            self.stdout.write(f"  account {account_id}: paid since placement {paid:,.2f}, payments less reversals "
                              f"{net:,.2f}")
        if unbalanced or mismatched:
            self.stdout.write(self.style.ERROR(
                f"{len(unbalanced):,} unbalanced entries, {len(mismatched):,} accounts not matching their payments."))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("The ledger balances and matches every account's payments."))
