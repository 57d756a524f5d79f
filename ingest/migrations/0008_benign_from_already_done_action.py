"""CodeEntry.benign from the catalog's action: every code whose action is "already done" is
benign. 0006 flagged a hand-kept list that missed 305 ("Webhook already registered"); from here
the action is the one source (ingest.catalog.is_already_done), read from each stored row so an
operator's edit of an action counts. Codes an operator flagged benign by hand stay flagged.
"""

from django.db import migrations

from ingest.catalog import is_already_done


def benign_from_action(apps, schema_editor):
    CodeEntry = apps.get_model("ingest", "CodeEntry")
    done = [row.code for row in CodeEntry.objects.all() if is_already_done(row.action)]
    CodeEntry.objects.filter(code__in=done).update(benign=True)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0007_apitoken_moves_to_tokens")]

    operations = [migrations.RunPython(benign_from_action, migrations.RunPython.noop)]
