"""Online card payments through each agency's own Stripe account.

    StripeAccount   the agency's keys: the publishable key in clear (it is public), the secret
                    key and the webhook signing secret encrypted (portal.encryption), with their
                    last 4 characters to show
    StripeEvent     every webhook event processed, by its id (unique per agency): a replayed or
                    re-sent event is seen and does nothing
    CardCharge      one charge per card the debtor entered (its SetupIntent), so a resubmitted or
                    double-clicked payment charges once; deleted again when the card is declined
    AutopayCard     a card the debtor saved for the plan's automatic payments (Stripe Customer and
                    PaymentMethod ids; brand, last 4 and expiry to show)
    AutopayAttempt  each try at charging a saved card for an installment (one per installment and
                    try number, made before Stripe is called)
"""
from django.conf import settings
from django.db import models

from portal import encryption
from portal.tenancy import TenantManager, TenantModel


def money(**kwargs):
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class StripeAccount(TenantModel):
    """An agency's connection to its own Stripe account (one per agency)."""

    publishable_key = models.CharField(max_length=255)
    secret_key_encrypted = models.TextField()
    secret_key_last4 = models.CharField(max_length=4)
    webhook_secret_encrypted = models.TextField()
    webhook_secret_last4 = models.CharField(max_length=4)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency"], name="stripe_account_one_per_agency")]

    def __str__(self):
        return f"Stripe account of agency {self.agency_id} ({self.mode})"

    @property
    def mode(self) -> str:
        return "live" if "_live_" in self.publishable_key else "test"

    @property
    def secret_key(self) -> str:
        return encryption.decrypt(self.secret_key_encrypted)

    @property
    def webhook_secret(self) -> str:
        return encryption.decrypt(self.webhook_secret_encrypted)

    def set_secret_key(self, value: str) -> None:
        self.secret_key_encrypted, self.secret_key_last4 = encryption.encrypt(value), value[-4:]

    def set_webhook_secret(self, value: str) -> None:
        self.webhook_secret_encrypted, self.webhook_secret_last4 = encryption.encrypt(value), value[-4:]


class StripeEvent(TenantModel):
    """A webhook event the portal processed (its outcome in words)."""

    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=300, blank=True)
    processed_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-processed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["agency", "event_id"], name="stripe_event_once")]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class CardCharge(TenantModel):
    """The PaymentIntent made for one card the debtor entered on the payment page."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey("payments.SecureLink", null=True, on_delete=models.SET_NULL, related_name="+")
    setup_intent_id = models.CharField(max_length=100, unique=True)
    payment_intent_id = models.CharField(max_length=100, blank=True)
    amount = money()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")


class AutopayCard(TenantModel):
    """The card a debtor saved for their plan's automatic payments."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    plan = models.OneToOneField("payments.PaymentPlan", on_delete=models.CASCADE, related_name="autopay_card")
    customer_id = models.CharField(max_length=100)
    payment_method_id = models.CharField(max_length=100)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    link = models.ForeignKey("payments.SecureLink", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    saved_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager(client_lookup="client")

    def __str__(self):
        return f"{self.brand or 'Card'} ending {self.last4} for plan {self.plan_id}"

    @property
    def active(self) -> bool:
        return self.stopped_at is None


class AutopayAttempt(TenantModel):
    """One try at charging a plan's saved card for an installment."""

    class Status(models.TextChoices):
        PENDING = "pending", "Sent to Stripe"
        SUCCEEDED = "succeeded", "Paid"
        FAILED = "failed", "Declined or failed"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    installment = models.ForeignKey("payments.Installment", on_delete=models.CASCADE, related_name="autopay_attempts")
    try_number = models.PositiveSmallIntegerField()
    amount = money()
    payment_intent_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the debtor was told of the decline.")

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["installment", "try_number"]
        constraints = [models.UniqueConstraint(fields=["installment", "try_number"], name="autopay_attempt_once")]

    @property
    def idempotency_key(self) -> str:
        return f"autopay:{self.installment_id}:{self.try_number}"
