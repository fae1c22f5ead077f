"""Every difference between the Django versions this package supports (5.2, 6.0, 6.1).

Each helper is named after what differs and says in a short comment which Django version
changed it and, where there is one, the ticket. Code elsewhere calls these helpers, or tests a
feature, and never compares ``django.VERSION``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import django
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.models import SET_NULL, Field

MigrationKey = tuple[str, str]


def sqlite_can_drop_column(connection: BaseDatabaseWrapper) -> bool:
    """Whether SQLite's schema editor drops a plain column with ``ALTER TABLE ... DROP COLUMN``
    instead of remaking the table."""
    # Django 6.1 removed DatabaseFeatures.can_alter_table_drop_column: its minimum SQLite
    # (3.37) always can (6.1 release notes).
    return getattr(connection.features, "can_alter_table_drop_column", True)


# --------------------------------------------------------------------------- squashes


# Django 6.0: a squashed migration may replace squashed migrations. The loader resolves them
# recursively (MigrationLoader.replace_migration, all_replaced_applied), the executor records
# and unrecords nested replaced migrations (record_migration(app_label, name, forward)), and
# migration_plan() rebuilds the graph without replacements for any target missing from it,
# not only for an applied one. Django 5.2 takes ``replaces`` one level deep.
NESTED_SQUASHES: bool = hasattr(MigrationLoader, "replace_migration")


def replaced_leaves(
    disk_migrations: Mapping[MigrationKey, Migration], key: MigrationKey
) -> tuple[MigrationKey, ...]:
    """The migrations the squash ``key`` stands for, in ``replaces`` order: on Django 6.0+
    a replaced squash is resolved into what it replaces, as the loader does."""
    found: list[MigrationKey] = []
    seen: set[MigrationKey] = set()

    def walk(squash: MigrationKey) -> None:
        seen.add(squash)
        for replaced in disk_migrations[squash].replaces or ():
            replaced = (replaced[0], replaced[1])
            inner = disk_migrations.get(replaced)
            if NESTED_SQUASHES and inner is not None and inner.replaces and replaced not in seen:
                walk(replaced)
            elif replaced not in found:
                found.append(replaced)

    walk(key)
    return tuple(found)


def all_replaced_applied(
    loader: MigrationLoader, key: MigrationKey, applied: Collection[MigrationKey]
) -> bool:
    """Whether the unrecorded squash ``key`` counts as applied for ``applied`` rows, as in
    ``check_consistent_history``: every migration it replaces is recorded or (Django 6.0+)
    is itself a squash that counts as applied."""
    method = getattr(loader, "all_replaced_applied", None)
    if method is not None:
        return bool(method(key, applied))
    squash = loader.replacements.get(key)
    return squash is not None and all(tuple(k) in applied for k in squash.replaces)


def plan_replans_missing_targets() -> bool:
    """Whether ``MigrationExecutor.migration_plan`` rebuilds the graph without replacements
    when a target is not in it (a partly applied squash, a replaced migration) whether or not
    it is applied; Django 5.2 does so only for an applied target and raises otherwise."""
    return NESTED_SQUASHES  # the same Django 6.0 change


# --------------------------------------------------------------------------- fields


try:  # Django 6.1: on_delete=DB_CASCADE / DB_SET_NULL / DB_SET_DEFAULT (ticket #21961)
    from django.db.models.deletion import DatabaseOnDelete
except ImportError:  # Django 5.2, 6.0: every on_delete runs in Python
    DatabaseOnDelete = None

DB_ON_DELETE: bool = DatabaseOnDelete is not None


def db_on_delete(field: Field) -> str | None:
    """The action the database itself takes on the rows of ``field``'s table when the row
    they reference is deleted ("CASCADE", "SET NULL", "SET DEFAULT"), or None when Django
    does it in Python (every ``on_delete`` before Django 6.1)."""
    on_delete = getattr(getattr(field, "remote_field", None), "on_delete", None)
    if DatabaseOnDelete is not None and isinstance(on_delete, DatabaseOnDelete):
        return str(on_delete.operation)
    return None


def python_on_delete(on_delete: Any) -> Any:
    """The Python handler with the effect of ``on_delete`` on the rows that reference a
    deleted row: Django 6.1's ``DB_CASCADE`` is ``CASCADE`` (its ``forced_collector``, which
    ``Collector(force_collection=True)`` runs, as ``remove_stale_contenttypes`` does) and
    ``DB_SET_NULL`` is ``SET_NULL``; any other handler is itself."""
    if DatabaseOnDelete is None or not isinstance(on_delete, DatabaseOnDelete):
        return on_delete
    if on_delete.forced_collector is not None:
        return on_delete.forced_collector
    return SET_NULL if on_delete.operation == "SET NULL" else on_delete


# Django 6.1: PostgreSQL 18 records NOT NULL as pg_constraint rows (contype 'n');
# get_constraints leaves them out.
PG_CONSTRAINTS_SKIP_NOT_NULL: bool = django.VERSION >= (6, 1)
