"""Copying a live database's structure (and optionally some rows) into a scratch database.

The structure is read from the live catalogue, never rebuilt from the migrations: a
rehearsal must meet the database as it is, names and drift included. One subclass per
vendor (``copy_sqlite``, ``copy_mysql``, ``copy_postgresql``) says how to read the
statements that recreate the tables and how to list the named objects (indexes,
constraints) that prove the copy; rows, foreign-key closure and sequences are shared here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import transaction

from migration_ops.introspection.base import Introspector

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

    from migration_ops.core.schema import Schema

# (table, kind, name, definition): a named catalogue object, compared as a whole.
CatalogueObject = tuple[str, str, str, str]


@dataclass(frozen=True)
class Structure:
    """The statements that recreate the live tables, and what they cannot reproduce."""

    statements: tuple[str, ...]
    # One sentence per object the copy leaves out (a view, a partitioned table...).
    not_copied: tuple[str, ...] = ()
    # The same statements in phases, run one after the other; the groups of a phase (a table
    # with its own keys and indexes, say) do not depend on each other and may run side by
    # side. Empty: ``statements`` in order.
    phases: tuple[tuple[tuple[str, ...], ...], ...] = ()


class StructureCopier:
    """Reads ``live``'s catalogue; writes into ``scratch`` (same vendor)."""

    vendor: ClassVar[str] = ""
    # Statements sent in one round trip while the structure is created (joined by ";"),
    # where the driver runs such a string: the server's work stays, the waits go.
    statements_per_round_trip: ClassVar[int] = 1

    def __init__(self, live: BaseDatabaseWrapper, scratch: BaseDatabaseWrapper) -> None:
        self.live = live
        self.scratch = scratch

    # The scratch connection's alias is the live one's (routers answer alike): calls that
    # take an alias (transaction.atomic) must run while isolation.every_alias_on() holds.

    # Structure ------------------------------------------------------------------------

    def read_structure(self) -> Structure:
        """The statements that recreate every table of ``live``, in an executable order."""
        with self.live.cursor() as cursor:
            return self.structure(cursor)

    def structure(self, cursor: CursorWrapper) -> Structure:
        raise NotImplementedError(f"{type(self).__name__} must implement structure().")

    def create(self, structure: Structure) -> None:
        """Run ``structure``'s statements on the scratch database (foreign-key checks off),
        in one transaction where DDL is transactional."""
        with (
            self.fast_writes(),
            self.scratch.constraint_checks_disabled(),
            transaction.atomic(using=self.scratch.alias),
            self.scratch.cursor() as cursor,
        ):
            statements, size = structure.statements, self.statements_per_round_trip
            for start in range(0, len(statements), size):
                cursor.execute(";\n".join(statements[start : start + size]))

    @contextmanager
    def fast_writes(self) -> Iterator[None]:
        """Writes to the scratch database need no durability while it is being filled."""
        yield

    def catalogue_objects(self, connection: BaseDatabaseWrapper) -> frozenset[CatalogueObject]:
        """Every named index and constraint of ``connection`` with its definition."""
        with connection.cursor() as cursor:
            return frozenset(self.read_catalogue_objects(cursor))

    def read_catalogue_objects(self, cursor: CursorWrapper) -> Iterable[CatalogueObject]:
        raise NotImplementedError(f"{type(self).__name__} must implement catalogue_objects().")

    # Rows -----------------------------------------------------------------------------

    def copy_rows(self, schema: Schema, limits: Mapping[str, int | None]) -> dict[str, int]:
        """Copy up to ``limits[table]`` rows (None: all) of each table, by primary key.

        Rows whose foreign keys point at rows left behind are left behind too (repeated
        until nothing dangles), so the copy satisfies every constraint of the live one.
        Returns the rows copied per table.
        """
        candidates = {
            name: self._read_rows(schema, name, limit)
            for name, limit in limits.items()
            if name in schema.tables and (limit is None or limit > 0)
        }
        kept = _close_over_foreign_keys(schema, candidates)
        # Referenced tables first: non-deferrable foreign keys are checked row by row.
        groups = Introspector(self.scratch).drop_order(schema, kept)
        order = [name for group in reversed(groups) for name in group]
        quote = self.scratch.ops.quote_name
        # Checks off before the transaction: SQLite ignores the PRAGMA inside one.
        with (
            self.fast_writes(),
            self.scratch.constraint_checks_disabled(),
            transaction.atomic(using=self.scratch.alias),
            self.scratch.cursor() as cursor,
        ):
            for name in order:
                rows = kept[name]
                if not rows:
                    continue
                table = schema.tables[name]
                columns = table.column_names
                adapt = self.value_adapter(table.columns)
                sql = (
                    f"INSERT INTO {quote(name)} ({', '.join(quote(c) for c in columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})"
                )
                cursor.executemany(sql, [adapt(row) for row in rows])
        self.after_rows_copied([name for name in order if kept[name]])
        return {name: len(rows) for name, rows in kept.items()}

    def _read_rows(self, schema: Schema, name: str, limit: int | None) -> list[tuple[Any, ...]]:
        table = schema.tables[name]
        quote = self.live.ops.quote_name
        sql = f"SELECT {', '.join(quote(c) for c in table.column_names)} FROM {quote(name)}"
        if table.primary_key:
            sql += f" ORDER BY {', '.join(quote(c) for c in table.primary_key)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.live.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]

    def value_adapter(self, columns: Sequence[Any]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        """How a row read from the live database is passed back as parameters."""
        return lambda row: row

    def after_rows_copied(self, tables: Collection[str]) -> None:
        """Move sequences past the copied keys (where the backend needs it)."""


def _close_over_foreign_keys(
    schema: Schema, candidates: dict[str, list[tuple[Any, ...]]]
) -> dict[str, list[tuple[Any, ...]]]:
    """``candidates`` without the rows that reference rows not kept, to a fixed point."""
    kept = {name: list(rows) for name, rows in candidates.items()}
    positions = {
        name: {c: i for i, c in enumerate(schema.tables[name].column_names)} for name in kept
    }

    def values(name: str, columns: tuple[str, ...]) -> set[tuple[Any, ...]]:
        at = [positions[name][c] for c in columns]
        return {tuple(row[i] for i in at) for row in kept.get(name, ())}

    changed = True
    while changed:
        changed = False
        for name, rows in kept.items():
            for fk in schema.tables[name].foreign_keys:
                target = schema.tables.get(fk.to_table)
                if target is None or not set(fk.to_columns) <= set(target.column_names):
                    continue
                allowed = values(fk.to_table, fk.to_columns) if fk.to_table in kept else set()
                at = [positions[name][c] for c in fk.columns]
                survivors = [
                    row
                    for row in rows
                    if any(row[i] is None for i in at) or tuple(row[i] for i in at) in allowed
                ]
                if len(survivors) != len(rows):
                    rows[:] = survivors
                    changed = True
    return kept
