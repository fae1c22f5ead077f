"""PostgreSQL: tables from the column catalogue, keys and indexes from ``pg_get_*def``.

Constraints keep their names (``ALTER TABLE ... ADD CONSTRAINT name <pg_get_constraintdef>``),
indexes their whole definition (``pg_get_indexdef``), foreign keys come last so that the
order of the tables does not matter (and tables can be created in sessions side by side).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import TYPE_CHECKING, Any

from migration_ops.introspection.copying import CatalogueObject, Structure, StructureCopier
from migration_ops.introspection.postgresql import PostgreSQLIntrospector

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

    from migration_ops.core.schema import Column

_RELATIONS_SQL = """
    SELECT c.relname, c.relkind, c.relispartition FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
    ORDER BY c.relname
"""
_COLUMNS_SQL = """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relkind = 'r' AND NOT c.relispartition
    ORDER BY c.relname, a.attnum
"""
_CONSTRAINTS_SQL = """
    SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    WHERE c.relkind = 'r' AND NOT c.relispartition
    ORDER BY c.relname, con.contype = 'f', con.conname
"""
# Indexes that no constraint owns (those come with their ADD CONSTRAINT).
_INDEXES_SQL = """
    SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class c ON c.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    WHERE c.relkind = 'r' AND NOT c.relispartition
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid
                      AND con.conrelid = x.indrelid)
    ORDER BY c.relname, i.relname
"""
_NEXTVAL = re.compile(r"^nextval\('(.+)'::regclass\)$")
_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view"}
_JSON_TYPES = {"json", "jsonb"}


# Sessions that create tables side by side (as on MySQL/MariaDB: see copy_mysql.SESSIONS).
SESSIONS = 4


def run_side_by_side(
    connection: BaseDatabaseWrapper,
    groups: Sequence[Sequence[str]],
    per_round_trip: int,
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Run independent ``groups`` of statements (each in order) over ``SESSIONS``
    connections of their own to ``connection``'s database, and ``meanwhile()`` in this
    thread while they run. A string of statements without parameters is one implicit
    transaction on the server."""
    sessions: list[list[str]] = [[] for _ in range(SESSIONS)]
    for group in sorted(groups, key=len, reverse=True):  # the longest first, to the emptiest
        min(sessions, key=len).extend(group)

    def run(statements: list[str]) -> None:
        # Its own connection object: Django's are bound to the thread that made them.
        own = type(connection)(deepcopy(connection.settings_dict), connection.alias)
        try:
            with own.cursor() as cursor:
                for start in range(0, len(statements), per_round_trip):
                    cursor.execute(";\n".join(statements[start : start + per_round_trip]))
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        futures = [pool.submit(run, batch) for batch in sessions if batch]
        if meanwhile is not None:
            meanwhile()
        for future in futures:
            future.result()


class PostgreSQLCopier(StructureCopier):
    vendor = "postgresql"
    # psycopg sends a query without parameters as one simple-protocol message, whatever
    # statements it holds (190 tables: ~960 replies waited for, one by one, otherwise).
    statements_per_round_trip = 200

    def structure(self, cursor: CursorWrapper) -> Structure:
        quote = self.live.ops.quote_name
        cursor.execute(_RELATIONS_SQL)
        not_copied = [
            f"The {_KINDS.get(kind, 'foreign table')} {name} is not copied."
            for name, kind, partition in cursor.fetchall()
            if kind != "r" or partition
        ]
        cursor.execute(_COLUMNS_SQL)
        tables: dict[str, list[str]] = {}
        sequences: list[str] = []
        for table, column, type_, not_null, identity, generated, default in cursor.fetchall():
            parts = [quote(column), type_]
            if identity:
                parts.append(
                    f"GENERATED {'ALWAYS' if identity == 'a' else 'BY DEFAULT'} AS IDENTITY"
                )
            elif generated == "s":
                parts.append(f"GENERATED ALWAYS AS ({default}) STORED")
            elif default is not None:
                serial = _NEXTVAL.match(default)
                if serial:  # a serial column (tables created before Django 4.1)
                    sequences.append(f"CREATE SEQUENCE IF NOT EXISTS {serial[1]}")
                parts.append(f"DEFAULT {default}")
            if not_null:
                parts.append("NOT NULL")
            tables.setdefault(table, []).append(" ".join(parts))
        # Each table with its own keys, checks and indexes; the foreign keys once all exist.
        own: dict[str, list[str]] = {
            table: [f"CREATE TABLE {quote(table)} ({', '.join(columns)})"]
            for table, columns in tables.items()
        }
        cursor.execute(_CONSTRAINTS_SQL)
        constraints = cursor.fetchall()
        for table, name, kind, definition in constraints:
            if kind != "f" and table in own:
                own[table].append(
                    f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
                )
        cursor.execute(_INDEXES_SQL)
        for table, _name, definition in cursor.fetchall():
            if table in own:
                own[table].append(definition)
        foreign_keys = tuple(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
            for table, name, kind, definition in constraints
            if kind == "f" and table in own
        )
        phases = (
            (tuple(sequences),),
            tuple(tuple(statements) for statements in own.values()),
            (foreign_keys,),
        )
        statements = tuple(s for phase in phases for group in phase for s in group)
        return Structure(statements, tuple(not_copied), phases)

    def create(self, structure: Structure) -> None:
        # The server's own work dominates (PostgreSQL 15 syncs every B-tree file it builds):
        # sessions side by side overlap it (190 tables at load 6: 2.6-4.2 s in one session,
        # 1.3-1.7 s in four). The foreign keys come after, in one transaction.
        # The connection for the foreign keys is opened while the tables are created (a
        # connection costs 40-50 ms), and none is opened for an empty first phase.
        head, tables, tail = structure.phases
        if head[0]:
            super().create(Structure(head[0]))
        run_side_by_side(
            self.scratch, tables, self.statements_per_round_trip, self.scratch.ensure_connection
        )
        super().create(Structure(tail[0]))

    def read_catalogue_objects(self, cursor: CursorWrapper) -> Iterable[CatalogueObject]:
        cursor.execute(_CONSTRAINTS_SQL)
        objects = [
            (table, f"constraint {kind}", name, definition)
            for table, name, kind, definition in cursor.fetchall()
        ]
        cursor.execute(_INDEXES_SQL)
        objects += [
            (table, "index", name, definition) for table, name, definition in cursor.fetchall()
        ]
        return objects

    def value_adapter(
        self, columns: Sequence[Column]
    ) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        # psycopg returns json/jsonb values decoded; they must be wrapped to go back in.
        from psycopg.types.json import Json, Jsonb

        wrappers = [
            (Jsonb if c.type == "jsonb" else Json) if c.type in _JSON_TYPES else None
            for c in columns
        ]
        if not any(wrappers):
            return lambda row: row
        return lambda row: tuple(
            w(v) if w is not None and v is not None else v
            for w, v in zip(wrappers, row, strict=True)
        )

    def after_rows_copied(self, tables: Collection[str]) -> None:
        PostgreSQLIntrospector(self.scratch).reset_sequences(tables)
