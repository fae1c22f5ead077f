"""SQLite: ``sqlite_master`` keeps every table's and index's ``CREATE`` statement verbatim."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

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
_FOREIGN_KEYS_SQL = """
    SELECT m.name, fk.id, fk."table", fk."from", fk."to", fk.on_delete, fk.on_update
    FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) fk
    WHERE m.type = 'table' AND substr(m.name, 1, 7) != 'sqlite_'
    ORDER BY m.name, fk.id, fk.seq
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
        # diff compares their columns, keys and named checks, and the foreign keys' actions
        # are listed here.
        cursor.execute(_MASTER_SQL)
        objects = [
            (table, kind, name, " ".join(sql.split()) if kind == "index" else "")
            for kind, name, table, sql in cursor.fetchall()
            if kind in ("table", "index")
        ]
        cursor.execute(_FOREIGN_KEYS_SQL)
        return objects + _foreign_keys(cursor.fetchall())


def _foreign_keys(rows: Iterable[tuple[Any, ...]]) -> list[CatalogueObject]:
    """Each foreign key with its ON DELETE and ON UPDATE actions. SQLite keeps no name for
    them: one is named by its columns and target, ``(a, b) REFERENCES t (x, y)`` (just
    ``REFERENCES t`` for a key declared without the target's columns)."""
    keys: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for table, number, *key_column in rows:
        keys.setdefault((table, number), []).append(tuple(key_column))
    actions: dict[tuple[str, str], list[str]] = {}
    for (table, _number), key_columns in keys.items():
        to_table, _from, _to, on_delete, on_update = key_columns[0]
        from_columns = ", ".join(str(c[1]) for c in key_columns)
        to_columns = [c[2] for c in key_columns]
        target = to_table if None in to_columns else f"{to_table} ({', '.join(to_columns)})"
        actions.setdefault((table, f"({from_columns}) REFERENCES {target}"), []).append(
            f"ON DELETE {on_delete} ON UPDATE {on_update}"
        )
    # Two keys on the same columns and target are one object with both keys' actions.
    return [
        (table, "foreign key", subject, "; ".join(sorted(definitions)))
        for (table, subject), definitions in actions.items()
    ]


def _shadow_tables(cursor: CursorWrapper) -> set[str]:
    """The tables a virtual table keeps its data in (SQLite 3.37+ says which: before, none
    are left out, and copying a virtual table fails on them)."""
    try:
        cursor.execute("SELECT name FROM pragma_table_list WHERE type = 'shadow'")
    except DatabaseError:
        return set()
    return {name for (name,) in cursor.fetchall()}
