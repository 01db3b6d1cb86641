from django.core.management.base import BaseCommand

from accounts.demo import DEMO_PASSWORD, DEMO_SUPERUSER, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = "Create the demo agency, clients and users (idempotent) and print their logins."

    def handle(self, *args, **options):
        agency = seed_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {agency.name}"))
        self.stdout.write(demo_logins_text())


def demo_logins_text() -> str:
    lines = ["", "Demo logins (password for all: %s)" % DEMO_PASSWORD]
    for email, name, role, client in DEMO_USERS:
        lines.append(f"  {role.label:<24} {email:<32} {client or ''}")
    lines.append(f"  {'Django admin (superuser)':<24} {DEMO_SUPERUSER:<32} /admin/")
    return "\n".join(lines) + "\n"
