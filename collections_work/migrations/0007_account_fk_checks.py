"""Intake speed: no database FK on a debtor account's client and placement batch.

The account's client is its debtor's (whose FK stays), and the batch is the same row for every
account of a placement: two checks per placed row that guard nothing the others do not.
Dropping a constraint is quick at any table size.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('collections_work', '0006_activity_kinds'),
    ]

    operations = [
        migrations.AlterField(
            model_name='debtoraccount',
            name='client',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.client'),
        ),
        migrations.AlterField(
            model_name='debtoraccount',
            name='placement_batch',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='accounts', to='collections_work.placementbatch'),
        ),
    ]
