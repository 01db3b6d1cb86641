"""The trust ledger: double-entry, per agency, append-only.

Every payment, reversal, settlement adjustment and remittance is one journal entry whose lines
balance to the cent (debits = credits); the database refuses an entry that does not balance (a
deferred constraint trigger on PostgreSQL) and any change or deletion. Corrections are new
entries. Lines carry the client, so a client's ledger and what is owed to it are sums.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models

from portal.models import AppendOnlyModel
from portal.tenancy import TenantManager, TenantModel


class LedgerAccount(models.TextChoices):
    """The accounts a line posts to (debit-normal: assets and expenses; the rest credit-normal)."""

    TRUST_CASH = "trust_cash", "Trust cash"
    CLIENT_PAYABLE = "client_payable", "Payable to the client"
    COMMISSION_RECEIVABLE = "commission_receivable", "Commission receivable from the client"
    COMMISSION_INCOME = "commission_income", "Commission income"
    CLAIMS_COLLECTED = "claims_collected", "Claims collected (debtor side)"
    SETTLEMENT_DISCOUNTS = "settlement_discounts", "Settlement discounts"
    CLIENT_DIRECT_COLLECTIONS = "client_direct", "Collected directly by the client"


DEBIT_NORMAL = {LedgerAccount.TRUST_CASH, LedgerAccount.COMMISSION_RECEIVABLE, LedgerAccount.SETTLEMENT_DISCOUNTS,
                LedgerAccount.CLIENT_DIRECT_COLLECTIONS}


class JournalEntry(AppendOnlyModel, TenantModel):
    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REVERSAL = "reversal", "Reversal"
        SETTLEMENT_ADJUSTMENT = "settlement", "Settlement adjustment"
        REMITTANCE = "remittance", "Remittance"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    account = models.ForeignKey("collections_work.DebtorAccount", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="journal_entries")
    reversal = models.ForeignKey("payments.Reversal", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="journal_entries")
    memo = models.CharField(max_length=300)
    effective_on = models.DateField(help_text="The day the money moved (received, returned, remitted).")
    posted_at = models.DateTimeField(auto_now_add=True)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["posted_at", "id"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["agency", "client", "posted_at"], name="journal_client")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.memo}"


class JournalLine(AppendOnlyModel, TenantModel):
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    ledger_account = models.CharField(max_length=24, choices=LedgerAccount.choices)
    debit = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    credit = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["entry", "id"]
        indexes = [models.Index(fields=["agency", "client", "ledger_account"], name="journal_line_account")]
        constraints = [models.CheckConstraint(
            condition=(models.Q(debit__gte=0, credit=0) | models.Q(credit__gte=0, debit=0)),
            name="journal_line_one_side")]

    def __str__(self):
        return f"{self.ledger_account} Dr {self.debit} Cr {self.credit}"
