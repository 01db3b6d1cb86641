from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self):
        from portal.beat import install_after_migrate

        # Entries added to portal/beat.py DEFAULT_SCHEDULE after the first install appear on the
        # next `migrate`; existing entries (an administrator's changes) are never touched.
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="portal-beat-defaults")
