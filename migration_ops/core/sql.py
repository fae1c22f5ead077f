"""The SQL of a whole ``migrate`` plan in one pass, identical to ``sqlmigrate``'s.

``sqlmigrate`` and ``MigrationLoader.collect_sql`` render the whole project state and keep
it rendered while the plan advances; re-rendering models is most of their time. Here one
*unrendered* state advances through the plan (``state_forwards`` only reloads models when
``apps`` is cached, and it never is), and each operation gets two small states, before and
after it, rendered with just the models its SQL reads:

- in full: the models it touches; when it alters or renames a field, the models pointing
  at that field (or at the primary key, when it is that), further back through
  primary-key or unique relations; when it renames a model, all models pointing at it;
  their bases and explicit through models;
- as *stubs* (their table, primary key and the fields foreign keys name): the models
  those point at, transitively through the stubs' own keys.

As Django does, the state after an operation is rendered as a clone of the state before
it with the changed models rendered again (unchanged stubs are kept), and a rendering of
an earlier state after an operation serves as a later state before one when none of its
models changed since. SQLite's table rebuilds order columns by the fields' creation, so
there the order of rendering follows Django's (see ``reproduce``). Renders copy a clone of
each field made once, rather than clone every field again (``_FieldCopies``).

The schema editor is one per migration, as with ``sqlmigrate``: its deferred statements
(foreign keys, indexes) come out at the end of the migration, in :attr:`MigrationSQL.deferred`.

Some SQL needs the live schema: with ``collect_sql=True`` the schema editor still reads
constraint and sequence names from the database (``_constraint_names`` when removing a
``unique_together``/``index_together``, dropping a foreign key column, renaming or
altering a foreign key or a field with constraints, and for the M2M column of a renamed
model; MySQL's ``_create_missing_fk_index``; PostgreSQL's sequence lookups when a field
leaves or joins ``AutoField``). Those reads are watched: when the table read does not
exist in the database, or an earlier operation of the plan changes it first, what the
database says is not what the operation will find, and the operation's SQL is reported
unavailable instead of wrong. An operation whose SQL cannot be produced at all (Django
raises) is reported the same way; the rest of the plan goes on.
"""

from __future__ import annotations

import gc
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState, StateApps
from django.db.migrations.utils import resolve_relation
from django.db.models import Field
from django.utils.functional import cached_property

from migration_ops.core.operations import (
    base_references,
    field_references,
    model_references,
    model_tables,
    rebuilds_tables,
    referenced_models,
    reverse_relation_models,
    touched_models,
)
from migration_ops.core.states import (
    ModelKey,
    plan_start_state,
    state_before_migration,
    unrendered_copy,
)

__all__ = ["MigrationSQL", "OperationSQL", "collect_plan_sql"]

CANNOT_BE_SQL = "THIS OPERATION CANNOT BE WRITTEN AS SQL"  # sqlmigrate's words
NO_OP = "(no-op)"

Reproduce = Literal["sqlmigrate", "collect_sql", "migrate"]

# Operations whose SQL mixes a model before them with a field after them (SQLite's table
# rebuilds list columns by the fields' creation order): where Django's state would be
# rendered fresh, these must render in Django's order. Unknown operation types too.
_ORDER_SENSITIVE = (
    ops.AddField,
    ops.AlterField,
    ops.RenameField,
    ops.RenameModel,
    ops.AlterOrderWithRespectTo,
    ops.SeparateDatabaseAndState,
)
_KNOWN = (
    ops.models.ModelOperation,
    ops.fields.FieldOperation,
    ops.models.IndexOperation,
    ops.RunSQL,
    ops.RunPython,
    ops.SeparateDatabaseAndState,
)
# Operations whose database_forwards does not render the state after them: Django's
# state stays unrendered through them.
_AFTER_UNRENDERED = (
    ops.DeleteModel,
    ops.RemoveField,
    ops.RemoveIndex,
    ops.AlterModelOptions,
    ops.AlterModelManagers,
    ops.RunSQL,
    ops.RunPython,
)


