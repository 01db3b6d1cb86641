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


class PlanStepSettings(TenantModel):
    """An agency's daily plan steps (payments/reminders): when a debtor on a plan hears from the
    portal, and when a plan counts as broken. No row: the defaults below."""

    reminder_days_before = models.PositiveSmallIntegerField(
        default=3, help_text="Email a reminder this many days before an installment is due (0: no reminder).")
    due_today_notice = models.BooleanField(default=True, help_text="Email a notice on the day an installment is due.")
    late_notice_grace_days = models.PositiveSmallIntegerField(
        default=5, help_text="Email a late notice this many days after an unpaid installment's due date.")
    broken_after_missed = models.PositiveSmallIntegerField(
        default=2, help_text="The plan is broken once this many installments are missed and unpaid.")
    promise_reminder = models.BooleanField(
        default=True, help_text="Email a reminder the day before a promise to pay is due.")

    class Meta:
        verbose_name = "plan step settings"
        verbose_name_plural = "plan step settings"
        constraints = [models.UniqueConstraint(fields=["agency"], name="one_plan_step_settings_per_agency")]

    def __str__(self):
        return f"Plan steps of agency {self.agency_id}"

    @classmethod
    def for_agency(cls, agency_id) -> "PlanStepSettings":
        return cls.objects.filter(agency_id=agency_id).first() or cls(agency_id=agency_id)
