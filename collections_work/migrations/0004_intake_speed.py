"""Intake speed: fewer foreign-key checks and index entries per placed row.

Tenant columns whose value another foreign key already implies keep their column but lose the
database FK (each FK is one check per inserted row); contacts' and parties' tenant columns also
lose their index (those rows are only reached through their debtor or account). The collector
index only holds assigned accounts. Dropping a constraint or an index is quick at any table size.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('collections_work', '0003_drop_redundant_fk_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='accountparty',
            name='agency',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.agency'),
        ),
        migrations.AlterField(
            model_name='accountparty',
            name='client',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.client'),
        ),
        migrations.AlterField(
            model_name='contact',
            name='agency',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.agency'),
        ),
        migrations.AlterField(
            model_name='contact',
            name='client',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.client'),
        ),
        migrations.AlterField(
            model_name='debtor',
            name='agency',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.agency'),
        ),
        migrations.AlterField(
            model_name='debtoraccount',
            name='agency',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.agency'),
        ),
        # Only the index goes: AlterField would also drop and re-add (and so re-validate) the FK.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='debtoraccount',
                    name='assigned_collector',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS collections_work_debtoraccount_assigned_collector_id_c053bfdf",
                    reverse_sql="CREATE INDEX IF NOT EXISTS collections_work_debtoraccount_assigned_collector_id_c053bfdf "
                                "ON collections_work_debtoraccount (assigned_collector_id)",
                ),
            ],
        ),
        migrations.AddIndex(
            model_name='debtoraccount',
            index=models.Index(condition=models.Q(('assigned_collector__isnull', False)), fields=['assigned_collector'], name='acct_collector'),
        ),
    ]
