"""Risk classes and findings: what an effect or a special operation risks, in one sentence."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.models import Field

from migration_ops import compat
from migration_ops.core.operations.effects import Effect, EffectKind
from migration_ops.core.operations.narrowing import column_type, narrowing_reason
from migration_ops.core.operations.rebuilds import has_db_default, rebuilds_for, rebuilds_tables

TableSizes = Mapping[str, tuple[int | None, int | None]]  # table -> (rows, bytes)


class Risk(str, enum.Enum):
    DESTRUCTIVE = "destructive"
    IRREVERSIBLE = "irreversible"
    DATA = "data"
    NON_ATOMIC = "non-atomic"
    TABLE_REBUILD = "table-rebuild"
    LONG_LOCK = "long-lock"
    CROSS_APP_SPILL = "cross-app-spill"
    BREAKS_RUNNING_CODE = "breaks-running-code"


@dataclass(frozen=True)
class RiskFinding:
    risk: Risk
    reason: str  # one sentence that names the table or column
    table: str | None = None  # the table concerned, when there is one


@dataclass(frozen=True)
class MigrationRisks:
    """The findings of one plan step: migration-level ones, then one tuple per operation
    (in ``migration.operations`` order, whatever the direction)."""

    app_label: str
    name: str
    backwards: bool
    migration_findings: tuple[RiskFinding, ...]
    operation_findings: tuple[tuple[RiskFinding, ...], ...]

    @property
    def findings(self) -> tuple[RiskFinding, ...]:
        ordered = self.operation_findings[::-1] if self.backwards else self.operation_findings
        return unique_findings((*self.migration_findings, *(f for op in ordered for f in op)))

    @property
    def risks(self) -> frozenset[Risk]:
        return frozenset(finding.risk for finding in self.findings)


def _size_text(rows: int | None, size: int | None) -> str:
    parts = []
    if rows is not None:
        parts.append(f"about {rows:,} rows")
    if size is not None:
        parts.append(f"{size / 1024 / 1024:,.1f} MB")
    return " and ".join(parts)


def _is_big(
    table: str, table_sizes: TableSizes | None, long_lock_rows: int, long_lock_bytes: int
) -> str | None:
    if not table_sizes or table not in table_sizes:
        return None
    rows, size = table_sizes[table]
    if (rows is not None and rows > long_lock_rows) or (
        size is not None and size > long_lock_bytes
    ):
        return _size_text(rows, size)
    return None


def effect_findings(
    effect: Effect,
    connection: BaseDatabaseWrapper,
    table_sizes: TableSizes | None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> list[RiskFinding]:
    kind, table, column = effect.kind, effect.table, effect.column
    found: list[RiskFinding] = []

    def add(risk: Risk, reason: str) -> None:
        found.append(RiskFinding(risk, reason, table))

    if kind is EffectKind.DROP_TABLE:
        add(Risk.DESTRUCTIVE, f"Drops table {table} (and all its rows).")
        add(Risk.BREAKS_RUNNING_CODE, f"Drops table {table}, which the running release queries.")
    elif kind is EffectKind.RENAME_TABLE:
        add(
            Risk.BREAKS_RUNNING_CODE,
            f"Renames table {table} to {effect.name}, which the running release still calls "
            f"{table}.",
        )
    elif kind is EffectKind.DROP_COLUMN:
        add(Risk.DESTRUCTIVE, f"Drops column {table}.{column} (and its data).")
        add(
            Risk.BREAKS_RUNNING_CODE,
            f"Drops column {table}.{column}, which the running release queries.",
        )
    elif kind is EffectKind.RENAME_COLUMN:
        add(
            Risk.BREAKS_RUNNING_CODE,
            f"Renames column {table}.{column} to {effect.name}, which the running release "
            f"still calls {column}.",
        )
    elif kind is EffectKind.ADD_COLUMN and effect.new is not None:
        new = effect.new
        if not new.null and not new.primary_key and not has_db_default(new):
            add(
                Risk.BREAKS_RUNNING_CODE,
                f"Adds NOT NULL column {table}.{column} without a database default: the "
                f"running release's INSERTs, which omit it, fail.",
            )
    elif kind is EffectKind.ALTER_COLUMN and effect.old is not None and effect.new is not None:
        old, new = effect.old, effect.new
        why = narrowing_reason(old, new, connection)
        if why:
            add(Risk.DESTRUCTIVE, f"Alters column {table}.{column}: {why}.")
        if old.unique and not new.unique and not old.primary_key:
            add(Risk.DESTRUCTIVE, f"Drops the unique constraint of column {table}.{column}.")
        if old.null and not new.null and not has_db_default(new):
            add(
                Risk.BREAKS_RUNNING_CODE,
                f"Makes column {table}.{column} NOT NULL without a database default: the "
                f"running release may still write NULL there.",
            )
        found.extend(_primary_key_findings(table, column, old, new, connection))
        found.extend(_on_delete_findings(table, column, old, new))
    elif kind is EffectKind.DROP_CONSTRAINT and effect.unique:
        add(
            Risk.DESTRUCTIVE,
            f"Drops the unique constraint {effect.name} of table {table}: duplicates become "
            f"possible, and re-adding it then fails.",
        )
    rebuilt = rebuilds_tables(connection) and rebuilds_for(effect, connection)
    if rebuilt and not any(f.risk is Risk.TABLE_REBUILD for f in found):
        add(
            Risk.TABLE_REBUILD,
            f"Rebuilds table {table} on this database: every row is copied into a new table.",
        )
    if rebuilt or kind in _LOCKING:
        size = _is_big(table, table_sizes, long_lock_rows, long_lock_bytes)
        if size:
            add(Risk.LONG_LOCK, f"Alters table {table} ({size}), which may lock it for long.")
    return found


def _primary_key_findings(
    table: str, column: str, old: Field, new: Field, connection: BaseDatabaseWrapper
) -> list[RiskFinding]:
    """A primary key whose column type changes (``AutoField`` to ``BigAutoField``, say):
    the database rewrites the table, and the schema editor alters every foreign key column
    that references it, in whichever app."""
    if not (old.primary_key and new.primary_key):
        return []
    old_type, new_type = column_type(old, connection), column_type(new, connection)
    if old_type is None or new_type is None or old_type == new_type:
        return []
    reason = (
        f"Changes primary key {table}.{column} from {old_type} to {new_type}: every row of "
        f"{table} is rewritten, and so is every foreign key column that references it, with "
        f"those tables locked meanwhile."
    )
    if (old.get_internal_type(), new.get_internal_type()) == ("AutoField", "BigAutoField"):
        reason += (
            " Django 6.0 made BigAutoField the default DEFAULT_AUTO_FIELD: a project or app"
            " that sets neither DEFAULT_AUTO_FIELD nor default_auto_field gets one such"
            " migration per model."
        )
    return [RiskFinding(Risk.TABLE_REBUILD, reason, table)]


def _on_delete_findings(table: str, column: str, old: Field, new: Field) -> list[RiskFinding]:
    """A foreign key whose ``ON DELETE`` action moves into or out of the database
    (Django 6.1's ``DB_CASCADE``, ``DB_SET_NULL``, ``DB_SET_DEFAULT``)."""
    before, after = compat.db_on_delete(old), compat.db_on_delete(new)
    if before == after:
        return []
    if after is None:
        return [
            RiskFinding(
                Risk.BREAKS_RUNNING_CODE,
                f"Removes ON DELETE {before} from foreign key {table}.{column}: the running "
                f"release leaves that to the database, so its deletes of the rows it references "
                f"fail.",
                table,
            )
        ]
    what = (
        f"deletes the rows of {table}"
        if after == "CASCADE"
        else f"sets {table}.{column} to {'NULL' if after == 'SET NULL' else 'its default'}"
    )
    risk = Risk.DESTRUCTIVE if after == "CASCADE" else Risk.DATA
    return [
        RiskFinding(
            risk,
            f"Adds ON DELETE {after} to foreign key {table}.{column}: the database {what} "
            f"when the row it references is deleted, by any client and without Django's "
            f"signals.",
            table,
        )
    ]


# Changes that lock an existing table for as long as they take (renames and drops of
# indexes or constraints are catalogue updates).
_LOCKING = frozenset(
    {
        EffectKind.ADD_COLUMN,
        EffectKind.DROP_COLUMN,
        EffectKind.ALTER_COLUMN,
        EffectKind.ADD_INDEX,
        EffectKind.ADD_CONSTRAINT,
    }
)


def _code_name(code: Any) -> str:
    return getattr(code, "__qualname__", None) or getattr(code, "__name__", None) or repr(code)


def _first_sql(sql: Any) -> str:
    first = sql if isinstance(sql, str) else next(iter(sql or ()), "")
    if isinstance(first, (list, tuple)):
        first = first[0] if first else ""
    text = " ".join(str(first).split())
    return text if len(text) <= 60 else text[:57] + "..."


def is_noop(code: Any) -> bool:
    return code is ops.RunPython.noop or code == "" or code == [] or code is ops.RunSQL.noop


def special_findings(operation: Operation, backwards: bool, label: str) -> list[RiskFinding]:
    """Findings of RunPython, RunSQL and any operation declared irreversible."""
    found: list[RiskFinding] = []
    if isinstance(operation, ops.RunPython):
        what = f"RunPython {_code_name(operation.code)} has no reverse_code"
        code = operation.reverse_code if backwards else operation.code
        shown = f"Python function {_code_name(code)}" if code is not None else ""
    elif isinstance(operation, ops.RunSQL):
        what = f"RunSQL ({_first_sql(operation.sql)}) has no reverse_sql"
        code = operation.reverse_sql if backwards else operation.sql
        shown = f"raw SQL ({_first_sql(code)})" if code is not None else ""
    else:
        what, code, shown = f"{operation.describe()} is not reversible", None, ""
    if not operation.reversible:
        if backwards:
            reason = f"{what}: unapplying {label} fails before it changes anything."
        else:
            reason = f"{what}: {label} cannot be unapplied once applied."
        found.append(RiskFinding(Risk.IRREVERSIBLE, reason))
    if shown and not is_noop(code):
        found.append(
            RiskFinding(Risk.DATA, f"Runs {shown}: its duration and effect depend on the data.")
        )
    return found


def unique_findings(findings: Iterable[RiskFinding]) -> tuple[RiskFinding, ...]:
    return tuple(dict.fromkeys(findings))
