"""The default rules (alerts.defaults), disabled until a channel is set."""

from django.conf import settings
from django.db import migrations

from alerts.defaults import DEFAULT_RULES


def add_default_rules(apps, schema_editor):
    Rule = apps.get_model("alerts", "Rule")
    known = {field.name for field in Rule._meta.get_fields()}  # later fields: later migrations
    for fields in DEFAULT_RULES:
        if not Rule.objects.filter(name=fields["name"]).exists():
            kept = {name: value for name, value in fields.items() if name in known}
            Rule.objects.create(enabled=False, tz=settings.TIME_ZONE, **kept)


def remove_default_rules(apps, schema_editor):
    Rule = apps.get_model("alerts", "Rule")
    Rule.objects.filter(name__in=[r["name"] for r in DEFAULT_RULES], enabled=False).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(add_default_rules, remove_default_rules)]
