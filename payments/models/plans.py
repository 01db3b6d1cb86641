"""Accepted payment plans and their installments."""
from decimal import Decimal

from django.conf import settings
from django.db import models

from payments.models.offers import Frequency, PlanOffer
from portal.tenancy import TenantManager, TenantModel

ZERO = Decimal("0.00")


class PaymentPlan(TenantModel):
    """A plan the debtor accepted (e-signed): its installments are the schedule they agreed to.
    While it is CURRENT the account is on a plan and out of the queues."""

    class Status(models.TextChoices):
        CURRENT = "current", "Current"
        COMPLETED = "completed", "Completed"
        BROKEN = "broken", "Broken"
        CANCELLED = "cancelled", "Cancelled"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.CASCADE, related_name="plans")
    offer = models.OneToOneField(PlanOffer, on_delete=models.PROTECT, related_name="plan")
    kind = models.CharField(max_length=12, choices=PlanOffer.Kind.choices)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.MONTHLY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CURRENT)
    accepted_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-accepted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account"], condition=models.Q(status="current"),
                                               name="one_current_plan_per_account")]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.total_amount} ({self.get_status_display()})"


class Installment(TenantModel):
    """One scheduled payment of a plan. It can be partly paid; `missed_at` is when the portal
    noticed it unpaid after its due date (the debtor's local day)."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="installments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=14, decimal_places=2, default=ZERO)
    is_down_payment = models.BooleanField(default=False)
    missed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="installment_number_unique")]
        indexes = [models.Index(fields=["due_date"], name="installment_due")]

    def __str__(self):
        return f"#{self.number} {self.amount} due {self.due_date}"

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.paid_amount
