"""Risk classes of migration operations, worked out from operation objects and model states.

Nothing here reads SQL text: an operation is turned into *schema effects* ("drops column
``t.c``", "alters column ``t.c`` from this field to that one") by looking at the operation
and the model states before and after it, and the effects are classified. Unapplying an
operation has the inverse effects, so the backward direction is classified by inverting
them (unapplying ``CreateModel`` drops a table).

Decisions worth knowing:

- ``destructive``: a table or column is dropped, a column is narrowed (shorter
  ``max_length``, fewer decimal digits, a smaller integer type, text to a bounded type),
  its type changes in a way not known to be widening, or a unique constraint is dropped
  (the guarantee is lost, and re-adding it fails once duplicates exist).
  Making a column NOT NULL is *not* destructive (no value is lost; the migration fails or
  fills in the default) but it *breaks running code*.
- ``breaks-running-code``: the release still running during a rolling deploy queries the
  old schema: dropped or renamed tables and columns, a column made NOT NULL, or a NOT NULL
  column added, without a database default (its INSERTs omit the column).
- ``irreversible``: flagged in both directions; forwards it says the migration cannot be
  unapplied later, backwards that unapplying it fails.
- ``table-rebuild``: on backends whose schema editor copies a whole table for ALTERs it
  cannot do in place (SQLite's ``_remake_table``); the rules mirror that schema editor and
  a test checks them against it.
- ``long-lock``: a change to an existing table whose size, given by the caller, exceeds
  the thresholds. Renames and drops of indexes or constraints are metadata-only and never
  count; table creation and removal neither.
- ``non-atomic`` and ``cross-app-spill`` are migration-level (:func:`classify_migration`).
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.utils import resolve_relation
from django.db.models import Field, OrderWrt, UniqueConstraint

from migration_ops.core.states import (
    ModelKey,
    plan_start_state,
    state_before_migration,
    substate,
    unrendered_copy,
)
from migration_ops.core.tables import (
    auto_m2m_table,
    db_table,
    has_table,
    is_auto_m2m,
    model_tables,
)

__all__ = [
    "MigrationRisks",
    "ModelKey",
    "Risk",
    "RiskFinding",
    "base_references",
    "classify_migration",
    "classify_operation",
    "classify_plan",
    "db_table",
    "field_references",
    "model_references",
    "model_tables",
    "rebuilds_tables",
    "referenced_models",
    "reverse_relation_models",
    "touched_models",
]

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
        return _unique((*self.migration_findings, *(f for op in ordered for f in op)))

    @property
    def risks(self) -> frozenset[Risk]:
        return frozenset(finding.risk for finding in self.findings)


# --------------------------------------------------------------------------- model states


def _bound(name: str, field: Field) -> Field:
    """A copy of a model state's field with ``name``, ``attname`` and ``column`` set, as
    binding it to a model would (no model or app registry needed). A shallow copy
    (``Field.__copy__``): a clone would construct the field anew from its deconstruction,
    several times slower, and nothing here changes more than the attributes set."""
    bound = copy.copy(field)
    bound.name = None  # as in a clone: set from the state's name below
    bound.set_attributes_from_name(name)
    return bound


def touched_models(operation: Operation, app_label: str) -> frozenset[ModelKey] | None:
    """The models an operation changes or reads by name; ``None`` for an operation type
    this module does not know (the caller must then assume it may touch anything)."""
    if isinstance(operation, ops.RenameModel):
        return frozenset(
            {(app_label, operation.old_name_lower), (app_label, operation.new_name_lower)}
        )
    if isinstance(operation, ops.models.ModelOperation):
        return frozenset({(app_label, operation.name_lower)})
    if isinstance(operation, (ops.fields.FieldOperation, ops.models.IndexOperation)):
        return frozenset({(app_label, operation.model_name_lower)})
    if isinstance(operation, (ops.RunSQL, ops.RunPython)):
        return frozenset()
    if isinstance(operation, ops.SeparateDatabaseAndState):
        keys: set[ModelKey] = set()
        for inner in (*operation.database_operations, *operation.state_operations):
            inner_keys = touched_models(inner, app_label)
            if inner_keys is None:
                return None
            keys |= inner_keys
        return frozenset(keys)
    return None


def field_references(field: Field, key: ModelKey) -> Iterator[ModelKey]:
    if not field.is_relation:
        return
    remote = field.remote_field
    if remote.model is not None:
        yield resolve_relation(remote.model, *key)
    through = getattr(remote, "through", None)
    if through is not None:
        yield resolve_relation(through, *key)


def base_references(bases: Iterable[Any], app_label: str) -> Iterator[ModelKey]:
    for base in bases:
        if isinstance(base, str):
            yield resolve_relation(base, app_label)
        elif hasattr(base, "_meta") and not base._meta.abstract:
            yield (base._meta.app_label, base._meta.model_name)


def model_references(model_state: ModelState) -> Iterator[ModelKey]:
    """Models a model state points to: relation targets, through models and bases."""
    key = (model_state.app_label, model_state.name_lower)
    for f in model_state.fields.values():
        yield from field_references(f, key)
    yield from base_references(model_state.bases, model_state.app_label)


def referenced_models(operation: Operation, app_label: str) -> frozenset[ModelKey]:
    """Models named by the fields and bases an operation carries (``CreateModel``,
    ``AddField``, ``AlterField``; recursively inside ``SeparateDatabaseAndState``)."""
    keys: set[ModelKey] = set()
    if isinstance(operation, ops.CreateModel):
        key = (app_label, operation.name_lower)
        for _, f in operation.fields:
            keys.update(field_references(f, key))
        keys.update(base_references(operation.bases, app_label))
    elif isinstance(operation, (ops.AddField, ops.AlterField)):
        keys.update(field_references(operation.field, (app_label, operation.model_name_lower)))
    elif isinstance(operation, ops.SeparateDatabaseAndState):
        for inner in operation.database_operations:
            keys |= referenced_models(inner, app_label)
    return frozenset(keys)


def reverse_relation_models(operation: Operation, app_label: str) -> frozenset[ModelKey]:
    """Models whose *incoming* relations matter to the SQL of an operation.

    Only altering a field (its type may propagate to the foreign keys that reference it)
    and renaming a field or a model (the referencing foreign keys are altered) look at
    ``_meta.related_objects``; creating, deleting or adding never do.
    """
    if isinstance(operation, ops.RenameModel):
        return frozenset(
            {(app_label, operation.old_name_lower), (app_label, operation.new_name_lower)}
        )
    if isinstance(operation, (ops.AlterField, ops.RenameField)):
        return frozenset({(app_label, operation.model_name_lower)})
    if isinstance(operation, ops.SeparateDatabaseAndState):
        keys: set[ModelKey] = set()
        for inner in operation.database_operations:
            keys |= reverse_relation_models(inner, app_label)
        return frozenset(keys)
    return frozenset()


# --------------------------------------------------------------------------- effects


class _Kind(enum.Enum):
    CREATE_TABLE = "create table"
    DROP_TABLE = "drop table"
    RENAME_TABLE = "rename table"
    ADD_COLUMN = "add column"
    DROP_COLUMN = "drop column"
    ALTER_COLUMN = "alter column"
    RENAME_COLUMN = "rename column"
    ADD_INDEX = "add index"
    DROP_INDEX = "drop index"
    ADD_CONSTRAINT = "add constraint"
    DROP_CONSTRAINT = "drop constraint"
    # A many-to-many field through an explicit model: no column, but SQLite's schema
    # editor still rebuilds the table when one is added.
    ADD_THROUGH_FIELD = "add through field"
    DROP_THROUGH_FIELD = "drop through field"


_INVERSE = {
    _Kind.CREATE_TABLE: _Kind.DROP_TABLE,
    _Kind.DROP_TABLE: _Kind.CREATE_TABLE,
    _Kind.ADD_COLUMN: _Kind.DROP_COLUMN,
    _Kind.DROP_COLUMN: _Kind.ADD_COLUMN,
    _Kind.ADD_INDEX: _Kind.DROP_INDEX,
    _Kind.DROP_INDEX: _Kind.ADD_INDEX,
    _Kind.ADD_CONSTRAINT: _Kind.DROP_CONSTRAINT,
    _Kind.DROP_CONSTRAINT: _Kind.ADD_CONSTRAINT,
    _Kind.RENAME_TABLE: _Kind.RENAME_TABLE,
    _Kind.ALTER_COLUMN: _Kind.ALTER_COLUMN,
    _Kind.RENAME_COLUMN: _Kind.RENAME_COLUMN,
    _Kind.ADD_THROUGH_FIELD: _Kind.DROP_THROUGH_FIELD,
    _Kind.DROP_THROUGH_FIELD: _Kind.ADD_THROUGH_FIELD,
}


@dataclass(frozen=True)
class _Effect:
    """One change to the schema. ``old``/``new`` are the fields before/after (bound
    copies), ``name`` an index or constraint name (or a new table/column name for
    renames), ``obj`` the index or constraint, ``unique`` whether it enforces uniqueness."""

    kind: _Kind
    table: str
    column: str = ""
    name: str = ""
    old: Field | None = field(default=None, compare=False)
    new: Field | None = field(default=None, compare=False)
    obj: Any = field(default=None, compare=False)
    unique: bool = False

    def inverse(self) -> _Effect:
        kind = _INVERSE[self.kind]
        if self.kind is _Kind.RENAME_TABLE:
            return _Effect(kind, self.name, name=self.table)
        if self.kind is _Kind.RENAME_COLUMN:
            return _Effect(kind, self.table, self.name, self.column, self.new, self.old)
        return _Effect(
            kind, self.table, self.column, self.name, self.new, self.old, self.obj, self.unique
        )


def _model_state(state: ProjectState, key: ModelKey) -> ModelState | None:
    return state.models.get(key)


def _table_effects(kind: _Kind, model_state: ModelState | None) -> list[_Effect]:
    if model_state is None:
        return []
    return [_Effect(kind, table) for table in model_tables(model_state)]


def _rename_effects(old: ModelState | None, new: ModelState | None) -> list[_Effect]:
    """A model's tables renamed (its own and its auto-created M2M tables)."""
    if old is None or new is None or not has_table(new):
        return []
    return [
        _Effect(_Kind.RENAME_TABLE, a, name=b)
        for a, b in zip(model_tables(old), model_tables(new), strict=False)
        if a != b
    ]


