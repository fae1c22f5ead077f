"""Schema effects of an operation, worked out from the model states around it."""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field
from typing import Any

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.models import Field, OrderWrt, UniqueConstraint

from migration_ops.core.operations.references import touched_models
from migration_ops.core.states import (
    ModelKey,
    substate,
)
from migration_ops.core.tables import (
    auto_m2m_table,
    db_table,
    has_table,
    is_auto_m2m,
    model_tables,
)


def bound_field(name: str, field: Field) -> Field:
    """A copy of a model state's field with ``name``, ``attname`` and ``column`` set, as
    binding it to a model would (no model or app registry needed). A shallow copy
    (``Field.__copy__``): a clone would construct the field anew from its deconstruction,
    several times slower, and nothing here changes more than the attributes set."""
    bound = copy.copy(field)
    bound.name = None  # as in a clone: set from the state's name below
    bound.set_attributes_from_name(name)
    return bound


class EffectKind(enum.Enum):
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
    EffectKind.CREATE_TABLE: EffectKind.DROP_TABLE,
    EffectKind.DROP_TABLE: EffectKind.CREATE_TABLE,
    EffectKind.ADD_COLUMN: EffectKind.DROP_COLUMN,
    EffectKind.DROP_COLUMN: EffectKind.ADD_COLUMN,
    EffectKind.ADD_INDEX: EffectKind.DROP_INDEX,
    EffectKind.DROP_INDEX: EffectKind.ADD_INDEX,
    EffectKind.ADD_CONSTRAINT: EffectKind.DROP_CONSTRAINT,
    EffectKind.DROP_CONSTRAINT: EffectKind.ADD_CONSTRAINT,
    EffectKind.RENAME_TABLE: EffectKind.RENAME_TABLE,
    EffectKind.ALTER_COLUMN: EffectKind.ALTER_COLUMN,
    EffectKind.RENAME_COLUMN: EffectKind.RENAME_COLUMN,
    EffectKind.ADD_THROUGH_FIELD: EffectKind.DROP_THROUGH_FIELD,
    EffectKind.DROP_THROUGH_FIELD: EffectKind.ADD_THROUGH_FIELD,
}


@dataclass(frozen=True)
class Effect:
    """One change to the schema. ``old``/``new`` are the fields before/after (bound
    copies), ``name`` an index or constraint name (or a new table/column name for
    renames), ``obj`` the index or constraint, ``unique`` whether it enforces uniqueness."""

    kind: EffectKind
    table: str
    column: str = ""
    name: str = ""
    old: Field | None = field(default=None, compare=False)
    new: Field | None = field(default=None, compare=False)
    obj: Any = field(default=None, compare=False)
    unique: bool = False

    def inverse(self) -> Effect:
        kind = _INVERSE[self.kind]
        if self.kind is EffectKind.RENAME_TABLE:
            return Effect(kind, self.name, name=self.table)
        if self.kind is EffectKind.RENAME_COLUMN:
            return Effect(kind, self.table, self.name, self.column, self.new, self.old)
        return Effect(
            kind, self.table, self.column, self.name, self.new, self.old, self.obj, self.unique
        )


def _model_state(state: ProjectState, key: ModelKey) -> ModelState | None:
    return state.models.get(key)


def _table_effects(kind: EffectKind, model_state: ModelState | None) -> list[Effect]:
    if model_state is None:
        return []
    return [Effect(kind, table) for table in model_tables(model_state)]


def _rename_effects(old: ModelState | None, new: ModelState | None) -> list[Effect]:
    """A model's tables renamed (its own and its auto-created M2M tables)."""
    if old is None or new is None or not has_table(new):
        return []
    return [
        Effect(EffectKind.RENAME_TABLE, a, name=b)
        for a, b in zip(model_tables(old), model_tables(new), strict=False)
        if a != b
    ]


