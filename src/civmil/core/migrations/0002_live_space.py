import uuid

from django.db import migrations

LIVE_SPACE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def create_live_space(apps, schema_editor):
    Space = apps.get_model("core", "Space")
    MissionSettings = apps.get_model("core", "MissionSettings")
    space, _ = Space.objects.get_or_create(id=LIVE_SPACE_ID, defaults={"kind": "live", "name": "Live mission"})
    MissionSettings.objects.get_or_create(space=space)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(create_live_space, migrations.RunPython.noop)]
