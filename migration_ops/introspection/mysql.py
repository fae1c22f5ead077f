"""MySQL and MariaDB: six ``information_schema`` queries for the tables of the whole current
database, one for its views and sequences."""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar

from django.db.models import Index
from django.utils.datastructures import OrderedSet

from migration_ops.core.schema import SEQUENCE, VIEW, Column, DatabaseObject, ForeignKey, Table
from migration_ops.introspection.base import (
    Constraints,
    Introspector,
    group_rows,
    identifiers,
)
from migration_ops.introspection.mysql_grants import (
    _text,
    missing_database_privileges,
    missing_table_privileges,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping

    from django.db.backends.utils import CursorWrapper

# The sequence a column default calls: nextval(`db`.`seq`) (or without the database).
_NEXTVAL = re.compile(r"nextval\((?:`(?:[^`]|``)*`\.)?`((?:[^`]|``)*)`\)", re.IGNORECASE)
_DISPLAY_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|bigint)\(\d+\)")


def _on_delete(rule: str) -> str:
    """A foreign key's DELETE_RULE as ForeignKey.on_delete spells it: InnoDB's RESTRICT is
    its NO ACTION (both refuse at once), and MariaDB reports RESTRICT for a foreign key
    created without an ON DELETE clause, as Django creates them."""
    return "NO ACTION" if rule == "RESTRICT" else rule


# Types that Django won't index for db_index=True (MySQL can't index them without a prefix).
_UNINDEXABLE = frozenset(
    {
        *("tinyblob", "blob", "mediumblob", "longblob"),
        *("tinytext", "text", "mediumtext", "longtext"),
        "json",
    }
)


