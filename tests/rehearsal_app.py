"""A temporary scenario app for the rehearsal tests, written under ``tmp_path``.

``rehearsal_demo`` has two models (``Gadget``, ``Log`` with a foreign key to it) and an
initial migration that the live test database gets; each test adds the pending migrations
it rehearses (the ``PENDING`` scenarios below). Nothing is written into the source tree, and
nothing stays in the test database: the fixture unapplies the app without ``migrate``'s
post-migrate signals, so no content type outlives it.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

APP = "rehearsal_demo"
TABLE = "rehearsal_demo_gadget"
LOG_TABLE = "rehearsal_demo_log"

MODELS = """
from django.db import models


class Gadget(models.Model):
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=50, null=True)

    class Meta:
        app_label = "rehearsal_demo"
        indexes = [models.Index(fields=["name"], name="rh_gadget_name")]


class Log(models.Model):
    gadget = models.ForeignKey(Gadget, on_delete=models.CASCADE)
    note = models.CharField(max_length=50)

    class Meta:
        app_label = "rehearsal_demo"
"""

INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Gadget",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("code", models.CharField(max_length=20)),
                ("name", models.CharField(max_length=50, null=True)),
            ],
            options={"indexes": [models.Index(fields=["name"], name="rh_gadget_name")]},
        ),
        migrations.CreateModel(
            name="Log",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("note", models.CharField(max_length=50)),
                (
                    "gadget",
                    models.ForeignKey(on_delete=models.CASCADE, to="rehearsal_demo.gadget"),
                ),
            ],
        ),
    ]
"""

_HEADER = """
from django.db import migrations, models


"""
_DEPENDS = '    dependencies = [("rehearsal_demo", "0001_initial")]\n'

# name -> source of a pending migration (after 0001_initial). {drop_index} is filled per vendor.
PENDING = {
    # A RunPython that writes through the real models' default managers, on two aliases.
    "0002_write_logs": _HEADER
    + """def write(apps, schema_editor):
    from rehearsal_demo.models import Gadget, Log

    gadget = Gadget.objects.create(code="rehearsed", name="new")
    Log.objects.create(gadget=gadget, note="written by the rehearsal")
    # Another alias: the router sends nothing there, the rehearsal must still catch it.
    Gadget.objects.using("other").create(code="other", name="other")


class Migration(migrations.Migration):
"""
    + _DEPENDS
    + """    operations = [migrations.RunPython(write, migrations.RunPython.noop)]
""",
    # Fails only on duplicate codes.
    "0002_unique_code": _HEADER
    + "class Migration(migrations.Migration):\n"
    + _DEPENDS
    + """    operations = [
        migrations.AlterField("gadget", "code", models.CharField(max_length=20, unique=True)),
    ]
""",
    # Fails only on NULL names.
    "0002_name_required": _HEADER
    + "class Migration(migrations.Migration):\n"
    + _DEPENDS
    + """    operations = [
        migrations.AlterField("gadget", "name", models.CharField(max_length=50)),
    ]
""",
    # Fails at its second operation on duplicate codes: half way on MySQL/MariaDB.
    "0002_flag_then_unique": _HEADER
    + "class Migration(migrations.Migration):\n"
    + _DEPENDS
    + """    operations = [
        migrations.AddField("gadget", "flag", models.BooleanField(default=False)),
        migrations.AlterField("gadget", "code", models.CharField(max_length=20, unique=True)),
    ]
""",
    # Succeeds with or without data: for comparing with a real migrate.
    "0002_structure": _HEADER
    + "class Migration(migrations.Migration):\n"
    + _DEPENDS
    + """    operations = [
        migrations.AddField("gadget", "flag", models.BooleanField(default=False)),
        migrations.AlterField("gadget", "name", models.CharField(max_length=80, null=True)),
        migrations.AddIndex("gadget", models.Index(fields=["code", "flag"], name="rh_code_flag")),
    ]
""",
    # Drops an index outside the state; its reverse does not bring it back.
    "0002_drop_name_index": _HEADER
    + "class Migration(migrations.Migration):\n"
    + _DEPENDS
    + """    operations = [
        migrations.RunSQL({drop_index!r}, reverse_sql=migrations.RunSQL.noop),
    ]
""",
    # A RunPython that writes through a connection object taken when its module was imported.
    "0002_cached_connection": """
from django.db import connections, migrations

LIVE = connections["default"]  # the live connection: imported before any rehearsal


def write(apps, schema_editor):
    with LIVE.cursor() as cursor:
        cursor.execute("INSERT INTO rehearsal_demo_gadget (code, name) VALUES ('x', 'y')")


class Migration(migrations.Migration):
"""
    + _DEPENDS
    + """    operations = [migrations.RunPython(write, migrations.RunPython.noop)]
""",
    # A RunPython without a reverse.
    "0002_no_reverse": _HEADER
    + """def forwards(apps, schema_editor):
    apps.get_model("rehearsal_demo", "Gadget").objects.update(name="renamed")


class Migration(migrations.Migration):
"""
    + _DEPENDS
    + """    operations = [migrations.RunPython(forwards)]
""",
    # Ctrl-C in the middle of the rehearsal.
    "0002_interrupted": _HEADER
    + """def forwards(apps, schema_editor):
    raise KeyboardInterrupt


class Migration(migrations.Migration):
"""
    + _DEPENDS
    + """    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
""",
}

_COUNTER = itertools.count()


def drop_index_sql(vendor: str) -> str:
    if vendor == "mysql":
        return f"DROP INDEX IF EXISTS rh_gadget_name ON {TABLE}"
    return "DROP INDEX IF EXISTS rh_gadget_name"


def write_app(root: Path, pending: list[str], vendor: str) -> str:
    """Write the app (once) and a fresh migrations package; return the package's name."""
    app = root / APP
    if not app.exists():
        app.mkdir(parents=True)
        (app / "__init__.py").write_text("")
        (app / "models.py").write_text(textwrap.dedent(MODELS))
    package = f"rehearsal_demo_migrations_{next(_COUNTER)}"
    directory = root / package
    directory.mkdir()
    (directory / "__init__.py").write_text("")
    (directory / "0001_initial.py").write_text(INITIAL)
    for name in pending:
        source = PENDING[name].replace("{drop_index!r}", repr(drop_index_sql(vendor)))
        (directory / f"{name}.py").write_text(source)
    return package


def forget_modules(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]
