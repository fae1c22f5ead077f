"""The database footprint of the apps: their tables, the foreign keys of tables that stay
into them, their ``django_migrations`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db.backends.utils import truncate_name
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.core import ownership as owners
from migration_ops.core.ownership import Ownership
from migration_ops.core.schema import Schema
from migration_ops.services.removal.plan import (
    IncomingConstraint,
)

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.introspection.base import Introspector


def has_custom_db_table(table: str, ownership: Ownership, connection: BaseDatabaseWrapper) -> bool:
    """Whether ``table`` has another name than Django gives the table of its model: for an
    auto-created many-to-many table ("app.Model_field"), the parent model's table name plus
    "_field"."""
    owner = ownership.owners[table]
    if owner.reason not in (owners.MODEL, owners.AUTO_M2M, owners.STALE_MIGRATIONS):
        return False
    app_label, _, name = (owner.model or "").partition(".")
    tables = {o.model: t for t, o in ownership.owners.items() if o.app_label == app_label}
    parent, _, field_name = name.partition("_")
    parent_table = tables.get(f"{app_label}.{parent}") if field_name else None
    if parent_table is not None:
        default = f"{parent_table}_{field_name}"
    else:
        default = f"{app_label}_{name.lower()}"
    max_length = connection.ops.max_name_length()
    return table != truncate_name(default, max_length)


def incoming_constraints(
    introspector: Introspector, live: Schema, ownership: Ownership, tables: Sequence[str]
) -> tuple[tuple[IncomingConstraint, ...], list[str]]:
    dropped = set(tables)
    found: list[IncomingConstraint] = []
    problems: list[str] = []
    for table in tables:
        for incoming in live.incoming_foreign_keys(table):
            if incoming.from_table in dropped:
                continue
            fk = incoming.foreign_key
            owner = ownership.owners[incoming.from_table]
            try:
                sql = tuple(introspector.drop_foreign_key_sql(incoming.from_table, fk))
            except (ValueError, NotImplementedError) as exc:
                sql = ()
                problems.append(
                    f"Cannot drop the foreign key of table {incoming.from_table}: {exc}"
                )
            constraint = IncomingConstraint(
                table=incoming.from_table,
                columns=fk.columns,
                to_table=fk.to_table,
                to_columns=fk.to_columns,
                name=fk.name,
                owner=owner.app_label,
                owner_reason=owner.reason,
                owner_installed=owner.installed,
                rebuild=introspector.drop_foreign_key_rebuilds_table,
                sql=sql,
                foreign_key=fk,
            )
            if owner.reason == owners.IGNORED:
                problems.append(
                    f"Table {incoming.from_table} is in MIGRATION_OPS['IGNORED_TABLES'], which "
                    f"safe_remove_app never touches: drop its foreign key {constraint.label} "
                    "yourself first."
                )
            found.append(constraint)
    return tuple(sorted(found, key=lambda c: (c.table, c.columns))), problems


def recorded_migrations(
    connection: BaseDatabaseWrapper, live: Schema, removed: set[str]
) -> tuple[str, ...]:
    recorder = MigrationRecorder(connection)
    if recorder.Migration._meta.db_table not in live:
        return ()
    rows = recorder.migration_qs.filter(app__in=removed).values_list("app", "name")
    return tuple(sorted(f"{app}.{name}" for app, name in rows))
