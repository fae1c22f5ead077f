"""Whether the connection may run a plan's statements, known while planning.

A statement that fails for want of a privilege would stop a removal or a reset after its
first changes; read from the catalogue which privileges the planned statements need, and
refuse before anything changes instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from migration_ops.introspection import get_introspector

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

# A quoted name, as connection.ops.quote_name writes it (Django always quotes).
_QUOTED = r"(?:\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`)"
# The leading clause of the statements that change tables, and what each needs.
_STATEMENTS = (
    (re.compile(rf"ALTER TABLE ({_QUOTED})"), "ALTER"),
    (
        re.compile(
            rf"DROP (?:TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE) (?:IF EXISTS )?"
            rf"((?:{_QUOTED})(?:, {_QUOTED})*)"
        ),
        "DROP",
    ),
    (re.compile(rf"(?:CREATE (?:UNIQUE )?|DROP )INDEX {_QUOTED} ON ({_QUOTED})"), "INDEX"),
    (re.compile(rf"DELETE FROM ({_QUOTED})"), "DELETE"),
    (re.compile(rf"UPDATE ({_QUOTED})"), "UPDATE"),
    (re.compile(rf"INSERT INTO ({_QUOTED})"), "INSERT"),
)


def statement_needs(statements: Iterable[str]) -> dict[str, set[str]]:
    """``{table: privileges}`` that ``statements`` need (comments and statements of other
    kinds need nothing that is checked)."""
    needs: dict[str, set[str]] = {}
    for statement in statements:
        for pattern, privilege in _STATEMENTS:
            match = pattern.match(statement.lstrip())
            if match is not None:
                for name in re.findall(_QUOTED, match[1]):
                    table = name[1:-1].replace(name[0] * 2, name[0])
                    needs.setdefault(table, set()).add(privilege)
                break
    return needs


def merge_needs(*parts: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    needs: dict[str, set[str]] = {}
    for part in parts:
        for table, privileges in part.items():
            needs.setdefault(table, set()).update(privileges)
    return needs


def privileges_refusal(
    connection: BaseDatabaseWrapper, database: str, needs: Mapping[str, Iterable[str]]
) -> str | None:
    """Why the connection may not make the planned changes (None: it may)."""
    wanted = {table: frozenset(privileges) for table, privileges in needs.items() if privileges}
    if not wanted:
        return None
    missing = get_introspector(connection).missing_table_privileges(wanted)
    if missing is None:
        return None
    return f"The connection to database {database!r} may not make these changes: {missing}."