def _field_effects(
    before: ModelState | None, after: ModelState | None, name: str, new_name: str | None = None
) -> list[_Effect]:
    """Effects of one field changing from ``before`` to ``after`` (either may lack it)."""
    new_name = new_name or name
    old_f = before.fields.get(name) if before is not None else None
    new_f = after.fields.get(new_name) if after is not None else None
    model = after if after is not None else before
    if model is None or not has_table(model):
        return []
    table = db_table(model)
    old_auto = old_f is not None and is_auto_m2m(old_f)
    new_auto = new_f is not None and is_auto_m2m(new_f)
    effects: list[_Effect] = []
    if (old_f is not None and old_f.many_to_many) or (new_f is not None and new_f.many_to_many):
        old_table = auto_m2m_table(before, name, old_f) if old_auto and before else None
        new_table = auto_m2m_table(after, new_name, new_f) if new_auto and after else None
        if old_table and new_table and old_table != new_table:
            effects.append(_Effect(_Kind.RENAME_TABLE, old_table, name=new_table))
        elif old_table and not new_table:
            effects.append(_Effect(_Kind.DROP_TABLE, old_table))
        elif new_table and not old_table:
            effects.append(_Effect(_Kind.CREATE_TABLE, new_table))
        elif old_f is None and new_f is not None and not new_auto:
            effects.append(_Effect(_Kind.ADD_THROUGH_FIELD, table, new=new_f))
        elif new_f is None and old_f is not None and not old_auto:
            effects.append(_Effect(_Kind.DROP_THROUGH_FIELD, table, old=old_f))
        return effects
    old = _bound(name, old_f) if old_f is not None else None
    new = _bound(new_name, new_f) if new_f is not None else None
    if (old is not None and old.column is None) or (new is not None and new.column is None):
        return []  # no column behind it (a composite primary key, say)
    if old is None and new is not None:
        return [_Effect(_Kind.ADD_COLUMN, table, new.column, new=new)]
    if new is None and old is not None:
        return [_Effect(_Kind.DROP_COLUMN, table, old.column, old=old)]
    assert old is not None and new is not None
    if old.column != new.column:
        effects.append(_Effect(_Kind.RENAME_COLUMN, table, old.column, new.column, old, new))
    if _db_kwargs(old) != _db_kwargs(new):
        effects.append(_Effect(_Kind.ALTER_COLUMN, table, new.column, old=old, new=new))
    return effects


