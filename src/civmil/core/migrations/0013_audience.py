"""Each protected record's audience as indexed rows (see civmil.core.access.audience_keys),
written for every record that exists, of every registered type."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 2000


def backfill(apps: Any, schema_editor: Any) -> None:
    from civmil.core import registry
    from civmil.core.access import audience_keys

    ContentType = apps.get_model("contenttypes", "ContentType")
    Audience = apps.get_model("core", "Audience")
    Release = apps.get_model("core", "Release")
    Grant = apps.get_model("core", "Grant")
    AudienceCount = apps.get_model("core", "AudienceCount")
    db = schema_editor.connection.alias
    for record_type in registry.all_types():
        meta = record_type.model._meta
        try:
            model = apps.get_model(meta.app_label, meta.model_name)
        except LookupError:  # its app's tables come later in this plan: no record yet
            continue
        content_type, _created = ContentType.objects.using(db).get_or_create(
            app_label=meta.app_label, model=meta.model_name)
        releases: dict[Any, list[Any]] = {}
        for row in Release.objects.using(db).filter(content_type=content_type, revoked_at__isnull=True).values_list(
                "object_id", "target_organisation_id", "target_component", "target_person_id"):
            releases.setdefault(row[0], []).append(row[1:])
        grantees: dict[Any, list[Any]] = {}
        for object_id, person_id in Grant.objects.using(db).filter(
                content_type=content_type, revoked_at__isnull=True, recused_at__isnull=True
        ).values_list("object_id", "person_id"):
            grantees.setdefault(object_id, []).append(person_id)
        rows = []
        counts: dict[tuple[Any, str], int] = {}
        records = model._default_manager.using(db).order_by().values_list(
            "pk", "space_id", "level", "owner_id", "created_by_id")
        for pk, space_id, level, owner_id, created_by_id in records.iterator(chunk_size=CHUNK):
            counts[space_id, level] = counts.get((space_id, level), 0) + 1
            for key in sorted(audience_keys(level, owner_id, created_by_id, releases.get(pk, ()),
                                            grantees.get(pk, ()))):
                rows.append(Audience(content_type_id=content_type.pk, object_id=pk, space_id=space_id,
                                     key=key, level=level))
            if len(rows) >= CHUNK:
                Audience.objects.using(db).bulk_create(rows)
                rows = []
        Audience.objects.using(db).bulk_create(rows)
        AudienceCount.objects.using(db).bulk_create([
            AudienceCount(content_type_id=content_type.pk, space_id=space_id, level=level, records=n)
            for (space_id, level), n in counts.items()])


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0012_live_relay'),
    ]

    operations = [
        migrations.CreateModel(
            name="Audience",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("object_id", models.UUIDField()),
                ("key", models.CharField(max_length=48)),
                ("level", models.CharField(choices=[
                    ("public", "Public"), ("mission", "Mission"), ("humanitarian", "Humanitarian"),
                    ("military", "Military"), ("restricted", "Restricted"), ("oversight", "Oversight"),
                ], max_length=16)),
                ("content_type", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                                   related_name="+", to="contenttypes.contenttype")),
                ("space", models.ForeignKey(db_constraint=False, db_index=False,
                                            on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                            to="core.space")),
            ],
            options={
                "verbose_name": "audience key",
                "verbose_name_plural": "audience keys",
                "indexes": [models.Index(fields=["content_type", "space", "key", "level", "object_id"],
                                         name="audience_by_key")],
                "constraints": [models.UniqueConstraint(fields=("content_type", "object_id", "key", "space"),
                                                        name="audience_one_key")],
            },
        ),
        migrations.CreateModel(
            name="AudienceCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.CharField(choices=[
                    ("public", "Public"), ("mission", "Mission"), ("humanitarian", "Humanitarian"),
                    ("military", "Military"), ("restricted", "Restricted"), ("oversight", "Oversight"),
                ], max_length=16)),
                ("records", models.BigIntegerField(default=0)),
                ("content_type", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                                   related_name="+", to="contenttypes.contenttype")),
                ("space", models.ForeignKey(db_constraint=False, db_index=False,
                                            on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                            to="core.space")),
            ],
            options={
                "verbose_name": "audience count",
                "verbose_name_plural": "audience counts",
                "constraints": [models.UniqueConstraint(fields=("content_type", "space", "level"),
                                                        name="audience_count_one_level")],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
