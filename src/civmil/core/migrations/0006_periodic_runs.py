"""Periodic job runs (civmil.core.schedule)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0004_outbox")]

    operations = [
        migrations.CreateModel(
            name="PeriodicRun",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100, verbose_name="job")),
                ("period_start", models.DateTimeField(verbose_name="period start")),
                ("enqueued_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="enqueued")),
                ("task_result_id", models.CharField(blank=True, default="", max_length=64,
                                                    verbose_name="task result")),
            ],
            options={
                "verbose_name": "periodic run",
                "verbose_name_plural": "periodic runs",
                "ordering": ["-period_start", "name"],
                "constraints": [
                    models.UniqueConstraint(fields=("name", "period_start"), name="core_periodicrun_once_per_period"),
                ],
            },
        ),
    ]