def _field_effects(
    before: ModelState | None, after: ModelState | None, name: str, new_name: str | None = None
) -> list[Effect]:
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
    effects: list[Effect] = []
    if (old_f is not None and old_f.many_to_many) or (new_f is not None and new_f.many_to_many):
        old_table = auto_m2m_table(before, name, old_f) if old_auto and before else None
        new_table = auto_m2m_table(after, new_name, new_f) if new_auto and after else None
        if old_table and new_table and old_table != new_table:
            effects.append(Effect(EffectKind.RENAME_TABLE, old_table, name=new_table))
        elif old_table and not new_table:
            effects.append(Effect(EffectKind.DROP_TABLE, old_table))
        elif new_table and not old_table:
            effects.append(Effect(EffectKind.CREATE_TABLE, new_table))
        elif old_f is None and new_f is not None and not new_auto:
            effects.append(Effect(EffectKind.ADD_THROUGH_FIELD, table, new=new_f))
        elif new_f is None and old_f is not None and not old_auto:
            effects.append(Effect(EffectKind.DROP_THROUGH_FIELD, table, old=old_f))
        return effects
    old = bound_field(name, old_f) if old_f is not None else None
    new = bound_field(new_name, new_f) if new_f is not None else None
    if (old is not None and old.column is None) or (new is not None and new.column is None):
        return []  # no column behind it (a composite primary key, say)
    if old is None and new is not None:
        return [Effect(EffectKind.ADD_COLUMN, table, new.column, new=new)]
    if new is None and old is not None:
        return [Effect(EffectKind.DROP_COLUMN, table, old.column, old=old)]
    assert old is not None and new is not None
    if old.column != new.column:
        effects.append(Effect(EffectKind.RENAME_COLUMN, table, old.column, new.column, old, new))
    if _db_kwargs(old) != _db_kwargs(new):
        effects.append(Effect(EffectKind.ALTER_COLUMN, table, new.column, old=old, new=new))
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
    kind_add: EffectKind,
    kind_drop: EffectKind,
    before: ModelState | None,
    after: ModelState | None,
    option: str,
    unique: bool,
) -> list[Effect]:
    model = after or before
    if model is None or not has_table(model):
        return []
    old = {tuple(t) for t in (before.options.get(option) or ())} if before else set()
    new = {tuple(t) for t in (after.options.get(option) or ())} if after else set()
    table = db_table(model)

    def columns(state: ModelState, names: tuple[str, ...]) -> str:
        return ", ".join(
            bound_field(n, state.fields[n]).column if n in state.fields else n for n in names
        )

    return [
        *(
            Effect(kind_drop, table, name=f"({columns(before, t)})", unique=unique)
            for t in sorted(old - new)
            if before is not None
        ),
        *(
            Effect(kind_add, table, name=f"({columns(after, t)})", unique=unique)
            for t in sorted(new - old)
            if after is not None
        ),
    ]


def operation_effects(
    operation: Operation, app_label: str, before: ProjectState, after: ProjectState
) -> list[Effect]:
    """The forward schema effects of ``operation``, from the states around it."""
    if isinstance(operation, ops.SeparateDatabaseAndState):
        effects: list[Effect] = []
        state = before
        for inner in operation.database_operations:
            nxt = state.clone()
            inner.state_forwards(app_label, nxt)
            effects += operation_effects(inner, app_label, state, nxt)
            state = nxt
        return effects
    if isinstance(operation, ops.CreateModel):
        return _table_effects(
            EffectKind.CREATE_TABLE, _model_state(after, (app_label, operation.name_lower))
        )
    if isinstance(operation, ops.DeleteModel):
        return _table_effects(
            EffectKind.DROP_TABLE, _model_state(before, (app_label, operation.name_lower))
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
            EffectKind.ADD_CONSTRAINT,
            EffectKind.DROP_CONSTRAINT,
            _model_state(before, key),
            _model_state(after, key),
            "unique_together",
            unique=True,
        )
    if isinstance(operation, ops.AlterIndexTogether):
        key = (app_label, operation.name_lower)
        return _together_effects(
            EffectKind.ADD_INDEX,
            EffectKind.DROP_INDEX,
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
        column = bound_field("_order", OrderWrt())
        if new_has:
            return [Effect(EffectKind.ADD_COLUMN, db_table(model), "_order", new=column)]
        return [Effect(EffectKind.DROP_COLUMN, db_table(model), "_order", old=column)]
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
            return [Effect(EffectKind.ADD_INDEX, db_table(model), name=operation.index.name)]
        return [Effect(EffectKind.DROP_INDEX, db_table(model), name=operation.name)]
    if isinstance(operation, (ops.AddConstraint, ops.RemoveConstraint)):
        key = (app_label, operation.model_name_lower)
        if isinstance(operation, ops.AddConstraint):
            model, constraint = _model_state(after, key), operation.constraint
            kind = EffectKind.ADD_CONSTRAINT
        else:
            model = _model_state(before, key)
            constraint = model.get_constraint_by_name(operation.name) if model else None
            kind = EffectKind.DROP_CONSTRAINT
        if model is None or not has_table(model):
            return []
        return [
            Effect(
                kind,
                db_table(model),
                name=constraint.name,
                obj=constraint,
                unique=isinstance(constraint, UniqueConstraint),
            )
        ]
    return []


def effects_between(operation: Operation, app_label: str, from_state: ProjectState) -> list[Effect]:
    """Forward effects of ``operation`` from ``from_state``, which is left untouched."""
    keys = touched_models(operation, app_label)
    if keys is None:
        return []  # an operation type we do not know: no schema effect we can name
    return advance_past(operation, app_label, substate(from_state, keys))


def advance_past(operation: Operation, app_label: str, state: ProjectState) -> list[Effect]:
    """Forward effects of ``operation`` from ``state``, which it advances past the operation
    (``state_forwards``). Only the touched models are copied to compare with: a plan that
    owns its state saves a copy of the state and a second ``state_forwards`` per operation."""
    keys = touched_models(operation, app_label)
    before = substate(state, keys) if keys is not None else None
    operation.state_forwards(app_label, state)
    if before is None:
        return []  # an operation type we do not know: no schema effect we can name
    return operation_effects(operation, app_label, before, state)
