"""Offers of a payment plan or settlement, and the clients' self-service plan rules."""
from decimal import Decimal

from django.conf import settings
from django.db import models

from portal.tenancy import TenantManager, TenantModel

ZERO = Decimal("0.00")


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    BIWEEKLY = "biweekly", "Every two weeks"
    MONTHLY = "monthly", "Monthly"


class PlanOffer(TenantModel):
    """A payment-plan or settlement offer on an account.

    A collector builds it in the workspace; within the client's contract terms it is ready to
    send (DRAFT), beyond them it waits for the client (AWAITING_CLIENT -> APPROVED or DECLINED).
    Sent to the debtor by a secure link (SENT), it is ACCEPTED by the debtor's e-signature, or
    EXPIRED with its link, or WITHDRAWN. A plan the debtor builds outside the self-service rules
    arrives as REQUESTED, for the agency to answer. The schedule is computed from these fields
    by payments.schedule (never stored twice)."""

    class Kind(models.TextChoices):
        SETTLEMENT_IN_FULL = "full", "Settlement in full"
        LUMP_SUM = "lump_sum", "Discounted lump sum"
        INSTALLMENTS = "installments", "Installments"

    class Status(models.TextChoices):
        DRAFT = "draft", "Ready to send"
        AWAITING_CLIENT = "awaiting", "Awaiting the client"
        APPROVED = "approved", "Approved by the client"
        DECLINED = "declined", "Declined by the client"
        REQUESTED = "requested", "Requested by the debtor"
        SENT = "sent", "Sent to the debtor"
        ACCEPTED = "accepted", "Accepted"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.CASCADE, related_name="offers")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    installment_count = models.PositiveSmallIntegerField(default=1, help_text="Installments after any down payment.")
    installment_amount = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="Set when the plan was built by installment amount: the last one takes what is left.")
    first_due_date = models.DateField()
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.MONTHLY)
    down_payment = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    outside_terms = models.JSONField(default=list, blank=True, help_text="Where it goes beyond the client's terms.")
    note = models.TextField(blank=True, help_text="The collector's note, or what the debtor wrote with a request.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "status"], name="offer_status")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.total_amount}"

    @property
    def can_be_sent(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.APPROVED, self.Status.SENT)


class PlanRule(TenantModel):
    """What a debtor may choose without asking anyone, per client and balance range.

    A rule covers balances from `balance_from` up to `balance_to` (inclusive; empty: no upper
    bound). With no rules saved, a client's contract terms give one rule for every balance."""

    client = models.ForeignKey("accounts.Client", on_delete=models.CASCADE, related_name="plan_rules")
    balance_from = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    balance_to = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    min_installment = models.DecimalField("smallest installment", max_digits=12, decimal_places=2)
    max_months = models.PositiveSmallIntegerField("longest plan (months)")
    min_settlement_percent = models.DecimalField("lowest settlement %", max_digits=5, decimal_places=2)
    max_defer_days = models.PositiveSmallIntegerField("days the first payment may wait", default=30)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["client", "balance_from"]

    def __str__(self):
        upper = f"{self.balance_to:,.2f}" if self.balance_to is not None else "+"
        return f"{self.balance_from:,.2f}-{upper}"
