from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0007_seal_secret_headers"),
    ]

    operations = [
        migrations.AddField(
            model_name="turn",
            name="steps",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
