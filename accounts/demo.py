"""Demo data: one agency, two clients, a user for every role. Safe to run again."""
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Client, ContractTerms, FeeTier, Membership, Role, User
from portal.tenancy import tenant_scope

DEMO_PASSWORD = "demo-portal-2026"

DEMO_USERS = [
    # email, name, role, client name
    ("admin@demo-recovery.test", "Alex Admin", Role.AGENCY_ADMIN, None),
    ("manager@demo-recovery.test", "Morgan Manager", Role.MANAGER, None),
    ("collector@demo-recovery.test", "Casey Collector", Role.COLLECTOR, None),
    ("owner@acme-supplies.test", "Avery Acme", Role.CLIENT_ADMIN, "Acme Supplies"),
    ("viewer@acme-supplies.test", "Val Viewer", Role.CLIENT_USER, "Acme Supplies"),
    ("owner@northwind.test", "Nico Northwind", Role.CLIENT_ADMIN, "Northwind Wholesale"),
]
DEMO_SUPERUSER = "root@demo-recovery.test"


@transaction.atomic
def seed_demo() -> Agency:
    agency, _ = Agency.objects.get_or_create(
        slug="demo-recovery", defaults={"name": "Demo Recovery", "mfa_required_for_staff": False}
    )
    with tenant_scope(agency):
        clients = {
            "Acme Supplies": _client(agency, "Acme Supplies", "Acme Supplies Ltd.", "New York", "NY", "10001"),
            "Northwind Wholesale": _client(agency, "Northwind Wholesale", "Northwind Wholesale LLC", "Chicago", "IL", "60601"),
        }
        _terms(agency, clients["Acme Supplies"], fee_type="flat", tiers=[])
        _terms(agency, clients["Northwind Wholesale"], fee_type="tiered",
               tiers=[(0, 180, "20.00"), (181, 365, "28.00"), (366, None, "35.00")])
        for email, name, role, client_name in DEMO_USERS:
            user = _user(email, name)
            Membership.objects.get_or_create(
                user=user, defaults={"agency": agency, "role": role, "client": clients.get(client_name)}
            )
    if not User.objects.filter(email=DEMO_SUPERUSER).exists():
        superuser = User.objects.create_superuser(email=DEMO_SUPERUSER, password=DEMO_PASSWORD, full_name="Site Operator")
        EmailAddress.objects.create(user=superuser, email=superuser.email, verified=True, primary=True)
    return agency


def _client(agency, name, legal_name, city, region, postal_code):
    client, created = Client.objects.get_or_create(agency=agency, name=name, defaults={
        "legal_name": legal_name, "status": Client.Status.ACTIVE, "address_line1": "100 Market Street",
        "city": city, "region": region, "postal_code": postal_code, "country": "US",
        "billing_contact_name": "Billing Team", "billing_contact_email": f"billing@{name.split()[0].lower()}.test",
        "operations_contact_name": "Credit Control", "operations_contact_email": f"credit@{name.split()[0].lower()}.test",
        "remittance_bank_name": "First Demo Bank", "remittance_account_name": legal_name,
        "remittance_routing_last4": "0021", "remittance_account_last4": "4321", "onboarding_step": 4,
        "terms_accepted_at": timezone.now(),
    })
    return client


def _terms(agency, client, *, fee_type, tiers):
    terms, created = ContractTerms.objects.get_or_create(agency=agency, client=client, defaults={"fee_type": fee_type})
    if created:
        for low, high, percent in tiers:
            FeeTier.objects.create(agency=agency, terms=terms, min_age_days=low, max_age_days=high,
                                   fee_percent=Decimal(percent))
    return terms


def _user(email, name):
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name, time_zone="America/New_York")
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user
