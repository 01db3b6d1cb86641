import json

from django.core.management.base import BaseCommand

from payments.demo import seed_payments_demo


class Command(BaseCommand):
    help = "Give the demo agency offers, a signed plan and a fresh secure link for a demo debtor (prints it as JSON)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(seed_payments_demo()))
