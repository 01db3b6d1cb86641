from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        # The supervisor's figures (collections_work) show amounts collected without importing payments.
        from collections_work.work_selectors import COLLECTED_AMOUNT_SOURCES
        from payments.selectors import collected_by_collector

        if collected_by_collector not in COLLECTED_AMOUNT_SOURCES:
            COLLECTED_AMOUNT_SOURCES.append(collected_by_collector)
