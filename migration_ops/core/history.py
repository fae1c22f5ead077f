"""Migration history of one database: the recorded rows against the loaded migration graph.

Built on ``django.db.migrations`` (the targets and the plan are in :mod:`.plan`): the
findings are what ``migrate`` would trip over (conflicts, inconsistent
history, partly applied squashes), what it cannot see (ghost and stale rows), and what
``migrate --fake-initial`` exists for (initial migrations whose tables already exist).

Everything here is linear in the size of the graph: a project may have thousands of
migrations. Only the initial migrations that are not applied are looked at closely, and a
rendered project state is built only when one of their tables already exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from django.apps import apps as global_apps
from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import NodeNotFoundError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from migration_ops import compat
from migration_ops.core.states import state_after
from migration_ops.core.tables import auto_m2m_tables, can_migrate, db_table
from migration_ops.exceptions import BrokenMigrationGraph

MigrationKey = tuple[str, str]
Target = tuple[str, str | None]  # (app_label, None) means "zero"
_Allowed = Callable[[str, str], bool]

__all__ = [
    "ExistingInitialTables",
    "History",
    "InconsistentDependency",
    "MigrationKey",
    "PartialSquash",
    "graph_errors",
    "load_history",
    "load_loader",
]


def _label(key: MigrationKey) -> str:
    return f"{key[0]}.{key[1]}"


# --------------------------------------------------------------------------- loading


@contextmanager
def graph_errors(loader: MigrationLoader | None = None) -> Iterator[None]:
    """Turn the errors of an unbuildable migration graph into ``BrokenMigrationGraph``.

    ``loader`` (when known) lets an unresolvable ``__first__``/``__latest__`` dependency
    name the migrations that need it; Django only names the app.
    """
    try:
        yield
    except NodeNotFoundError as exc:
        raise BrokenMigrationGraph.from_node_not_found(exc) from exc
    except ValueError as exc:
        # MigrationLoader.check_key: a dependency on ``(app, "__first__")`` of an app that
        # is not installed (or has no migrations). Other ValueErrors are not ours.
        needers = _unresolvable_app_dependencies(loader) if loader is not None else {}
        if not str(exc).startswith("Dependency on") or not needers:
            raise
        problems = "; ".join(
            f"{', '.join(f'migration {_label(k)}' for k in keys)} "
            f"{'refers' if len(keys) == 1 else 'refer'} to {app}.{name}, but app '{app}' is "
            "not installed or has no migrations"
            for (app, name), keys in sorted(needers.items())
        )
        raise BrokenMigrationGraph(
            f"The migration graph is broken: {problems}. Reinstall the app, or remove the "
            "dependency on it."
        ) from exc


def _unresolvable_app_dependencies(
    loader: MigrationLoader,
) -> dict[MigrationKey, list[MigrationKey]]:
    disk = getattr(loader, "disk_migrations", None) or {}
    migrated = getattr(loader, "migrated_apps", set())
    unmigrated = getattr(loader, "unmigrated_apps", set())
    with_files = {key[0] for key in disk}
    needers: dict[MigrationKey, list[MigrationKey]] = {}
    for key, migration in sorted(disk.items()):
        for dep in migration.dependencies:
            if dep[0] == key[0] or dep[1] not in ("__first__", "__latest__"):
                continue
            if dep[0] in unmigrated or (dep[0] in migrated and dep[0] in with_files):
                continue
            needers.setdefault((dep[0], dep[1]), []).append(key)
    return needers


def load_loader(connection: BaseDatabaseWrapper) -> MigrationLoader:
    """A ``MigrationLoader`` for ``connection``; an unbuildable graph raises
    ``BrokenMigrationGraph``."""
    loader = MigrationLoader(connection, load=False)
    with graph_errors(loader):
        loader.build_graph()
    return loader


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class InconsistentDependency:
    """``migration`` is recorded as applied, ``dependency`` (one of its parents) is not."""

    alias: str
    migration: MigrationKey
    dependency: MigrationKey

    @property
    def message(self) -> str:
        return (
            f"Migration {_label(self.migration)} is applied before its dependency "
            f"{_label(self.dependency)} on database '{self.alias}'; if the changes of "
            f"{_label(self.dependency)} are in the database, record it in django_migrations, "
            f"otherwise remove the row of {_label(self.migration)} (`migrate` refuses to run "
            "until then)."
        )


@dataclass(frozen=True)
class PartialSquash:
    """A squashed migration only some of whose replaced migrations are recorded."""

    alias: str
    squash: MigrationKey
    applied: tuple[MigrationKey, ...]
    unapplied: tuple[MigrationKey, ...]

    @property
    def message(self) -> str:
        return (
            f"Squashed migration {_label(self.squash)} is partly applied on database "
            f"'{self.alias}': {', '.join(map(_label, self.applied))} "
            f"{'is' if len(self.applied) == 1 else 'are'} recorded but "
            f"{', '.join(map(_label, self.unapplied))} "
            f"{'is' if len(self.unapplied) == 1 else 'are'} not; run `migrate "
            f"{self.squash[0]}` while the replaced migration files still exist."
        )


@dataclass(frozen=True)
class ExistingInitialTables:
    """An unapplied initial migration some of whose tables already exist."""

    alias: str
    migration: MigrationKey
    tables: tuple[str, ...]  # would be created and already exist
    missing_tables: tuple[str, ...] = ()  # would be created and do not exist

    @property
    def message(self) -> str:
        head = (
            f"Initial migration {_label(self.migration)} is not applied on database "
            f"'{self.alias}' but its {'table' if len(self.tables) == 1 else 'tables'} "
            f"{', '.join(self.tables)} already {'exists' if len(self.tables) == 1 else 'exist'}"
        )
        if not self.missing_tables:
            return f"{head}; run `migrate --fake-initial` if they match the migration."
        return (
            f"{head} and {', '.join(self.missing_tables)} "
            f"{'does' if len(self.missing_tables) == 1 else 'do'} not; `migrate --fake-initial` "
            "cannot help, drop or rename the existing tables, or create the missing ones and "
            "fake the migration."
        )


@dataclass(frozen=True)
class History:
    alias: str
    applied: frozenset[MigrationKey]  # the rows of django_migrations
    ghosts: tuple[MigrationKey, ...]  # recorded for an installed app, no migration file
    stale_rows: Mapping[str, tuple[str, ...]]  # rows of app labels that are not installed
    conflicts: Mapping[str, tuple[str, ...]]  # app -> its leaf migrations, when > 1
    inconsistent: tuple[InconsistentDependency, ...]
    partial_squashes: tuple[PartialSquash, ...]
    existing_initial_tables: tuple[ExistingInitialTables, ...]

    @property
    def clean(self) -> bool:
        """Whether nothing at all was found."""
        return not (
            self.ghosts
            or self.stale_rows
            or self.conflicts
            or self.inconsistent
            or self.partial_squashes
            or self.existing_initial_tables
        )

    @property
    def messages(self) -> tuple[str, ...]:
        """One sentence per finding, each saying what to do."""
        out = [
            f"App '{app}' has conflicting leaf migrations {', '.join(names)}; merge them with "
            f"`makemigrations --merge {app}`."
            for app, names in self.conflicts.items()
        ]
        out += [
            f"Migration {app}.{name} is recorded as applied on database '{self.alias}' but has "
            f"no migration file; restore the file, or remove the row with `migrate --prune {app}`."
            for app, name in self.ghosts
        ]
        out += [
            f"App '{app}' is not installed but database '{self.alias}' records {len(names)} "
            f"{'migration' if len(names) == 1 else 'migrations'} of it; delete "
            f"{'its row' if len(names) == 1 else 'these rows'} from django_migrations if the "
            "app was removed for good."
            for app, names in self.stale_rows.items()
        ]
        out += [item.message for item in self.inconsistent]
        out += [item.message for item in self.partial_squashes]
        out += [item.message for item in self.existing_initial_tables]
        return tuple(out)


def load_history(connection: BaseDatabaseWrapper, loader: MigrationLoader | None = None) -> History:
    """The history of ``connection``'s database against the migration graph.

    ``loader`` defaults to a fresh ``MigrationLoader(connection)``; pass the one of an
    executor to share its graph.
    """
    if loader is None:
        loader = load_loader(connection)
    alias = connection.alias
    rows = _recorded(connection, loader)
    installed = {config.label for config in global_apps.get_app_configs()}

    # A row for a migration that a squash on disk replaces is needed while the squash
    # keeps ``replaces`` (without it the squash counts as unapplied): not a ghost.
    replaced = {tuple(key) for squash in loader.replacements.values() for key in squash.replaces}
    ghosts = tuple(
        sorted(
            key
            for key in rows
            if key[0] in installed and key not in loader.disk_migrations and key not in replaced
        )
    )
    stale: dict[str, list[str]] = {}
    for app, name in rows:
        if app not in installed:
            stale.setdefault(app, []).append(name)

    return History(
        alias=alias,
        applied=rows,
        ghosts=ghosts,
        stale_rows=MappingProxyType({app: tuple(sorted(stale[app])) for app in sorted(stale)}),
        conflicts=MappingProxyType(
            {app: tuple(names) for app, names in sorted(loader.detect_conflicts().items())}
        ),
        inconsistent=_inconsistent(loader, rows, alias),
        partial_squashes=_partial_squashes(loader, rows, alias),
        existing_initial_tables=_existing_initial_tables(loader, connection),
    )


def _recorded(connection: BaseDatabaseWrapper, loader: MigrationLoader) -> frozenset[MigrationKey]:
    """The rows of ``django_migrations``. The loader read them as it was built, and only
    squashes make its ``applied_migrations`` differ from them (a squash added or left out):
    without any, they are reused rather than read again."""
    read_here = loader.connection is connection and loader.applied_migrations is not None
    if read_here and not loader.replacements:
        return frozenset(loader.applied_migrations)
    return frozenset(MigrationRecorder(connection).applied_migrations())


def _inconsistent(
    loader: MigrationLoader, rows: frozenset[MigrationKey], alias: str
) -> tuple[InconsistentDependency, ...]:
    """``MigrationLoader.check_consistent_history``, collecting every problem."""
    graph = loader.graph
    found = []
    for key in rows:
        if key not in graph.nodes:  # unknown (ghost, stale, replaced): skipped as Django does
            continue
        for parent in graph.node_map[key].parents:
            dependency = parent.key
            if dependency in rows:
                continue
            # An unrecorded squash whose replaced migrations are all recorded is applied.
            if compat.all_replaced_applied(loader, dependency, rows):
                continue
            found.append(InconsistentDependency(alias, key, dependency))
    return tuple(sorted(found, key=lambda item: (item.migration, item.dependency)))


def _partial_squashes(
    loader: MigrationLoader, rows: frozenset[MigrationKey], alias: str
) -> tuple[PartialSquash, ...]:
    found = []
    for key in sorted(loader.replacements):
        replaces = compat.replaced_leaves(loader.disk_migrations, key)
        applied = tuple(k for k in replaces if k in rows)
        if applied and len(applied) < len(replaces):
            unapplied = tuple(k for k in replaces if k not in rows)
            found.append(PartialSquash(alias, key, applied, unapplied))  # type: ignore[arg-type]
    return tuple(found)


# --------------------------------------------------------------------------- initial tables


# A named tuple, not a frozen dataclass: cheaper to create at import (see expected.py).
class _CreatedTable(NamedTuple):
    model: str  # lower-case model name, for the router
    table: str


def _existing_initial_tables(
    loader: MigrationLoader, connection: BaseDatabaseWrapper
) -> tuple[ExistingInitialTables, ...]:
    applied = loader.applied_migrations
    candidates = [
        (key, migration)
        for key, migration in sorted(loader.graph.nodes.items())
        if key not in applied and _is_initial(migration)
    ]
    if not candidates:
        return ()
    fold = connection.features.ignores_table_name_case
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    if fold:
        existing = {name.casefold() for name in existing}

    def exists(table: str) -> bool:
        return (table.casefold() if fold else table) in existing

    hits: dict[MigrationKey, list[_CreatedTable]] = {}
    for key, migration in candidates:
        created = _created_tables(migration, connection)
        if any(exists(item.table) for item in created):
            hits[key] = created
    if not hits:
        return ()

    allowed = _router_filter(loader, connection, hits)
    found = []
    for key, created in hits.items():
        tables = [item.table for item in created if allowed(key[0], item.model)]
        present = tuple(t for t in tables if exists(t))
        if present:
            missing = tuple(t for t in tables if not exists(t))
            found.append(ExistingInitialTables(connection.alias, key, present, missing))
    return tuple(found)


def _is_initial(migration: Migration) -> bool:
    """The rule of ``MigrationExecutor.detect_soft_applied``."""
    if migration.initial is None:
        return not any(app == migration.app_label for app, _ in migration.dependencies)
    return bool(migration.initial)


def _created_tables(migration: Migration, connection: BaseDatabaseWrapper) -> list[_CreatedTable]:
    """The tables ``migration`` would create on ``connection``, by model, from its
    operations alone (a small state of this migration's models, never rendered)."""
    state = ProjectState()
    for operation in migration.operations:
        try:
            operation.state_forwards(migration.app_label, state)
        except KeyError:
            # An operation on a model of an earlier migration: it creates no table here.
            continue
    created = []
    for model_state in state.models.values():
        if not can_migrate(model_state, connection):
            continue
        created.append(_CreatedTable(model_state.name_lower, db_table(model_state)))
        created.extend(
            _CreatedTable(model_state.name_lower, m2m) for _, m2m in auto_m2m_tables(model_state)
        )
    return created


def _router_filter(
    loader: MigrationLoader,
    connection: BaseDatabaseWrapper,
    hits: Mapping[MigrationKey, list[_CreatedTable]],
) -> _Allowed:
    """``router.allow_migrate_model`` for the models of ``hits``, with historical models
    from one state rendered after all of them (only reached when a table exists)."""
    state_apps = state_after(loader, hits).apps
    alias = connection.alias

    def allowed(app_label: str, model_name: str) -> bool:
        try:
            model = state_apps.get_model(app_label, model_name)
        except LookupError:
            # Gone again by the end of the state (deleted by a later migration that
            # another hit depends on): route by name, as ``detect_soft_applied`` does.
            return bool(router.allow_migrate(alias, app_label, model_name=model_name))
        return bool(router.allow_migrate_model(alias, model))

    return allowed
