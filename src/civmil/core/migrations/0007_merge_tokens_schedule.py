from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0005_api_tokens"), ("core", "0006_periodic_runs")]
    operations: list[migrations.operations.base.Operation] = []
