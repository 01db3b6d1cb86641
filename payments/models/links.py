"""The debtor's secure links and the evidence of an e-signature."""
import uuid

from django.conf import settings
from django.db import models

from portal.models import AppendOnlyModel
from portal.tenancy import TenantManager, TenantModel


class SecureLink(TenantModel):
    """A debtor's way in: a random token (256 bits) sent by email or printed in a letter, bound to
    one debtor account. Only its keyed hash is stored. Opening it spends nothing (mail scanners
    open links); it expires, can be revoked, and locks after too many wrong identity answers."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter (link copied by staff)"

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.CASCADE, related_name="links")
    offer = models.ForeignKey("payments.PlanOffer", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="links", help_text="Empty: an invitation to settle.")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=6, choices=Channel.choices)
    sent_to = models.EmailField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True, help_text="Last successful identity check.")

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Link for account {self.account_id} ({self.get_channel_display()})"

    def state(self, now) -> str:
        """'active', 'revoked', 'locked' or 'expired'."""
        if self.revoked_at is not None:
            return "revoked"
        if self.locked_at is not None:
            return "locked"
        if self.expires_at <= now:
            return "expired"
        return "active"


def agreement_path(evidence, filename):
    return f"agreements/{evidence.agency_id}/{evidence.account_id}/{evidence.reference}.pdf"


class AcceptanceEvidence(AppendOnlyModel, TenantModel):
    """What proves the debtor e-signed an agreement (ESIGN Act, 15 U.S.C. 7001): the disclosure
    shown (version and SHA-256 of its text), consent, the typed name, UTC time, IP address and
    user agent, the link and which identity facts were checked (not their values), and the
    agreement PDF itself with its SHA-256. Written once, never changed or deleted (a database
    trigger enforces it on PostgreSQL)."""

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.PROTECT, related_name="+")
    link = models.ForeignKey(SecureLink, on_delete=models.PROTECT, related_name="acceptances")
    offer = models.ForeignKey("payments.PlanOffer", on_delete=models.PROTECT, related_name="acceptances")
    plan = models.OneToOneField("payments.PaymentPlan", on_delete=models.PROTECT, related_name="evidence")
    typed_name = models.CharField(max_length=200)
    consented = models.BooleanField()
    disclosure_version = models.CharField(max_length=40)
    disclosure_sha256 = models.CharField(max_length=64)
    accepted_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    identity_facts = models.JSONField(default=list, help_text="Which facts the debtor confirmed (names only).")
    agreement_pdf = models.FileField(upload_to=agreement_path, max_length=300)
    agreement_sha256 = models.CharField(max_length=64, db_index=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-accepted_at"]
        verbose_name_plural = "acceptance evidence"

    def __str__(self):
        return f"Acceptance {self.reference} by {self.typed_name}"