def _db_kwargs(f: Field) -> tuple[Any, ...]:
    """What of a field reaches the database: its class and deconstructed arguments minus
    the attributes Django knows never change the schema (``non_db_attrs``)."""
    _, path, args, kwargs = f.deconstruct()
    for attr in getattr(f, "non_db_attrs", ()):
        kwargs.pop(attr, None)
    kwargs.pop("db_column", None)  # the column name is compared on its own
    return (path, tuple(args), sorted(kwargs.items(), key=lambda item: item[0]))


def _together_effects(
    kind_add: _Kind,
    kind_drop: _Kind,
    before: ModelState | None,
    after: ModelState | None,
    option: str,
    unique: bool,
) -> list[_Effect]:
    model = after or before
    if model is None or not has_table(model):
        return []
    old = {tuple(t) for t in (before.options.get(option) or ())} if before else set()
    new = {tuple(t) for t in (after.options.get(option) or ())} if after else set()
    table = db_table(model)

    def columns(state: ModelState, names: tuple[str, ...]) -> str:
        return ", ".join(
            _bound(n, state.fields[n]).column if n in state.fields else n for n in names
        )

    return [
        *(
            _Effect(kind_drop, table, name=f"({columns(before, t)})", unique=unique)
            for t in sorted(old - new)
            if before is not None
        ),
        *(
            _Effect(kind_add, table, name=f"({columns(after, t)})", unique=unique)
            for t in sorted(new - old)
            if after is not None
        ),
    ]


