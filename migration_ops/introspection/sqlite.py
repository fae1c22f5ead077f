"""SQLite: the PRAGMA table-valued functions joined to ``sqlite_master``.

Catalogue reads are a constant number of queries (SQLite is in-process, so that is a
convenience rather than a necessity); row counts are ``count(*)`` queries joined by
``UNION ALL``, a few hundred tables per query.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from django.db import DatabaseError, transaction
from django.db.models import Index
from django.db.transaction import TransactionManagementError

from migration_ops.core.schema import VIEW, Column, DatabaseObject, ForeignKey, Schema, Table
from migration_ops.introspection.base import Constraints, Introspector, group_rows, identifiers
from migration_ops.introspection.sqlite_sql import named_checks, sql_literal, without_foreign_key

try:
    import fcntl
except ImportError:  # Windows: no advisory file locks
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping

    from django.db.backends.utils import CursorWrapper


_COUNTS_PER_QUERY = 400


class SQLiteIntrospector(Introspector):
    vendor = "sqlite"
    # Django declares these types itself; the aliases only absorb hand-written spellings.
    type_aliases: ClassVar[Mapping[str, str]] = {
        "boolean": "bool",
        "character varying": "varchar",
    }

    def read_tables(self, cursor: CursorWrapper, tables: frozenset[str] | None) -> list[Table]:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type = 'table' AND substr(name, 1, 7) != 'sqlite_'"
            " ORDER BY name"
        )
        ddl = {name: sql for name, sql in cursor.fetchall() if tables is None or name in tables}
        # hidden: 0 normal, 1 hidden (virtual tables), 2/3 generated columns.
        cursor.execute(
            'SELECT m.name, p.name, p.type, p."notnull", p.pk'
            " FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p"
            " WHERE m.type = 'table' AND p.hidden IN (0, 2, 3)"
            " ORDER BY m.name, p.cid"
        )
        columns = group_rows(cursor.fetchall())
        cursor.execute(
            'SELECT m.name, il.name, il."unique", il.origin, il.partial, ii.name'
            " FROM sqlite_master m JOIN pragma_index_list(m.name) il"
            " JOIN pragma_index_info(il.name) ii"
            " WHERE m.type = 'table'"
            " ORDER BY m.name, il.name, ii.seqno"
        )
        indexes = group_rows(cursor.fetchall())
        cursor.execute(
            'SELECT m.name, fk.id, fk."table", fk."from", fk."to", fk.on_delete'
            " FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) fk"
            " WHERE m.type = 'table'"
            " ORDER BY m.name, fk.id, fk.seq"
        )
        foreign_keys = group_rows(cursor.fetchall())
        sizes = self._table_bytes(cursor)
        rows = self._counts(cursor, list(ddl))

        primary_keys = {
            name: tuple(c for c, _type, _null, pk in sorted(cols, key=lambda r: r[3]) if pk)
            for name, cols in columns.items()
        }
        result = []
        for name, sql in ddl.items():
            uniques, plain = self._indexes(indexes.get(name, []))
            result.append(
                Table(
                    name=name,
                    columns=tuple(
                        Column(col, type_ or "", not notnull)
                        for col, type_, notnull, _pk in columns.get(name, [])
                    ),
                    primary_key=primary_keys.get(name, ()),
                    uniques=uniques,
                    indexes=plain,
                    foreign_keys=self._foreign_keys(foreign_keys.get(name, []), primary_keys),
                    checks=frozenset(named_checks(sql or "")),
                    rows=rows[name],
                    bytes=sizes.get(name) if sizes is not None else None,
                )
            )
        return result

    def read_objects(
        self, cursor: CursorWrapper, names: frozenset[str] | None
    ) -> list[DatabaseObject]:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name")
        return [
            DatabaseObject(name, VIEW, identifiers(sql or ""))
            for name, sql in cursor.fetchall()
            if names is None or name in names
        ]

    @staticmethod
    def _indexes(
        rows: list[tuple[object, ...]],
    ) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
        uniques: set[tuple[str, ...]] = set()
        plain: set[tuple[str, ...]] = set()
        for (_name, unique, origin, partial), cols in group_rows(
            ((name, unique, origin, partial), col) for name, unique, origin, partial, col in rows
        ).items():
            names = tuple(c for (c,) in cols)
            # origin "pk": the index of a non-INTEGER primary key. Partial and expression
            # indexes cannot be compared by columns: left out on both sides.
            if origin == "pk" or partial or any(c is None for c in names):
                continue
            (uniques if unique else plain).add(tuple(str(c) for c in names))
        return frozenset(uniques), frozenset(plain)

    @staticmethod
    def _foreign_keys(
        rows: list[tuple[object, ...]], primary_keys: dict[str, tuple[str, ...]]
    ) -> frozenset[ForeignKey]:
        result = set()
        for (_id, to_table, on_delete), cols in group_rows(
            ((fk_id, to_table, on_delete), from_col, to_col)
            for fk_id, to_table, from_col, to_col, on_delete in rows
        ).items():
            from_cols = tuple(str(f) for f, _ in cols)
            # "REFERENCES t" without columns means t's primary key.
            to_cols = (
                tuple(str(t) for _, t in cols)
                if all(t is not None for _, t in cols)
                else primary_keys.get(str(to_table), ())
            )
            result.add(ForeignKey(from_cols, str(to_table), to_cols, on_delete=str(on_delete)))
        return frozenset(result)

    def read_constraints(self, tables: Collection[str]) -> dict[str, Constraints]:
        """Django's ``get_constraints`` of each of ``tables``, in four queries for the whole
        database: the PRAGMA table-valued functions over ``sqlite_master`` instead of one
        PRAGMA per table and index, and Django's own parsing of the tables' SQL."""
        introspection = self.connection.introspection
        result: dict[str, Constraints] = {name: {} for name in tables}
        with self.connection.cursor() as cursor:
            cursor.execute(_DJANGO_TABLES_SQL)
            schemas: dict[str, str] = {}
            columns: dict[str, set[str]] = {}
            primary_keys: dict[str, list[str]] = {}
            for table, sql, column, pk, hidden in cursor.fetchall():
                schemas[table] = sql
                # As get_table_description (table_xinfo): normal and generated columns;
                # the primary key as get_primary_key_columns (table_info): normal ones.
                if hidden in (0, 2, 3):
                    columns.setdefault(table, set()).add(column)
                if pk and hidden == 0:
                    primary_keys.setdefault(table, []).append(column)
            for table, sql in schemas.items():
                if table in result:
                    result[table].update(
                        introspection._parse_table_constraints(sql, columns.get(table, set()))
                    )
            cursor.execute(_DJANGO_INDEX_COLUMNS_SQL)
            index_columns: dict[str, list[str]] = {}
            for index, column in cursor.fetchall():
                index_columns.setdefault(index, []).append(column)
            cursor.execute(_DJANGO_INDEXES_SQL)
            for table, index, unique, sql in cursor.fetchall():
                constraints = result.get(table)
                if constraints is None or not sql:
                    continue  # not wanted, or an inline constraint (as Django)
                for column in index_columns.get(index, ()):
                    if index not in constraints:
                        constraints[index] = {
                            "columns": [],
                            "primary_key": False,
                            "unique": bool(unique),
                            "foreign_key": None,
                            "check": False,
                            "index": True,
                        }
                    constraints[index]["columns"].append(column)
                if constraints[index]["index"]:
                    constraints[index]["type"] = Index.suffix
                    orders = introspection._get_index_columns_orders(sql)
                    if orders is not None:
                        constraints[index]["orders"] = orders
            for table, pk_columns in primary_keys.items():
                if table in result:
                    result[table]["__primary__"] = {
                        "columns": pk_columns,
                        "primary_key": True,
                        "unique": False,
                        "foreign_key": None,
                        "check": False,
                        "index": False,
                    }
            cursor.execute(_DJANGO_FOREIGN_KEYS_SQL)
            relations: dict[str, dict[str, tuple[str, str]]] = {}
            for table, ref_table, column, ref_column in cursor.fetchall():
                relations.setdefault(table, {})[column] = (ref_column, ref_table)
            for table, found in relations.items():
                if table not in result:
                    continue
                for n, (column, (ref_column, ref_table)) in enumerate(found.items()):
                    result[table][f"fk_{n}"] = {
                        "columns": [column],
                        "primary_key": False,
                        "unique": False,
                        "foreign_key": (ref_table, ref_column),
                        "check": False,
                        "index": False,
                    }
        return result

    def _counts(self, cursor: CursorWrapper, tables: list[str]) -> dict[str, int]:
        quote = self.connection.ops.quote_name
        counts: dict[str, int] = {}
        # SQLite allows 500 terms per compound SELECT (SQLITE_MAX_COMPOUND_SELECT).
        for start in range(0, len(tables), _COUNTS_PER_QUERY):
            chunk = tables[start : start + _COUNTS_PER_QUERY]
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT {index}, count(*) FROM {quote(name)}"
                    for index, name in enumerate(chunk)
                )
            )
            counts.update((chunk[index], int(rows)) for index, rows in cursor.fetchall())
        return counts

    @staticmethod
    def _table_bytes(cursor: CursorWrapper) -> dict[str, int] | None:
        """Pages used by each table and its indexes, or None without the dbstat module."""
        cursor.execute(
            "SELECT count(*) FROM pragma_compile_options"
            " WHERE compile_options = 'ENABLE_DBSTAT_VTAB'"
        )
        if not cursor.fetchone()[0]:
            return None
        # One row per b-tree (SQLite 3.31+), else per page; grouped by table in Python
        # because joining dbstat to sqlite_master makes SQLite rescan dbstat per row.
        try:
            cursor.execute("SELECT name, pgsize FROM dbstat WHERE aggregate = 1")
        except DatabaseError:
            cursor.execute("SELECT name, pgsize FROM dbstat")
        pages = cursor.fetchall()
        cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
        owner = dict(cursor.fetchall())
        sizes: dict[str, int] = {}
        for name, size in pages:
            table = owner.get(name)
            if table is not None:
                sizes[table] = sizes.get(table, 0) + int(size)
        return sizes

    # Removal ------------------------------------------------------------------------

    def foreign_key_checks_sql(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return ("PRAGMA foreign_keys = OFF",), ("PRAGMA foreign_keys = ON",)

    @contextmanager
    def foreign_key_checks_disabled(self) -> Iterator[None]:
        if self.connection.in_atomic_block:
            # The pragma is silently ignored inside a transaction.
            raise TransactionManagementError(
                "SQLite cannot turn foreign key checks off inside a transaction; run this "
                "outside transaction.atomic()."
            )
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys")
            previous = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute(f"PRAGMA foreign_keys = {'ON' if previous else 'OFF'}")

    @property
    def drop_foreign_key_rebuilds_table(self) -> bool:
        return True

    def drop_foreign_key_sql(self, table: str, foreign_key: ForeignKey) -> list[str]:
        """SQLite has no ``DROP CONSTRAINT``: the table is rebuilt without the constraint
        (a copy of its CREATE TABLE statement minus the clause, its rows copied over, its
        indexes and triggers recreated, its AUTOINCREMENT counter kept)."""
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT type, name, sql FROM sqlite_master"
                " WHERE tbl_name = %s AND sql IS NOT NULL ORDER BY type DESC, name",
                [table],
            )
            objects = cursor.fetchall()
            cursor.execute(
                "SELECT name FROM pragma_table_xinfo(%s) WHERE hidden = 0 ORDER BY cid", [table]
            )
            columns = ", ".join(quote(name) for (name,) in cursor.fetchall())
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s",
                ["sqlite_sequence"],
            )
            sequence = None
            if cursor.fetchone()[0]:
                cursor.execute("SELECT max(seq) FROM sqlite_sequence WHERE name = %s", [table])
                sequence = cursor.fetchone()[0]
        create = next((sql for type_, name, sql in objects if type_ == "table"), None)
        temporary = f"{table}__migration_ops_new"
        rebuilt = without_foreign_key(create or "", foreign_key, quote(temporary))
        if rebuilt is None:
            raise ValueError(
                f"Cannot find exactly one clause for the foreign key {foreign_key} in the "
                f"CREATE TABLE statement of {table!r}."
            )
        statements = [
            rebuilt,
            f"INSERT INTO {quote(temporary)} ({columns}) SELECT {columns} FROM {quote(table)}",
            f"DROP TABLE {quote(table)}",
            f"ALTER TABLE {quote(temporary)} RENAME TO {quote(table)}",
            # Dropping the table dropped its indexes and triggers.
            *(sql for type_, _, sql in objects if type_ in ("index", "trigger")),
        ]
        if sequence is not None:
            name = sql_literal(table)
            statements += [
                f"DELETE FROM sqlite_sequence WHERE name = {name}",
                f"INSERT INTO sqlite_sequence (name, seq) VALUES ({name}, {int(sequence)})",
            ]
        return statements

    def drop_foreign_key(self, table: str, foreign_key: ForeignKey) -> None:
        # The rebuild must change nothing else: checked before the transaction commits.
        with transaction.atomic(using=self.connection.alias):
            before = self.snapshot([table]).tables[table]
            self.execute_statements(self.drop_foreign_key_sql(table, foreign_key))
            after = self.snapshot([table]).tables.get(table)
            expected = replace(before, foreign_keys=before.foreign_keys - {foreign_key})
            if after != expected or after.rows != before.rows:
                raise ValueError(
                    f"Rebuilding {table!r} without its foreign key {foreign_key} changed more "
                    "than that constraint; the rebuild was rolled back."
                )

    def missing_table_privileges(self, needs: Mapping[str, Collection[str]]) -> str | None:
        # No users nor grants: the connection may write the file, or nothing at all.
        if not needs:
            return None
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only")
            if cursor.fetchone()[0]:
                return "the connection is read-only (PRAGMA query_only is on: connect without it)"
        if self.connection.is_in_memory_db():
            return None
        path = Path(self.connection.settings_dict["NAME"])
        # Writing also needs the directory, for the rollback journal.
        for target in (path, path.parent):
            if not os.access(target, os.W_OK):
                return (
                    f"{str(target)!r} is read-only for this process (the database file and "
                    "its directory must be writable)"
                )
        return None

    def drop_tables_sql(
        self, schema: Schema, tables: Collection[str]
    ) -> list[tuple[tuple[str, ...], str]]:
        # Dropping a virtual table drops its shadow tables (an FTS5 index's data): they go
        # with its statement, not with statements of their own that would find them gone.
        shadows = self._shadow_tables()
        virtual = sorted(
            (t for t in tables if any(s.startswith(f"{t}_") for s in shadows)), key=len
        )
        parent_of = {}
        for shadow in shadows & set(tables):
            parents = [v for v in virtual if shadow.startswith(f"{v}_")]
            if parents:
                parent_of[shadow] = parents[-1]
        statements = []
        for dropped, statement in super().drop_tables_sql(
            schema, [t for t in tables if t not in parent_of]
        ):
            gone = sorted(s for s, parent in parent_of.items() if parent in dropped)
            statements.append(((*dropped, *gone), statement))
        return statements

    def _shadow_tables(self) -> set[str]:
        """The shadow tables of the virtual tables (SQLite 3.37+ says which; before, none)."""
        with self.connection.cursor() as cursor:
            try:
                cursor.execute("SELECT name FROM pragma_table_list WHERE type = 'shadow'")
            except DatabaseError:
                return set()
            return {name for (name,) in cursor.fetchall()}

    def _lock_path(self, name: str) -> Path | None:
        if self.connection.is_in_memory_db():
            return None  # no other process can open it
        return Path(f"{self.connection.settings_dict['NAME']}.{name}.lock")

    def acquire_lock(self, name: str) -> object | None:
        path = self._lock_path(name)
        if path is None or fcntl is None:  # in memory, or no flock() (Windows)
            return False
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        return descriptor

    def release_lock(self, name: str, token: object) -> None:
        if isinstance(token, int) and not isinstance(token, bool) and fcntl is not None:
            # The file stays: removing it would let two sessions lock different files.
            fcntl.flock(token, fcntl.LOCK_UN)
            os.close(token)

    def abandon_lock(self, name: str, token: object) -> None:
        if isinstance(token, int) and not isinstance(token, bool):
            os.close(token)  # closing the last descriptor of the file frees the flock


# What Django's get_constraints reads with a PRAGMA per table and per index
# (sqlite3/introspection.py), for every table at once, rows in the PRAGMAs' own order.
_DJANGO_TABLES_SQL = """
    SELECT m.name, m.sql, p.name, p.pk, p.hidden
    FROM sqlite_master AS m, pragma_table_xinfo(m.name) AS p
    WHERE m.type = 'table'
"""
_DJANGO_INDEXES_SQL = """
    SELECT m.name, il.name, il."unique",
        (SELECT i.sql FROM sqlite_master AS i WHERE i.type = 'index' AND i.name = il.name)
    FROM sqlite_master AS m, pragma_index_list(m.name) AS il
    WHERE m.type = 'table'
"""
_DJANGO_INDEX_COLUMNS_SQL = """
    SELECT il.name, ii.name
    FROM sqlite_master AS m, pragma_index_list(m.name) AS il, pragma_index_info(il.name) AS ii
    WHERE m.type = 'table'
"""
_DJANGO_FOREIGN_KEYS_SQL = """
    SELECT m.name, fk."table", fk."from", fk."to"
    FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS fk
    WHERE m.type = 'table'
"""
