"""Debtors, debtor accounts and their parties, placements, activities and documents.

Money is Decimal; every row carries its agency and client. A debtor account's `balance` is
kept equal to principal + interest + fees - paid by the services that change those amounts,
so lists can filter and sort on it with an index.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from portal.tenancy import TenantManager, TenantModel

ZERO = Decimal("0.00")


def money_field(**kwargs):
    return models.DecimalField(max_digits=14, decimal_places=2, default=ZERO, **kwargs)


class ClientOwned(TenantModel):
    """Abstract: a row that belongs to one client of one agency."""

    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+")

    objects = TenantManager(client_lookup="client")

    class Meta:
        abstract = True


class DebtPurpose(models.TextChoices):
    COMMERCIAL = "commercial", "Commercial"
    CONSUMER = "consumer", "Consumer"
    UNKNOWN = "unknown", "Unknown"


class Debtor(ClientOwned):
    """A business or person that owes money. `debtor_key` identifies the same debtor across
    the accounts one client places (intake.rows.debtor_key: the client's own debtor ID, else name
    with tax ID last four, email, phone and address all agreeing)."""

    class Kind(models.TextChoices):
        BUSINESS = "business", "Business"
        PERSON = "person", "Person"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.BUSINESS)
    name = models.CharField(max_length=200)
    tax_id_last4 = models.CharField("tax ID (last 4)", max_length=4, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty when unknown.")
    # Where the zone came from, in words: "ZIP code 96813", "phone area code 808", "set by staff".
    time_zone_source = models.CharField(max_length=120, blank=True, default="", db_default="")
    debtor_key = models.CharField(max_length=64)
    electronic_delivery_at = models.DateTimeField(
        null=True, blank=True, help_text="When the debtor agreed to get notices by email (12 CFR 1006.42); "
                                         "empty: notices go by mail.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Lookups by client use the (client, debtor_key) unique index; a second one on client alone
    # only costs upkeep, and lures the planner into scanning the client's rows (see intake.commit).
    # The database guards the client link with statement triggers, not a row FK (migration 0009):
    # the FK's per-row check was a fifth of the debtor insert during a placement.
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    # No database FK or index on agency: the client link implies the agency (clients are never moved
    # between agencies), and debtors are reached by id or (client, debtor_key). Every FK is checked
    # per row on insert, and intake writes a million of these at a time.
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "debtor_key"], name="debtor_key_unique_per_client")]

    def __str__(self):
        return self.name


class Contact(ClientOwned):
    """One way to reach a debtor: a phone, an email or a postal address, with its opt-out."""

    class Kind(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        ADDRESS = "address", "Postal address"

    # contact_unique_per_debtor starts with debtor. The database guards the link with statement
    # triggers, not a row FK (migration 0008): a placement writes ~2.4 contacts per row, the FK's
    # per-row check was a third of that insert, and the per-statement check costs a third of the FK.
    debtor = models.ForeignKey(Debtor, on_delete=models.CASCADE, related_name="contacts",
                               db_index=False, db_constraint=False)
    # Tenant columns without database FK or index: the debtor link implies both (a debtor's contacts
    # carry its agency and client), and contacts are only reached through their debtor.
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.CharField(max_length=400)
    label = models.CharField(max_length=40, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["debtor", "kind", "value"], name="contact_unique_per_debtor")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.value}"


class PlacementBatch(ClientOwned):
    """One placement: an uploaded file, a form entry or an API call."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "File upload"
        FORM = "form", "Form"
        API = "api", "API"

    class Status(models.TextChoices):
        READING = "reading", "Reading the file"
        UPLOADED = "uploaded", "Uploaded"
        VALIDATING = "validating", "Checking rows"
        PREVIEWED = "previewed", "Ready to place"
        COMMITTING = "committing", "Placing accounts"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class OnDuplicate(models.TextChoices):
        SKIP = "skip", "Skip accounts already placed"
        UPDATE = "update", "Update accounts already placed"

    # What the rows are: "placement" (accounts) or a kind another app registers through
    # collections_work.placements.intake.kinds ("payments": a lockbox or processor file of payments).
    kind = models.CharField(max_length=20, default="placement")
    source = models.CharField(max_length=8, choices=Source.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    file_kind = models.CharField(max_length=4, blank=True)  # csv / xlsx
    sheet_names = models.JSONField(default=list, blank=True)
    sheet = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # field -> column index
    options = models.JSONField(default=dict, blank=True)  # amount/date formats, encoding, delimiter
    on_duplicate = models.CharField(max_length=6, choices=OnDuplicate.choices, default=OnDuplicate.SKIP)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0)  # percent of the current stage
    error_message = models.TextField(blank=True)
    errors_sample = models.JSONField(default=list, blank=True)  # first row errors, for the preview page
    # What the check found besides errors: rows that are other parties of an account, where the
    # debtors' time zones come from, rows whose debtor is already on file (intake.scan.ScanResult).
    check_summary = models.JSONField(default=dict, blank=True, db_default=models.Value({}, models.JSONField()))
    sample_rows = models.JSONField(default=list, blank=True)  # the first rows, as read by the worker, for the mapping page
    # The job working on a busy batch (reading, checking, placing): its last sign of life (or the
    # hand-off to the worker), and how many runs of the current step have started. A job with no
    # heartbeat for INTAKE_JOB_STALE_SECONDS is retried or failed (collections_work.placements.intake.jobs).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    source_file = models.FileField(upload_to="intake/", max_length=300, blank=True)
    rejected_file = models.FileField(upload_to="intake/", max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "placement batches"
        # The stalled-job check (every 30 s) reads only the few busy batches.
        indexes = [models.Index(fields=["heartbeat_at"], name="batch_busy_heartbeat",
                                condition=models.Q(status__in=["reading", "validating", "committing"]))]

    def __str__(self):
        return f"Placement #{self.pk} ({self.get_source_display()}{': ' + self.file_name if self.file_name else ''})"

    BUSY_STATUSES = ("reading", "validating", "committing")

    @property
    def valid_accounts(self) -> int:
        """Valid rows less those that are other parties of an account (one row per party)."""
        return self.valid_rows - (self.check_summary or {}).get("party_rows", 0)

    @property
    def is_busy(self):
        return self.status in self.BUSY_STATUSES


class ColumnMapping(ClientOwned):
    """A saved, named mapping from a client's file columns to portal fields."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, default="placement")  # the batch kind it maps files for
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # field -> header text
    options = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["client", "kind", "name"], name="mapping_name_unique_per_client_kind")]

    def __str__(self):
        return self.name


class DebtorAccount(ClientOwned):
    """One claim placed by a client."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACTIVE = "active", "In collection"
        ON_HOLD = "on_hold", "On hold"
        RECALLED = "recalled", "Recalled"
        PLAN = "plan", "On a payment plan"
        PAID = "paid", "Paid in full"
        SETTLED = "settled", "Settled"
        CLOSED = "closed", "Closed"

    # agency, client, placement_batch: indexed as the first column of the indexes in Meta
    # No database FK on agency and client: the debtor's FK implies them (an account's client is its
    # debtor's, and clients are never moved between agencies); each FK is one check per placed row.
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="accounts")
    debtor_name = models.CharField(max_length=200)  # copy of the primary debtor's name for search and sort
    # Copy of the primary debtor's time zone ("" unknown): "Next account" filters on the calling
    # window without a join to the debtors of the whole agency.
    debtor_time_zone = models.CharField(max_length=64, blank=True, default="", db_default="")
    client_reference = models.CharField(max_length=100)
    debt_purpose = models.CharField(max_length=10, choices=DebtPurpose.choices, default=DebtPurpose.UNKNOWN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    currency = models.CharField(max_length=3, default="USD")
    principal = money_field()
    interest = money_field()
    fees = money_field()
    paid = money_field()
    # Of `paid`, what the client said was paid before placement (the rest are payments posted
    # in the portal: the trust ledger's check compares them).
    paid_at_placement = money_field(db_default=ZERO)
    # What the payments paid of each component (allocated in the client's order, the rest of
    # `paid` came before placement), and what a completed settlement wrote off: balance =
    # principal + interest + fees - paid - adjusted. The intake writer inserts with raw SQL, so
    # these carry database defaults.
    fees_paid = money_field(db_default=ZERO)
    interest_paid = money_field(db_default=ZERO)
    principal_paid = money_field(db_default=ZERO)
    adjusted = money_field(db_default=ZERO, help_text="Written off when a settlement was paid in full.")
    balance = money_field()
    invoice_number = models.CharField(max_length=200, blank=True)
    invoice_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    delinquency_date = models.DateField(null=True, blank=True)
    placed_at = models.DateTimeField()
    last_payment_date = models.DateField(null=True, blank=True)
    assigned_collector = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="+", db_index=False)  # acct_collector, below
    priority = models.IntegerField(default=0)
    # No database FK: batches are a record of placements and never deleted (the ORM would still
    # clear this on a delete), and the check would run once per placed row against the same batch.
    placement_batch = models.ForeignKey(PlacementBatch, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="accounts", db_index=False, db_constraint=False)
    hold_reason = models.CharField(max_length=200, blank=True)
    cease_communication_at = models.DateTimeField(
        null=True, blank=True, help_text="When the debtor asked not to be contacted about this account.")
    updated_at = models.DateTimeField(auto_now=True)
    # The worklist. A claim is a lease: the collector holds the account until it expires, so an
    # account whose collector walked away returns to the queue by itself. `next_action_at` in the
    # future keeps an account out of the queues (promise date, callback, just worked); `priority`
    # is the score of collections_work.debtor_accounts.scoring, kept current by the services and the beat jobs.
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    next_action_at = models.DateTimeField(null=True, blank=True)
    last_worked_at = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField(null=True, blank=True, help_text="Last right-party contact.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "client_reference"], name="reference_unique_per_client"),
        ]
        indexes = [
            models.Index(fields=["client", "placed_at", "id"], name="acct_client_placed"),
            models.Index(fields=["client", "balance", "id"], name="acct_client_balance"),
            models.Index(fields=["agency", "placed_at", "id"], name="acct_agency_placed"),
            models.Index(fields=["placement_batch"], name="acct_batch"),
            # "Next account": the open accounts of an agency, best first (see worklist.claim).
            models.Index(F("agency"), F("priority").desc(), F("id"), name="acct_worklist",
                         condition=Q(status__in=["new", "active"])),
            models.Index(fields=["next_action_at"], name="acct_next_action", condition=Q(next_action_at__isnull=False)),
            models.Index(fields=["claimed_by"], name="acct_claimed_by", condition=Q(claimed_by__isnull=False)),
            # Only assigned accounts: every placed account starts unassigned, and an index of NULLs
            # would take an entry per account placed without ever being searched by NULL.
            models.Index(fields=["assigned_collector"], name="acct_collector",
                         condition=models.Q(assigned_collector__isnull=False)),
        ]

    def __str__(self):
        return f"{self.client_reference} · {self.debtor_name}"


