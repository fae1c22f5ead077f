"""MySQL/MariaDB: ``SHOW CREATE TABLE`` per table (what the server itself would dump)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import TYPE_CHECKING

from django.db import OperationalError

from migration_ops.introspection.copying import CatalogueObject, Structure, StructureCopier

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

_TABLES_SQL = """
    SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES
    WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
"""
_INDEXES_SQL = """
    SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE,
           GROUP_CONCAT(CONCAT(COLUMN_NAME, COALESCE(CONCAT('(', SUB_PART, ')'), ''))
                        ORDER BY SEQ_IN_INDEX SEPARATOR ','),
           INDEX_TYPE
    FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
    GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE
"""
# TABLE_SCHEMA too (the same database): MariaDB then opens this database's tables only.
_CONSTRAINTS_SQL = """
    SELECT tc.TABLE_NAME, tc.CONSTRAINT_TYPE, tc.CONSTRAINT_NAME,
           COALESCE(CONCAT(rc.REFERENCED_TABLE_NAME, ' ON DELETE ', rc.DELETE_RULE,
                           ' ON UPDATE ', rc.UPDATE_RULE), '')
    FROM information_schema.TABLE_CONSTRAINTS tc
    LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
      ON rc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
     AND rc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME AND rc.TABLE_NAME = tc.TABLE_NAME
    WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.TABLE_SCHEMA = DATABASE()
"""


# InnoDB syncs a file per table it creates or drops; sessions side by side overlap the waits
# (190 tables: 7.5 s in one session, 1.3 s in four, on the benchmark's machine).
SESSIONS = 4


def run_in_sessions(
    connection: BaseDatabaseWrapper, statements: Sequence[str], sessions: int = SESSIONS
) -> None:
    """Run independent ``statements`` with foreign-key checks off, spread over ``sessions``
    connections of their own to ``connection``'s database. A statement that meets another
    session's lock (InnoDB may refuse, rarely, one that touches a related table) is run again
    alone afterwards, on ``connection``."""
    groups = [list(statements[i::sessions]) for i in range(sessions)]
    retry: list[str] = []

    def run(group: list[str]) -> None:
        own = type(connection)(deepcopy(connection.settings_dict), connection.alias)
        try:
            with own.cursor() as cursor:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                for statement in group:
                    try:
                        cursor.execute(statement)
                    except OperationalError:
                        retry.append(statement)
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=sessions) as pool:
        for future in [pool.submit(run, group) for group in groups if group]:
            future.result()
    if retry:
        with connection.cursor() as cursor:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            try:
                for statement in retry:
                    cursor.execute(statement)
            finally:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


class MySQLCopier(StructureCopier):
    vendor = "mysql"

    def create(self, structure: Structure) -> None:
        # DDL commits at once here: nothing to gain from one transaction, much from sessions.
        run_in_sessions(self.scratch, structure.statements)

    def structure(self, cursor: CursorWrapper) -> Structure:
        quote = self.live.ops.quote_name
        cursor.execute(_TABLES_SQL)
        statements, not_copied = [], []
        for name, kind in cursor.fetchall():
            if kind != "BASE TABLE":
                not_copied.append(f"The {kind.lower()} {name} is not copied.")
                continue
            cursor.execute(f"SHOW CREATE TABLE {quote(name)}")
            statements.append(cursor.fetchone()[1])
        return Structure(tuple(statements), tuple(not_copied))

    def read_catalogue_objects(self, cursor: CursorWrapper) -> Iterable[CatalogueObject]:
        cursor.execute(_INDEXES_SQL)
        objects = [
            (table, "index", name, f"{'' if int(non_unique) else 'unique '}{kind} ({columns})")
            for table, name, non_unique, columns, kind in cursor.fetchall()
        ]
        cursor.execute(_CONSTRAINTS_SQL)
        # A foreign key: its target and actions ("t ON DELETE CASCADE ON UPDATE RESTRICT").
        objects += [
            (table, kind.lower(), name, definition)
            for table, kind, name, definition in cursor.fetchall()
        ]
        return objects
