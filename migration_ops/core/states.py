"""Project states advanced through a migration graph, cheaply.

Django's ``MigrationGraph.make_state`` walks the graph once per node it is given and keeps
its plan in a list (quadratic in the history), and every ``AlterField`` scans all fields
of the project for references to the altered one, only to decide how to re-render models
that nobody has rendered. Here the ancestors are walked once and states are
:class:`AdvancingState`\\ s, which skip that scan while they are not rendered. The model
states that come out are the same as Django's (tests compare them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.utils import resolve_relation
from django.db.models import NOT_PROVIDED, Field

ModelKey = tuple[str, str]  # (app_label, model_name_lower), as ProjectState.models keys
MigrationKey = tuple[str, str]  # (app_label, migration_name)

__all__ = [
    "AdvancingState",
    "ModelKey",
    "advance",
    "ancestors_in_order",
    "applied_state",
    "plan_start_state",
    "state_after",
    "state_before_migration",
    "substate",
    "unrendered_copy",
]


class AdvancingState(ProjectState):
    """A ``ProjectState`` meant to be advanced with ``state_forwards`` before any rendering.

    While nothing is rendered (no ``apps``, no relation registry), two scans of every field
    of the project are avoided; on a long history with big models they are most of the
    cost of a replay, and they grow with history x project size:

    - ``alter_field`` looks for references to the altered field only to decide how to
      re-render models: with nothing rendered there is nothing to decide;
    - ``rename_field`` must repoint the references to the renamed field: it is given only
      the models that may hold one, from an index of which models have relations to which
      (a superset, built on first use and kept up to date through ``reload_model``, which
      every change of a model state calls).
    """

    # Model -> models with a relational field pointing at it (or through it); may hold
    # more than that, never less. None until the first rename.
    _referrers: dict[ModelKey, set[ModelKey]] | None = None
    _stale: set[ModelKey]  # models changed since the index was last brought up to date

    def alter_field(
        self,
        app_label: str,
        model_name: str,
        name: str,
        field: Field,
        preserve_default: bool,
    ) -> None:
        if "apps" in self.__dict__ or self._relations is not None:
            super().alter_field(app_label, model_name, name, field, preserve_default)
            return
        if not preserve_default:  # as Django does: the default was only for existing rows
            field = field.clone()
            field.default = NOT_PROVIDED
        self.models[app_label, model_name].fields[name] = field

    def rename_field(self, app_label: str, model_name: str, old_name: str, new_name: str) -> None:
        if "apps" in self.__dict__ or self._relations is not None:
            super().rename_field(app_label, model_name, old_name, new_name)
            return
        key = (app_label, model_name)
        models = self.models
        candidates = self._referrers_of(key)
        self.models = {k: v for k, v in models.items() if k in candidates}
        try:
            super().rename_field(app_label, model_name, old_name, new_name)
        finally:
            self.models = models

    def add_model(self, model_state: ModelState) -> None:
        super().add_model(model_state)
        self._changed((model_state.app_label, model_state.name_lower))

    def reload_model(self, app_label: str, model_name: str, delay: bool = False) -> None:
        self._changed((app_label, model_name))
        super().reload_model(app_label, model_name, delay)

    def reload_models(self, models: Iterable[ModelKey], delay: bool = True) -> None:
        models = list(models)
        for key in models:
            self._changed(key)
        super().reload_models(models, delay)

    def _changed(self, key: ModelKey) -> None:
        if self._referrers is not None:
            self._stale.add(key)

    def _referrers_of(self, key: ModelKey) -> set[ModelKey]:
        if self._referrers is None:
            self._referrers, self._stale = {}, set(self.models)
        for stale in self._stale:
            model_state = self.models.get(stale)
            if model_state is None:
                continue
            for field in model_state.fields.values():
                for target in _relation_targets(field, stale):
                    self._referrers.setdefault(target, set()).add(stale)
        self._stale = set()
        return {key, *self._referrers.get(key, ())}

    def clone(self) -> AdvancingState:
        new = super().clone()
        new.__class__ = AdvancingState
        return new  # type: ignore[return-value]


def _relation_targets(field: Field, key: ModelKey) -> Iterator[ModelKey]:
    """The models a field of model ``key`` refers to, as ``field_references`` reads them."""
    remote_field = field.remote_field
    if not remote_field:
        return
    yield resolve_relation(remote_field.model, *key)
    through = getattr(remote_field, "through", None)
    if through:
        yield resolve_relation(through, *key)


def ancestors_in_order(
    loader: MigrationLoader, roots: Iterable[MigrationKey]
) -> list[MigrationKey]:
    """Every ancestor of ``roots`` (roots included), parents first: one depth-first walk
    for the whole set, where ``graph.make_state`` would walk once per root."""
    node_map = loader.graph.node_map
    seen: set[MigrationKey] = set()
    order: list[MigrationKey] = []
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(node_map[root].parents)))]
        while stack:
            key, parents = stack[-1]
            for parent in parents:
                if parent.key not in seen:
                    seen.add(parent.key)
                    stack.append((parent.key, iter(sorted(node_map[parent.key].parents))))
                    break
            else:
                stack.pop()
                order.append(key)
    return order


def advance(
    state: ProjectState, loader: MigrationLoader, keys: Iterable[MigrationKey]
) -> ProjectState:
    """Apply the state changes of the migrations ``keys`` (in that order) to ``state``."""
    nodes: dict[MigrationKey, Any] = loader.graph.nodes
    for key in keys:
        nodes[key].mutate_state(state, preserve=False)
    return state


def state_after(
    loader: MigrationLoader,
    nodes: Iterable[MigrationKey],
    *,
    skip: Iterable[MigrationKey] = (),
) -> AdvancingState:
    """The state after ``nodes`` and all their ancestors, minus the migrations ``skip``
    (``make_state(nodes, at_end=True)``; unmigrated apps are ``real_apps``)."""
    skipped = set(skip)
    state = AdvancingState(real_apps=set(loader.unmigrated_apps))
    order = ancestors_in_order(loader, sorted(nodes))
    advance(state, loader, (key for key in order if key not in skipped))
    return state


def applied_state(connection: Any, loader: MigrationLoader | None = None) -> AdvancingState:
    """The project state after the migrations recorded as applied on ``connection``.

    Apps without migrations are included as they are now (``real_apps``), as ``migrate``
    would see them. Pass ``loader`` to reuse one already built for this connection.
    """
    if loader is None:
        loader = MigrationLoader(connection)
    # Squashed migrations: the loader already replaced recorded rows with the node that
    # is in the graph; rows without a node (deleted files) cannot contribute state.
    return state_after(loader, (k for k in loader.applied_migrations if k in loader.graph.nodes))


def plan_start_state(
    loader: MigrationLoader, plan: Sequence[tuple[Migration, bool]]
) -> AdvancingState:
    """The state a forward plan starts from, without rendering: every ancestor of the
    plan's migrations that the plan does not apply itself (that is, the applied ones)."""
    keys = [(m.app_label, m.name) for m, backwards in plan if not backwards]
    return state_after(loader, keys, skip=keys)