class AccountSearchEntry(models.Model):
    """PostgreSQL's search side table: one narrow row per debtor account (its agency, client,
    debtor name and folded "name reference"), kept by triggers on the account table (migration
    0021) and carrying the trigram index, so a search reads ~100 bytes a match instead of the
    account's row. A search sorted by name is sorted here and joins only its page's accounts.
    On SQLite the table stays empty: searches there read the account table (search.py).

    No foreign keys in the database, on purpose: the account table's delete trigger removes a
    row here, and a per-row key check would cost every placement (as migration 0007 found)."""

    account = models.OneToOneField(DebtorAccount, primary_key=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="search_entry")
    agency = models.ForeignKey("accounts.Agency", on_delete=models.DO_NOTHING, db_constraint=False,
                               db_index=False, related_name="+")
    client = models.ForeignKey("accounts.Client", on_delete=models.DO_NOTHING, db_constraint=False,
                               db_index=False, related_name="+")
    debtor_name = models.CharField(max_length=200)
    search_text = models.TextField()

    objects = TenantManager(client_lookup="client")

    def __str__(self):
        return self.search_text


class AccountParty(ClientOwned):
    """Another debtor on an account besides the primary one (DebtorAccount.debtor)."""

    class Role(models.TextChoices):
        CO_DEBTOR = "co_debtor", "Co-debtor"
        GUARANTOR = "guarantor", "Guarantor"

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="parties",
                                db_index=False)  # party_unique starts with it
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="parties")
    role = models.CharField(max_length=10, choices=Role.choices)
    # Tenant columns without database FK or index: the account FK implies both, and parties are
    # only reached through their account.
    agency = models.ForeignKey("accounts.Agency", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)
    client = models.ForeignKey("accounts.Client", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "debtor", "role"], name="party_unique")]

    def __str__(self):
        return f"{self.debtor} ({self.get_role_display()})"


