"""Users, agencies (tenants), clients (sub-tenants), memberships, invitations and API keys."""
from decimal import Decimal

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from portal.tenancy import TenantManager, TenantModel

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address. `is_staff` means Django admin access only."""

    username = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return (self.full_name or self.email).split(" ")[0]


class Agency(models.Model):
    """The tenant: a collection agency. Everything a user sees hangs under exactly one agency."""

    name = models.CharField(max_length=150)
    slug = models.SlugField(unique=True)
    mfa_required_for_staff = models.BooleanField(
        default=True, help_text="Agency staff must set up an authenticator app before using the portal."
    )
    time_zone = models.CharField(max_length=64, default="America/New_York")
    debtor_link_days = models.PositiveSmallIntegerField(
        "debtor links expire after (days)", default=14, validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="How long a secure link sent to a debtor stays valid.")
    postal_address = models.CharField(
        max_length=300, blank=True, help_text="Printed on letters and agreements, and in every email to debtors.")
    phone = models.CharField(max_length=40, blank=True, help_text="Where debtors reach the agency.")
    # Automatic plan payments (payments.online.autopay): the first try on the due date at this hour
    # of the debtor's day; after a decline the next try waits autopay_retry_days, up to autopay_max_tries.
    autopay_hour = models.PositiveSmallIntegerField(
        "automatic payments are charged at (debtor's hour)", default=9, validators=[MaxValueValidator(20)],
        help_text="The hour of the debtor's day (0-20) at which a saved card is charged for an installment due.")
    autopay_retry_days = models.PositiveSmallIntegerField(
        "after a declined card, try again after (days)", default=3,
        validators=[MinValueValidator(1), MaxValueValidator(30)])
    autopay_max_tries = models.PositiveSmallIntegerField(
        "tries per installment", default=3, validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="How many times a saved card is charged for one installment before the portal stops trying.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"

    def zone(self):
        """The agency's time zone (a ZoneInfo; UTC when its name is not a known zone)."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(self.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def local_date(self, moment=None):
        """The agency's calendar date at `moment` (an aware datetime; default: now)."""
        return timezone.localtime(moment or timezone.now(), self.zone()).date()

    def __str__(self):
        return self.name


class Client(TenantModel):
    """A creditor business the agency collects for (sub-tenant)."""

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField("display name", max_length=150)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.INVITED)
    legal_name = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US")
    # ISO 4217: the currency a placement is in unless the placer chooses another
    currency = models.CharField("currency of placed accounts", max_length=3, default="USD", db_default="USD")
    phone = models.CharField(max_length=40, blank=True)
    billing_contact_name = models.CharField(max_length=150, blank=True)
    billing_contact_email = models.EmailField(blank=True)
    operations_contact_name = models.CharField(max_length=150, blank=True)
    operations_contact_email = models.EmailField(blank=True)
    # Remittance: the full account number is never stored; the last four are shown, and a keyed
    # fingerprint tells whether a later entry is the same account.
    remittance_bank_name = models.CharField(max_length=150, blank=True)
    remittance_account_name = models.CharField(max_length=150, blank=True)
    remittance_routing_last4 = models.CharField(max_length=4, blank=True)
    remittance_account_last4 = models.CharField(max_length=4, blank=True)
    remittance_account_fingerprint = models.CharField(max_length=64, blank=True)
    onboarding_step = models.PositiveSmallIntegerField(default=0)
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    terms_accepted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="pk")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="client_name_unique_per_agency")]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    MANAGER = "manager", "Manager"
    COLLECTOR = "collector", "Collector"
    CLIENT_ADMIN = "client_admin", "Client admin"
    CLIENT_USER = "client_user", "Client user (read-only)"


STAFF_ROLES = frozenset({Role.AGENCY_ADMIN, Role.MANAGER, Role.COLLECTOR})
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_USER})