class MySQLIntrospector(Introspector):
    vendor = "mysql"
    type_aliases: ClassVar[Mapping[str, str]] = {
        "integer": "int",
        "numeric": "decimal",
        "dec": "decimal",
        "fixed": "decimal",
        "double precision": "double",
        "real": "double",
        "boolean": "bool",
        "character varying": "varchar",
        "character": "char",
    }

    def read_tables(self, cursor: CursorWrapper, tables: frozenset[str] | None) -> list[Table]:
        # Every query reads the whole current database (DATABASE()), optionally only the
        # wanted tables: the number of queries never depends on the number of tables.
        def run(sql: str, table_column: str, order_by: str) -> list[tuple[object, ...]]:
            params: list[str] = []
            if tables is not None:
                sql += f" AND {table_column} IN ({', '.join(['%s'] * len(tables))})"
                params = sorted(tables)
            cursor.execute(f"{sql} ORDER BY {order_by}", params)
            return [(_text(row[0]), *row[1:]) for row in cursor.fetchall()]

        sizes = {
            name: (rows, data, index)
            for name, rows, data, index in run(
                "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH"
                " FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
                "TABLE_NAME",
                "TABLE_NAME",
            )
        }
        columns = group_rows(
            run(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE"
                " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
                "TABLE_NAME",
                "TABLE_NAME, ORDINAL_POSITION",
            )
        )
        statistics = group_rows(
            run(
                "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME"
                " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()",
                "TABLE_NAME",
                "TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            )
        )
        foreign_keys = group_rows(
            run(
                "SELECT TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, COLUMN_NAME,"
                " REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
                " WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL",
                "TABLE_NAME",
                "TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            )
        )
        # A query of its own: joined to the one above, MariaDB takes five times as long.
        delete_rules = {
            (table, _text(name)): _on_delete(_text(rule))
            for table, name, rule in run(
                "SELECT TABLE_NAME, CONSTRAINT_NAME, DELETE_RULE"
                " FROM information_schema.REFERENTIAL_CONSTRAINTS"
                " WHERE CONSTRAINT_SCHEMA = DATABASE()",
                "TABLE_NAME",
                "TABLE_NAME, CONSTRAINT_NAME",
            )
        }
        checks = group_rows(
            run(
                # TABLE_SCHEMA as well, though it is the same: MariaDB then opens this
                # database's tables only, not every database's (30 ms on a small server).
                "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS"
                " WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_SCHEMA = DATABASE()"
                " AND CONSTRAINT_TYPE = 'CHECK'",
                "TABLE_NAME",
                "TABLE_NAME, CONSTRAINT_NAME",
            )
        )

        result = []
        for name, (rows, data, index) in sizes.items():
            primary_key: tuple[str, ...] = ()
            uniques, indexes = set(), set()
            by_index = group_rows(
                ((_text(ix), non_unique), col) for ix, non_unique, col in statistics.get(name, [])
            )
            for (index_name, non_unique), cols in by_index.items():
                if any(c is None for (c,) in cols):  # a functional index (MySQL 8)
                    continue
                names = tuple(_text(c) for (c,) in cols)
                if index_name == "PRIMARY":
                    primary_key = names
                else:
                    (indexes if int(non_unique) else uniques).add(names)
            fks = group_rows(
                ((_text(fk), _text(to_table)), _text(col), _text(to_col))
                for fk, to_table, col, to_col in foreign_keys.get(name, [])
            )
            result.append(
                Table(
                    name=name,
                    columns=tuple(
                        Column(_text(col), _text(type_), _text(null) == "YES")
                        for col, type_, null in columns.get(name, [])
                    ),
                    primary_key=primary_key,
                    uniques=frozenset(uniques),
                    indexes=frozenset(indexes),
                    foreign_keys=frozenset(
                        ForeignKey(
                            tuple(c for c, _ in cols),
                            to_table,
                            tuple(t for _, t in cols),
                            fk,
                            delete_rules.get((name, fk), "NO ACTION"),
                        )
                        for (fk, to_table), cols in fks.items()
                    ),
                    checks=frozenset(_text(c) for (c,) in checks.get(name, [])),
                    rows=None if rows is None else int(str(rows)),
                    bytes=None if data is None else int(str(data)) + int(str(index or 0)),
                )
            )
        return result

    def read_objects(
        self, cursor: CursorWrapper, names: frozenset[str] | None
    ) -> list[DatabaseObject]:
        # Views with their definitions (read only with SHOW VIEW, or as the definer: else
        # empty), sequences (MariaDB 10.3+: TABLES rows of their own type), and the column
        # defaults that call a sequence (nextval(`db`.`seq`)): three parts of one query, a
        # correlated subquery per sequence costs several times more.
        only, params = "", []
        if names is not None:
            only = f" AND TABLE_NAME IN ({', '.join(['%s'] * len(names))})"
            params = sorted(names) * 2
        cursor.execute(
            "SELECT 'view', TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS"
            f" WHERE TABLE_SCHEMA = DATABASE(){only}"
            " UNION ALL SELECT 'sequence', TABLE_NAME, NULL FROM information_schema.TABLES"
            f" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'SEQUENCE'{only}"
            " UNION ALL SELECT 'default', TABLE_NAME, COLUMN_DEFAULT"
            " FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_DEFAULT LIKE 'nextval(%%'",
            params,
        )
        rows = [(_text(kind), _text(name), _text(text or "")) for kind, name, text in cursor]
        users: dict[str, set[str]] = {}
        for kind, table, default in rows:
            if kind == "default":
                for sequence in _NEXTVAL.findall(default):
                    users.setdefault(sequence, set()).add(table)
        return sorted(
            (
                DatabaseObject(
                    name,
                    VIEW if kind == "view" else SEQUENCE,
                    identifiers(text) if kind == "view" else frozenset(),
                    frozenset(users.get(name, ())),
                )
                for kind, name, text in rows
                if kind != "default"
            ),
            key=lambda o: o.name,
        )

    def refresh_estimates(self, tables: Collection[str]) -> None:
        if tables:
            names = ", ".join(self.connection.ops.quote_name(t) for t in sorted(tables))
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE TABLE {names}")
                cursor.fetchall()  # one status row per table

    def read_storage_engines(self) -> dict[str, str | None]:
        # The schema editor asks once per foreign key it creates (whether it needs an index).
        # A view has no engine (None), as Django's query answers.
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE()"
            )
            return {
                _text(table): None if engine is None else _text(engine)
                for table, engine in cursor.fetchall()
            }

    def read_constraints(self, tables: Collection[str]) -> dict[str, Constraints]:
        """Django's ``get_constraints`` of each of ``tables``, in four queries for them all:
        Django's own, filtered by the schema instead of one table, and ``SHOW INDEX`` read
        from ``information_schema.statistics``."""
        connection = self.connection
        introspection = connection.introspection
        features = connection.features
        ordering = features.supports_index_column_ordering
        result: dict[str, Constraints] = {name: {} for name in tables}

        def new(**flags: object) -> dict[str, object]:
            entry: dict[str, object] = {"columns": OrderedSet(), **flags}
            if ordering:
                entry["orders"] = []
            return entry

        with connection.cursor() as cursor:
            cursor.execute(_DJANGO_KEYS_SQL)
            for table, constraint, column, ref_table, ref_column, kind in cursor.fetchall():
                constraints = result.get(table)
                if constraints is None:
                    continue
                if constraint not in constraints:
                    constraints[constraint] = new(
                        primary_key=kind == "PRIMARY KEY",
                        unique=kind in {"PRIMARY KEY", "UNIQUE"},
                        index=False,
                        check=False,
                        foreign_key=(ref_table, ref_column) if ref_column else None,
                    )
                constraints[constraint]["columns"].add(column)
            if features.can_introspect_check_constraints:
                cursor.execute(_DJANGO_COLUMNS_SQL)
                columns: dict[str, set[str]] = {}
                for table, column in cursor.fetchall():
                    columns.setdefault(table, set()).add(column)
                cursor.execute(
                    _DJANGO_MARIADB_CHECKS_SQL
                    if connection.mysql_is_mariadb
                    else _DJANGO_CHECKS_SQL
                )
                unnamed: dict[str, int] = {}
                for table, constraint, check_clause in cursor.fetchall():
                    constraints = result.get(table)
                    if constraints is None:
                        continue
                    constraint_columns = introspection._parse_constraint_columns(
                        check_clause, columns.get(table, set())
                    )
                    # As Django: an unnamed check is named after its column.
                    if set(constraint_columns) == {constraint}:
                        unnamed[table] = unnamed.get(table, 0) + 1
                        constraint = f"__unnamed_constraint_{unnamed[table]}__"
                    constraints[constraint] = {
                        "columns": constraint_columns,
                        "primary_key": False,
                        "unique": False,
                        "index": False,
                        "check": True,
                        "foreign_key": None,
                    }
            cursor.execute(_DJANGO_INDEXES_SQL)
            for table, non_unique, index, column, order, type_ in cursor.fetchall():
                constraints = result.get(table)
                if constraints is None:
                    continue
                if index not in constraints:
                    constraints[index] = new(
                        primary_key=False, unique=not int(non_unique), check=False, foreign_key=None
                    )
                entry = constraints[index]
                entry["index"] = True
                entry["type"] = Index.suffix if type_ == "BTREE" else type_.lower()
                entry["columns"].add(column)
                if ordering:
                    entry["orders"].append("DESC" if order == "D" else "ASC")
        for constraints in result.values():
            for entry in constraints.values():
                entry["columns"] = list(entry["columns"])
        return result

    def normalise_vendor_type(self, value: str) -> str:
        value = re.sub(r" auto_increment\b", "", value)
        if value == "tinyint(1)":  # what BOOL is stored as
            return "bool"
        value = _DISPLAY_WIDTH.sub(r"\1", value)  # int(11): widths are display-only
        if value == "json" and self.connection.mysql_is_mariadb:
            return "longtext"  # MariaDB's JSON is an alias of LONGTEXT
        return value

    def implicit_indexes(self, table: Table) -> frozenset[tuple[str, ...]]:
        # InnoDB needs an index starting with a foreign key's columns and creates one
        # (named after the constraint) when none exists; Django relies on that.
        existing = {table.primary_key, *table.uniques, *table.indexes}
        return frozenset(
            fk.columns
            for fk in table.foreign_keys
            if not any(other[: len(fk.columns)] == fk.columns for other in existing)
        )

    def creates_field_index(self, column_type: str) -> bool:
        return column_type.lower() not in _UNINDEXABLE

    # Removal ------------------------------------------------------------------------

    def foreign_key_checks_sql(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return ("SET FOREIGN_KEY_CHECKS = 0",), ("SET FOREIGN_KEY_CHECKS = 1",)

    @contextmanager
    def foreign_key_checks_disabled(self) -> Iterator[None]:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT @@SESSION.foreign_key_checks")
            previous = int(cursor.fetchone()[0])
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        try:
            yield
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute(f"SET FOREIGN_KEY_CHECKS = {previous}")

    def drop_foreign_key_sql(self, table: str, foreign_key: ForeignKey) -> list[str]:
        if not foreign_key.name:
            raise ValueError(f"Foreign key {foreign_key} has no constraint name.")
        quote = self.connection.ops.quote_name
        return [f"ALTER TABLE {quote(table)} DROP FOREIGN KEY {quote(foreign_key.name)}"]

    def database_exists(self, name: str) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name]
            )
            return cursor.fetchone() is not None

    def missing_database_privileges(self, name: str) -> str | None:
        return missing_database_privileges(self.connection, name)

    def missing_table_privileges(self, needs: Mapping[str, Collection[str]]) -> str | None:
        return missing_table_privileges(self.connection, needs)

    def _server_lock_name(self, name: str) -> str:
        # GET_LOCK names are server-wide and at most 64 characters: add the database.
        full = f"{name}:{self.connection.settings_dict['NAME']}"
        if len(full) > 64:
            full = f"{full[:47]}:{hashlib.sha256(full.encode()).hexdigest()[:16]}"
        return full

    def acquire_lock(self, name: str) -> object | None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", [self._server_lock_name(name)])
            (acquired,) = cursor.fetchone()
        return True if acquired == 1 else None

    def release_lock(self, name: str, token: object) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [self._server_lock_name(name)])
            cursor.fetchone()


