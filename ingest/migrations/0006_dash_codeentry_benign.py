"""CodeEntry.benign: "already done" codes shown apart on the overview (still errors, SPEC).

Seeds 303, 304, 323 and 600 as benign (0008 then derives the flag from each code's action) and
replaces the 325 meaning copied with an e-mail obfuscation artifact ("[email protected]") by a
clean one.
"""

from django.db import migrations, models

from ingest.catalog import SEED_BY_CODE

FIRST_BENIGN_CODES = (303, 304, 323, 600)
ARTIFACT = "[email protected]"


def seed_benign(apps, schema_editor):
    CodeEntry = apps.get_model("ingest", "CodeEntry")
    CodeEntry.objects.filter(code__in=FIRST_BENIGN_CODES).update(benign=True)
    CodeEntry.objects.filter(code=325, meaning__contains=ARTIFACT).update(
        meaning=SEED_BY_CODE[325].meaning
    )


class Migration(migrations.Migration):
    dependencies = [("ingest", "0005_rollup_category_and_daily")]

    operations = [
        migrations.AddField(
            model_name="codeentry",
            name="benign",
            field=models.BooleanField(
                default=False, help_text="Counted as an error, but shown apart on the overview."
            ),
        ),
        migrations.RunPython(seed_benign, migrations.RunPython.noop),
    ]
