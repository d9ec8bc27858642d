"""How far the periodic pruning has removed old live events (civmil.core.events.prune)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0008_erasure_requests")]

    operations = [
        migrations.CreateModel(
            name="OutboxHorizon",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("pruned_through", models.BigIntegerField(default=0, verbose_name="pruned through event")),
                ("pruned_at", models.DateTimeField(blank=True, null=True, verbose_name="pruned")),
            ],
            options={"verbose_name": "live events horizon", "verbose_name_plural": "live events horizon"},
        ),
    ]
