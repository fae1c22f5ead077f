"""Checksums of every table of a database (rows, and sequences where the backend keeps
them apart), to prove that an operation wrote nothing there."""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from django.db.backends.base.base import BaseDatabaseWrapper


def table_checksums(
    connection: BaseDatabaseWrapper, *, exclude: Collection[str] = ()
) -> dict[str, str]:
    """{table: sha256 of its rows in a canonical order} for every table of ``connection``,
    plus ``sequence of <table>`` entries (PostgreSQL sequences, SQLite's sqlite_sequence,
    MySQL's AUTO_INCREMENT counters), leaving out ``exclude``."""
    quote = connection.ops.quote_name
    sums: dict[str, str] = {}
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
        for table in tables:
            if table in exclude:
                continue
            cursor.execute(f"SELECT * FROM {quote(table)}")
            rows = sorted(repr(tuple(row)) for row in cursor.fetchall())
            sums[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        for table, value in _sequences(connection, cursor):
            if table not in exclude:
                sums[f"sequence of {table}"] = value
    return sums


def _sequences(connection: BaseDatabaseWrapper, cursor) -> list[tuple[str, str]]:
    """(table, counter) of the sequences that number the tables' rows."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT t.relname, s.relname, coalesce(q.last_value, 0) FROM pg_class s "
            "JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
            "JOIN pg_class t ON t.oid = d.refobjid "
            "JOIN pg_sequences q ON q.sequencename = s.relname "
            "WHERE s.relkind = 'S' ORDER BY 1, 2"
        )
        return [(table, f"{name}={value}") for table, name, value in cursor.fetchall()]
    if connection.vendor == "sqlite":
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if not cursor.fetchone():
            return []
        cursor.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name")
        return [(name, str(value)) for name, value in cursor.fetchall()]
    if connection.vendor == "mysql":
        cursor.execute(
            "SELECT table_name, auto_increment FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND auto_increment IS NOT NULL ORDER BY 1"
        )
        return [(name, str(value)) for name, value in cursor.fetchall()]
    return []
