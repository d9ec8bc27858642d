"""The liaison log's place moves onto core's Placed base: a GeoJSON Point (WGS84) with its box
(west, south, east, north) and the spatial index, instead of two floats.

Each entry with a latitude and a longitude gets the Point and its box; the old columns and their
check constraint go. Releases of the entry's fields that named both ``latitude`` and
``longitude`` now name ``geometry``; a release of only one of them named half a place, which
nothing showed on a map or a card, and is dropped rather than widened. Backwards, a Point gives
its latitude and longitude again, and releases of ``geometry`` name both.
"""

from django.db import migrations, models

import civmil.core.spatial

OLD = ("latitude", "longitude")


def _releases(apps):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    Release = apps.get_model("core", "Release")
    ct = ContentType.objects.filter(app_label="actors", model="liaisonlogentry").first()
    if ct is None:
        return Release.objects.none()
    return Release.objects.filter(content_type=ct).exclude(fields=None)


def _to_geometry(apps, schema_editor):  # type: ignore[no-untyped-def]
    Entry = apps.get_model("actors", "LiaisonLogEntry")
    located = Entry.objects.exclude(latitude=None).exclude(longitude=None)
    for pk, lat, lon in located.values_list("pk", "latitude", "longitude").iterator():
        Entry.objects.filter(pk=pk).update(
            geometry={"type": "Point", "coordinates": [float(lon), float(lat)]},
            west=float(lon), east=float(lon), south=float(lat), north=float(lat))
    for release in _releases(apps).iterator():
        fields = list(release.fields or [])
        if not any(name in fields for name in OLD):
            continue
        kept = [name for name in fields if name not in OLD]
        if all(name in fields for name in OLD):
            kept.append("geometry")
        release.fields = kept
        release.save(update_fields=["fields"])


def _to_lat_lon(apps, schema_editor):  # type: ignore[no-untyped-def]
    Entry = apps.get_model("actors", "LiaisonLogEntry")
    for pk, geometry in Entry.objects.exclude(geometry=None).values_list("pk", "geometry").iterator():
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            Entry.objects.filter(pk=pk).update(latitude=float(lat), longitude=float(lon))
    for release in _releases(apps).iterator():
        fields = list(release.fields or [])
        if "geometry" not in fields:
            continue
        release.fields = [*(name for name in fields if name != "geometry"), *OLD]
        release.save(update_fields=["fields"])


class Migration(migrations.Migration):

    dependencies = [
        ('actors', '0003_assignment_confirmation'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0013_audience'),
    ]

    operations = [
        migrations.AddField(
            model_name='liaisonlogentry',
            name='geometry',
            field=models.JSONField(blank=True, null=True, verbose_name='location'),
        ),
        migrations.AddField(
            model_name='liaisonlogentry',
            name='west',
            field=models.FloatField(blank=True, editable=False, null=True, verbose_name='west'),
        ),
        migrations.AddField(
            model_name='liaisonlogentry',
            name='south',
            field=models.FloatField(blank=True, editable=False, null=True, verbose_name='south'),
        ),
        migrations.AddField(
            model_name='liaisonlogentry',
            name='east',
            field=models.FloatField(blank=True, editable=False, null=True, verbose_name='east'),
        ),
        migrations.AddField(
            model_name='liaisonlogentry',
            name='north',
            field=models.FloatField(blank=True, editable=False, null=True, verbose_name='north'),
        ),
        migrations.RunPython(_to_geometry, _to_lat_lon),
        migrations.RemoveConstraint(
            model_name='liaisonlogentry',
            name='liaison_entry_location_in_range',
        ),
        migrations.RemoveField(
            model_name='liaisonlogentry',
            name='latitude',
        ),
        migrations.RemoveField(
            model_name='liaisonlogentry',
            name='longitude',
        ),
        migrations.AddConstraint(
            model_name='liaisonlogentry',
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(('east__isnull', True), ('north__isnull', True), ('south__isnull', True),
                             ('west__isnull', True)),
                    models.Q(('east__lte', 180), ('north__lte', 90), ('south__gte', -90), ('south__lte', models.F('north')),
                             ('west__gte', -180), ('west__lte', models.F('east'))),
                    _connector='OR'),
                name='actors_liaisonlogentry_box_in_range'),
        ),
        civmil.core.spatial.SpatialIndex('LiaisonLogEntry'),
    ]
