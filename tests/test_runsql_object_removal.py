"""``safe_remove_app`` and the views, materialized views and sequences a migration's
``RunSQL`` created (``tests/runsql_scenario.py``): they are in the plan, dropped in an order
the database accepts (views before the tables they read, sequences after the tables), by
the reverse RunSQL (strategy ``migrate``) or by the removal itself (``drop``, or what a
reverse left); a view that stays and reads the app's tables refuses the removal.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from migration_ops.core.ownership import attribute_tables
from migration_ops.introspection import snapshot
from tests import runsql_scenario as scenario
from tests.checksums import table_checksums
from tests.utils import run_command

pytestmark = pytest.mark.django_db(transaction=True)


def remove(*args: str, **options: object) -> tuple[str, str, int]:
    options.setdefault("interactive", False)
    return run_command("safe_remove_app", "unmigrated", *args, **options)


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def app_names() -> set[str]:
    """The tables and objects of the scenario still in the catalogue."""
    schema = snapshot(connection)
    made = {scenario.LOG, *scenario.expected_objects()}
    return {n for n in [*schema.tables, *schema.objects] if n in made}


def drop_sql() -> list[str]:
    """What strategy drop runs for the scenario, before the rows are deleted."""
    views = [f"DROP VIEW {quoted(scenario.VIEW)}"]
    if connection.vendor == "postgresql":
        views.append(f"DROP MATERIALIZED VIEW {quoted('unmigrated_terms')}")
    tables = [
        f"DROP TABLE {quoted('unmigrated_note')}",
        *([f"DROP TABLE {quoted('unmigrated_search')}"] if connection.vendor == "sqlite" else []),
        f"DROP TABLE {quoted(scenario.LOG)}",
    ]
    before, after = {
        "sqlite": (["PRAGMA foreign_keys = OFF"], ["PRAGMA foreign_keys = ON"]),
        "mysql": (["SET FOREIGN_KEY_CHECKS = 0"], ["SET FOREIGN_KEY_CHECKS = 1"]),
        "postgresql": ([], []),
    }[connection.vendor]
    sequences = (
        [f"DROP SEQUENCE {quoted('unmigrated_ticket_seq')}"]
        if connection.vendor != "sqlite"
        else []
    )
    return [f"{s};" for s in [*views, *before, *tables, *after, *sequences]]


def object_steps() -> list[tuple[str, str]]:
    nouns = {"view": "view", "materialized-view": "materialized view", "sequence": "sequence"}
    found = [(n, nouns[kind]) for n, (kind, _) in scenario.expected_objects().items()]
    return [("drop-objects", f"Drop {noun} {name}") for name, noun in found]


def test_strategy_drop_drops_views_first_and_sequences_last(tmp_path):
    with scenario.runsql_app(tmp_path):
        before = table_checksums(connection)
        out, err, code = remove(strategy="drop", format="json", dry_run=True)
        assert (err, code) == ("", 0)
        assert table_checksums(connection) == before  # the dry run wrote nothing
        assert app_names() == {scenario.LOG, *scenario.expected_objects()}

        document = json.loads(out)
        assert [
            (o["name"], o["kind"], o["reason"], o["depends_on"]) for o in document["objects"]
        ] == [
            (name, kind, "runsql", sorted(reads))
            for name, (kind, reads) in scenario.expected_objects().items()
        ]
        views = [s for s in object_steps() if "sequence" not in s[1]]
        sequences = [s for s in object_steps() if "sequence" in s[1]]
        tables = [("drop-tables", "Drop table unmigrated_note")]
        if connection.vendor == "sqlite":
            shadows = ", ".join(f"unmigrated_search_{s}" for s in scenario.FTS5_SHADOWS)
            tables.append(("drop-tables", f"Drop tables unmigrated_search, {shadows}"))
        tables.append(("drop-tables", f"Drop table {scenario.LOG}"))
        assert [(s["kind"], s["description"]) for s in document["steps"]][:-2] == [
            *views,
            *tables,
            *sequences,
        ]
        assert document["sql"][: len(drop_sql())] == drop_sql()

        out, err, code = remove(strategy="drop")
        assert (err, code) == ("", 0)
        assert app_names() == set()
        assert "".join(f"  Dropped {d[len('Drop ') :]}.\n" for _, d in views) in out
        removed = {
            "sqlite": "8 tables (3 rows), 1 view",
            "mysql": "2 tables (0 rows), 1 view, 1 sequence",
            "postgresql": "2 tables (0 rows), 1 view, 1 materialized view, 1 sequence",
        }[connection.vendor]
        assert (
            f"Removed 'unmigrated' from database 'default': {removed}, 1 migration row, "
            "2 content types.\n"
        ) in out


@pytest.mark.parametrize("reverse", [True, None], ids=["reverse-sql", "noop-reverse"])
def test_strategy_migrate_runs_the_reverse_and_drops_what_it_left(tmp_path, reverse):
    with scenario.runsql_app(tmp_path, reverse=reverse):
        before = table_checksums(connection)
        out, err, code = remove(strategy="migrate", format="json", dry_run=True)
        assert (err, code) == ("", 0)
        assert table_checksums(connection) == before
        document = json.loads(out)
        assert [(s["kind"], s["description"]) for s in document["steps"]][:2] == [
            ("unapply-migration", "Unapply migration unmigrated.0001_search"),
            (
                "drop-leftover-tables",
                "Drop the tables, views and sequences of these apps that the reverse "
                "migrations left, if any",
            ),
        ]
        assert [o["name"] for o in document["objects"]] == list(scenario.expected_objects())

        out, err, code = remove(strategy="migrate")
        assert (err, code) == ("", 0)
        assert "  Unapplied migration unmigrated.0001_search.\n" in out
        assert app_names() == set()


REFUSED = (
    "Refusing to remove 'unmigrated' from database 'default'; nothing was changed.\n"
    "- Views that stay read tables or views to drop: view {view} ({owner}) reads "
    "unmigrated_searchlog. Dropping them would break them (PostgreSQL refuses without "
    "CASCADE, which safe_remove_app never uses): drop or redefine them first (with a "
    "migration of the app that owns them), or remove the apps that own them in the same run."
)


@pytest.fixture
def log_reader() -> Iterator[str]:
    """A view over the app's table that no migration creates."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE VIEW {quoted('log_terms')} AS SELECT term FROM {quoted(scenario.LOG)}"
        )
    try:
        yield "log_terms"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP VIEW {quoted('log_terms')}")


