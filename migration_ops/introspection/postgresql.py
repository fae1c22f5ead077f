"""PostgreSQL: four ``pg_catalog`` queries for the tables of the whole ``current_schema()``,
one for its views and sequences."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import Index

from migration_ops.compat import PG_CONSTRAINTS_SKIP_NOT_NULL
from migration_ops.core.schema import (
    MATERIALIZED_VIEW,
    SEQUENCE,
    VIEW,
    Column,
    DatabaseObject,
    ForeignKey,
    Schema,
    Table,
)
from migration_ops.introspection.base import (
    Constraints,
    Introspector,
    and_join,
    group_rows,
    missing_by_privileges,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from django.db.backends.utils import CursorWrapper

_WITHOUT_TIME_ZONE = re.compile(r"^(time|timestamp)(\(\d+\))? without time zone$")

# Ordinary and partitioned tables of the current schema (partitions belong to their
# parent). Every query below joins it as "c"; {where} may restrict the table names.
_FROM_TABLES = """
    pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    AND n.nspname = current_schema()
    AND c.relkind IN ('r', 'p')
    AND NOT c.relispartition
    {where}
"""


def _column_names(numbers: str, relation: str, condition: str = "TRUE") -> str:
    """SQL for the column names of an attribute-number array, in the array's order."""
    return f"""ARRAY(
        SELECT a.attname::text
        FROM unnest({numbers}) WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.attnum
        WHERE {condition}
        ORDER BY k.ord
    )"""


_TABLES_SQL = f"""
    SELECT c.relname, c.reltuples, pg_relation_size(c.oid), pg_total_relation_size(c.oid)
    FROM {_FROM_TABLES}
    ORDER BY c.relname
"""
_COLUMNS_SQL = f"""
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
    FROM {_FROM_TABLES}
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum
"""
# Key columns only (INCLUDE columns are not part of what an index or unique enforces).
_INDEXES_SQL = f"""
    SELECT c.relname, x.indisprimary, x.indisunique,
           x.indpred IS NOT NULL OR x.indexprs IS NOT NULL,
           {_column_names("x.indkey::int2[]", "x.indrelid", "k.ord <= x.indnkeyatts")}
    FROM {_FROM_TABLES}
    JOIN pg_index x ON x.indrelid = c.oid AND x.indisvalid AND NOT x.indisexclusion
    JOIN pg_class i ON i.oid = x.indexrelid
    ORDER BY c.relname, i.relname
"""
_CONSTRAINTS_SQL = f"""
    SELECT c.relname, con.conname, con.contype, fc.relname,
           {_column_names("con.conkey", "con.conrelid")},
           {_column_names("con.confkey", "con.confrelid")},
           con.confdeltype
    FROM {_FROM_TABLES}
    JOIN pg_constraint con ON con.conrelid = c.oid AND con.contype IN ('f', 'c')
    LEFT JOIN pg_class fc ON fc.oid = con.confrelid
    ORDER BY c.relname, con.conname
"""


# pg_constraint.confdeltype, as ForeignKey.on_delete spells it.
_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


# Views, materialized views and the sequences no column owns (serial and identity ones
# depend on their column: "a" and "i"), with the relations a view's rewrite rule reads and
# the tables whose column defaults call a sequence.
_OBJECTS_SQL = """
    SELECT c.relname, c.relkind, ARRAY(
        SELECT DISTINCT ref.relname::text
        FROM pg_rewrite r
        JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
            AND d.refclassid = 'pg_class'::regclass
        JOIN pg_class ref ON ref.oid = d.refobjid AND ref.oid <> c.oid
        WHERE r.ev_class = c.oid
    ), ARRAY(
        SELECT DISTINCT t.relname::text
        FROM pg_depend d
        JOIN pg_attrdef ad ON ad.oid = d.objid
        JOIN pg_class t ON t.oid = ad.adrelid
        WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
            AND d.refobjid = c.oid
    )
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    WHERE (c.relkind IN ('v', 'm') OR c.relkind = 'S' AND NOT EXISTS (
        SELECT 1 FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    ))
    {where}
    ORDER BY c.relname
"""
_OBJECT_KINDS = {"v": VIEW, "m": MATERIALIZED_VIEW, "S": SEQUENCE}


