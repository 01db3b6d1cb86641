from django.apps import AppConfig


class CollectionsWorkConfig(AppConfig):
    name = "collections_work"
    verbose_name = "Collections work"

    def ready(self):
        # Celery's autodiscovery looks for <app>.tasks only; the tasks live in the packages.
        from collections_work.letters import tasks as _letter_tasks  # noqa: F401
        from collections_work.placements import tasks as _placement_tasks  # noqa: F401
        from collections_work.worklist import tasks as _worklist_tasks  # noqa: F401
