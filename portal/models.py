"""Rows the portal keeps for every app: the audit log, the email send log, worker heartbeats."""
from django.conf import settings
from django.db import models

from portal.tenancy import TenantManager


class AppendOnlyError(RuntimeError):
    pass


class AppendOnlyModel(models.Model):
    """Abstract: rows written once and never changed or deleted (evidence, ledgers). The database
    enforces it too on PostgreSQL (a trigger per table, in the owning app's migrations)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are never deleted.")


class AuditEvent(models.Model):
    """One state change or security event. Append-only: rows are never updated or deleted."""

    agency = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agency", "-created_at"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")


class OutboundEmail(models.Model):
    """The send log: an email is recorded under a unique key before it goes out, so a retry,
    a restart or a second scheduler never sends it twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "Scheduled"  # recorded, waiting for the worker (or for its next try)
        DEFERRED = "deferred", "Deferred"  # the contact policy says not now: `hold_reason`, until `next_attempt_at`
        SENDING = "sending", "Sending"  # claimed by a worker, which is talking to the mail server now
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # no more tries: `last_error` says why
        CANCELLED = "cancelled", "Cancelled"  # may never go (cease, opt-out): `hold_reason` says why

    agency = models.ForeignKey("accounts.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, unique=True)
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachment = models.CharField(max_length=300, blank=True,
                                  help_text="A stored file (media storage name) sent with the message.")
    # Secrets of the message's links ({name: value}), kept apart from the bodies (which hold a
    # placeholder) and emptied once the message is sent or given up: see portal/emails.py.
    secret_values = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    # What the message is (e.g. "installment_reminder"; empty for one-off mail) and, for a message
    # to a debtor, the debtor account it is about (the contact policy is asked before each try).
    # A plain id: the portal app sits below collections_work and keeps no foreign key upwards.
    kind = models.CharField(max_length=40, blank=True, db_index=True)
    account_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    hold_reason = models.CharField(max_length=500, blank=True)  # why deferred or cancelled, in words
    claimed_at = models.DateTimeField(null=True, blank=True)  # when a worker last began to send it
    attempts = models.PositiveIntegerField(default=0)  # tries made, failed ones included
    last_error = models.TextField(blank=True)
    # After a failed try (backoff) or a deferral (the next allowed time): not before this time.
    # Empty: not tried yet, or no more tries.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["agency", "-created_at"], name="outbound_agency_recent"),
                   models.Index(fields=["status", "next_attempt_at"], name="outbound_due")]

    def __str__(self):
        return f"{self.subject} -> {self.to} ({self.status})"


class Heartbeat(models.Model):
    """Last time each background process proved it is alive (shown on /healthz)."""

    name = models.CharField(max_length=40, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} @ {self.seen_at}"