class PostgreSQLIntrospector(Introspector):
    vendor = "postgresql"
    type_aliases: ClassVar[Mapping[str, str]] = {
        "character varying": "varchar",
        "character": "char",
        "int": "integer",
        "int4": "integer",
        "int8": "bigint",
        "int2": "smallint",
        "serial": "integer",
        "serial4": "integer",
        "bigserial": "bigint",
        "serial8": "bigint",
        "smallserial": "smallint",
        "serial2": "smallint",
        "bool": "boolean",
        "float8": "double precision",
        "float4": "real",
        "decimal": "numeric",
        "timestamptz": "timestamp with time zone",
        "timetz": "time with time zone",
        "varbit": "bit varying",
    }

    def read_tables(self, cursor: CursorWrapper, tables: frozenset[str] | None) -> list[Table]:
        # One query per kind of object for the whole schema, whatever the number of tables.
        where, params = "", []
        if tables is not None:
            where, params = "AND c.relname::text = ANY(%s)", [sorted(tables)]

        def run(sql: str) -> list[tuple[Any, ...]]:
            cursor.execute(sql.format(where=where), params)
            return list(cursor.fetchall())

        sizes = run(_TABLES_SQL)
        columns = group_rows(run(_COLUMNS_SQL))
        indexes = group_rows(run(_INDEXES_SQL))
        constraints = group_rows(run(_CONSTRAINTS_SQL))

        result = []
        for name, reltuples, heap_bytes, total_bytes in sizes:
            primary_key: tuple[str, ...] = ()
            uniques, plain = set(), set()
            for is_primary, is_unique, partial_or_expression, cols in indexes.get(name, []):
                if partial_or_expression:  # not comparable by columns: left out on both sides
                    continue
                if is_primary:
                    primary_key = tuple(cols)
                else:
                    (uniques if is_unique else plain).add(tuple(cols))
            foreign_keys, checks = set(), set()
            for con_name, con_type, to_table, cols, to_cols, deletes in constraints.get(name, []):
                if con_type == "f":
                    on_delete = _ON_DELETE[deletes]
                    foreign_keys.add(
                        ForeignKey(tuple(cols), to_table, tuple(to_cols), con_name, on_delete)
                    )
                else:
                    checks.add(con_name)
            result.append(
                Table(
                    name=name,
                    columns=tuple(
                        Column(col, type_, not notnull)
                        for col, type_, notnull in columns.get(name, [])
                    ),
                    primary_key=primary_key,
                    uniques=frozenset(uniques),
                    indexes=frozenset(plain),
                    foreign_keys=frozenset(foreign_keys),
                    checks=frozenset(checks),
                    rows=_rows(float(reltuples), int(heap_bytes)),
                    bytes=int(total_bytes),
                )
            )
        return result

    def read_objects(
        self, cursor: CursorWrapper, names: frozenset[str] | None
    ) -> list[DatabaseObject]:
        where, params = "", []
        if names is not None:
            where, params = "AND c.relname::text = ANY(%s)", [sorted(names)]
        cursor.execute(_OBJECTS_SQL.format(where=where), params)
        return [
            DatabaseObject(name, _OBJECT_KINDS[kind], frozenset(reads), frozenset(users))
            for name, kind, reads, users in cursor.fetchall()
        ]

    def refresh_estimates(self, tables: Collection[str]) -> None:
        if tables:
            names = ", ".join(self.connection.ops.quote_name(t) for t in sorted(tables))
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {names}")

    def read_constraints(self, tables: Collection[str]) -> dict[str, Constraints]:
        """Django's ``get_constraints`` of each of ``tables``, in two queries for them all
        (the same two queries, filtered by ``relname = ANY(%s)`` instead of one name)."""
        result: dict[str, Constraints] = {name: {} for name in tables}
        names = list(result)
        skip = "AND c.contype != 'n'" if PG_CONSTRAINTS_SKIP_NOT_NULL else ""
        default_method = self.connection.introspection.index_default_access_method
        with self.connection.cursor() as cursor:
            cursor.execute(_DJANGO_CONSTRAINTS_SQL.format(skip=skip), [names])
            for table, constraint, columns, kind, used_cols, options in cursor.fetchall():
                result[table][constraint] = {
                    "columns": columns,
                    "primary_key": kind == "p",
                    "unique": kind in ["p", "u"],
                    "foreign_key": tuple(used_cols.split(".", 1)) if kind == "f" else None,
                    "check": kind == "c",
                    "index": False,
                    "definition": None,
                    "options": options,
                }
            cursor.execute(_DJANGO_INDEXES_SQL, [default_method, names])
            for (
                table,
                index,
                columns,
                unique,
                primary,
                orders,
                type_,
                definition,
                options,
            ) in cursor.fetchall():
                constraints = result[table]
                if index in constraints:
                    continue
                basic_index = (
                    type_ == default_method and not index.endswith("_btree") and options is None
                )
                constraints[index] = {
                    "columns": columns if columns != [None] else [],
                    "orders": orders if orders != [None] else [],
                    "primary_key": primary,
                    "unique": unique,
                    "foreign_key": None,
                    "check": False,
                    "index": True,
                    "type": Index.suffix if basic_index else type_,
                    "definition": definition,
                    "options": options,
                }
        return result

    def read_sequences(self, tables: Collection[str]) -> dict[str, list[dict[str, str]]]:
        """Django's ``get_sequences`` of each of ``tables``, in one query for them all."""
        result: dict[str, list[dict[str, str]]] = {name: [] for name in tables}
        with self.connection.cursor() as cursor:
            cursor.execute(_DJANGO_SEQUENCES_SQL, [list(result)])
            for table, name, column in cursor.fetchall():
                result[table].append({"name": name, "table": table, "column": column})
        return result

    def normalise_vendor_type(self, value: str) -> str:
        return _WITHOUT_TIME_ZONE.sub(r"\1\2", value)

    # Removal ------------------------------------------------------------------------

    def drop_foreign_key_sql(self, table: str, foreign_key: ForeignKey) -> list[str]:
        if not foreign_key.name:
            raise ValueError(f"Foreign key {foreign_key} has no constraint name.")
        quote = self.connection.ops.quote_name
        return [f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(foreign_key.name)}"]

    def drop_tables_sql(
        self, schema: Schema, tables: Collection[str]
    ) -> list[tuple[tuple[str, ...], str]]:
        # Constraints cannot be switched off: tables that reference each other in a cycle
        # are dropped by one statement, which PostgreSQL allows without CASCADE.
        quote = self.connection.ops.quote_name
        return [
            (group, f"DROP TABLE {', '.join(quote(t) for t in group)}")
            for group in self.drop_order(schema, tables)
        ]

    def reset_sequences(self, tables: Iterable[str]) -> None:
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            for table in tables:
                cursor.execute(_PRIMARY_KEY_SEQUENCES_SQL, [table])
                for column, sequence in cursor.fetchall():
                    cursor.execute(
                        f"SELECT setval(%s, COALESCE(MAX({quote(column)}), 1),"
                        f" MAX({quote(column)}) IS NOT NULL) FROM {quote(table)}",
                        [sequence],
                    )

    def database_exists(self, name: str) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None

    def missing_database_privileges(self, name: str) -> str | None:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolname, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            role, allowed = cursor.fetchone()
        if allowed:
            return None
        return f"role {role!r} has no CREATEDB attribute (ALTER ROLE {role} CREATEDB gives it)"

    def missing_table_privileges(self, needs: Mapping[str, Collection[str]]) -> str | None:
        # DROP, ALTER and index changes are no grantable privileges here: they need the
        # table's owner, a member of the owner's role, or a superuser (pg_has_role says yes
        # to superusers).
        with self.connection.cursor() as cursor:
            cursor.execute(_TABLE_PRIVILEGES_SQL, [sorted(needs)])
            rows = {name: (owner, flags) for name, owner, *flags in cursor.fetchall()}
            cursor.execute("SELECT current_user")
            (role,) = cursor.fetchone()

        def granted(table: str) -> set[str]:
            if table not in rows:
                return set(needs[table])  # not there: nothing to check
            owns, insert, update, delete = rows[table][1]
            allowed = {"DROP": owns, "ALTER": owns, "INDEX": owns, "INSERT": insert}
            return {p for p, yes in {**allowed, "UPDATE": update, "DELETE": delete}.items() if yes}

        missing = missing_by_privileges(needs, granted)
        if not missing:
            return None
        quote = self.connection.ops.quote_name
        owned = {"DROP", "ALTER", "INDEX"}
        not_owned = sorted({t for p, ts in missing.items() if owned & set(p) for t in ts})
        owners = sorted({rows[t][0] for t in not_owned})
        # The grantable part of what is missing (ownership is not granted table by table).
        grantable = [
            (kept, ts) for p, ts in missing.items() if (kept := [q for q in p if q not in owned])
        ]
        lacks = [f"{and_join(kept)} on {and_join(ts)}" for kept, ts in grantable]
        parts = []
        if not_owned:
            parts.append(
                f"does not own {and_join(not_owned)}, which only their owner "
                f"({and_join(owners)}), a member of its role or a superuser may drop or alter"
            )
        if lacks:
            parts.append(f"lacks {'; '.join(lacks)}")
        statements = [f"GRANT {quote(owner)} TO {quote(role)}" for owner in owners] + [
            f"GRANT {', '.join(kept)} ON {', '.join(quote(t) for t in ts)} TO {quote(role)}"
            for kept, ts in grantable
        ]
        gives = "gives it" if len(statements) == 1 else "give them"
        return f"role {role!r} {' and '.join(parts)} ({'; '.join(statements)} {gives})"

    @staticmethod
    def lock_key(name: str) -> int:
        """A stable signed 64-bit key for ``pg_try_advisory_lock`` (advisory locks are per
        database, so the name alone is enough)."""
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def acquire_lock(self, name: str) -> object | None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.lock_key(name)])
            (acquired,) = cursor.fetchone()
        return True if acquired else None

    def release_lock(self, name: str, token: object) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [self.lock_key(name)])


