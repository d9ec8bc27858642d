"""An attachment keeps the date its file was erased with the ledger change of its upload."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("comms", "0002_search_attachments"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="erased_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="erased"),
        ),
    ]