def _operation_effects(
    operation: Operation, app_label: str, before: ProjectState, after: ProjectState
) -> list[_Effect]:
    """The forward schema effects of ``operation``, from the states around it."""
    if isinstance(operation, ops.SeparateDatabaseAndState):
        effects: list[_Effect] = []
        state = before
        for inner in operation.database_operations:
            nxt = state.clone()
            inner.state_forwards(app_label, nxt)
            effects += _operation_effects(inner, app_label, state, nxt)
            state = nxt
        return effects
    if isinstance(operation, ops.CreateModel):
        return _table_effects(
            _Kind.CREATE_TABLE, _model_state(after, (app_label, operation.name_lower))
        )
    if isinstance(operation, ops.DeleteModel):
        return _table_effects(
            _Kind.DROP_TABLE, _model_state(before, (app_label, operation.name_lower))
        )
    if isinstance(operation, ops.RenameModel):
        return _rename_effects(
            _model_state(before, (app_label, operation.old_name_lower)),
            _model_state(after, (app_label, operation.new_name_lower)),
        )
    if isinstance(operation, ops.AlterModelTable):
        key = (app_label, operation.name_lower)
        return _rename_effects(_model_state(before, key), _model_state(after, key))
    if isinstance(operation, ops.AlterUniqueTogether):
        key = (app_label, operation.name_lower)
        return _together_effects(
            _Kind.ADD_CONSTRAINT,
            _Kind.DROP_CONSTRAINT,
            _model_state(before, key),
            _model_state(after, key),
            "unique_together",
            unique=True,
        )
    if isinstance(operation, ops.AlterIndexTogether):
        key = (app_label, operation.name_lower)
        return _together_effects(
            _Kind.ADD_INDEX,
            _Kind.DROP_INDEX,
            _model_state(before, key),
            _model_state(after, key),
            "index_together",
            unique=False,
        )
    if isinstance(operation, ops.AlterOrderWithRespectTo):
        key = (app_label, operation.name_lower)
        old, new = _model_state(before, key), _model_state(after, key)
        old_has = bool(old is not None and old.options.get("order_with_respect_to"))
        new_has = bool(new is not None and new.options.get("order_with_respect_to"))
        model = new or old
        if model is None or not has_table(model) or old_has == new_has:
            return []
        column = _bound("_order", OrderWrt())
        if new_has:
            return [_Effect(_Kind.ADD_COLUMN, db_table(model), "_order", new=column)]
        return [_Effect(_Kind.DROP_COLUMN, db_table(model), "_order", old=column)]
    if isinstance(operation, ops.RenameField):
        key = (app_label, operation.model_name_lower)
        return _field_effects(
            _model_state(before, key),
            _model_state(after, key),
            operation.old_name,
            operation.new_name,
        )
    if isinstance(operation, ops.fields.FieldOperation):
        key = (app_label, operation.model_name_lower)
        return _field_effects(_model_state(before, key), _model_state(after, key), operation.name)
    if isinstance(operation, (ops.AddIndex, ops.RemoveIndex)):
        key = (app_label, operation.model_name_lower)
        model = _model_state(after, key) or _model_state(before, key)
        if model is None or not has_table(model):
            return []
        if isinstance(operation, ops.AddIndex):
            return [_Effect(_Kind.ADD_INDEX, db_table(model), name=operation.index.name)]
        return [_Effect(_Kind.DROP_INDEX, db_table(model), name=operation.name)]
    if isinstance(operation, (ops.AddConstraint, ops.RemoveConstraint)):
        key = (app_label, operation.model_name_lower)
        if isinstance(operation, ops.AddConstraint):
            model, constraint = _model_state(after, key), operation.constraint
            kind = _Kind.ADD_CONSTRAINT
        else:
            model = _model_state(before, key)
            constraint = model.get_constraint_by_name(operation.name) if model else None
            kind = _Kind.DROP_CONSTRAINT
        if model is None or not has_table(model):
            return []
        return [
            _Effect(
                kind,
                db_table(model),
                name=constraint.name,
                obj=constraint,
                unique=isinstance(constraint, UniqueConstraint),
            )
        ]
    return []


