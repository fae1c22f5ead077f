"""MySQL and MariaDB privileges: what the current user lacks, read from the server's grants."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from migration_ops.introspection.base import TABLE_PRIVILEGES, and_join, missing_by_privileges

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from django.db.backends.base.base import BaseDatabaseWrapper


def _text(value: object) -> str:
    # Some server/client combinations return information_schema text as bytes.
    return value.decode() if isinstance(value, bytes) else str(value)


def missing_database_privileges(connection: BaseDatabaseWrapper, name: str) -> str | None:
    # Global grants, or grants on a database pattern that matches the name.
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        (user,) = cursor.fetchone()
        login, _, host = user.rpartition("@")
        grantee = f"'{login}'@'{host}'"
        cursor.execute(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES"
            " WHERE GRANTEE = %s AND PRIVILEGE_TYPE IN ('CREATE', 'DROP')"
            " UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES"
            " WHERE GRANTEE = %s AND PRIVILEGE_TYPE IN ('CREATE', 'DROP')"
            " AND %s LIKE TABLE_SCHEMA",
            [grantee, grantee, name],
        )
        granted = {row[0] for row in cursor.fetchall()}
    missing = sorted({"CREATE", "DROP"} - granted)
    if not missing:
        return None
    return (
        f"user {user} lacks {' and '.join(missing)} on {name!r} "
        f"(GRANT {', '.join(missing)} ON `{name}`.* TO {grantee} gives it)"
    )


def missing_table_privileges(
    connection: BaseDatabaseWrapper, needs: Mapping[str, Collection[str]]
) -> str | None:
    # SHOW GRANTS rather than information_schema: only it lists the privileges of the
    # session's roles (MariaDB), and it needs no privilege of its own.
    database = str(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        (user,) = cursor.fetchone()
        cursor.execute("SHOW GRANTS")
        grants = [_parse_grant(_text(row[0])) for row in cursor.fetchall()]
    login, _, host = user.rpartition("@")
    grantee = f"'{login}'@'{host}'"

    def granted(table: str) -> set[str]:
        privileges = {
            privilege
            for grant in grants
            if grant is not None and _grant_covers(grant, database, table)
            for privilege in grant[2]
        }
        return set(TABLE_PRIVILEGES) if "ALL PRIVILEGES" in privileges else privileges

    missing = missing_by_privileges(needs, granted)
    if not missing:
        return None
    quote = connection.ops.quote_name
    lacks = [f"{and_join(p)} on {and_join(t)}" for p, t in missing.items()]
    statements = [
        f"GRANT {', '.join(p)} ON {quote(database)}.{quote(t)} TO {grantee}"
        for p, tables in missing.items()
        for t in tables
    ]
    one = len(statements) == 1 and len(next(iter(missing))) == 1
    gives = "gives it" if one else "give them"
    return f"user {user} lacks {'; '.join(lacks)} ({'; '.join(statements)} {gives})"


_NAME = r"(?:\*|`(?:[^`]|``)*`)"
# A line of SHOW GRANTS that grants privileges on a database or a table (not a role, a
# routine or a proxy).
_GRANT_LINE = re.compile(
    rf"^GRANT (?P<privileges>.+?) ON (?:TABLE )?(?P<database>{_NAME})\.(?P<table>{_NAME}) TO ",
    re.DOTALL,
)


def _unquote(name: str) -> str:
    return name if name == "*" else name[1:-1].replace("``", "`")


def _parse_grant(line: str) -> tuple[str, str, frozenset[str]] | None:
    """``(database pattern, table, privileges)`` of a SHOW GRANTS line (column privileges
    left out: they are not table privileges)."""
    match = _GRANT_LINE.match(line)
    if match is None:
        return None
    privileges = frozenset(
        p.strip().upper() for p in re.split(r",(?![^(]*\))", match["privileges"]) if "(" not in p
    )
    return _unquote(match["database"]), _unquote(match["table"]), privileges


def _grant_covers(grant: tuple[str, str, frozenset[str]], database: str, table: str) -> bool:
    pattern, granted_table, _ = grant
    if granted_table != "*":
        return pattern == database and granted_table == table
    return pattern == "*" or _database_pattern(pattern).fullmatch(database) is not None


def _database_pattern(pattern: str) -> re.Pattern[str]:
    """A database-level grant's name is a LIKE pattern: ``_`` and ``%`` are wildcards,
    ``\\`` escapes them."""
    parts = re.findall(r"\\.|%|_|[^\\%_]+", pattern)
    translated = {"%": ".*", "_": "."}
    return re.compile(
        "".join(translated.get(p) or re.escape(p[1:] if p.startswith("\\") else p) for p in parts),
        re.DOTALL,
    )
