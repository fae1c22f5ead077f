"""Database objects that a migration's ``RunSQL`` creates and no model describes: they belong
to the app whose migration created them (not orphans), and no model promises their columns
(no drift). Each backend gets its own kind: an FTS5 virtual table with its shadow tables on
SQLite, a materialized view on PostgreSQL, a sequence on MariaDB, and a plain table on all.

The migration is written into a temporary module (``MIGRATION_MODULES``) for the
``unmigrated`` app, applied, then unapplied.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from migration_ops.core.ownership import attribute_tables, runsql_tables
from tests.utils import run_command

pytestmark = pytest.mark.django_db(transaction=True)

FTS5_SHADOWS = ("config", "content", "data", "docsize", "idx")


def created_sql() -> tuple[list[str], list[str]]:
    """(forward statements, reverse statements) for this backend."""
    forward = ["CREATE TABLE unmigrated_searchlog (id integer PRIMARY KEY, term varchar(20))"]
    reverse = ["DROP TABLE unmigrated_searchlog"]
    if connection.vendor == "sqlite":
        forward.append("CREATE VIRTUAL TABLE unmigrated_search USING fts5(title, body)")
        reverse.insert(0, "DROP TABLE unmigrated_search")
    elif connection.vendor == "postgresql":
        forward.append(
            "CREATE MATERIALIZED VIEW unmigrated_terms AS SELECT term FROM unmigrated_searchlog"
        )
        reverse.insert(0, "DROP MATERIALIZED VIEW unmigrated_terms")
    else:
        forward.append("CREATE SEQUENCE unmigrated_ticket_seq")
        reverse.insert(0, "DROP SEQUENCE unmigrated_ticket_seq")
    return forward, reverse


@pytest.fixture
def runsql_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ``unmigrated`` app with one migration that creates objects with RunSQL; yields
    the tables the database then has that no model describes."""
    forward, reverse = created_sql()
    package = tmp_path / "runsql_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "0001_search.py").write_text(
        textwrap.dedent(
            f"""\
            from django.db import migrations


            class Migration(migrations.Migration):
                operations = [migrations.RunSQL({forward!r}, reverse_sql={reverse!r})]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    tables = ["unmigrated_searchlog"]
    if connection.vendor == "sqlite":
        tables += ["unmigrated_search", *(f"unmigrated_search_{s}" for s in FTS5_SHADOWS)]
    with override_settings(MIGRATION_MODULES={"unmigrated": "runsql_migrations"}):
        call_command("migrate", "unmigrated", verbosity=0)
        try:
            yield sorted(tables)
        finally:
            call_command("migrate", "unmigrated", "zero", verbosity=0)
    MigrationRecorder(connection).migration_qs.filter(app="unmigrated").delete()


def test_created_names_are_read_from_the_sql():
    assert list(runsql_tables("CREATE VIRTUAL TABLE IF NOT EXISTS doc_fts USING fts5(a)")) == [
        "doc_fts",
        *(f"doc_fts_{s}" for s in FTS5_SHADOWS),
    ]
    assert list(runsql_tables('CREATE MATERIALIZED VIEW "public"."sales_mv" AS SELECT 1')) == [
        "sales_mv"
    ]
    assert list(runsql_tables("CREATE SEQUENCE ticket_seq; CREATE INDEX i ON t (a)")) == [
        "ticket_seq"
    ]


def test_runsql_objects_belong_to_the_app_whose_migration_created_them(runsql_app):
    ownership = attribute_tables(connection)
    owners = {t: (o.app_label, o.reason) for t, o in ownership.owners.items() if t in runsql_app}
    assert owners == {table: ("unmigrated", "runsql") for table in runsql_app}
    assert ownership.orphans == ()


def test_plan_upgrade_reports_no_orphan_and_no_drift_for_them(runsql_app):
    out, _, _ = run_command("plan_upgrade", format="json")
    findings = [(f["kind"], f["subject"]) for f in json.loads(out)["findings"]]
    # The only finding: the app's model table, which its (temporary) migrations never made.
    assert findings == [("schema-drift", "unmigrated_note")]


@pytest.fixture
def drifted_author() -> Iterator[None]:
    """An index on library_author that no migration made: drift."""
    table, name = connection.ops.quote_name("library_author"), "library_author_extra_idx"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX {connection.ops.quote_name(name)} ON {table} (name)")
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.execute(editor._delete_index_sql(_author(), name))


def _author():
    from library.models import Author

    return Author


def test_ignored_tables_are_silent_about_drift(drifted_author):
    out, _, _ = run_command("plan_upgrade", format="json")
    assert [f["subject"] for f in json.loads(out)["findings"] if f["kind"] == "schema-drift"] != []
    with override_settings(MIGRATION_OPS={"IGNORED_TABLES": ["library_author"]}):
        out, err, code = run_command("plan_upgrade", format="json")
    assert (err, code) == ("", 0)
    assert json.loads(out)["findings"] == []
