"""Selective rendering: which models an operation's SQL reads, as small states of
one unrendered state advancing through the plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.utils import resolve_relation
from django.db.models import Field

from migration_ops.core.operations import (
    base_references,
    field_references,
    model_references,
    referenced_models,
    reverse_relation_models,
    touched_models,
)
from migration_ops.core.sql.field_copies import KEEPS_FIELDS, FieldCopies, Snapshot
from migration_ops.core.states import (
    ModelKey,
)


@dataclass(frozen=True)
class Selection:
    """What to render for one operation: ``keys`` in full, ``stubs`` reduced to the named
    fields, and the unmigrated ``real_apps`` they point to; ``changed`` are the models
    whose tables the operation may alter."""

    keys: frozenset[ModelKey]
    stubs: Mapping[ModelKey, frozenset[str]]
    real_apps: frozenset[str]
    changed: frozenset[ModelKey]


# Options a stub keeps: those that name its table or say whether it has one.
STUB_OPTIONS = ("db_table", "db_tablespace", "managed", "swappable")


@dataclass(frozen=True)
class Rendered:
    """A rendered state after an operation, kept to serve as a later state before one."""

    state: ProjectState
    selection: Selection
    version: int
    stub_signatures: Mapping[ModelKey, Any]


def covers(rendered: Selection, needed: Selection) -> bool:
    """Whether a state rendered for ``rendered`` holds every model ``needed`` asks for (a
    model rendered in full serves where a stub is needed)."""
    if not needed.keys <= rendered.keys or not needed.real_apps <= rendered.real_apps:
        return False
    return all(
        key in rendered.keys or names <= rendered.stubs.get(key, frozenset({""}))
        for key, names in needed.stubs.items()
    )


def stub_state(model_state: ModelState, names: frozenset[str]) -> ModelState:
    """A model state with only the fields ``names`` (its primary key and the fields
    foreign keys point at): what the SQL of a model pointing at it reads."""
    return ModelState(
        model_state.app_label,
        model_state.name,
        [(name, f) for name, f in model_state.fields.items() if name in names],
        {k: v for k, v in model_state.options.items() if k in STUB_OPTIONS},
        model_state.bases,
    )


def stubbable(model_state: ModelState) -> bool:
    # Proxies and subclasses take their primary key from a parent: render them in full.
    return not model_state.options.get("proxy") and not any(
        base_references(model_state.bases, model_state.app_label)
    )


def _operation_fields(operation: Operation, app_label: str) -> Iterator[tuple[ModelKey, Field]]:
    """The fields an operation carries, with the model each belongs to."""
    if isinstance(operation, ops.CreateModel):
        for _, f in operation.fields:
            yield (app_label, operation.name_lower), f
    elif isinstance(operation, (ops.AddField, ops.AlterField)):
        yield (app_label, operation.model_name_lower), operation.field
    elif isinstance(operation, ops.SeparateDatabaseAndState):
        for inner in operation.database_operations:
            yield from _operation_fields(inner, app_label)


def _operation_target_fields(operation: Operation, target: ModelKey, app_label: str) -> set[str]:
    """The fields of ``target`` that the operation's own fields point at."""
    names: set[str] = set()
    for owner, f in _operation_fields(operation, app_label):
        if f.is_relation and resolve_relation(f.remote_field.model, *owner) == target:
            names |= _target_fields(f)
    return names


def _altered_fields(operation: Operation) -> frozenset[str] | None:
    """The fields whose incoming relations an operation's SQL may alter: a field being
    altered or renamed (only relations to it, or to the primary key if it is that,
    matter); None for any relation (renaming a model)."""
    if isinstance(operation, ops.AlterField):
        return frozenset({operation.name})
    if isinstance(operation, ops.RenameField):
        return frozenset({operation.old_name, operation.new_name})
    return None


def _target_fields(f: Field) -> set[str]:
    """The fields of its target a relation field points at, besides the primary key."""
    names = {name for name in getattr(f, "to_fields", ()) or () if name}
    field_name = getattr(f.remote_field, "field_name", None)
    if field_name:
        names.add(field_name)
    return names


