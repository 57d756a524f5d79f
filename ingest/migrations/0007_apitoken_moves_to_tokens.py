"""`ApiToken` leaves this app's state for the tokens app's (tokens 0002). State only: the
table `ingest_apitoken` and its rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0006_dash_codeentry_benign"),
        ("tokens", "0002_apitoken_from_ingest"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
