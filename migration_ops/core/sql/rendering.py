"""How Django renders the states around an operation: which operations' SQL is sensitive
to the order of rendering, which render the state after them, and deriving one rendering
from another as ``ProjectState.clone`` and ``StateApps`` reloading do."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from django.db.migrations import operations as ops
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import AppConfigStub, ProjectState, StateApps
from django.db.migrations.utils import resolve_relation

from migration_ops.core.sql.field_copies import Snapshot
from migration_ops.core.sql.selection import Selection, stub_state
from migration_ops.core.states import ModelKey

# Operations whose SQL mixes a model before them with a field after them (SQLite's table
# rebuilds list columns by the fields' creation order): where Django's state would be
# rendered fresh, these must render in Django's order. Unknown operation types too.
ORDER_SENSITIVE = (
    ops.AddField,
    ops.AlterField,
    ops.RenameField,
    ops.RenameModel,
    ops.AlterOrderWithRespectTo,
    ops.SeparateDatabaseAndState,
)
KNOWN = (
    ops.models.ModelOperation,
    ops.fields.FieldOperation,
    ops.models.IndexOperation,
    ops.RunSQL,
    ops.RunPython,
    ops.SeparateDatabaseAndState,
)
# Operations whose database_forwards does not render the state after them: Django's
# state stays unrendered through them.
AFTER_UNRENDERED = (
    ops.DeleteModel,
    ops.RemoveField,
    ops.RemoveIndex,
    ops.AlterModelOptions,
    ops.AlterModelManagers,
    ops.RunSQL,
    ops.RunPython,
)


def order_sensitive(operation: Operation) -> bool:
    return isinstance(operation, ORDER_SENSITIVE) or not isinstance(operation, KNOWN)


def derivable(operation: Operation) -> bool:
    # A state may be derived from another rendering for the operations whose rendering
    # order is known (Django renders the state after them first, when fresh).
    return isinstance(operation, KNOWN) and not isinstance(operation, ops.SeparateDatabaseAndState)


# Operations whose SQL renders the state on one side only: rendering the other side in
# Django's order would be wasted.
ONE_SIDED = (
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


# What an empty StateApps holds, by attribute: the containers are made anew for each clone.
_REGISTRY_CONTAINERS = {
    "all_models": lambda: defaultdict(dict),
    "app_configs": dict,
    "stored_app_configs": list,
    "_pending_operations": lambda: defaultdict(list),
    "real_models": list,
}
_REGISTRY_FLAGS = {"apps_ready", "models_ready", "ready", "loading", "ready_event", "_lock"}


@cache
def _empty_registry() -> dict[str, Any] | None:
    """The attributes of an empty ``StateApps`` as Django's constructor makes it, or None
    when they are not the ones :func:`clone_registry` knows (another Django version)."""
    attributes = dict(vars(StateApps([], {})))
    if set(attributes) != set(_REGISTRY_CONTAINERS) | _REGISTRY_FLAGS:
        return None
    if any(not isinstance(attributes[name], (bool, type(None))) for name in _REGISTRY_FLAGS):
        return None
    return attributes


def clone_registry(apps: StateApps) -> StateApps:
    """``apps.clone()``, without building the empty registry from scratch each time and
    deep-copying the model classes' mapping (classes copy as themselves)."""
    empty = _empty_registry()
    if empty is None or type(apps) is not StateApps:
        return apps.clone()
    clone = object.__new__(StateApps)
    clone.__dict__.update(empty)
    for name, make in _REGISTRY_CONTAINERS.items():
        setattr(clone, name, make())
    for app_label, models in apps.all_models.items():
        clone.all_models[app_label] = dict(models)
    for app_label in apps.app_configs:
        app_config = AppConfigStub(app_label)
        app_config.apps = clone
        app_config.import_models()
        clone.app_configs[app_label] = app_config
    clone.real_models = apps.real_models  # never changed, as in StateApps.clone
    return clone


def derive_rendering(
    source: ProjectState,
    have: Selection,
    target: Snapshot,
    need: Selection,
    changed: set[ModelKey],
) -> Selection:
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
    apps = clone_registry(source.apps)
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
                copies.renderable(stub_state(models[key], names))
                for key, names in need.stubs.items()
                if key not in kept
            ),
        ]
    )
    target.__dict__["apps"] = apps
    return Selection(need.keys, {**need.stubs, **kept}, need.real_apps, need.changed)
