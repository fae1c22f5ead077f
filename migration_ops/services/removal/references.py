"""What stays and still refers to the apps: models of installed apps, migration files of
other apps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.apps import apps as global_apps
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.services.removal.plan import CodeReference, DependentMigration

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.migrations.migration import Migration

    from migration_ops.core.ownership import Ownership
    from migration_ops.core.schema import Schema


def code_references(removed: set[str]) -> tuple[CodeReference, ...]:
    found: dict[tuple[str, str, str], None] = {}
    for model in global_apps.get_models():
        opts = model._meta
        if opts.app_label in removed:
            continue
        targets: list[tuple[str, Any]] = [(f"(parent) {p._meta.label}", p) for p in opts.parents]
        if opts.proxy and opts.proxy_for_model is not None:
            targets.append(("(proxy)", opts.proxy_for_model))
        for model_field in [*opts.local_fields, *opts.local_many_to_many]:
            remote = model_field.remote_field
            if remote is not None:
                targets.append((model_field.name, remote.model))
                through = getattr(remote, "through", None)
                if through is not None:
                    targets.append((model_field.name, through))
        for field_name, target in targets:
            label, name = _model_label(target, opts.app_label)
            if label in removed:
                found[(opts.label, field_name.split(" ")[0], f"{label}.{name}")] = None
    return tuple(CodeReference(*key) for key in found)


def _model_label(target: Any, own_app: str) -> tuple[str, str]:
    """(app label, model name) of a model class or lazy reference ("app.Model", "Model")."""
    if isinstance(target, str):
        if target == "self":
            return own_app, target
        app, _, name = target.rpartition(".")
        return app or own_app, name
    return target._meta.app_label, target._meta.object_name


def dependent_migrations(
    connection: BaseDatabaseWrapper, removed: set[str]
) -> tuple[DependentMigration, ...]:
    """Migration files of other apps that declare a dependency on a removed app: read from
    disk, so that it works whether or not the removed apps are installed."""
    return _dependents(*_disk_migrations(connection), removed)


def remove_together(
    labels: Sequence[str],
    connection: BaseDatabaseWrapper,
    live: Schema,
    ownership: Ownership,
) -> tuple[str, ...]:
    """``labels`` and every app that would have to go with them: apps whose models refer to
    their models, whose migrations depend on theirs, or whose tables have foreign keys into
    theirs, and so on until nothing outside the set refers to it. The given labels first, in
    their order, then the others sorted."""
    disk, applied = _disk_migrations(connection)
    together = set(labels)
    while True:
        more = {r.model.partition(".")[0] for r in code_references(together)}
        more |= {d.migration.partition(".")[0] for d in _dependents(disk, applied, together)}
        for label in together:
            for table in ownership.tables_of(label):
                for incoming in live.incoming_foreign_keys(table):
                    owner = ownership.owners[incoming.from_table].app_label
                    if owner is not None:
                        more.add(owner)
        if more <= together:
            return (*labels, *sorted(together - set(labels)))
        together |= more


def _disk_migrations(
    connection: BaseDatabaseWrapper,
) -> tuple[dict[tuple[str, str], Migration], set[tuple[str, str]]]:
    """The migration files of the installed apps, and the applied migrations."""
    loader = MigrationLoader(connection, load=False)
    loader.load_disk()
    recorder = MigrationRecorder(connection)
    applied = set(recorder.applied_migrations()) if recorder.has_table() else set()
    return loader.disk_migrations, applied


def _dependents(
    disk: dict[tuple[str, str], Migration], applied: set[tuple[str, str]], removed: set[str]
) -> tuple[DependentMigration, ...]:
    found = []
    for key, migration in sorted(disk.items()):
        depends_on = tuple(
            f"{app}.{name}"
            for app, name in migration.dependencies
            if app in removed and app != key[0]
        )
        if depends_on:
            found.append(
                DependentMigration(
                    migration=f"{key[0]}.{key[1]}",
                    depends_on=depends_on,
                    applied=key in applied,
                    removed=key[0] in removed,
                )
            )
    return tuple(found)
