"""Drop single-column FK indexes that another index of the same table already starts with.

Only the indexes go: AlterField alone would also drop and re-add (and so re-validate, under an
exclusive lock) each foreign key on tables that can hold millions of rows.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('collections_work', '0002_debtoraccount_cease_communication_at_dispute_and_more'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='accountparty',
                    name='account',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='parties', to='collections_work.debtoraccount'),
                ),
                migrations.AlterField(
                    model_name='contact',
                    name='debtor',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='collections_work.debtor'),
                ),
                migrations.AlterField(
                    model_name='debtor',
                    name='client',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.client'),
                ),
                migrations.AlterField(
                    model_name='debtoraccount',
                    name='agency',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.agency'),
                ),
                migrations.AlterField(
                    model_name='debtoraccount',
                    name='client',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.client'),
                ),
                migrations.AlterField(
                    model_name='debtoraccount',
                    name='placement_batch',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='accounts', to='collections_work.placementbatch'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})",
                )
                for name, table, column in [
                    ("collections_work_accountparty_account_id_81876da3", "collections_work_accountparty", "account_id"),
                    ("collections_work_contact_debtor_id_c31a2bba", "collections_work_contact", "debtor_id"),
                    ("collections_work_debtor_client_id_6b1b7765", "collections_work_debtor", "client_id"),
                    ("collections_work_debtoraccount_agency_id_ac12d0cf", "collections_work_debtoraccount", "agency_id"),
                    ("collections_work_debtoraccount_client_id_92a264c1", "collections_work_debtoraccount", "client_id"),
                    ("collections_work_debtoraccount_placement_batch_id_ea301bba", "collections_work_debtoraccount",
                     "placement_batch_id"),
                ]
            ],
        ),
    ]
