"""Demo debtor accounts, queues, a team and an email template for the demo agency (accounts.demo
makes the agency and its people). Safe to run again: references and names are fixed."""
import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Client, User
from collections_work.models import ContactPolicy, DebtorAccount, EmailTemplate, Queue, Team
from collections_work.placements.services import accounts_place
from collections_work.worklist.claim import default_queue_for
from portal.tenancy import tenant_scope

ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", ""]
NAMES = ["Harbor Freight Partners", "Blue Ridge Dental", "Cedar & Pine Cafe", "Metro Auto Body", "Lakeside Florists",
         "Summit Roofing", "Granite State Printing", "Oak Street Bakery", "Riverbend Logistics", "Copper Kettle Diner",
         "Northstar Plumbing", "Prairie Wind Farms", "Silverline Salon", "Evergreen Landscaping", "Keystone Movers"]


@transaction.atomic
def seed_worklist_demo(agency_slug="demo-recovery", accounts_per_client=30):
    agency = Agency.objects.get(slug=agency_slug)
    with tenant_scope(agency):
        admin = User.objects.get(email="admin@demo-recovery.test")
        collector = User.objects.get(email="collector@demo-recovery.test")
        for client in Client.objects.order_by("name"):
            if not DebtorAccount.objects.filter(client=client).exists():
                accounts_place(agency=agency, actor=admin, client=client, source="form",
                               rows=list(_rows(client, accounts_per_client)))
        default_queue_for(agency)
        # So the demo has work at any hour: commercial accounts follow this agency policy, the
        # unknown-purpose ones still keep Regulation F's 08:00-21:00 in the debtor's zone.
        ContactPolicy.objects.get_or_create(agency=agency, defaults={"earliest_hour": 0, "latest_hour": 24})
        team, _ = Team.objects.get_or_create(agency=agency, name="Early shift")
        team.members.add(collector)
        high, created = Queue.objects.get_or_create(agency=agency, name="High balances", defaults={
            "position": 10, "balance_min": Decimal("5000.00")})
        if created:
            high.teams.add(team)
        EmailTemplate.objects.get_or_create(agency=agency, name="Payment reminder", defaults={
            "subject": "Your account {reference} with {client_name}",
            "body": "Dear {debtor_name},\n\nOur records show {balance} {currency} still due to {client_name}. "
                    "Reply to this email or call us to arrange payment.\n\n{agency_name}"})
    return agency


def _rows(client, count):
    chance = random.Random(client.name)  # the same demo every time
    today = timezone.localdate()
    prefix = "".join(word[0] for word in client.name.split()).upper()
    for number in range(1, count + 1):
        name = f"{chance.choice(NAMES)} #{number}"
        days = chance.choice([20, 45, 80, 120, 200, 300, 420, 700])
        yield {
            "client_reference": f"{prefix}-{1000 + number}", "debtor_name": name, "debtor_kind": "business",
            "principal": f"{chance.choice([180, 950, 2400, 5600, 12800, 31000])}.{chance.randint(0, 99):02d}",
            "delinquency_date": (today - timedelta(days=days)).isoformat(),
            "due_date": (today - timedelta(days=days)).isoformat(),
            "email": f"ap{number}@{prefix.lower()}-debtor.test", "phone": f"+1 312 555 {1000 + number:04d}",
            "time_zone": chance.choice(ZONES), "debt_purpose": chance.choice(["commercial", "commercial", "unknown"]),
            "invoice_number": f"INV-{20000 + number}",
        }