def _order_sensitive(operation: Operation) -> bool:
    return isinstance(operation, _ORDER_SENSITIVE) or not isinstance(operation, _KNOWN)


def _derivable(operation: Operation) -> bool:
    # A state may be derived from another rendering for the operations whose rendering
    # order is known (Django renders the state after them first, when fresh).
    return isinstance(operation, _KNOWN) and not isinstance(operation, ops.SeparateDatabaseAndState)


# Operations whose SQL renders the state on one side only: rendering the other side in
# Django's order would be wasted.
_ONE_SIDED = (
    ops.CreateModel,
    ops.DeleteModel,
    ops.RemoveField,
    ops.AddIndex,
    ops.RemoveIndex,
    ops.AddConstraint,
    ops.RemoveConstraint,
    ops.RunSQL,
    ops.RunPython,
)


@dataclass(frozen=True)
class OperationSQL:
    """The SQL of one operation, as the schema editor collected it.

    ``statements`` may include statements the schema editor deferred from earlier
    operations and flushed here (SQLite's table rebuilds do). ``unavailable`` is a
    one-line reason when the SQL could not be produced. ``reduces_to_sql`` is False for
    ``RunPython``, which has no SQL.
    """

    description: str
    statements: tuple[str, ...]
    unavailable: str | None = None
    reduces_to_sql: bool = True

    @property
    def lines(self) -> tuple[str, ...]:
        """This operation as ``sqlmigrate`` prints it, comment header included."""
        head = ("--", f"-- {self.description}", "--")
        if self.unavailable:
            return (*head, f"-- {self.unavailable}")
        if not self.reduces_to_sql:
            return (*head, f"-- {CANNOT_BE_SQL}")
        return (*head, *(self.statements or (f"-- {NO_OP}",)))


