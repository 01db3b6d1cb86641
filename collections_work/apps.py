from django.apps import AppConfig


class CollectionsWorkConfig(AppConfig):
    name = "collections_work"
    verbose_name = "Collections work"

    def ready(self):
        from django.db.backends.signals import connection_created

        from collections_work.debtor_accounts.search import register_sqlite_functions

        # SQLite gets the search's folding functions in Python (PostgreSQL's are in migration 0010).
        connection_created.connect(register_sqlite_functions, dispatch_uid="collections_work.search_functions")
        # Every email to a debtor asks the contact policy before it goes (portal.send_gate).
        from collections_work.outbox.gate import ContactPolicyGate
        from portal.send_gate import send_gate_register

        send_gate_register(ContactPolicyGate())
        # Celery's autodiscovery looks for <app>.tasks only; the tasks live in the packages.
        from collections_work.letters import tasks as _letter_tasks  # noqa: F401
        from collections_work.placements import tasks as _placement_tasks  # noqa: F401
        from collections_work.worklist import tasks as _worklist_tasks  # noqa: F401
