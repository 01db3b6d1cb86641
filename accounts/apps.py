from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users, agencies and clients"

    def ready(self):
        from accounts import api_schema, signals  # noqa: F401