# --------------------------------------------------------------------------- classification


def rebuilds_tables(connection: BaseDatabaseWrapper) -> bool:
    """Whether the backend's schema editor copies whole tables for the ALTERs its
    database cannot do in place (SQLite's ``_remake_table``; the rules below mirror when)."""
    return callable(getattr(connection.SchemaEditorClass, "_remake_table", None))


def _has_db_default(f: Field) -> bool:
    has = getattr(f, "has_db_default", None)  # Django >= 5.0
    return bool(has and has())


def _effective_default(connection: BaseDatabaseWrapper, f: Field) -> Any:
    return connection.SchemaEditorClass._effective_default(f)


def _rebuilt(effect: _Effect, connection: BaseDatabaseWrapper) -> bool:
    """Whether the table-rebuilding schema editor remakes ``effect.table`` for it."""
    kind = effect.kind
    if kind is _Kind.ADD_COLUMN and effect.new is not None:
        f = effect.new
        db_default = getattr(f, "db_default", None)
        return bool(
            f.primary_key
            or f.unique
            or not f.null
            or _effective_default(connection, f) is not None
            or (_has_db_default(f) and type(db_default).__name__ != "Value")
        )
    if kind is _Kind.DROP_COLUMN and effect.old is not None:
        f = effect.old
        return not (
            connection.features.can_alter_table_drop_column
            and not f.primary_key
            and not f.unique
            and not f.db_index
            and not (f.remote_field and f.db_constraint)
        )
    if kind in (_Kind.ALTER_COLUMN, _Kind.ADD_THROUGH_FIELD):
        return True
    if kind is _Kind.RENAME_COLUMN:
        return any(
            f is not None and f.remote_field is not None and getattr(f, "db_constraint", False)
            for f in (effect.old, effect.new)
        )
    if kind in (_Kind.ADD_CONSTRAINT, _Kind.DROP_CONSTRAINT) and effect.obj is not None:
        c = effect.obj
        return not (
            isinstance(c, UniqueConstraint)
            and (c.condition or c.contains_expressions or c.include or c.deferrable)
        )
    return False


# Integer types by width, for narrowing checks.
_INT_WIDTH = {
    "SmallIntegerField": 2,
    "PositiveSmallIntegerField": 2,
    "SmallAutoField": 2,
    "IntegerField": 4,
    "PositiveIntegerField": 4,
    "AutoField": 4,
    "BigIntegerField": 8,
    "PositiveBigIntegerField": 8,
    "BigAutoField": 8,
}
# Type changes known not to lose values (internal types, from -> to).
_WIDENING = {
    ("CharField", "TextField"),
    ("SlugField", "TextField"),
    ("SlugField", "CharField"),
    ("DateField", "DateTimeField"),
}


def _db_type(f: Field, connection: BaseDatabaseWrapper) -> str | None:
    if f.is_relation:
        return None  # needs the rendered target; compared through deconstruct instead
    try:
        return f.db_type(connection)
    except Exception:  # a third-party field that needs a model
        return None


