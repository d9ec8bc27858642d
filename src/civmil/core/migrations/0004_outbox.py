"""The outbox of live events (civmil.core.events)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0003_ledger_triggers")]

    operations = [
        migrations.CreateModel(
            name="OutboxEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("space_id", models.UUIDField(verbose_name="space")),
                ("kind", models.CharField(max_length=64, verbose_name="kind")),
                ("object_type", models.CharField(max_length=100, verbose_name="object type")),
                ("object_id", models.CharField(max_length=64, verbose_name="object id")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created")),
                ("payload", models.JSONField(blank=True, default=dict, verbose_name="payload")),
            ],
            options={
                "verbose_name": "live event",
                "verbose_name_plural": "live events",
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["space_id", "object_type", "id"], name="core_outbox_stream_idx"),
                    models.Index(fields=["created_at"], name="core_outbox_created_idx"),
                ],
            },
        ),
    ]
