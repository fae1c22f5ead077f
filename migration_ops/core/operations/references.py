"""Which models an operation touches or names, and which models a model state points to."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState
from django.db.migrations.utils import resolve_relation
from django.db.models import Field

from migration_ops.core.states import (
    ModelKey,
)


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