def _narrowing(old: Field, new: Field, connection: BaseDatabaseWrapper) -> str | None:
    """Why altering ``old`` into ``new`` may lose values, or None."""
    if old.is_relation or new.is_relation:
        return None
    old_type, new_type = _db_type(old, connection), _db_type(new, connection)
    if old_type == new_type:
        return None
    old_kind, new_kind = old.get_internal_type(), new.get_internal_type()
    old_len, new_len = getattr(old, "max_length", None), getattr(new, "max_length", None)
    if old_len is not None and new_len is not None and new_len < old_len:
        return f"shrinks it from {old_type} to {new_type}: longer values are cut or fail"
    if old_len is None and new_len is not None and old_kind == "TextField":
        return f"shrinks it from {old_type} to {new_type}: longer values are cut or fail"
    if old_kind == new_kind == "DecimalField":
        if new.max_digits < old.max_digits or new.decimal_places < old.decimal_places:
            return f"shrinks it from {old_type} to {new_type}: digits are lost or values fail"
        return None
    if old_kind in _INT_WIDTH and new_kind in _INT_WIDTH:
        if _INT_WIDTH[new_kind] < _INT_WIDTH[old_kind]:
            return f"shrinks it from {old_type} to {new_type}: large values fail"
        return None
    if old_kind == new_kind or (old_kind, new_kind) in _WIDENING:
        return None
    if old_len is not None and new_len is not None and new_len >= old_len:
        return None  # same kind of bounded text, wider
    return (
        f"changes its type from {old_type} to {new_type}: values that do not convert are "
        f"lost or fail"
    )


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


