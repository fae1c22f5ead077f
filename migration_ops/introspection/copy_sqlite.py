"""SQLite: ``sqlite_master`` keeps every table's and index's ``CREATE`` statement verbatim."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import DatabaseError

from migration_ops.introspection.copying import CatalogueObject, Structure, StructureCopier

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

# Tables first (an index needs its table), each kind in creation order.
_MASTER_SQL = """
    SELECT type, name, tbl_name, sql FROM sqlite_master
    WHERE sql IS NOT NULL AND substr(name, 1, 7) != 'sqlite_'
    ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid
"""


class SQLiteCopier(StructureCopier):
    vendor = "sqlite"

    @contextmanager
    def fast_writes(self) -> Iterator[None]:
        # Without it every statement waits for the disk; restored before the plan runs, so
        # that the rehearsal's timings are the live database's kind.
        with self.scratch.cursor() as cursor:
            cursor.execute("PRAGMA synchronous")
            (previous,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous = OFF")
        try:
            yield
        finally:
            with self.scratch.cursor() as cursor:
                cursor.execute(f"PRAGMA synchronous = {int(previous)}")

    def structure(self, cursor: CursorWrapper) -> Structure:
        shadows = _shadow_tables(cursor)
        cursor.execute(_MASTER_SQL)
        statements, not_copied = [], []
        for kind, name, _table, sql in cursor.fetchall():
            if name in shadows:
                continue  # its virtual table's CREATE creates it (an FTS5 index's data)
            if kind in ("table", "index"):
                statements.append(sql)
            else:  # views and triggers are outside what a migration rehearsal compares
                not_copied.append(f"The {kind} {name} is not copied.")
        return Structure(tuple(statements), tuple(not_copied))

    def read_catalogue_objects(self, cursor: CursorWrapper) -> Iterable[CatalogueObject]:
        # Indexes by name and statement. A table's CREATE TABLE text changes whenever Django
        # rebuilds it (column order, quoting), so tables count by name only: the engine's
        # diff compares their columns, keys and named checks.
        cursor.execute(_MASTER_SQL)
        return [
            (table, kind, name, " ".join(sql.split()) if kind == "index" else "")
            for kind, name, table, sql in cursor.fetchall()
            if kind in ("table", "index")
        ]


def _shadow_tables(cursor: CursorWrapper) -> set[str]:
    """The tables a virtual table keeps its data in (SQLite 3.37+ says which: before, none
    are left out, and copying a virtual table fails on them)."""
    try:
        cursor.execute("SELECT name FROM pragma_table_list WHERE type = 'shadow'")
    except DatabaseError:
        return set()
    return {name for (name,) in cursor.fetchall()}
