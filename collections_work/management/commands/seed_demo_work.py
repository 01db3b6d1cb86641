from django.core.management.base import BaseCommand

from collections_work.demo import seed_worklist_demo


class Command(BaseCommand):
    help = "Give the demo agency debtor accounts, queues, a team and an email template (idempotent)."

    def handle(self, *args, **options):
        agency = seed_worklist_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo accounts and worklist ready: {agency.name}"))
