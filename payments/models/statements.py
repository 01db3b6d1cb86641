"""Statements: the monthly remittance statement a client gets, and the statement a debtor on a
plan gets. Issued once, stored, never rendered again (a correction is a new revision that
says which one it corrects)."""
from django.conf import settings
from django.db import models

from portal.tenancy import TenantManager, TenantModel


def statement_path(statement, filename):
    return f"statements/{statement.agency_id}/{statement.client_id}/{filename}"


class RemittanceStatement(TenantModel):
    """What the agency collected for a client in a period, its commission, and what it remits
    (net remittance) or invoices (gross remittance, and commission on payments made directly to
    the client), with what was owed to the client at the start and the end of the period."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="remittance_statements")
    period_start = models.DateField()
    period_end = models.DateField()
    revision = models.PositiveSmallIntegerField(default=1)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    correction_note = models.CharField(max_length=300, blank=True)
    totals = models.JSONField(help_text="The figures on the statement, as strings of cents.")
    pdf = models.FileField(upload_to=statement_path, max_length=300)
    csv = models.FileField(upload_to=statement_path, max_length=300)
    pdf_sha256 = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    remitted_at = models.DateTimeField(null=True, blank=True)
    remitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    remittance_entry = models.OneToOneField("payments.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="statement")

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-period_start", "-revision"]
        constraints = [models.UniqueConstraint(fields=["client", "period_start", "revision"],
                                               name="one_statement_per_client_period_revision")]

    def __str__(self):
        suffix = f" (revision {self.revision})" if self.revision > 1 else ""
        return f"Remittance statement {self.period_start:%B %Y}{suffix}"


class DebtorStatement(TenantModel):
    """A monthly statement for a debtor on a plan: paid so far, what remains, the schedule, the
    link to their page. One per account and month."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("collections_work.DebtorAccount", on_delete=models.PROTECT,
                                related_name="debtor_statements")
    plan = models.ForeignKey("payments.PaymentPlan", on_delete=models.PROTECT, related_name="statements")
    period = models.DateField(help_text="The first day of the month it covers.")
    pdf = models.FileField(upload_to=statement_path, max_length=300)
    issued_at = models.DateTimeField()

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-period"]
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="one_debtor_statement_per_month")]