@pytest.fixture
def app_with_reader(tmp_path: Path) -> Iterator[None]:
    with scenario.runsql_app(tmp_path):
        yield


@pytest.mark.parametrize("strategy", ["drop", "migrate"])
@pytest.mark.parametrize(
    "settings", [{}, {"IGNORED_TABLES": ["log_*"]}], ids=["unowned", "ignored"]
)
def test_a_view_that_stays_over_the_apps_table_refuses_the_removal(
    app_with_reader, log_reader, strategy, settings
):
    before = table_checksums(connection)
    with override_settings(MIGRATION_OPS=settings):
        out, err, code = remove(strategy=strategy)
    assert (err, code) == (REFUSED.format(view="log_terms", owner="no app owns it"), 2)
    assert out.startswith("Plan to remove 'unmigrated' from database 'default':\n")
    assert "Removing:" not in out
    assert table_checksums(connection) == before
    assert app_names() == {scenario.LOG, *scenario.expected_objects()}
    assert "log_terms" in snapshot(connection).objects


@pytest.fixture
def reports_view(tmp_path: Path) -> Iterator[str]:
    """shop_reports, staying, with a migration whose RunSQL makes a view over the removed
    app's table (its migrations: a copy of the real ones, plus that one)."""
    import shop_reports.migrations

    (tmp_path / "app").mkdir()
    with scenario.runsql_app(tmp_path / "app"):
        package = tmp_path / "reports_migrations"
        shutil.copytree(Path(shop_reports.migrations.__file__).parent, package)
        (package / "0002_log_view.py").write_text(
            "from django.db import migrations\n\n\n"
            "class Migration(migrations.Migration):\n"
            "    dependencies = [('shop_reports', '0001_initial')]\n"
            "    operations = [migrations.RunSQL(\n"
            f"        'CREATE VIEW shop_reports_searches AS SELECT term FROM {scenario.LOG}',\n"
            "        reverse_sql='DROP VIEW shop_reports_searches',\n"
            "    )]\n"
        )
        sys.path.insert(0, str(tmp_path))
        modules = {"unmigrated": "runsql_migrations", "shop_reports": "reports_migrations"}
        try:
            with override_settings(MIGRATION_MODULES=modules):
                call_command("migrate", "shop_reports", verbosity=0)
                try:
                    yield "shop_reports_searches"
                finally:
                    call_command("migrate", "shop_reports", "0001", verbosity=0)
        finally:
            sys.path.remove(str(tmp_path))
            for name in [m for m in sys.modules if m.startswith("reports_migrations")]:
                del sys.modules[name]


