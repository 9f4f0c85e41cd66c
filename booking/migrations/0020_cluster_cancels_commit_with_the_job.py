"""The cancels kept while Slurm did not answer become the cancels the cluster has not
confirmed yet, written with every stopped job: the table is renamed, its rows kept."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0019_ledger_indexes_lead_with_the_project"),
    ]

    operations = [
        migrations.RenameModel(old_name="SlurmCancelRequest", new_name="ClusterCancel"),
    ]
