"""The default beat schedule (portal/beat.py DEFAULT_SCHEDULE) as django-celery-beat rows."""
from django.db import migrations


def install(apps, schema_editor):
    from portal.beat import defaults_install

    defaults_install(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_outboundemail_next_attempt_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