def test_a_view_of_another_app_over_the_apps_table_refuses_the_removal(reports_view):
    assert snapshot(connection).objects[reports_view].depends_on == {scenario.LOG}
    before = table_checksums(connection)
    out, err, code = remove(strategy="drop")
    assert (err, code) == (REFUSED.format(view=reports_view, owner="app 'shop_reports'"), 2)
    assert "Removing:" not in out
    assert table_checksums(connection) == before
    assert reports_view in snapshot(connection).objects


@pytest.fixture
def ticket_holder(app_with_reader: None) -> Iterator[str]:
    """A table that stays (no app's) whose column default calls the app's sequence."""
    call = {
        "postgresql": "nextval('unmigrated_ticket_seq')",
        "mysql": "NEXTVAL(unmigrated_ticket_seq)",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quoted('ticket_holder')} (n bigint DEFAULT {call})")
    try:
        yield "ticket_holder"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quoted('ticket_holder')}")


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has no sequences")
def test_a_table_that_stays_and_calls_the_apps_sequence_refuses_the_removal(ticket_holder):
    sequence = snapshot(connection).objects["unmigrated_ticket_seq"]
    assert sequence.used_by == {ticket_holder}
    before = table_checksums(connection)
    out, err, code = remove(strategy="drop")
    assert (err, code) == (
        "Refusing to remove 'unmigrated' from database 'default'; nothing was changed.\n"
        "- Tables that stay call sequences to drop in their column defaults: sequence "
        "unmigrated_ticket_seq (used by ticket_holder). Dropping the sequences would break "
        "those defaults (PostgreSQL refuses without CASCADE): change the defaults first, or "
        "remove the apps that own those tables in the same run.",
        2,
    )
    assert "Removing:" not in out
    assert table_checksums(connection) == before
    assert app_names() == {scenario.LOG, *scenario.expected_objects()}


def test_an_app_no_longer_installed_keeps_its_views_and_sequences_until_removed(tmp_path):
    with scenario.runsql_app(tmp_path):
        installed = [a for a in settings.INSTALLED_APPS if a != "unmigrated"]
        with override_settings(INSTALLED_APPS=installed):
            # Its migration files (still importable) say what its RunSQL created.
            ownership = attribute_tables(connection)
            owners = {n: (o.app_label, o.reason, o.installed) for n, o in ownership.objects.items()}
            assert owners == {
                name: ("unmigrated", "runsql", False) for name in scenario.expected_objects()
            }
            assert ownership.stale_apps["unmigrated"].migrations_module == "runsql_migrations"

            out, err, code = remove(format="json")
        assert (err, code) == ("", 0)
        document = json.loads(out)
        assert document["strategy"]["chosen"] == "drop"
        assert [o["name"] for o in document["objects"]] == list(scenario.expected_objects())
        assert document["completed"] is True
        assert app_names() == set()
