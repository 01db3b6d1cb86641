"""Money received on debtor accounts, how each payment was allocated, and its reversals.

A payment is written once and never edited; a reversal (returned ACH, bounced check, refund,
chargeback) is a new row that undoes part or all of it. Amounts are Decimal cents.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models

from portal.tenancy import TenantManager, TenantModel

ZERO = Decimal("0.00")


def money(**kwargs):
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class Payment(TenantModel):
    """Money received against a debtor account, by the agency or directly by the client.

    `idempotency_key` (unique per agency) makes a retried post return the first payment;
    `fingerprint` is what the key was first used for (account, amount, method, date), so the same
    key for a different payment is refused. The split to fees, interest and principal and the
    commission are decided when it is posted and stored here."""

    class Method(models.TextChoices):
        CHECK = "check", "Check"
        ACH = "ach", "Bank transfer (ACH)"
        CARD = "card", "Card"
        WIRE = "wire", "Wire transfer"
        CASH = "cash", "Cash"
        MONEY_ORDER = "money_order", "Money order"
        DIRECT_TO_CLIENT = "direct", "Paid directly to the client"

    class ReceivedBy(models.TextChoices):
        AGENCY = "agency", "The agency (trust account)"
        CLIENT = "client", "The client, directly"

    class Source(models.TextChoices):
        STAFF = "staff", "Posted by agency staff"
        CLIENT = "client", "Reported by the client"
        ONLINE = "online", "Paid online by the debtor"
        AUTOPAY = "autopay", "Automatic plan payment"
        API = "api", "Reported through the API"
        FILE = "file", "Posted from a file"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.PROTECT, related_name="payments")
    amount = money()
    received_on = models.DateField()
    method = models.CharField(max_length=12, choices=Method.choices)
    received_by = models.CharField(max_length=6, choices=ReceivedBy.choices, default=ReceivedBy.AGENCY)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.STAFF)
    reference = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    to_fees = money(default=ZERO)
    to_interest = money(default=ZERO)
    to_principal = money(default=ZERO)
    commission_percent = models.DecimalField(max_digits=5, decimal_places=2, default=ZERO)
    commission = money(default=ZERO)
    reversed_amount = money(default=ZERO, help_text="Kept up to date by the reversals of this payment.")
    processor_reference = models.CharField(max_length=100, null=True, blank=True,
                                           help_text="The card processor's id (Stripe PaymentIntent).")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    credited_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="The collector whose promise or account it paid.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["agency", "credited_to", "received_on"], name="payment_credited"),
                   models.Index(fields=["agency", "received_on"], name="payment_journal")]
        constraints = [
            models.UniqueConstraint(fields=["agency", "idempotency_key"], name="payment_idempotency_key_unique"),
            models.UniqueConstraint(fields=["processor_reference"], name="payment_processor_reference_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self):
        return f"{self.amount} on {self.received_on} ({self.get_method_display()})"

    @property
    def how_paid(self) -> str:
        """How it was paid, to follow an amount in a sentence: "by check", "by bank transfer
        (ACH)", "paid to the client directly" (the method's label lowercased read "by paid
        directly to the client" and "(bank transfer (ach))")."""
        if self.method == self.Method.DIRECT_TO_CLIENT:
            return "paid to the client directly"
        label = self.get_method_display()
        return "by " + label[0].lower() + label[1:]

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.reversed_amount


class InstallmentAllocation(TenantModel):
    """How much of a payment (positive) or of a reversal (negative) went to one installment."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="installment_allocations")
    reversal = models.ForeignKey("payments.Reversal", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="installment_allocations")
    installment = models.ForeignKey("payments.Installment", on_delete=models.PROTECT, related_name="allocations")
    amount = money()

    objects = TenantManager(client_lookup="client")


class Reversal(TenantModel):
    """Money taken back from a payment: a returned ACH debit (with its return code), a bounced
    check, a card refund or a chargeback. Never more than what is left of the payment."""

    class Kind(models.TextChoices):
        RETURNED_ACH = "returned_ach", "Returned ACH"
        BOUNCED_CHECK = "bounced_check", "Bounced check"
        CARD_REFUND = "card_refund", "Card refund"
        CHARGEBACK = "chargeback", "Chargeback"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="reversals")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    amount = money()
    return_code = models.CharField(max_length=10, blank=True, help_text="The ACH return code, e.g. R01.")
    reason = models.CharField(max_length=300)
    from_fees = money(default=ZERO)
    from_interest = money(default=ZERO)
    from_principal = money(default=ZERO)
    commission = money(default=ZERO, help_text="The part of the payment's commission given back.")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "idempotency_key"], name="reversal_idempotency_key_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="reversal_amount_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.amount}"
