from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0007_merge_tokens_schedule")]
    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(blank=True, max_length=8, verbose_name="language"),
        ),
    ]
