from django.apps import AppConfig


class CollectionsWorkConfig(AppConfig):
    name = "collections_work"
    verbose_name = "Collections work"
