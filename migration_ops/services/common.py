"""Input validation shared by the services: database aliases and the migration executor."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import NodeNotFoundError
from django.db.migrations.executor import MigrationExecutor

from migration_ops.core.history import load_loader
from migration_ops.exceptions import DatabaseUnavailable, UnknownDatabase
from migration_ops.introspection import get_introspector

# One advisory lock for every command that changes migrations or tables, so that a
# removal and a reset never run at once on the same database.
LOCK_NAME = "migration_ops"


def get_connection(alias: str) -> BaseDatabaseWrapper:
    """The connection of ``alias``, connected: ``DatabaseUnavailable`` when it cannot be."""
    if alias not in connections.settings:
        known = ", ".join(sorted(connections.settings))
        raise UnknownDatabase(
            f"Unknown database alias {alias!r}; DATABASES defines: {known}. "
            "Pass one of them with --database."
        )
    connection = connections[alias]
    settings = connection.settings_dict
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        where = ""
        if connection.vendor != "sqlite":
            host, port = settings.get("HOST") or "localhost", settings.get("PORT") or "default port"
            where = f" on {host}:{port}"
        raise DatabaseUnavailable(
            f"Cannot connect to database {alias!r} ({connection.vendor} database "
            f"{settings['NAME']!r}{where}): {str(exc).strip()}. Check that the server is "
            f"running and that DATABASES[{alias!r}] names an existing database and a user "
            "that may connect."
        ) from exc
    return connection


def load_executor(connection: BaseDatabaseWrapper) -> MigrationExecutor:
    """A migration executor for ``connection``; a broken graph becomes ``BrokenMigrationGraph``."""
    try:
        return MigrationExecutor(connection)
    except (NodeNotFoundError, ValueError):
        # Build the graph again through the history module only to raise the precise error
        # (which migrations need what); it re-raises anything that is not a graph problem.
        load_loader(connection)
        raise


@contextmanager
def lock_database(database: str = "default") -> Iterator[None]:
    """Hold the package's advisory lock on ``database`` (re-entrant per connection);
    ``LockHeld`` if another session has it."""
    with get_introspector(get_connection(database)).lock(LOCK_NAME):
        yield


@contextmanager
def fewer_collections(threshold: int = 50_000) -> Iterator[None]:
    """Run the body with the garbage collector's first threshold raised to ``threshold``.

    Planning allocates hundreds of thousands of short-lived objects (model states, schema
    rows) in a heap that already holds the whole project, and each collection of the older
    generations walks all of it: about a tenth of a plan's time at 450 migrations. The
    previous thresholds come back on exit (``call_command`` in a long-running process).
    """
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], threshold), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