class Activity(ClientOwned):
    """Anything that happened on a debtor account, with who, when, and whether the client sees it."""

    class Kind(models.TextChoices):
        PLACED = "placed", "Placed"
        UPDATED = "updated", "Updated by placement"
        NOTE = "note", "Note"
        MESSAGE = "message", "Message"
        STATUS = "status", "Status change"
        DOCUMENT = "document", "Document"
        PAYMENT = "payment", "Payment"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"
        PROMISE = "promise", "Promise"
        CALLBACK = "callback", "Callback"
        OFFER = "offer", "Offer"

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    summary = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    outcome = models.CharField(max_length=40, blank=True)
    contact = models.ForeignKey("Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                db_index=False, help_text="The phone or email a call or email went to.")
    client_visible = models.BooleanField(default=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "-occurred_at"], name="activity_timeline"),
                   # Supervisor figures: what each collector did in a date range.
                   models.Index(fields=["agency", "actor", "occurred_at"], name="activity_by_actor")]
        verbose_name_plural = "activities"

    def __str__(self):
        return self.summary


def document_path(document, filename):
    return f"documents/{document.agency_id}/{document.client_id}/{document.account_id}/{filename}"


class Document(ClientOwned):
    """A file on an account (invoice, contract, statement). Served only through a scoped view."""

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=document_path, max_length=300)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    client_visible = models.BooleanField(default=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self):
        return self.name