def _effect_findings(
    effect: _Effect,
    connection: BaseDatabaseWrapper,
    table_sizes: TableSizes | None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> list[RiskFinding]:
    kind, table, column = effect.kind, effect.table, effect.column
    found: list[RiskFinding] = []

    def add(risk: Risk, reason: str) -> None:
        found.append(RiskFinding(risk, reason, table))

    if kind is _Kind.DROP_TABLE:
        add(Risk.DESTRUCTIVE, f"Drops table {table} (and all its rows).")
        add(Risk.BREAKS_RUNNING_CODE, f"Drops table {table}, which the running release queries.")
    elif kind is _Kind.RENAME_TABLE:
        add(
            Risk.BREAKS_RUNNING_CODE,
            f"Renames table {table} to {effect.name}, which the running release still calls "
            f"{table}.",
        )
    elif kind is _Kind.DROP_COLUMN:
        add(Risk.DESTRUCTIVE, f"Drops column {table}.{column} (and its data).")
        add(
            Risk.BREAKS_RUNNING_CODE,
            f"Drops column {table}.{column}, which the running release queries.",
        )
    elif kind is _Kind.RENAME_COLUMN:
        add(
            Risk.BREAKS_RUNNING_CODE,
            f"Renames column {table}.{column} to {effect.name}, which the running release "
            f"still calls {column}.",
        )
    elif kind is _Kind.ADD_COLUMN and effect.new is not None:
        new = effect.new
        if not new.null and not new.primary_key and not _has_db_default(new):
            add(
                Risk.BREAKS_RUNNING_CODE,
                f"Adds NOT NULL column {table}.{column} without a database default: the "
                f"running release's INSERTs, which omit it, fail.",
            )
    elif kind is _Kind.ALTER_COLUMN and effect.old is not None and effect.new is not None:
        old, new = effect.old, effect.new
        why = _narrowing(old, new, connection)
        if why:
            add(Risk.DESTRUCTIVE, f"Alters column {table}.{column}: {why}.")
        if old.unique and not new.unique and not old.primary_key:
            add(Risk.DESTRUCTIVE, f"Drops the unique constraint of column {table}.{column}.")
        if old.null and not new.null and not _has_db_default(new):
            add(
                Risk.BREAKS_RUNNING_CODE,
                f"Makes column {table}.{column} NOT NULL without a database default: the "
                f"running release may still write NULL there.",
            )
    elif kind is _Kind.DROP_CONSTRAINT and effect.unique:
        add(
            Risk.DESTRUCTIVE,
            f"Drops the unique constraint {effect.name} of table {table}: duplicates become "
            f"possible, and re-adding it then fails.",
        )
    rebuilt = rebuilds_tables(connection) and _rebuilt(effect, connection)
    if rebuilt:
        add(
            Risk.TABLE_REBUILD,
            f"Rebuilds table {table} on this database: every row is copied into a new table.",
        )
    if rebuilt or kind in _LOCKING:
        size = _is_big(table, table_sizes, long_lock_rows, long_lock_bytes)
        if size:
            add(Risk.LONG_LOCK, f"Alters table {table} ({size}), which may lock it for long.")
    return found


# Changes that lock an existing table for as long as they take (renames and drops of
# indexes or constraints are catalogue updates).
_LOCKING = frozenset(
    {_Kind.ADD_COLUMN, _Kind.DROP_COLUMN, _Kind.ALTER_COLUMN, _Kind.ADD_INDEX, _Kind.ADD_CONSTRAINT}
)


def _code_name(code: Any) -> str:
    return getattr(code, "__qualname__", None) or getattr(code, "__name__", None) or repr(code)


def _first_sql(sql: Any) -> str:
    first = sql if isinstance(sql, str) else next(iter(sql or ()), "")
    if isinstance(first, (list, tuple)):
        first = first[0] if first else ""
    text = " ".join(str(first).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _is_noop(code: Any) -> bool:
    return code is ops.RunPython.noop or code == "" or code == [] or code is ops.RunSQL.noop


def _special_findings(operation: Operation, backwards: bool, label: str) -> list[RiskFinding]:
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
    if shown and not _is_noop(code):
        found.append(
            RiskFinding(Risk.DATA, f"Runs {shown}: its duration and effect depend on the data.")
        )
    return found


def _allowed(operation: Operation, app_label: str, connection: BaseDatabaseWrapper) -> bool:
    hints = dict(getattr(operation, "hints", {}) or {})
    keys = touched_models(operation, app_label)
    if keys:
        return any(
            router.allow_migrate(connection.alias, app_label, model_name=name, **hints)
            for _, name in keys
        )
    return router.allow_migrate(connection.alias, app_label, **hints)


def _unique(findings: Iterable[RiskFinding]) -> tuple[RiskFinding, ...]:
    return tuple(dict.fromkeys(findings))


def _effects_between(
    operation: Operation, app_label: str, from_state: ProjectState
) -> list[_Effect]:
    """Forward effects of ``operation`` from ``from_state``, which is left untouched."""
    keys = touched_models(operation, app_label)
    if keys is None:
        return []  # an operation type we do not know: no schema effect we can name
    before = substate(from_state, keys)
    after = before.clone()
    operation.state_forwards(app_label, after)
    return _operation_effects(operation, app_label, before, after)


def classify_operation(
    operation: Operation,
    *,
    app_label: str,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    table_sizes: TableSizes | None = None,
    long_lock_rows: int,
    long_lock_bytes: int,
    migration_label: str | None = None,
) -> tuple[RiskFinding, ...]:
    """Risk findings of one operation in one direction.

    ``from_state`` is the state the operation starts from when applied *forwards* (for a
    backward step, the state that unapplying it returns to); it is not modified.
    ``table_sizes`` maps table names to ``(rows, bytes)`` (either may be None).
    """
    findings, _ = _classify(
        operation,
        app_label,
        from_state,
        backwards,
        connection,
        table_sizes,
        long_lock_rows,
        long_lock_bytes,
        migration_label,
    )
    return findings


def _classify(
    operation: Operation,
    app_label: str,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    table_sizes: TableSizes | None,
    long_lock_rows: int,
    long_lock_bytes: int,
    migration_label: str | None,
) -> tuple[tuple[RiskFinding, ...], list[_Effect]]:
    """Findings and effects (in the direction's order) of one allowed operation."""
    if not _allowed(operation, app_label, connection):
        return (), []
    label = f"migration {migration_label}" if migration_label else "this migration"
    found = _special_findings(operation, backwards, label)
    effects = _effects_between(operation, app_label, from_state)
    if backwards:
        effects = [effect.inverse() for effect in reversed(effects)]
    for effect in effects:
        found += _effect_findings(effect, connection, table_sizes, long_lock_rows, long_lock_bytes)
    return _unique(found), effects


def _writes(operation: Operation, backwards: bool, effects: list[_Effect]) -> tuple[bool, bool]:
    """(writes to the database, changes the schema) for the non-atomic rule."""
    if isinstance(operation, ops.RunPython):
        code = operation.reverse_code if backwards else operation.code
        return code is not None and not _is_noop(code), False
    if isinstance(operation, ops.RunSQL):
        sql = operation.reverse_sql if backwards else operation.sql
        active = sql is not None and not _is_noop(sql)
        return active, active  # raw SQL may well be DDL
    return bool(effects), bool(effects)


def _assess(
    migration: Migration,
    *,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    target_app_labels: Collection[str] | None,
    table_sizes: TableSizes | None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> MigrationRisks:
    app_label = migration.app_label
    label = f"{app_label}.{migration.name}"
    keys: set[ModelKey] | None = set()
    for operation in migration.operations:
        touched = touched_models(operation, app_label)
        keys = None if keys is None or touched is None else keys | touched
    # The models this migration touches suffice, unless an operation of an unknown type
    # may touch any model.
    state = unrendered_copy(from_state) if keys is None else substate(from_state, keys)
    per_operation: list[tuple[RiskFinding, ...]] = []
    writers = ddl = 0
    for operation in migration.operations:
        findings, effects = _classify(
            operation,
            app_label,
            state,
            backwards,
            connection,
            table_sizes,
            long_lock_rows,
            long_lock_bytes,
            label,
        )
        per_operation.append(findings)
        operation.state_forwards(app_label, state)
        if not _allowed(operation, app_label, connection):
            continue
        writes, changes_schema = _writes(operation, backwards, effects)
        writers += writes
        ddl += changes_schema
    migration_findings: list[RiskFinding] = []
    direction = "unapplying" if backwards else "applying"
    if not migration.atomic and writers:
        migration_findings.append(
            RiskFinding(
                Risk.NON_ATOMIC,
                f"Migration {label} declares atomic = False: if {direction} it fails "
                f"midway, the operations already run stay applied.",
            )
        )
    elif not connection.features.can_rollback_ddl and writers > 1 and ddl:
        migration_findings.append(
            RiskFinding(
                Risk.NON_ATOMIC,
                f"This database cannot roll back schema changes and {direction} {label} "
                f"runs {writers} operations: if one fails, those before it stay applied.",
            )
        )
    if backwards and target_app_labels is not None and app_label not in target_app_labels:
        targets = ", ".join(sorted(target_app_labels)) or "none"
        migration_findings.append(
            RiskFinding(
                Risk.CROSS_APP_SPILL,
                f"Unapplies {label} of app {app_label}, which was not targeted "
                f"(target: {targets}), because it depends on a migration being unapplied.",
            )
        )
    return MigrationRisks(
        app_label=app_label,
        name=migration.name,
        backwards=backwards,
        migration_findings=tuple(migration_findings),
        operation_findings=tuple(per_operation),
    )


def classify_migration(
    migration: Migration,
    *,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    target_app_labels: Collection[str] | None = None,
    table_sizes: TableSizes | None = None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> tuple[RiskFinding, ...]:
    """Risk findings of one plan step: migration-level ones first, then the operations'
    in the order they run (reverse order when ``backwards``).

    ``from_state`` is the state before the migration (for a backward step too: unapplying
    returns the database to it); it is not modified. ``target_app_labels`` are the apps
    ``migrate`` was asked to move (backward steps of other apps are cross-app spill);
    ``None`` means no check.
    """
    return _assess(
        migration,
        from_state=from_state,
        backwards=backwards,
        connection=connection,
        target_app_labels=target_app_labels,
        table_sizes=table_sizes,
        long_lock_rows=long_lock_rows,
        long_lock_bytes=long_lock_bytes,
    ).findings


def classify_plan(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    plan: Sequence[tuple[Migration, bool]],
    *,
    target_app_labels: Collection[str] | None = None,
    start_state: ProjectState | None = None,
    table_sizes: TableSizes | None = None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> tuple[MigrationRisks, ...]:
    """Classify every step of a ``migrate`` plan, advancing one unrendered state.

    Forward steps start from ``start_state`` (default: the plan's applied ancestors, see
    :func:`~migration_ops.core.states.plan_start_state`); a backward step starts from the
    state ``sqlmigrate --backwards`` uses (its ancestors in the graph).
    """
    state = (
        unrendered_copy(start_state) if start_state is not None else plan_start_state(loader, plan)
    )
    results = []
    for migration, backwards in plan:
        before = state_before_migration(loader, migration) if backwards else state
        results.append(
            _assess(
                migration,
                from_state=before,
                backwards=backwards,
                connection=connection,
                target_app_labels=target_app_labels,
                table_sizes=table_sizes,
                long_lock_rows=long_lock_rows,
                long_lock_bytes=long_lock_bytes,
            )
        )
        if not backwards:
            migration.mutate_state(state, preserve=False)
    return tuple(results)
