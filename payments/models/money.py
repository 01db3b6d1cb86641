"""Money received on debtor accounts."""
from django.conf import settings
from django.db import models

from portal.tenancy import TenantManager, TenantModel


class Payment(TenantModel):
    """Money received against a debtor account. Reversals are new rows, never edits."""

    class Method(models.TextChoices):
        DIRECT_TO_CLIENT = "direct", "Paid directly to the client"
        CARD = "card", "Card"
        ACH = "ach", "Bank transfer (ACH)"
        CHECK = "check", "Check"
        CASH = "cash", "Cash"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    received_on = models.DateField()
    method = models.CharField(max_length=8, choices=Method.choices)
    reference = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=300, blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    credited_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="The collector whose promise or account it paid.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["agency", "credited_to", "received_on"], name="payment_credited")]

    def __str__(self):
        return f"{self.amount} on {self.received_on} ({self.get_method_display()})"
