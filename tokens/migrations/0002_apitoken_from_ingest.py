"""`ApiToken` joins the room that owns credentials. State only: the table keeps its name
(`ingest_apitoken`) and every row; no SQL runs on it. The content type is relabelled so the
admin's permissions on tokens follow the model.
"""

from django.db import migrations, models


def relabel_content_type(apps, schema_editor, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=new, model="apitoken").exists():
        ContentType.objects.filter(app_label=old, model="apitoken").update(app_label=new)


def forwards(apps, schema_editor):
    relabel_content_type(apps, schema_editor, old="ingest", new="tokens")


def backwards(apps, schema_editor):
    relabel_content_type(apps, schema_editor, old="tokens", new="ingest")


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0001_rate_limit_buckets"),
        ("ingest", "0006_dash_codeentry_benign"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        (
                            "prefix",
                            models.CharField(
                                help_text="First characters, to recognise a token", max_length=12
                            ),
                        ),
                        ("digest", models.CharField(max_length=64, unique=True)),
                        ("scopes", models.CharField(max_length=40)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("accepted", models.BigIntegerField(default=0)),
                        ("duplicates", models.BigIntegerField(default=0)),
                        ("rejected", models.BigIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("last_error_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "ingest_apitoken", "ordering": ["name"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
