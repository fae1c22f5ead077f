"""``reset_migrations``: what must never happen to the live database, the files or the
rows, whatever the migrations' code does (issues #12 and #13). Same temporary project as
``test_reset_migrations``: copies of the scenario apps' migrations, never the source tree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests.checksums import table_checksums
from tests.test_reset_migrations import (
    ALIASES,
    JOURNAL_OLD,
    Project,
    all_rows,
    app_rows,
    assert_unchanged,
    reset,
    temporary_project,
)

pytestmark = pytest.mark.django_db(databases=list(ALIASES), transaction=True)


@pytest.fixture
def project(tmp_path: Path, settings) -> Iterator[Project]:
    with temporary_project(tmp_path, settings) as created:
        yield created


# 0006 as data migrations are usually written: the default manager, no .using(alias), so
# the writes follow the routers to 'default'. Entry.objects.create also fails on a table
# that has later NOT NULL columns (the live one), as in the field trial.
SEED_THROUGH_OBJECTS = """\
from django.db import migrations


def seed_categories(apps, schema_editor):
    Category = apps.get_model("journal", "Category")
    Entry = apps.get_model("journal", "Entry")
    for name in ("Work", "Travel"):
        Category.objects.create(name=name)
    Entry.objects.create(title="Seeded", category=Category.objects.get(name="Work"))


class Migration(migrations.Migration):
    dependencies = [("journal", "0005_rename_body_entry_text")]

    operations = [migrations.RunPython(seed_categories, migrations.RunPython.noop)]
"""


def every_table(alias: str = "default") -> dict[str, str]:
    return table_checksums(connections[alias], exclude={"django_migrations"})


@pytest.mark.parametrize("mode", ["replace", "clean-slate"])
def test_measure_never_writes_into_the_live_database(project: Project, mode: str):
    (project.directory("journal") / "0006_seed_categories.py").write_text(SEED_THROUGH_OBJECTS)
    before = {alias: every_table(alias) for alias in ALIASES}
    rows = all_rows("default")

    out, err, code = reset(project, "journal", mode=mode, keep_data_migrations=True, measure=True)
    assert (err, code) == ("", 0)
    # Both timings ran the carried RunPython (12 old migrations, then the 2 new ones).
    assert re.search(
        r"\nFresh migrate: 12 migrations in \d+\.\d\d s before, 2 migrations in \d+\.\d\d s "
        r"after\.\n",
        out,
    ), out
    assert {alias: every_table(alias) for alias in ALIASES} == before
    new = {("journal", "0001_reset"), ("journal", "0002_reset_data")}
    if mode == "replace":
        assert all_rows("default") == rows | new
    else:
        assert all_rows("default") == {r for r in rows if r[0] != "journal"} | new
    assert app_rows("other", "journal") == list(JOURNAL_OLD)


# A "create the home page" data migration: right where it was (after 0005), wrong against
# the final schema, where journal_entry has NOT NULL columns without a database default.
SEED_WITH_RAW_SQL = """\
from django.db import migrations


def create_home_entry(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO journal_entry (title, text, created, slug) "
            "VALUES ('Home', '', CURRENT_TIMESTAMP, 'home')"
        )


class Migration(migrations.Migration):
    dependencies = [("journal", "0005_rename_body_entry_text")]

    operations = [migrations.RunPython(create_home_entry, migrations.RunPython.noop)]
"""
NOT_NULL = {
    "sqlite": "IntegrityError: NOT NULL constraint failed: journal_entry.published",
    "mysql": "IntegrityError: (1364, \"Field 'published' doesn't have a default value\")",
    "postgresql": 'IntegrityError: null value in column "published" of relation "journal_entry" '
    "violates not-null constraint",
}


@pytest.mark.parametrize("mode", ["replace", "clean-slate"])
def test_carried_code_that_breaks_a_fresh_database_is_not_recorded(
    project: Project, mode: str, vendor: str
):
    (project.directory("journal") / "0006_seed_categories.py").write_text(SEED_WITH_RAW_SQL)
    contents, rows = project.contents(), all_rows("default")
    before = {alias: every_table(alias) for alias in ALIASES}

    out, err, code = reset(project, "journal", mode=mode, keep_data_migrations=True)
    assert code == 2
    assert err == (
        "The new migrations do not build a fresh database: `migrate` failed on a scratch "
        f"database in journal.0002_reset_data: {NOT_NULL[vendor]}. A carried operation cannot "
        "run where the reset puts it; fix or drop it (without --keep-data-migrations it is "
        "left out and listed). The old migration files are back in place and "
        "django_migrations is unchanged."
    )
    assert "    Write 0002_reset_data.py (" in out
    assert_unchanged(project, contents, rows)
    assert {alias: every_table(alias) for alias in ALIASES} == before
    # Without the carried code the same reset goes through.
    assert reset(project, "journal", mode=mode)[1:] == ("", 0)


def test_measure_without_a_settings_module_is_refused(project: Project, monkeypatch):
    contents, rows = project.contents(), all_rows("default")
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    out, err, code = reset(project, "journal", measure=True)
    assert code == 2
    assert out.startswith("Reset plan for database 'default' (mode: replace):\n")
    assert err == (
        "A fresh migrate on a scratch database runs in a separate process, which needs the "
        "settings as a module: set DJANGO_SETTINGS_MODULE (settings.configure() cannot be "
        "handed to another process). Nothing was changed."
    )
    assert_unchanged(project, contents, rows)