# The sequence behind each primary-key column of a table of the current schema (serial
# or identity).
_PRIMARY_KEY_SEQUENCES_SQL = """
    SELECT a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    JOIN pg_index x ON x.indrelid = c.oid AND x.indisprimary
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(x.indkey)
    WHERE c.relname = %s
      AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL
"""


# Per table (view, sequence) of the current schema: its owner, whether the current user
# may act as the owner, and its INSERT, UPDATE and DELETE privileges.
_TABLE_PRIVILEGES_SQL = """
    SELECT c.relname, pg_get_userbyid(c.relowner), pg_has_role(c.relowner, 'USAGE'),
           has_table_privilege(c.oid, 'INSERT'), has_table_privilege(c.oid, 'UPDATE'),
           has_table_privilege(c.oid, 'DELETE')
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relname = ANY(%s)
"""


def _rows(reltuples: float, heap_bytes: int) -> int | None:
    """The planner's row estimate. -1 means never vacuumed nor analysed (PostgreSQL 14+):
    an empty heap is then still certainly 0 rows; anything else is unknown."""
    if reltuples < 0:
        return 0 if heap_bytes == 0 else None
    return round(reltuples)


# Django's get_constraints queries (postgresql/introspection.py), for many tables at once.
_DJANGO_CONSTRAINTS_SQL = """
    SELECT
        cl.relname,
        c.conname,
        array(
            SELECT attname
            FROM unnest(c.conkey) WITH ORDINALITY cols(colid, arridx)
            JOIN pg_attribute AS ca ON cols.colid = ca.attnum
            WHERE ca.attrelid = c.conrelid
            ORDER BY cols.arridx
        ),
        c.contype,
        (SELECT fkc.relname || '.' || fka.attname
        FROM pg_attribute AS fka
        JOIN pg_class AS fkc ON fka.attrelid = fkc.oid
        WHERE fka.attrelid = c.confrelid AND fka.attnum = c.confkey[1]),
        cl.reloptions
    FROM pg_constraint AS c
    JOIN pg_class AS cl ON c.conrelid = cl.oid
    WHERE cl.relname = ANY(%s) AND pg_catalog.pg_table_is_visible(cl.oid) {skip}
"""
_DJANGO_INDEXES_SQL = """
    SELECT
        relname,
        indexname,
        array_agg(attname ORDER BY arridx),
        indisunique,
        indisprimary,
        array_agg(ordering ORDER BY arridx),
        amname,
        exprdef,
        s2.attoptions
    FROM (
        SELECT
            c.relname, c2.relname as indexname, idx.*, attr.attname, am.amname,
            CASE
                WHEN idx.indexprs IS NOT NULL THEN
                    pg_get_indexdef(idx.indexrelid)
            END AS exprdef,
            CASE am.amname
                WHEN %s THEN
                    CASE (option & 1)
                        WHEN 1 THEN 'DESC' ELSE 'ASC'
                    END
            END as ordering,
            c2.reloptions as attoptions
        FROM (
            SELECT *
            FROM
                pg_index i,
                unnest(i.indkey, i.indoption)
                    WITH ORDINALITY koi(key, option, arridx)
        ) idx
        LEFT JOIN pg_class c ON idx.indrelid = c.oid
        LEFT JOIN pg_class c2 ON idx.indexrelid = c2.oid
        LEFT JOIN pg_am am ON c2.relam = am.oid
        LEFT JOIN
            pg_attribute attr ON attr.attrelid = c.oid AND attr.attnum = idx.key
        WHERE c.relname = ANY(%s) AND pg_catalog.pg_table_is_visible(c.oid)
    ) s2
    GROUP BY relname, indexname, indisunique, indisprimary, amname, exprdef, attoptions;
"""
_DJANGO_SEQUENCES_SQL = """
    SELECT tbl.relname, s.relname AS sequence_name, a.attname AS colname
    FROM
        pg_class s
        JOIN pg_depend d ON d.objid = s.oid
            AND d.classid = 'pg_class'::regclass
            AND d.refclassid = 'pg_class'::regclass
        JOIN pg_attribute a ON d.refobjid = a.attrelid
            AND d.refobjsubid = a.attnum
        JOIN pg_class tbl ON tbl.oid = d.refobjid
            AND tbl.relname = ANY(%s)
            AND pg_catalog.pg_table_is_visible(tbl.oid)
    WHERE
        s.relkind = 'S';
"""