class ContactPolicy(TenantModel):
    """An agency's own contact rules. For consumer and unknown-purpose accounts the legal rules
    (Regulation F) always apply on top; these settings cover commercial accounts and may only
    tighten the calling hours for the others."""

    earliest_hour = models.PositiveSmallIntegerField(default=8, help_text="Earliest local hour for any contact.")
    latest_hour = models.PositiveSmallIntegerField(default=21, help_text="Contact must end before this local hour.")
    commercial_weekly_call_cap = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Call attempts per account in 7 days for commercial accounts; empty: no cap.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency"], name="one_contact_policy_per_agency")]

    def __str__(self):
        return "Contact policy"


class Dispute(ClientOwned):
    """A debtor's dispute of an account. While open, nobody contacts the debtor about it."""

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="disputes")
    reason = models.TextField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self):
        return f"Dispute on {self.account_id} ({'open' if self.resolved_at is None else 'resolved'})"


# --- The worklist ------------------------------------------------------------------------------

class CallOutcome(models.TextChoices):
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left message"
    RIGHT_PARTY_CONTACT = "right_party_contact", "Right-party contact"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    REFUSED_TO_PAY = "refused_to_pay", "Refused to pay"
    PROMISED = "promised", "Promised to pay"
    DISPUTED = "disputed", "Disputed"


class Team(TenantModel):
    """A group of collectors a queue can be assigned to."""

    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="worklist_teams")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="team_name_unique_per_agency")]

    def __str__(self):
        return self.name


class Queue(TenantModel):
    """A named set of open accounts, defined by rules, worked in `position` order, best score
    first within a queue.

    Empty rule fields match everything. Each agency has one default queue (no rules, every
    collector) that comes last, so no open account is ever outside every queue."""

    class Assignment(models.TextChoices):
        ANY = "any", "Any account"
        MINE = "mine", "Assigned to the collector working the queue"
        UNASSIGNED = "unassigned", "Not assigned to anyone"
        COLLECTOR = "collector", "Assigned to a chosen collector"

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=100, help_text="Queues are worked from the lowest number up.")
    is_default = models.BooleanField(default=False, editable=False)
    clients = models.ManyToManyField("accounts.Client", blank=True, related_name="+")
    statuses = models.JSONField(default=list, blank=True)  # subset of new / active; empty: both
    balance_min = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    balance_max = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    age_buckets = models.JSONField(default=list, blank=True)  # keys of selectors.AGE_BUCKETS
    time_zones = models.JSONField(default=list, blank=True)  # debtor time zones; "" means unknown
    assignment = models.CharField(max_length=10, choices=Assignment.choices, default=Assignment.ANY)
    assigned_collector = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+")
    due_only = models.BooleanField(default=False, help_text="Only accounts with a callback or promise follow-up due.")
    all_collectors = models.BooleanField(default=False, help_text="Every collector works this queue.")
    collectors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="worklist_queues")
    teams = models.ManyToManyField(Team, blank=True, related_name="queues")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["is_default", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="queue_name_unique_per_agency"),
            models.UniqueConstraint(fields=["agency"], condition=Q(is_default=True), name="one_default_queue"),
        ]

    def __str__(self):
        return self.name