@dataclass(frozen=True)
class MigrationSQL:
    app_label: str
    name: str
    backwards: bool
    operations: tuple[OperationSQL, ...]
    # Statements the schema editor deferred to the end of the migration (foreign keys,
    # indexes of new tables), as sqlmigrate prints them after the last operation.
    deferred: tuple[str, ...] = ()
    # (BEGIN, COMMIT) when sqlmigrate wraps the migration in a transaction: an atomic
    # migration on a database that can roll back DDL.
    transaction: tuple[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    @property
    def body(self) -> tuple[str, ...]:
        """The statements without the transaction around them (as ``collect_sql`` has them)."""
        return (*(line for op in self.operations for line in op.lines), *self.deferred)

    @property
    def statements(self) -> tuple[str, ...]:
        """Everything as ``sqlmigrate`` prints it, one item per printed statement."""
        body = self.body
        if not body or self.transaction is None:
            return body
        return (self.transaction[0], *body, self.transaction[1])

    @property
    def unavailable(self) -> tuple[str, ...]:
        return tuple(op.unavailable for op in self.operations if op.unavailable)


# --------------------------------------------------------------------------- rendering

# Modules of the field classes whose copy (``Field.__deepcopy__``: the attributes, and a
# relation object of its own) of a fresh clone is as good as a fresh clone: Django's own,
# which keep no other state of their own that rendering changes (an ``ArrayField``'s base
# field would be shared, a custom field might keep anything).
_COPYABLE_FIELD_MODULES = frozenset(
    {
        "django.db.models.fields",
        "django.db.models.fields.files",
        "django.db.models.fields.json",
        "django.db.models.fields.proxy",
        "django.db.models.fields.related",
    }
)


class _FieldCopies:
    """Fresh unbound clones of model-state fields, for rendering.

    ``ModelState.render`` clones every field (``deconstruct`` and ``__init__``), most of
    the cost of a render. Fields in model states are never bound, and a changed field is
    mostly a new object, so each is cloned once, and later renders get copies of that
    pristine clone, with the creation counter ``__init__`` would have given them (SQLite's
    table rebuilds order columns by it). The few operations that change fields in place
    make their clones forgotten (see ``_KEEPS_FIELDS``).
    """

    def __init__(self) -> None:
        # id(field) -> (field, its pristine clone); the field is held so the id stays its.
        self._templates: dict[int, tuple[Field, Field]] = {}

    def forget(self, model_states: Iterable[ModelState] | None) -> None:
        """Drop the clones of these model states' fields (all, for None): they may have
        been changed in place."""
        if model_states is None:
            self._templates.clear()
            return
        for model_state in model_states:
            for f in model_state.fields.values():
                self._templates.pop(id(f), None)

    def fresh(self, field: Field) -> Field:
        entry = self._templates.get(id(field))
        if entry is None:
            if type(field).__module__ not in _COPYABLE_FIELD_MODULES:
                return field.clone()
            entry = self._templates[id(field)] = (field, field.clone())
        copy = entry[1].__deepcopy__({})
        if copy.auto_created:  # as Field.__init__ counts
            copy.creation_counter = Field.auto_creation_counter
            Field.auto_creation_counter -= 1
        else:
            copy.creation_counter = Field.creation_counter
            Field.creation_counter += 1
        return copy

    def renderable(self, model_state: ModelState) -> ModelState:
        """A twin of ``model_state`` whose ``render`` takes its fields from here."""
        twin = object.__new__(ModelState)
        twin.__dict__.update(model_state.__dict__)
        twin.fields = {name: _FieldCopy(self, f) for name, f in model_state.fields.items()}
        return twin


# Operations whose state changes replace fields rather than change them in place.
# ``RenameField`` rewrites the ``to_field`` of the fields pointing at the renamed one;
# ``SeparateDatabaseAndState`` and operations from elsewhere may do anything.
_KEEPS_FIELDS = frozenset(
    {
        ops.CreateModel,
        ops.DeleteModel,
        ops.RenameModel,
        ops.AlterModelTable,
        ops.AlterModelTableComment,
        ops.AlterUniqueTogether,
        ops.AlterIndexTogether,
        ops.AlterOrderWithRespectTo,
        ops.AlterModelOptions,
        ops.AlterModelManagers,
        ops.AddIndex,
        ops.RemoveIndex,
        ops.RenameIndex,
        ops.AddConstraint,
        ops.RemoveConstraint,
        ops.AddField,
        ops.RemoveField,
        ops.AlterField,
        ops.RunSQL,
        ops.RunPython,
    }
)


class _FieldCopy:
    """Stands for a field in a model state given to ``ModelState.render``, which only
    calls ``clone()`` on its fields."""

    __slots__ = ("copies", "field")

    def __init__(self, copies: _FieldCopies, field: Field) -> None:
        self.copies = copies
        self.field = field

    def clone(self) -> Field:
        return self.copies.fresh(self.field)


class _Snapshot(ProjectState):
    """A small state of the plan, rendered with :class:`_FieldCopies` when first used."""

    def __init__(
        self, models: dict[ModelKey, ModelState], real_apps: set[str], copies: _FieldCopies
    ) -> None:
        super().__init__(models=models, real_apps=real_apps)
        self.copies = copies

    @cached_property
    def apps(self) -> StateApps:  # type: ignore[override]
        copies = self.copies
        return StateApps(
            self.real_apps, {key: copies.renderable(m) for key, m in self.models.items()}
        )


@contextmanager
def _swappable_names_cached() -> Iterator[None]:
    """Keep the global registry's swappable-setting lookups while collecting.

    Every relation field's ``deconstruct`` asks the global registry which setting may swap
    its target; Django caches that with ``functools.cache`` on the method, which every
    state registry's ``clear_cache`` empties for all registries, so each lookup scans all
    installed models again. Settings and installed models do not change during the call.
    """
    name = "get_swappable_settings_name"
    if name in vars(global_apps):  # already done (a nested or concurrent call)
        yield
        return
    method = Apps.get_swappable_settings_name
    memo: dict[str, str | None] = {}

    def lookup(to_string: str) -> str | None:
        try:
            return memo[to_string]
        except KeyError:
            found = memo[to_string] = method(global_apps, to_string)
            return found

    def cache_clear() -> None:  # the global registry changed after all
        memo.clear()
        method.cache_clear()

    lookup.cache_clear = cache_clear  # type: ignore[attr-defined]
    setattr(global_apps, name, lookup)
    try:
        yield
    finally:
        if vars(global_apps).get(name) is lookup:
            delattr(global_apps, name)


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist when the collection starts out of the cyclic garbage
    collector's way until it ends.

    Rendering makes much cyclic garbage (model classes), so the collector runs often, and
    each of its full collections walks every object of the process: the migration loader
    and the whole history's operations, more with a longer history, which made the time
    grow faster than the history. Those objects outlive the call; any of them that does
    become garbage is collected after it.
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield  # the collector is someone else's business here
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --------------------------------------------------------------------------- small states


@dataclass(frozen=True)
class _Selection:
    """What to render for one operation: ``keys`` in full, ``stubs`` reduced to the named
    fields, and the unmigrated ``real_apps`` they point to; ``changed`` are the models
    whose tables the operation may alter."""

    keys: frozenset[ModelKey]
    stubs: Mapping[ModelKey, frozenset[str]]
    real_apps: frozenset[str]
    changed: frozenset[ModelKey]


# Options a stub keeps: those that name its table or say whether it has one.
_STUB_OPTIONS = ("db_table", "db_tablespace", "managed", "swappable")


@dataclass(frozen=True)
class _Rendered:
    """A rendered state after an operation, kept to serve as a later state before one."""

    state: ProjectState
    selection: _Selection
    version: int
    stub_signatures: Mapping[ModelKey, Any]


def _covers(rendered: _Selection, needed: _Selection) -> bool:
    """Whether a state rendered for ``rendered`` holds every model ``needed`` asks for (a
    model rendered in full serves where a stub is needed)."""
    if not needed.keys <= rendered.keys or not needed.real_apps <= rendered.real_apps:
        return False
    return all(
        key in rendered.keys or names <= rendered.stubs.get(key, frozenset({""}))
        for key, names in needed.stubs.items()
    )


def _stub(model_state: ModelState, names: frozenset[str]) -> ModelState:
    """A model state with only the fields ``names`` (its primary key and the fields
    foreign keys point at): what the SQL of a model pointing at it reads."""
    return ModelState(
        model_state.app_label,
        model_state.name,
        [(name, f) for name, f in model_state.fields.items() if name in names],
        {k: v for k, v in model_state.options.items() if k in _STUB_OPTIONS},
        model_state.bases,
    )


def _stubbable(model_state: ModelState) -> bool:
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


class _Walker:
    """One unrendered state advancing operation by operation, and the small states to
    render for each operation."""

    def __init__(self, state: ProjectState, copies: _FieldCopies | None = None) -> None:
        self.state = state
        self.copies = copies if copies is not None else _FieldCopies()
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
        if type(operation) not in _KEEPS_FIELDS:
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
            tuple(options.get(option) for option in _STUB_OPTIONS),
        )

    def still_valid(self, rendered: _Rendered) -> bool:
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
            if not _stubbable(model_state):
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

    def select(self, operation: Operation, app_label: str) -> _Selection:
        """What to render for ``operation`` in the current state: everything when the
        operation's type is unknown."""
        state = self.state
        touched = touched_models(operation, app_label)
        if touched is None:
            everything = frozenset(state.models)
            return _Selection(everything, {}, frozenset(state.real_apps), everything)
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
            if key in state.models and not _stubbable(state.models[key])
        }
        keys, stubs, real_apps = self._closure(full)
        # Targets of the operation's fields that no model of the state points at yet (a
        # field being added) are stubbed with what those fields need.
        for key in referenced_models(operation, app_label) - keys - set(stubs):
            model_state = state.models.get(key)
            if model_state is not None and _stubbable(model_state):
                stubs[key] = frozenset(
                    name for name, f in model_state.fields.items() if f.primary_key
                ) | _operation_target_fields(operation, key, app_label)
        return _Selection(frozenset(keys), stubs, frozenset(real_apps), frozenset(changed))

    def snapshot(self, selection: _Selection, *, copy: bool) -> _Snapshot:
        """A small state of the selected models. ``copy`` clones the model states, for a
        state that must outlive later changes to this one (stubs are new objects)."""
        models = self.state.models
        rendered = {k: models[k].clone() if copy else models[k] for k in selection.keys}
        rendered.update((key, _stub(models[key], names)) for key, names in selection.stubs.items())
        return _Snapshot(rendered, set(selection.real_apps), self.copies)