# Django's get_constraints queries (mysql/introspection.py), for the whole schema at once.
# The keys are joined on the table too: Django's, for one table, matches a constraint name of
# another table as well (every PRIMARY), which changes nothing but the number of rows.
_DJANGO_KEYS_SQL = """
    SELECT kc.`table_name`, kc.`constraint_name`, kc.`column_name`,
        kc.`referenced_table_name`, kc.`referenced_column_name`,
        c.`constraint_type`
    FROM
        information_schema.key_column_usage AS kc,
        information_schema.table_constraints AS c
    WHERE
        kc.table_schema = DATABASE() AND
        (
            kc.referenced_table_schema = DATABASE() OR
            kc.referenced_table_schema IS NULL
        ) AND
        c.table_schema = kc.table_schema AND
        c.table_name = kc.table_name AND
        c.constraint_name = kc.constraint_name AND
        c.constraint_type != 'CHECK'
    ORDER BY kc.`table_name`, kc.`ordinal_position`
"""
_DJANGO_COLUMNS_SQL = """
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = DATABASE()
"""
_DJANGO_MARIADB_CHECKS_SQL = """
    SELECT c.table_name, c.constraint_name, c.check_clause
    FROM information_schema.check_constraints AS c
    WHERE c.constraint_schema = DATABASE()
"""
_DJANGO_CHECKS_SQL = """
    SELECT tc.table_name, cc.constraint_name, cc.check_clause
    FROM
        information_schema.check_constraints AS cc,
        information_schema.table_constraints AS tc
    WHERE
        cc.constraint_schema = DATABASE() AND
        tc.table_schema = cc.constraint_schema AND
        cc.constraint_name = tc.constraint_name AND
        tc.constraint_type = 'CHECK'
"""
# SHOW INDEX FROM <table>, for every table of the schema.
_DJANGO_INDEXES_SQL = """
    SELECT table_name, non_unique, index_name, column_name, collation, index_type
    FROM information_schema.statistics
    WHERE table_schema = DATABASE()
    ORDER BY table_name, index_name, seq_in_index
"""
