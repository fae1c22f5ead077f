"""Tables the plan itself creates, for findings that describe the database as it is before
the plan: no running release queries such a table, and it holds no rows, unless a
``RunPython`` (into any table) or a ``RunSQL`` (into the tables it inserts into) of the plan may
have inserted some since it was created."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation

from migration_ops.core.operations.effects import Effect, EffectKind
from migration_ops.core.operations.findings import Risk, RiskFinding, is_noop

# What a table that did not exist before the plan cannot have.
_ABOUT_EXISTING_CODE = frozenset({Risk.BREAKS_RUNNING_CODE, Risk.LONG_LOCK})


# Names whose use in a RunPython function may insert rows.
_INSERTING = frozenset(
    {
        "create",
        "bulk_create",
        "get_or_create",
        "update_or_create",
        "loaddata",
        "call_command",
        "execute",
        "executemany",
        "cursor",
        "raw",
    }
)
# Names through which a function reads rows that exist (a manager).
_READING = frozenset({"objects", "_default_manager", "_base_manager"})


def _names(code: Any) -> set[str] | None:
    """The attribute and global names a function's code (nested code included) uses;
    None when it is no plain function."""
    func_code = getattr(code, "__code__", None)
    if func_code is None:
        return None
    names: set[str] = set()
    stack = [func_code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if hasattr(c, "co_names"))
    return names


def may_insert(code: Any) -> bool:
    """Whether a RunPython function may insert rows: it creates objects, runs SQL or
    commands, or saves objects without reading any (a backfill that only saves the rows
    it reads adds none to an empty table)."""
    names = _names(code)
    if names is None:
        return True  # a callable object: anything
    return bool(names & _INSERTING) or ("save" in names and not names & _READING)


# Targets of the statements of raw SQL that add rows.
_INSERT_TARGET = re.compile(
    r"\b(?:(?:INSERT(?:\s+IGNORE)?|REPLACE|MERGE)\s+INTO|COPY)\s+"
    r"(?:[\"`\[]?\w+[\"`\]]?\.)?[\"`\[]?(\w+)",
    re.IGNORECASE,
)


def inserted_tables(sql: str) -> set[str]:
    """The tables raw SQL names as the target of an INSERT, REPLACE, MERGE or COPY."""
    return {match[1] for match in _INSERT_TARGET.finditer(sql)}


def _sql_text(sql: Any) -> str:
    if isinstance(sql, str):
        return sql
    parts = []
    for item in sql or ():
        parts.append(item if isinstance(item, str) else str(item[0]) if item else "")
    return "\n".join(parts)


class FreshTables:
    """Follows the tables created by the operations classified so far."""

    def __init__(self) -> None:
        self.created: set[str] = set()
        # Created tables that code of the plan may have written rows into.
        self.written: set[str] = set()

    def filter(self, findings: Iterable[RiskFinding]) -> tuple[RiskFinding, ...]:
        kept = []
        for finding in findings:
            table = finding.table
            if table in self.created:
                if finding.risk in _ABOUT_EXISTING_CODE:
                    continue
                if finding.risk is Risk.DESTRUCTIVE and table not in self.written:
                    continue
            kept.append(finding)
        return tuple(kept)

    def advance(self, operation: Operation, backwards: bool, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if effect.kind is EffectKind.CREATE_TABLE:
                self.created.add(effect.table)
                self.written.discard(effect.table)
            elif effect.kind is EffectKind.DROP_TABLE:
                self.created.discard(effect.table)
                self.written.discard(effect.table)
            elif effect.kind is EffectKind.RENAME_TABLE and effect.table in self.created:
                self.created.add(effect.name)
                if effect.table in self.written:
                    self.written.add(effect.name)
        if isinstance(operation, ops.RunPython):
            code = operation.reverse_code if backwards else operation.code
            if code is not None and not is_noop(code) and may_insert(code):
                self.written |= self.created  # into any model
        elif isinstance(operation, ops.RunSQL):
            sql = operation.reverse_sql if backwards else operation.sql
            if sql is not None and not is_noop(sql):
                text = _sql_text(sql)
                self.written |= self.created & inserted_tables(text)
