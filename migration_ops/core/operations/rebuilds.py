"""Rebuild prediction: when a table-rebuilding schema editor (SQLite's) copies a table."""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, UniqueConstraint

from migration_ops import compat
from migration_ops.core.operations.effects import Effect, EffectKind


def rebuilds_tables(connection: BaseDatabaseWrapper) -> bool:
    """Whether the backend's schema editor copies whole tables for the ALTERs its
    database cannot do in place (SQLite's ``_remake_table``; the rules below mirror when)."""
    return callable(getattr(connection.SchemaEditorClass, "_remake_table", None))


def has_db_default(f: Field) -> bool:
    has = getattr(f, "has_db_default", None)  # Django >= 5.0
    return bool(has and has())


def _effective_default(connection: BaseDatabaseWrapper, f: Field) -> Any:
    return connection.SchemaEditorClass._effective_default(f)


def rebuilds_for(effect: Effect, connection: BaseDatabaseWrapper) -> bool:
    """Whether the table-rebuilding schema editor remakes ``effect.table`` for it."""
    kind = effect.kind
    if kind is EffectKind.ADD_COLUMN and effect.new is not None:
        f = effect.new
        db_default = getattr(f, "db_default", None)
        return bool(
            f.primary_key
            or f.unique
            or not f.null
            or _effective_default(connection, f) is not None
            or (has_db_default(f) and type(db_default).__name__ != "Value")
        )
    if kind is EffectKind.DROP_COLUMN and effect.old is not None:
        f = effect.old
        return not (
            compat.sqlite_can_drop_column(connection)
            and not f.primary_key
            and not f.unique
            and not f.db_index
            and not (f.remote_field and f.db_constraint)
        )
    if kind in (EffectKind.ALTER_COLUMN, EffectKind.ADD_THROUGH_FIELD):
        return True
    if kind is EffectKind.RENAME_COLUMN:
        return any(
            f is not None and f.remote_field is not None and getattr(f, "db_constraint", False)
            for f in (effect.old, effect.new)
        )
    if kind in (EffectKind.ADD_CONSTRAINT, EffectKind.DROP_CONSTRAINT) and effect.obj is not None:
        c = effect.obj
        return not (
            isinstance(c, UniqueConstraint)
            and (c.condition or c.contains_expressions or c.include or c.deferrable)
        )
    return False