class Membership(TenantModel):
    """What a user is in an agency: staff (no client) or a client's user. One per user."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="membership")
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="client_roles_have_a_client",
                condition=(
                    models.Q(role__in=["client_admin", "client_user"], client__isnull=False)
                    | models.Q(role__in=["agency_admin", "manager", "collector"], client__isnull=True)
                ),
            )
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"

    @property
    def is_staff_role(self):
        return self.role in STAFF_ROLES

    @property
    def is_client_role(self):
        return self.role in CLIENT_ROLES


class AllocationOrder(models.TextChoices):
    """The order a payment pays an account's parts in (comma-separated component names)."""

    FEES_FIRST = "fees,interest,principal", "Fees, then interest, then principal"
    INTEREST_FIRST = "interest,fees,principal", "Interest, then fees, then principal"
    PRINCIPAL_FIRST = "principal,interest,fees", "Principal, then interest, then fees"


class ContractTerms(TenantModel):
    """A client's contract with the agency: the one place offers, commissions and statements read."""

    class FeeType(models.TextChoices):
        FLAT = "flat", "Flat percentage"
        TIERED = "tiered", "Tiers by account age at placement"

    class RemittanceMethod(models.TextChoices):
        NET = "net", "Net (agency keeps its fee)"
        GROSS = "gross", "Gross (agency invoices its fee)"

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="terms")
    fee_type = models.CharField(max_length=8, choices=FeeType.choices, default=FeeType.FLAT)
    flat_fee_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("25.00"), validators=PERCENT)
    settlement_floor_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("70.00"), validators=PERCENT,
        help_text="Lowest share of the balance the agency may settle for without asking the client.",
    )
    max_plan_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    min_installment = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("50.00"), validators=[MinValueValidator(Decimal("0.01"))]
    )
    remittance_method = models.CharField(max_length=5, choices=RemittanceMethod.choices, default=RemittanceMethod.NET)
    remittance_day = models.PositiveSmallIntegerField(
        default=15, validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text="Day of the month remittance statements are sent (1-31; in a shorter month, 29-31 mean "
                  "its last day).",
    )
    allocation_order = models.CharField(
        max_length=30, choices=AllocationOrder.choices, default=AllocationOrder.FEES_FIRST,
        help_text="Which parts of the balance a payment pays first.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        verbose_name_plural = "contract terms"

    def __str__(self):
        return f"Terms for {self.client}"

    def fee_percent_for_age(self, age_days: int, tiers=None) -> Decimal:
        """The contingency fee (percent) for an account `age_days` old when placed. `tiers`: the
        terms' FeeTiers by min_age_days when the caller read them already (else they are read)."""
        if self.fee_type == self.FeeType.FLAT:
            return self.flat_fee_percent
        for tier in self.fee_tiers.all() if tiers is None else tiers:
            if age_days >= tier.min_age_days and (tier.max_age_days is None or age_days <= tier.max_age_days):
                return tier.fee_percent
        return self.flat_fee_percent


class FeeTier(TenantModel):
    """One row of a tiered contingency fee: accounts aged min..max days at placement pay this %."""

    terms = models.ForeignKey(ContractTerms, on_delete=models.CASCADE, related_name="fee_tiers")
    min_age_days = models.PositiveIntegerField()
    max_age_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty means no upper bound.")
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT)

    objects = TenantManager(client_lookup="terms__client")

    class Meta:
        ordering = ["min_age_days"]

    def __str__(self):
        upper = self.max_age_days if self.max_age_days is not None else "+"
        return f"{self.min_age_days}-{upper} days: {self.fee_percent}%"


class Invitation(TenantModel):
    """An emailed, single-use, expiring invitation. Only the token's hash is stored."""

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation for {self.email} ({self.get_role_display()})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiKey(TenantModel):
    """A client's key for the REST API: shown once, stored as a hash, revocable."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager(client_lookup="client")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None


class SignInFailure(models.Model):
    """One failed password sign-in: the address tried and the client IP it came from.

    The lockout (accounts/lockout.py) counts these rows; they live in the database, not the
    cache, so the lockout holds when Redis is down and an unlock can clear every IP at once.
    Not tenant data (an address may belong to nobody); rows older than a day are pruned."""

    email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["email", "created_at"], name="signin_fail_email"),
            models.Index(fields=["ip_address", "created_at"], name="signin_fail_ip"),
        ]

    def __str__(self):
        return f"{self.email} from {self.ip_address} at {self.created_at:%Y-%m-%d %H:%M}"
