"""Posting payments from a bank lockbox or processor file: the "payments" batch kind.

The file goes through placement intake's machinery (collections_work.placements: upload, reading
in the sandbox, mapping with saved mappings, row errors, preview, one all-or-nothing commit with
a progress bar, the rejected-rows CSV); this module is what is particular to payments, registered
in payments.apps as a batch kind (collections_work.placements.intake.kinds):

    prepare(batch)  a BatchLookup: the client's accounts (by client reference or portal ID), their
                    balances, the idempotency keys already posted, and the preview's figures
    write(...)      posts each row through payments.posting.services.payment_post (idempotency,
                    allocation, installments, commission, ledger, timeline, audit) inside the
                    commit's one transaction: a row that fails there rolls the whole file back
    may_use         agency admins and managers (payments received by the agency's trust account)
"""
from decimal import Decimal

from accounts import permissions
from collections_work.debtor_accounts.actions import NO_PAYMENTS_STATUSES
from collections_work.models import DebtorAccount
from collections_work.placements.intake import kinds
from collections_work.placements.intake.commit import CommitCounts
from collections_work.placements.intake.files import IntakeError
from payments.batch import rows
from payments.models import Payment
from payments.limits import latest_payment_date
from payments.posting.services import payment_post
from portal.errors import DomainError

KIND = "payments"
BEAT_ROWS = 25  # rows posted between progress reports
PRELOAD_LIMIT = 100_000  # accounts (or keys) read at once for a file's check; past it, one query per row


def key_prefix(client_id: int) -> str:
    """Keys from a file are per client: two clients' files may both say "txn:1001"."""
    return f"file:{client_id}:"


class BatchLookup:
    """The database facts a payment row is checked against, read as the rows need them (one
    query per new reference or key, cached for the file), and the preview's figures."""

    def __init__(self, batch):
        self.client_id = batch.client_id
        self.today = latest_payment_date(batch.agency)
        self._accounts: dict = {}
        self._posted: dict | None = None  # key -> posted payment, when all of them were read at once
        self.new = self.already = 0
        self.amount = Decimal("0.00")
        self._preload()

    def _preload(self) -> None:
        """Read the client's accounts and the keys its files posted in one query each, when they
        are at most PRELOAD_LIMIT (a query per row costs a round trip each); else per row."""
        accounts = DebtorAccount.objects.filter(client_id=self.client_id)
        if accounts.count() <= PRELOAD_LIMIT:
            for account in accounts.only("pk", "client_reference", "balance", "status", "currency"):
                found = self._account_of(account)
                self._accounts[("ref", account.client_reference)] = self._accounts[("id", account.pk)] = found
            self._complete = True
        posted = Payment.objects.filter(client_id=self.client_id, idempotency_key__startswith=key_prefix(self.client_id))
        if posted.count() <= PRELOAD_LIMIT:
            self._posted = {key: rest for key, *rest in posted.values_list(
                "idempotency_key", "account_id", "amount", "received_on", "method")}

    _complete = False  # every account of the client is in _accounts

    @staticmethod
    def _account_of(account) -> rows.Account:
        return rows.Account(pk=account.pk, reference=account.client_reference, balance=account.balance,
                            takes_payments=(account.get_status_display().lower()
                                            if account.status in NO_PAYMENTS_STATUSES else ""),
                            currency=account.currency)

    def account(self, reference: str | None, account_id: int | None) -> rows.Account | None:
        """This client's account with `reference` (else with portal id `account_id`), or None."""
        lookup = ("ref", reference) if reference else ("id", account_id)
        if lookup not in self._accounts and not self._complete:
            found = DebtorAccount.objects.filter(client_id=self.client_id)
            found = found.filter(client_reference=reference) if reference else found.filter(pk=account_id)
            account = found.only("pk", "client_reference", "balance", "status", "currency").first()
            self._accounts[lookup] = None if account is None else self._account_of(account)
        return self._accounts.get(lookup)

    def full_key(self, key: str) -> str:
        return key_prefix(self.client_id) + key

    def posted(self, key: str):
        """(account pk, amount, received on, method) of the payment posted under `key`, or None."""
        if self._posted is not None:
            found = self._posted.get(self.full_key(key))
            return None if found is None else tuple(found)
        return (Payment.objects.filter(client_id=self.client_id, idempotency_key=self.full_key(key))
                .values_list("account_id", "amount", "received_on", "method").first())

    def counted(self, amount: Decimal, *, already: bool) -> None:
        if already:
            self.already += 1
        else:
            self.new += 1
            self.amount += amount

    def summary(self) -> dict:
        """What the preview (and the finished batch) shows: rows to post, rows already posted, total."""
        return {"new": self.new, "already": self.already, "amount": str(self.amount)}


def batch_prepare(batch) -> BatchLookup:
    return BatchLookup(batch)


def batch_write(batch, records: list[tuple], lookup: BatchLookup, on_progress=None) -> CommitCounts:
    """Post `records` (payments.batch.rows) as payments received by the agency, each under its
    key from the file. Rows already posted are counted as skipped. Raises IntakeError naming
    the row when the posting service refuses one (the caller's transaction then rolls back
    every row of the file)."""
    counts = CommitCounts()
    expected = max(batch.valid_rows, 1)
    for number, record in enumerate(records, start=1):
        row_no, key, account_pk, _reference, amount, received_on, method, reference, note, already = record
        if already:
            counts.skipped += 1
            continue
        account = DebtorAccount.objects.select_related("client").get(pk=account_pk)
        origin = f"From {batch.file_name or 'a file'}, row {row_no}"
        try:
            posted = payment_post(agency=batch.agency, actor=batch.created_by, account=account, amount=amount,
                                  received_on=received_on, method=method, source=Payment.Source.FILE,
                                  reference=reference, note=f"{origin}. {note}" if note else origin,
                                  idempotency_key=lookup.full_key(key))
        except DomainError as error:
            raise IntakeError(f"Row {row_no}: {error.message} Nothing from this file was posted.") from None
        if posted.replayed:
            counts.skipped += 1
        else:
            counts.created += 1
        if on_progress is not None and number % BEAT_ROWS == 0:
            on_progress(min(99, int(100 * (counts.created + counts.skipped) / expected)))
    return counts


def may_post_batches(user, client) -> bool:
    """Agency admins and managers, for a client of their agency."""
    return permissions.role_of(user) in permissions.MANAGERS and permissions.can_place(user, client)


WORDS = {
    "title": "Payment file", "noun": "payment file", "done": "posted", "committing": "Posting payments…",
    "cancelled": "Payment file cancelled; nothing was posted.",
    "not_allowed": "Only agency admins and managers can post payments from a file.",
    "crashed": "Something went wrong while posting the payments; nothing from this file was posted. Check the rows "
               "again and post them, or upload the file again.",
}


def register() -> None:
    """Called from payments.apps: the intake machinery takes payment files from here on."""
    kinds.register(kinds.BatchKind(
        key=KIND, rows="payments.batch.rows", prepare=batch_prepare, write=batch_write, may_use=may_post_batches,
        words=WORDS, options={"default_method": ("Method when the file has none", rows.METHOD_CHOICES, "check")},
        one_of=rows.ONE_OF, templates={"detail": "payments/batch_detail.html"},
        urls={"list": "payment_batch_list", "upload": "payment_batch_upload"}, audit_prefix="payment_file"))
