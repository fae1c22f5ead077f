"""Multi-table inheritance across apps: rows of tables that stay whose child rows go.

A model of a removed app that subclasses a concrete model of an app that stays has its rows
in two tables: its own, dropped, and its parent's, which stays. Read from the live schema (a
child table's primary key is a foreign key to its parent's), so that it works whether or not
the removed apps are installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from migration_ops.core.ownership import Ownership
from migration_ops.core.schema import Schema
from migration_ops.services.removal.plan import Cascade, ParentRows

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


def parent_rows(
    connection: BaseDatabaseWrapper,
    live: Schema,
    ownership: Ownership,
    dropped: Sequence[str],
    cascades: Sequence[Cascade],
) -> tuple[ParentRows, ...]:
    """For each table to drop whose primary key is a foreign key into a table that stays:
    how many rows of that table are parents of its rows, and how many of those the deletion
    of the content types deletes (the others stay, without their child rows)."""
    quote = connection.ops.quote_name
    gone = set(dropped)
    found: list[ParentRows] = []
    for child in sorted(gone):
        described = live.tables.get(child)
        if described is None or len(described.primary_key) != 1:
            continue
        for fk in sorted(described.foreign_keys, key=lambda f: (f.to_table, f.columns)):
            if fk.columns != described.primary_key or fk.to_table in gone:
                continue
            if fk.to_table not in live.tables or len(fk.to_columns) != 1:
                continue
            parent = fk.to_table
            where = (
                f"{quote(fk.to_columns[0])} IN (SELECT {quote(fk.columns[0])} FROM {quote(child)})"
            )
            deleting = [c for c in cascades if c.table == parent and c.action == "delete"]
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {quote(parent)} WHERE {where}")
                rows = int(cursor.fetchone()[0])
                deleted = 0
                if rows and deleting:
                    cursor.execute(
                        f"SELECT COUNT(*) FROM {quote(parent)} WHERE {where} AND ("
                        + " OR ".join(f"({c.where})" for c in deleting)
                        + ")",
                        [p for c in deleting for p in c.params],
                    )
                    deleted = int(cursor.fetchone()[0])
            if not rows:
                continue
            owner = ownership.owners.get(parent)
            found.append(
                ParentRows(
                    table=parent,
                    model=owner.model if owner is not None else None,
                    child_table=child,
                    column=fk.columns[0],
                    rows=rows,
                    deleted=deleted,
                )
            )
    return tuple(found)
