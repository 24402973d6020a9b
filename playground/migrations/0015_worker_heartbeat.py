from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0014_sweeps_and_arena"),
    ]

    operations = [
        migrations.AddField(
            model_name="turn",
            name="worker",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.CreateModel(
            name="Worker",
            fields=[
                ("name", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("beat_at", models.DateTimeField()),
            ],
        ),
    ]