class Promise(ClientOwned):
    """A debtor's promise to pay an amount by a date. Payments count towards it until it is
    kept; a promise whose date passes unpaid becomes broken and its account returns to a queue."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        KEPT = "kept", "Kept"
        BROKEN = "broken", "Broken"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="promises")
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    due_date = models.DateField()
    paid_amount = money_field()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["due_date"], name="promise_open_due", condition=Q(status="open"))]

    def __str__(self):
        return f"{self.amount} by {self.due_date} ({self.get_status_display()})"


class Callback(ClientOwned):
    """An appointment to call the debtor again; it comes due in its collector's queue."""

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="callbacks")
    # Empty: whoever works the account (a debtor asked for a call back, or for a plan the agency
    # must answer); its score then rises in the queues instead of coming to one collector first.
    collector = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+")
    due_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["collector", "due_at"], name="callback_open_due",
                                condition=Q(done_at__isnull=True))]

    def __str__(self):
        return f"Callback {self.due_at:%Y-%m-%d %H:%M}"


class EmailTemplate(TenantModel):
    """An agency's email to debtors. `{placeholders}` are filled from the account; every email
    sent from one carries an opt-out link below the body."""

    name = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="email_template_unique_per_agency")]

    def __str__(self):
        return self.name


# --- Letters ----------------------------------------------------------------------------------

def letter_path(letter, filename):
    return f"letters/{letter.agency_id}/{letter.client_id}/{filename}"


class PrintBatch(TenantModel):
    """One day's letters to print, as one PDF for the print vendor (one letter after another,
    each starting on a new page, the address placed for a windowed envelope)."""

    class Status(models.TextChoices):
        READY = "ready", "Ready to print"
        MAILED = "mailed", "Mailed"

    day = models.DateField()
    pdf = models.FileField(upload_to="letters/batches/", max_length=300)
    letter_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.READY)
    created_at = models.DateTimeField(auto_now_add=True)
    mailed_at = models.DateTimeField(null=True, blank=True)
    mailed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["agency", "day"], name="one_print_batch_per_agency_day")]

    def __str__(self):
        return f"Print batch {self.day} ({self.letter_count} letters)"


class Letter(ClientOwned):
    """A letter to a debtor (the validation notice first), emailed when the debtor consented to
    electronic delivery, otherwise queued for the day's print batch. One per account and `key`
    (e.g. "validation-notice"): made once, never twice."""

    class Kind(models.TextChoices):
        VALIDATION_NOTICE = "validation", "Validation notice"
        PLAN_STATEMENT = "plan_stmt", "Plan statement"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued for print"
        PRINTING = "printing", "In a print batch"
        MAILED = "mailed", "Mailed"
        EMAILED = "emailed", "Emailed"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey(DebtorAccount, on_delete=models.CASCADE, related_name="letters")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    pdf = models.FileField(upload_to=letter_path, max_length=300)
    mailing_address = models.TextField(blank=True)
    content = models.JSONField(default=dict, help_text="The figures the letter states (itemization, dates).")
    print_batch = models.ForeignKey(PrintBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="letters")
    cancel_reason = models.CharField(max_length=300, blank=True)
    # Why a queued letter was kept out of the last print batch (an open dispute, an account on
    # hold: the contact policy's words); "" when nothing holds it. Each batch asks again.
    hold_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="one_letter_per_account_key")]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.account_id}"

    @property
    def address_crowded(self) -> bool:
        """More than the window holds at the usual size (5 lines of up to ~40 characters): the
        letter prints the address smaller, so it stays inside the window."""
        lines = self.mailing_address.splitlines()
        return len(lines) > 5 or any(len(line) > 40 for line in lines)