# --------------------------------------------------------------------------- live reads


# Introspection methods through which a schema editor reads one table's live structure.
_TABLE_READS = (
    "get_constraints",
    "get_sequences",
    "get_relations",
    "get_primary_key_column",
    "get_primary_key_columns",
)


class _LiveReads:
    """Records the tables whose structure the schema editor reads from the database.

    A read inside a transaction runs in a savepoint, so that a failing catalogue query
    (PostgreSQL aborts the whole transaction on any error) costs one operation, not the
    rest of the migration.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.tables: list[str] = []
        self._live: set[str] | None = None

    def live_tables(self) -> set[str]:
        if self._live is None:
            self._live = set(self.connection.introspection.table_names())
        return self._live

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def read(cursor: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            self.tables.append(table_name)
            if self.connection.in_atomic_block:
                with transaction.atomic(using=self.connection.alias):
                    return method(cursor, table_name, *args, **kwargs)
            return method(cursor, table_name, *args, **kwargs)

        return read

    @contextmanager
    def watching(self) -> Iterator[None]:
        introspection = self.connection.introspection
        wrapped = []
        for name in _TABLE_READS:
            method = getattr(introspection, name, None)
            if method is not None and name not in vars(introspection):
                setattr(introspection, name, self._wrap(method))
                wrapped.append(name)
        try:
            yield
        finally:
            for name in wrapped:
                delattr(introspection, name)


# --------------------------------------------------------------------------- collection


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Collector:
    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        loader: MigrationLoader,
        reproduce: Reproduce,
        check_live_reads: bool,
    ) -> None:
        self.connection = connection
        self.check_live_reads = check_live_reads
        self.loader = loader
        self.reproduce = reproduce
        # Whether Django's state would be rendered by now (see collect_plan_sql).
        self.rendered = reproduce == "migrate"
        # Recent states after an operation that got rendered.
        self.rendered_afters: deque[_Rendered] = deque(maxlen=64)
        # Where SQLite-style table rebuilds mix fields of both sides, the order in which
        # the states are rendered shows in the SQL; elsewhere it cannot.
        self.order_matters = rebuilds_tables(connection)
        self.reads = _LiveReads(connection)
        self.copies = _FieldCopies()
        # Tables the operations collected so far change: the live schema no longer tells
        # what a later operation will find there.
        self.changed: set[str] = set()

    @staticmethod
    def _tables(states: Sequence[ProjectState], selections: Sequence[_Selection]) -> set[str]:
        """The tables of the models the selections say may change, in either state."""
        keys = {key for selection in selections for key in selection.changed}
        return {
            table
            for state in states
            for key in keys
            if key in state.models
            for table in model_tables(state.models[key])
        }

    def _run(
        self,
        editor: BaseDatabaseSchemaEditor,
        operation: Operation,
        method: Callable[..., None],
        arguments: tuple[Any, ...],
    ) -> OperationSQL:
        """Collect the SQL of one operation; on failure roll the editor back to before it."""
        description = operation.describe()
        collected = editor.collected_sql
        start = len(collected)
        deferred = list(editor.deferred_sql)
        self.reads.tables.clear()
        error: str | None = None
        try:
            method(*arguments)
        except Exception as exc:  # any failure costs this operation only
            error = f"SQL unavailable: {_first_line(exc)}"
        finally:
            if type(operation) not in _KEEPS_FIELDS and type(operation) is not ops.RenameField:
                # It may advance clones of the states, which share their fields.
                self.copies.forget(None)
        stale = self._stale_read() if self.check_live_reads else None
        if stale:
            error = stale
        if error:
            del collected[start:]
            editor.deferred_sql = deferred
            return OperationSQL(description, (), unavailable=error)
        return OperationSQL(description, tuple(collected[start:]))

    def _stale_read(self) -> str | None:
        for table in dict.fromkeys(self.reads.tables):
            if table in self.changed:
                return (
                    f"SQL unavailable: it depends on the live structure of table {table}, "
                    f"which an earlier operation of this plan changes first."
                )
            if table not in self.reads.live_tables():
                return (
                    f"SQL unavailable: it depends on the live structure of table {table}, "
                    f"which the database does not have yet."
                )
        return None

    def _fresh_in_django(self, operation: Operation) -> bool:
        """Whether the order of rendering must follow Django's rendering of fresh states
        (the state after first) for this operation."""
        return self.order_matters and not self.rendered and _order_sensitive(operation)

    def _reuse_rendering(
        self,
        operation: Operation,
        before: ProjectState,
        selection: _Selection,
        walker: _Walker,
    ) -> _Selection:
        """Give ``before`` the models rendered for an earlier state after an operation,
        when they cover it and none of them changed since. Django's rendered state does
        the same: its models before an operation were rendered after an earlier one.
        Return what ``before``'s rendering holds."""
        if self._fresh_in_django(operation):
            return selection  # Django would render this state fresh, after the other one
        for rendered in reversed(self.rendered_afters):
            if _covers(rendered.selection, selection) and walker.still_valid(rendered):
                before.__dict__["apps"] = rendered.state.apps
                return rendered.selection
        return selection

    def _derive_after(
        self,
        operation: Operation,
        before: _Snapshot,
        have: _Selection,
        selected_before: _Selection,
        after: _Snapshot,
        need: _Selection,
        walker: _Walker,
    ) -> _Selection:
        """Render ``after`` as Django does a state after an operation: a clone of the
        rendering before it, with the changed models rendered again. Return what it holds.

        Where Django renders fresh states (the state after first), the other way round:
        ``after`` fresh, then ``before`` derived from it. Skipped for an operation of
        unknown effect, and for a one-sided operation whose state before is not rendered
        already (rendering it would cost as much as it saves).
        """
        changed = walker.last_changed
        if changed is None or not _derivable(operation):
            return need
        if self._fresh_in_django(operation):
            after.apps  # noqa: B018 - first, as in Django
            self._derive(after, need, before, selected_before, changed)
            return need
        if "apps" not in before.__dict__ and isinstance(operation, _ONE_SIDED):
            return need
        return self._derive(before, have, after, need, changed)

    @staticmethod
    def _derive(
        source: ProjectState,
        have: _Selection,
        target: _Snapshot,
        need: _Selection,
        changed: set[ModelKey],
    ) -> _Selection:
        """Render ``target`` (selected by ``need``) from a clone of ``source``'s
        rendering (which holds ``have``): the stubs the operation did not change are
        kept, everything else is dropped and rendered anew (as ``ProjectState.clone``
        and ``_reload`` do)."""
        if not need.real_apps <= have.real_apps:
            return need
        models = target.models  # full model states, and stubs already reduced
        kept = {
            key: have.stubs[key]
            for key, names in need.stubs.items()
            if key in have.stubs and names <= have.stubs[key] and key not in changed
        }
        # A kept stub must point (through its kept fields) at kept stubs only.
        dropped = True
        while dropped:
            dropped = False
            for key, names in list(kept.items()):
                if any(
                    resolve_relation(f.remote_field.model, *key) not in kept
                    for name, f in models[key].fields.items()
                    if name in names and f.is_relation
                ):
                    del kept[key]
                    dropped = True
        apps = source.apps.clone()
        with apps.bulk_update():
            for app_label, app_models in list(apps.all_models.items()):
                if app_label in need.real_apps:
                    continue
                for model_name in list(app_models):
                    if (app_label, model_name) not in kept:
                        apps.unregister_model(app_label, model_name)
        copies = target.copies
        apps.render_multiple(
            [
                *(copies.renderable(models[key]) for key in need.keys),
                *(
                    copies.renderable(_stub(models[key], names))
                    for key, names in need.stubs.items()
                    if key not in kept
                ),
            ]
        )
        target.__dict__["apps"] = apps
        return _Selection(need.keys, {**need.stubs, **kept}, need.real_apps, need.changed)

    def _render_in_django_order(
        self, operation: Operation, before: ProjectState, rendered: bool
    ) -> None:
        """Render the state before ``operation`` first when Django's would be.

        A SQLite table rebuild lists its columns by the fields' creation order, mixing the
        model before an operation with a field after it. ``sqlmigrate`` renders fresh
        states on first use (the state after first, for most operations); ``migrate``
        keeps its state rendered, so the models before an operation are older.
        """
        if rendered and self.order_matters and not isinstance(operation, _ONE_SIDED):
            before.apps  # noqa: B018 - rendering is the point

    @contextmanager
    def _editor(self, migration: Migration) -> Iterator[BaseDatabaseSchemaEditor]:
        with self.connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            yield editor

    def _result(
        self,
        migration: Migration,
        backwards: bool,
        editor: BaseDatabaseSchemaEditor,
        operations: list[OperationSQL],
        end: int,
    ) -> MigrationSQL:
        features, sql_ops = self.connection.features, self.connection.ops
        wrapped = migration.atomic and features.can_rollback_ddl
        return MigrationSQL(
            app_label=migration.app_label,
            name=migration.name,
            backwards=backwards,
            operations=tuple(operations),
            deferred=tuple(editor.collected_sql[end:]),
            transaction=(
                (sql_ops.start_transaction_sql(), sql_ops.end_transaction_sql())
                if wrapped
                else None
            ),
        )

    def forwards(self, migration: Migration, walker: _Walker) -> MigrationSQL:
        """Collect ``migration`` applied to the walker's state, and advance it past it."""
        app_label = migration.app_label
        operations: list[OperationSQL] = []
        if self.reproduce == "sqlmigrate":
            self.rendered = False  # sqlmigrate starts each migration from a fresh state
        with self._editor(migration) as editor:
            for operation in migration.operations:
                description = operation.describe()
                if not operation.reduces_to_sql:
                    # sqlmigrate skips the state change too, but RunPython has none and
                    # a custom operation's is better kept.
                    walker.advance(operation, app_label)
                    operations.append(OperationSQL(description, (), reduces_to_sql=False))
                    continue
                selected_before = walker.select(operation, app_label)
                before = walker.snapshot(selected_before, copy=True)
                before_contents = self._reuse_rendering(operation, before, selected_before, walker)
                walker.advance(operation, app_label)
                selected_after = walker.select(operation, app_label)
                # Not a copy: it is rendered and used before the state changes again.
                after = walker.snapshot(selected_after, copy=False)
                after_contents = self._derive_after(
                    operation,
                    before,
                    before_contents,
                    selected_before,
                    after,
                    selected_after,
                    walker,
                )
                self._render_in_django_order(operation, before, self.rendered)
                operations.append(
                    self._run(
                        editor,
                        operation,
                        operation.database_forwards,
                        (app_label, editor, before, after),
                    )
                )
                # As Django's state: rendered once an operation renders the state after it.
                if isinstance(operation, _KNOWN):
                    self.rendered |= not isinstance(operation, _AFTER_UNRENDERED)
                else:
                    self.rendered |= "apps" in after.__dict__
                if "apps" in after.__dict__:
                    self.rendered_afters.append(
                        _Rendered(
                            after,
                            after_contents,
                            walker.version,
                            {
                                key: walker.stub_signature(key, names)
                                for key, names in after_contents.stubs.items()
                            },
                        )
                    )
                self.changed |= self._tables((before, after), (selected_before, selected_after))
            end = len(editor.collected_sql)
        return self._result(migration, False, editor, operations, end)

    def backwards(self, migration: Migration) -> MigrationSQL:
        """Collect ``migration`` unapplied, from the state ``sqlmigrate --backwards`` uses."""
        app_label = migration.app_label
        walker = _Walker(state_before_migration(self.loader, migration), self.copies)
        # Phase 1, as Migration.unapply: the states around each operation, forwards.
        steps = []
        for operation in migration.operations:
            selected_before = walker.select(operation, app_label)
            before = walker.snapshot(selected_before, copy=True)
            walker.advance(operation, app_label)
            selected_after = walker.select(operation, app_label)
            after = walker.snapshot(selected_after, copy=True)
            changed = self._tables((before, after), (selected_before, selected_after))
            steps.append((operation, before, after, changed))
        # Phase 2: unapply in reverse order.
        operations: list[OperationSQL] = []
        with self._editor(migration) as editor:
            for operation, before, after, changed in reversed(steps):
                description = operation.describe()
                if not operation.reversible:
                    # migrate checks every operation first and refuses the migration.
                    operations.append(
                        OperationSQL(
                            description,
                            (),
                            unavailable=(
                                "SQL unavailable: this operation cannot be reversed, so "
                                "migrate refuses to unapply the migration."
                            ),
                            reduces_to_sql=operation.reduces_to_sql,
                        )
                    )
                    continue
                if not operation.reduces_to_sql:
                    operations.append(OperationSQL(description, (), reduces_to_sql=False))
                    continue
                # Unapplying renders fresh clones, except in migrate's rendered state.
                self._render_in_django_order(operation, before, self.reproduce == "migrate")
                operations.append(
                    self._run(
                        editor,
                        operation,
                        operation.database_backwards,
                        (app_label, editor, after, before),
                    )
                )
                self.changed |= changed
            end = len(editor.collected_sql)
        return self._result(migration, True, editor, operations, end)