class _RelationIndex:
    """Which models point at which, by field or base, kept up to date as a state advances.

    ``ProjectState.relations`` would answer that too, but resolving it changes the state:
    with relations resolved, ``alter_field`` moves the altered field to the end of the
    model's fields, and later table rebuilds would list the columns in another order than
    ``sqlmigrate`` does.
    """

    def __init__(self, state: ProjectState) -> None:
        self.state = state
        self.outgoing: dict[ModelKey, set[ModelKey]] = {}
        self.incoming: defaultdict[ModelKey, set[ModelKey]] = defaultdict(set)
        for key in state.models:
            self.refresh(key)

    def refresh(self, key: ModelKey) -> None:
        for target in self.outgoing.pop(key, ()):
            self.incoming[target].discard(key)
        model_state = self.state.models.get(key)
        if model_state is None:
            return
        targets = set(model_references(model_state))
        self.outgoing[key] = targets
        for target in targets:
            self.incoming[target].add(key)

    def _reaches_past(self, source: ModelKey, target: ModelKey) -> bool:
        """Whether altering ``target`` may alter what points at ``source``: ``source``
        inherits from ``target`` or points at it through a primary-key or unique field."""
        model_state = self.state.models[source]
        if target in set(base_references(model_state.bases, source[0])):
            return True
        return any(
            (f.primary_key or f.unique) and target in set(field_references(f, source))
            for f in model_state.fields.values()
        )

    def _points_at(self, source: ModelKey, target: ModelKey, names: frozenset[str]) -> bool:
        """Whether ``source`` has a relation to one of the fields ``names`` of ``target``,
        or to its primary key when that is one of them."""
        target_fields = self.state.models[target].fields
        pk = any(target_fields[n].primary_key for n in names if n in target_fields)
        return any(
            (pk and not _target_fields(f)) or bool(names & _target_fields(f))
            for f in self.state.models[source].fields.values()
            if f.is_relation and resolve_relation(f.remote_field.model, *source) == target
        )

    def incoming_closure(
        self, keys: set[ModelKey], fields: frozenset[str] | None = None
    ) -> set[ModelKey]:
        """The models pointing at ``keys`` (at their fields ``fields`` only, when given),
        and, as far as :meth:`_reaches_past` allows, the models pointing at those
        (``_related_non_m2m_objects`` recurses that way)."""
        found: set[ModelKey] = set()
        queue = list(keys)
        while queue:
            target = queue.pop()
            for source in self.incoming.get(target, ()):
                if source in found or source in keys:
                    continue
                if (
                    fields is not None
                    and target in keys
                    and not self._points_at(source, target, fields)
                ):
                    continue
                found.add(source)
                if self._reaches_past(source, target):
                    queue.append(source)
        return found


