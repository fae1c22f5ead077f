"""MySQL/MariaDB: ``SHOW CREATE TABLE`` per table (what the server itself would dump)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from migration_ops.introspection.copying import CatalogueObject, Structure, StructureCopier

if TYPE_CHECKING:
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
_CONSTRAINTS_SQL = """
    SELECT tc.TABLE_NAME, tc.CONSTRAINT_TYPE, tc.CONSTRAINT_NAME,
           COALESCE(rc.REFERENCED_TABLE_NAME, ''), COALESCE(rc.DELETE_RULE, '')
    FROM information_schema.TABLE_CONSTRAINTS tc
    LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
      ON rc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
     AND rc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME AND rc.TABLE_NAME = tc.TABLE_NAME
    WHERE tc.CONSTRAINT_SCHEMA = DATABASE()
"""
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


class MySQLCopier(StructureCopier):
    vendor = "mysql"

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
        objects += [
            (table, kind.lower(), name, f"{to_table} {rule}".strip())
            for table, kind, name, to_table, rule in cursor.fetchall()
        ]
        return objects

    @staticmethod
    def comparable(statement: str) -> str:
        """A ``SHOW CREATE TABLE`` text without the counter that rows move."""
        return _AUTO_INCREMENT.sub("", statement)