def state_before_migration(loader: MigrationLoader, migration: Migration) -> AdvancingState:
    """The state ``sqlmigrate`` gives a migration: its ancestors', from the graph."""
    key = (migration.app_label, migration.name)
    return state_after(loader, [key], skip=[key])


def migrate_backward_states(
    loader: MigrationLoader, migrations: Iterable[Migration]
) -> dict[MigrationKey, AdvancingState]:
    """The state ``migrate`` unapplies each of ``migrations`` from, as
    ``MigrationExecutor._migrate_all_backwards`` builds it: one state walks the full plan
    of all leaf nodes (``migration_plan(leaf_nodes(), clean_start=True)``), advanced by
    every applied migration and by each migration to unapply, and the state just before
    each of those is kept. It holds the applied migrations of other apps that come first
    in that plan, ancestors or not, where ``sqlmigrate --backwards`` has the ancestors only.

    Needs ``loader.applied_migrations`` (a loader built on a connection). States are
    copied only where one is kept; none of them is rendered.
    """
    graph = loader.graph
    to_run = {(m.app_label, m.name) for m in migrations}
    applied = {key for key in loader.applied_migrations or () if key in graph.nodes}
    full_plan: dict[MigrationKey, None] = {}
    for leaf in graph.leaf_nodes():
        full_plan.update(dict.fromkeys(graph.forwards_plan(leaf)))
    states: dict[MigrationKey, AdvancingState] = {}
    state = AdvancingState(real_apps=set(loader.unmigrated_apps))
    for key in full_plan:
        if len(states) == len(to_run):
            break
        if key in to_run:
            states[key] = unrendered_copy(state)
        elif key not in applied:
            continue
        graph.nodes[key].mutate_state(state, preserve=False)
    return states


def unrendered_copy(state: ProjectState) -> AdvancingState:
    """A copy of ``state`` that is safe to advance with ``state_forwards``, and cheap to
    advance: a rendered ``apps`` is not carried over (every change would re-render)."""
    return AdvancingState(
        models={key: model.clone() for key, model in state.models.items()},
        real_apps=set(state.real_apps),
    )


def substate(state: ProjectState, keys: Iterable[ModelKey]) -> AdvancingState:
    """A small unrendered state holding copies of the model states ``keys`` that exist."""
    return AdvancingState(
        models={key: state.models[key].clone() for key in keys if key in state.models},
        real_apps=set(state.real_apps),
    )
