"""Requests to erase a person's personal data (civmil.core.erasure)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0009_user_language")]

    operations = [
        migrations.CreateModel(
            name="ErasureRequest",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("reason", models.TextField(max_length=500, verbose_name="reason")),
                ("requested_at", models.DateTimeField(verbose_name="requested at")),
                ("approved_at", models.DateTimeField(blank=True, null=True, verbose_name="approved at")),
                ("refused_at", models.DateTimeField(blank=True, null=True, verbose_name="refused at")),
                ("carried_out_at", models.DateTimeField(blank=True, null=True, verbose_name="carried out at")),
                ("person", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                             related_name="erasure_requests", to="core.person",
                                             verbose_name="person")),
                ("requested_by", models.ForeignKey(blank=True, null=True,
                                                   on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                                   to=settings.AUTH_USER_MODEL, verbose_name="requested by")),
                ("approved_by", models.ForeignKey(blank=True, null=True,
                                                  on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                                  to=settings.AUTH_USER_MODEL, verbose_name="approved by")),
            ],
            options={
                "verbose_name": "erasure request",
                "verbose_name_plural": "erasure requests",
                "ordering": ["-requested_at"],
            },
        ),
    ]
