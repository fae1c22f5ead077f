"""The ``unmigrated`` app given one migration whose ``RunSQL`` creates objects no model
describes, in a temporary migrations module (``MIGRATION_MODULES``). Each backend gets its
own kinds: an FTS5 virtual table with its shadow tables on SQLite, a materialized view and a
free sequence on PostgreSQL, a sequence on MariaDB; a plain table and a view over it on all.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from migration_ops.introspection import snapshot

FTS5_SHADOWS = ("config", "content", "data", "docsize", "idx")
LOG = "unmigrated_searchlog"
VIEW = "unmigrated_recent"  # a view over LOG, on every backend


@dataclass(frozen=True)
class RunSQLApp:
    tables: list[str]  # the tables the migration creates, sorted
    objects: dict[str, tuple[str, frozenset[str]]]  # name -> (kind, what it reads)


def created_sql() -> tuple[list[str], list[str]]:
    """(forward statements, reverse statements) for this backend."""
    # A serial column on PostgreSQL: its sequence belongs to the table, not an object.
    id_type = "serial" if connection.vendor == "postgresql" else "integer"
    forward = [
        f"CREATE TABLE {LOG} (id {id_type} PRIMARY KEY, term varchar(20))",
        f"CREATE VIEW {VIEW} AS SELECT id, term FROM {LOG}",
    ]
    reverse = [f"DROP TABLE {LOG}", f"DROP VIEW {VIEW}"]
    if connection.vendor == "sqlite":
        forward.append("CREATE VIRTUAL TABLE unmigrated_search USING fts5(title, body)")
        reverse.append("DROP TABLE unmigrated_search")
    elif connection.vendor == "postgresql":
        forward.append(f"CREATE MATERIALIZED VIEW unmigrated_terms AS SELECT term FROM {LOG}")
        forward.append("CREATE SEQUENCE unmigrated_ticket_seq")
        reverse += [
            "DROP MATERIALIZED VIEW unmigrated_terms",
            "DROP SEQUENCE unmigrated_ticket_seq",
        ]
    else:
        forward.append("CREATE SEQUENCE unmigrated_ticket_seq")
        reverse.append("DROP SEQUENCE unmigrated_ticket_seq")
    return forward, list(reversed(reverse))


def expected_objects() -> dict[str, tuple[str, frozenset[str]]]:
    objects = {VIEW: ("view", frozenset({LOG}))}
    if connection.vendor == "postgresql":
        objects["unmigrated_terms"] = ("materialized-view", frozenset({LOG}))
    if connection.vendor in ("postgresql", "mysql"):
        objects["unmigrated_ticket_seq"] = ("sequence", frozenset())
    return dict(sorted(objects.items()))


def live_objects() -> dict[str, tuple[str, frozenset[str]]]:
    return {o.name: (o.kind, o.depends_on) for o in snapshot(connection).objects.values()}


def write_migration(tmp_path: Path, package: str, reverse: list[str] | None) -> None:
    """``package`` in ``tmp_path`` with ``0001_search``; ``reverse`` None: RunSQL.noop."""
    forward = created_sql()[0]
    directory = tmp_path / package
    directory.mkdir()
    (directory / "__init__.py").write_text("")
    reverse_sql = "migrations.RunSQL.noop" if reverse is None else repr(reverse)
    (directory / "0001_search.py").write_text(
        textwrap.dedent(
            f"""\
            from django.db import migrations


            class Migration(migrations.Migration):
                operations = [migrations.RunSQL({forward!r}, reverse_sql={reverse_sql})]
            """
        )
    )


@contextmanager
def runsql_app(
    tmp_path: Path, *, reverse: list[str] | bool | None = True, package: str = "runsql_migrations"
) -> Iterator[RunSQLApp]:
    """The app migrated with the RunSQL migration; afterwards (whether or not a test removed
    the app) every object it made is gone and the app has no migration rows.

    ``reverse``: True for the statements that undo the forward ones, None for RunSQL.noop.
    """
    statements = created_sql()[1] if reverse is True else reverse
    write_migration(tmp_path, package, None if statements is None else list(statements))
    tables = [LOG]
    if connection.vendor == "sqlite":
        tables += ["unmigrated_search", *(f"unmigrated_search_{s}" for s in FTS5_SHADOWS)]
    sys.path.insert(0, str(tmp_path))
    try:
        with override_settings(MIGRATION_MODULES={"unmigrated": package}):
            call_command("migrate", "unmigrated", verbosity=0)
            try:
                yield RunSQLApp(sorted(tables), expected_objects())
            finally:
                drop_leftovers()
                MigrationRecorder(connection).migration_qs.filter(app="unmigrated").delete()
                restore_note_table()
    finally:
        sys.path.remove(str(tmp_path))
        # Another test's module of the same name has other contents.
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


def drop_leftovers() -> None:
    """Drop whatever the RunSQL created that is still there (views first)."""
    from migration_ops.introspection import get_introspector

    introspector = get_introspector(connection)
    live = introspector.snapshot()
    names = [
        n
        for n in [*expected_objects(), LOG, "unmigrated_search"]
        if n in live.tables or n in live.objects
    ]
    for _, statement in introspector.drop_objects_sql(live, names):
        with connection.cursor() as cursor:
            cursor.execute(statement)


def restore_note_table() -> None:
    """The test database has the app's model table (made without migrations): a test that
    removed the app takes it away."""
    from unmigrated.models import Note

    if Note._meta.db_table not in snapshot(connection).tables:
        with connection.schema_editor() as editor:
            editor.create_model(Note)
