from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        # collections_work shows payments' parts through its hooks, never importing payments.
        from collections_work.debtor_accounts import panels
        from collections_work.worklist.selectors import COLLECTED_AMOUNT_SOURCES
        from payments.batch.services import register as register_payment_files
        from payments.panels import PANELS
        from payments.reminders.outdated import register as register_outdated_checks
        from payments.selectors import collected_by_collector

        register_payment_files()  # lockbox files through placement intake (collections_work.placements.intake.kinds)
        register_outdated_checks()  # a held reminder is cancelled once it is no longer true
        for panel in PANELS:
            panels.register(panel)
        if collected_by_collector not in COLLECTED_AMOUNT_SOURCES:
            COLLECTED_AMOUNT_SOURCES.append(collected_by_collector)