class Walker:
    """One unrendered state advancing operation by operation, and the small states to
    render for each operation."""

    def __init__(self, state: ProjectState, copies: FieldCopies | None = None) -> None:
        self.state = state
        self.copies = copies if copies is not None else FieldCopies()
        self._index: _RelationIndex | None = None
        # Operations applied so far, and when each model (or any model) last changed: a
        # rendering of some models stays valid while none of them changes.
        self.version = 0
        self.changed_at: dict[ModelKey, int] = {}
        self.anything_changed_at = 0
        self.last_changed: set[ModelKey] | None = set()  # by the last operation; None: any

    @property
    def index(self) -> _RelationIndex:
        # Built on first need (the first alter or rename), then kept up to date.
        if self._index is None:
            self._index = _RelationIndex(self.state)
        return self._index

    def advance(self, operation: Operation, app_label: str) -> None:
        touched = touched_models(operation, app_label)
        changed: set[ModelKey] = set(touched or ())
        if touched and isinstance(
            operation, (ops.RenameModel, ops.RenameField, ops.SeparateDatabaseAndState)
        ):
            # Renames repoint (or rewrite the to_fields of) the fields pointing at them.
            for key in touched:
                changed |= self.index.incoming.get(key, set())
        operation.state_forwards(app_label, self.state)
        self.version += 1
        if type(operation) not in KEEPS_FIELDS:
            self.forget_fields(operation, changed if touched is not None else None)
        if touched is None:
            self._index = None  # anything may have changed: rebuild on next need
            self.anything_changed_at = self.version
            self.last_changed = None
            return
        self.last_changed = changed
        for key in changed:
            self.changed_at[key] = self.version
            if self._index is not None:
                self._index.refresh(key)

    def forget_fields(self, operation: Operation, changed: set[ModelKey] | None) -> None:
        """Forget the field clones of what an operation may have changed in place: the
        models ``changed`` by a ``RenameField`` (the renamed field's model and those
        pointing at it), everything for any other such operation."""
        if changed is not None and type(operation) is ops.RenameField:
            models = self.state.models
            self.copies.forget(models[key] for key in changed if key in models)
        else:
            self.copies.forget(None)

    def stub_signature(self, key: ModelKey, names: frozenset[str]) -> tuple[Any, ...] | None:
        """What a stub's rendering depends on: its kept fields (by identity: a changed
        field is a new object) and options. None when the model is gone."""
        model_state = self.state.models.get(key)
        if model_state is None:
            return None
        options = model_state.options
        return (
            model_state.name,
            id(model_state.bases),
            tuple((n, id(f)) for n, f in model_state.fields.items() if n in names),
            tuple(options.get(option) for option in STUB_OPTIONS),
        )

    def still_valid(self, rendered: Rendered) -> bool:
        """Whether a rendering still shows the current state: none of its full models
        changed since, and its stubs have the same content."""
        if self.anything_changed_at > rendered.version:
            return False
        changed_at = self.changed_at
        return all(
            changed_at.get(key, 0) <= rendered.version for key in rendered.selection.keys
        ) and all(
            self.stub_signature(key, names) == rendered.stub_signatures[key]
            for key, names in rendered.selection.stubs.items()
        )

    def _closure(
        self, full: set[ModelKey]
    ) -> tuple[set[ModelKey], dict[ModelKey, frozenset[str]], set[str]]:
        """What rendering ``full`` needs: their bases and explicit through models in full,
        the models they point at as stubs (transitively, through the stubs' own primary
        keys), and the unmigrated apps among the targets."""
        models, real = self.state.models, self.state.real_apps
        keys: set[ModelKey] = set()
        wanted: dict[ModelKey, set[str]] = defaultdict(set)
        real_apps: set[str] = set()

        def target(key: ModelKey, names: set[str], queue: list[ModelKey]) -> bool:
            """Note a model pointed at; False when it is missing (left to rendering)."""
            model_state = models.get(key)
            if model_state is None:
                if key[0] in real:
                    real_apps.add(key[0])
                return False
            if key in keys:
                return False
            if not stubbable(model_state):
                queue.append(key)
                return False
            new = key not in wanted or not names <= wanted[key]
            wanted[key] |= names
            return new

        queue = list(full)
        stub_queue: list[ModelKey] = []
        while queue or stub_queue:
            while queue:
                key = queue.pop()
                if key in keys:
                    continue
                model_state = models.get(key)
                if model_state is None:
                    if key[0] in real:
                        real_apps.add(key[0])
                    continue
                keys.add(key)
                wanted.pop(key, None)
                queue.extend(base_references(model_state.bases, key[0]))
                for f in model_state.fields.values():
                    if not f.is_relation:
                        continue
                    through = getattr(f.remote_field, "through", None)
                    if through is not None:
                        queue.append(resolve_relation(through, *key))
                    remote = resolve_relation(f.remote_field.model, *key)
                    if target(remote, _target_fields(f), queue):
                        stub_queue.append(remote)
            while stub_queue:
                key = stub_queue.pop()
                if key in keys:
                    continue
                model_state = models[key]
                for name, f in model_state.fields.items():
                    if f.is_relation and (f.primary_key or name in wanted[key]):
                        remote = resolve_relation(f.remote_field.model, *key)
                        if target(remote, _target_fields(f), queue):
                            stub_queue.append(remote)
        stubs = {
            key: frozenset(
                name for name, f in models[key].fields.items() if f.primary_key or name in names
            )
            for key, names in wanted.items()
            if key not in keys
        }
        return keys, stubs, real_apps

    def select(self, operation: Operation, app_label: str) -> Selection:
        """What to render for ``operation`` in the current state: everything when the
        operation's type is unknown."""
        state = self.state
        touched = touched_models(operation, app_label)
        if touched is None:
            everything = frozenset(state.models)
            return Selection(everything, {}, frozenset(state.real_apps), everything)
        full = set(touched)
        changed = set(touched)
        reverse = {k for k in reverse_relation_models(operation, app_label) if k in state.models}
        if reverse:
            incoming = self.index.incoming_closure(reverse, _altered_fields(operation))
            full |= incoming
            changed |= incoming  # their foreign keys may be altered too
        # A model the operation's own fields name (a new foreign key's target) needs no
        # more than what the models pointing at it need: as a target of ``full``.
        full |= {
            key
            for key in referenced_models(operation, app_label)
            if key in state.models and not stubbable(state.models[key])
        }
        keys, stubs, real_apps = self._closure(full)
        # Targets of the operation's fields that no model of the state points at yet (a
        # field being added) are stubbed with what those fields need.
        for key in referenced_models(operation, app_label) - keys - set(stubs):
            model_state = state.models.get(key)
            if model_state is not None and stubbable(model_state):
                stubs[key] = frozenset(
                    name for name, f in model_state.fields.items() if f.primary_key
                ) | _operation_target_fields(operation, key, app_label)
        return Selection(frozenset(keys), stubs, frozenset(real_apps), frozenset(changed))

    def snapshot(self, selection: Selection, *, copy: bool) -> Snapshot:
        """A small state of the selected models. ``copy`` clones the model states, for a
        state that must outlive later changes to this one (stubs are new objects)."""
        models = self.state.models
        rendered = {k: models[k].clone() if copy else models[k] for k in selection.keys}
        rendered.update(
            (key, stub_state(models[key], names)) for key, names in selection.stubs.items()
        )
        return Snapshot(rendered, set(selection.real_apps), self.copies)
