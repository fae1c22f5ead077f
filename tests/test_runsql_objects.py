"""Database objects that a migration's ``RunSQL`` creates and no model describes: they belong
to the app whose migration created them (not orphans), and no model promises their columns
(no drift). Tables (FTS5 virtual tables and their shadow tables included) are tables of the
snapshot; views, materialized views and free sequences are its ``objects``. Views and
sequences that no migration creates are reported once, as unowned; IGNORED_TABLES silences
them. The scenario (``tests/runsql_scenario.py``) gives each backend its own kinds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from migration_ops.core.ownership import attribute_tables, runsql_tables
from migration_ops.introspection import snapshot
from tests import runsql_scenario as scenario
from tests.runsql_scenario import FTS5_SHADOWS
from tests.utils import run_command

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def runsql_app(tmp_path: Path) -> Iterator[list[str]]:
    """The ``unmigrated`` app with one migration that creates objects with RunSQL; yields
    the tables the database then has that no model describes."""
    with scenario.runsql_app(tmp_path) as app:
        yield app.tables


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


# ------------------------------------------------------ views, materialized views, sequences


def test_views_and_free_sequences_are_snapshot_objects_not_tables(runsql_app):
    schema = snapshot(connection)
    assert scenario.live_objects() == scenario.expected_objects()
    assert not set(schema.objects) & set(schema.tables)
    # The serial column's sequence (PostgreSQL) belongs to its table: not an object. The
    # test database has the app's model table (made without migrations).
    assert [t for t in schema.tables if t.startswith("unmigrated_")] == sorted(
        ["unmigrated_note", *runsql_app]
    )


def test_a_restricted_snapshot_reads_only_the_named_objects(runsql_app):
    with CaptureQueriesContext(connection) as queries:
        schema = snapshot(connection, [scenario.VIEW, "library_author"])
    assert list(schema.tables) == ["library_author"]
    # What the view reads is not in this snapshot.
    assert {n: (o.kind, o.depends_on) for n, o in schema.objects.items()} == {
        scenario.VIEW: ("view", frozenset())
    }
    # The table queries, then one for the objects (plus SQLite's row counts).
    assert len(queries) == {"sqlite": 9, "mysql": 7, "postgresql": 5}[connection.vendor]


def test_views_and_sequences_belong_to_the_app_whose_runsql_created_them(runsql_app):
    ownership = attribute_tables(connection)
    assert {n: (o.app_label, o.reason, o.installed) for n, o in ownership.objects.items()} == {
        name: ("unmigrated", "runsql", True) for name in scenario.expected_objects()
    }
    assert ownership.objects_of("unmigrated") == tuple(scenario.expected_objects())
    assert ownership.unowned_objects == ()
    assert not set(ownership.objects) & set(ownership.owners)


@pytest.fixture
def stray_view() -> Iterator[str]:
    """A view over library_author that no migration creates."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE VIEW {quote('author_names')} AS SELECT name FROM {quote('library_author')}"
        )
    try:
        yield "author_names"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP VIEW {quote('author_names')}")


UNOWNED = (
    "View 'author_names' was created by no migration of an installed or removed app (no RunSQL "
    "names it); drop it, or add it to MIGRATION_OPS['IGNORED_TABLES'] if another tool owns it."
)


def test_a_view_no_migration_creates_is_reported_once_as_unowned(stray_view):
    ownership = attribute_tables(connection)
    assert ownership.unowned_objects == ("author_names",)
    assert ownership.orphans == ()

    out, err, code = run_command("plan_upgrade", format="json")
    assert (err, code) == ("", 0)
    assert json.loads(out)["findings"] == [
        {
            "kind": "unowned-object",
            "message": UNOWNED,
            "app_label": None,
            "subject": "author_names",
            "detail": {"object": "author_names", "object_kind": "view"},
        }
    ]
    out, err, code = run_command("plan_upgrade")
    assert (err, code) == ("", 0)
    assert out.count("author_names") == 1
    assert f"  [unowned-object] {UNOWNED}\n" in out


def test_ignored_tables_silence_views_and_sequences(stray_view, runsql_app):
    patterns = ["author_names", "unmigrated_*"]
    with override_settings(MIGRATION_OPS={"IGNORED_TABLES": patterns}):
        ownership = attribute_tables(connection)
        out, err, code = run_command("plan_upgrade", format="json")
    assert {n: o.reason for n, o in ownership.objects.items()} == {
        name: "ignored" for name in ["author_names", *scenario.expected_objects()]
    }
    assert (err, code) == ("", 0)
    assert json.loads(out)["findings"] == []


def test_the_rehearsal_says_it_does_not_copy_views_and_sequences(runsql_app):
    out, err, code = run_command("plan_upgrade", "--rehearse", format="json")
    assert (err, code) == ("", 0), err
    rehearsal = json.loads(out)["rehearsal"]
    assert rehearsal["failed"] is False
    nouns = {"view": "view", "materialized-view": "materialized view", "sequence": "sequence"}
    assert sorted(s for s in rehearsal["not_copied"] if "unmigrated_" in s) == sorted(
        f"The {nouns[kind]} {name} is not copied."
        for name, (kind, _) in scenario.expected_objects().items()
    )