def collect_plan_sql(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    plan: Sequence[tuple[Migration, bool]],
    *,
    start_state: ProjectState | None = None,
    reproduce: Reproduce = "sqlmigrate",
    check_live_reads: bool = True,
) -> tuple[MigrationSQL, ...]:
    """The SQL of every step of ``plan`` (``(migration, backwards)`` pairs, in order).

    Forward steps advance one state from ``start_state`` (default: the state of the
    plan's applied ancestors, :func:`~migration_ops.core.states.plan_start_state`);
    ``start_state`` is not modified. A backward step starts from the state ``sqlmigrate
    --backwards`` gives it (its ancestors in the graph). Plans are all forwards or all
    backwards, as ``migrate`` makes them.

    ``reproduce`` picks whose SQL to reproduce where Django's own tools disagree, which
    is only the column order of SQLite table rebuilds: ``"sqlmigrate"`` (each migration
    as ``sqlmigrate`` prints it, the default), ``"collect_sql"`` (as
    ``MigrationLoader.collect_sql(plan)`` collects the whole plan) or ``"migrate"`` (as
    ``migrate`` runs it, its state rendered from the start).

    ``check_live_reads=False`` keeps the SQL of operations that read the live structure
    of a table the plan changes first, or that the database lacks: it is then what
    Django prints, not what ``migrate`` will run.

    On SQLite, call it outside any transaction: the schema editor, even one that only
    collects SQL, refuses to start inside one (as ``sqlmigrate`` does).
    """
    if not plan:
        return ()
    state = (
        unrendered_copy(start_state) if start_state is not None else plan_start_state(loader, plan)
    )
    collector = _Collector(connection, loader, reproduce, check_live_reads)
    walker = _Walker(state, collector.copies)
    results = []
    with collector.reads.watching(), _swappable_names_cached(), _older_objects_frozen():
        for migration, backwards in plan:
            if backwards:
                results.append(collector.backwards(migration))
            else:
                results.append(collector.forwards(migration, walker))
    return tuple(results)
