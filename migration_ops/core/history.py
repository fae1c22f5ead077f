"""Migration history of one database: the recorded rows against the loaded migration graph.

Built on ``django.db.migrations``: the targets and the plan are exactly what ``migrate``
computes; the findings are what ``migrate`` would trip over (conflicts, inconsistent
history, partly applied squashes), what it cannot see (ghost and stale rows), and what
``migrate --fake-initial`` exists for (initial migrations whose tables already exist).

Everything here is linear in the size of the graph: a project may have thousands of
migrations. Only the initial migrations that are not applied are looked at closely, and a
rendered project state is built only when one of their tables already exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

from django.apps import apps as global_apps
from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import AmbiguityError, NodeNotFoundError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from migration_ops import compat
from migration_ops.core.states import state_after
from migration_ops.core.tables import auto_m2m_tables, can_migrate, db_table
from migration_ops.exceptions import BrokenMigrationGraph, UnknownApp, UnknownMigration

MigrationKey = tuple[str, str]
Target = tuple[str, str | None]  # (app_label, None) means "zero"
_Allowed = Callable[[str, str], bool]

__all__ = [
    "ExistingInitialTables",
    "History",
    "InconsistentDependency",
    "MigrationKey",
    "PartialSquash",
    "PlanStep",
    "graph_errors",
    "load_history",
    "load_loader",
    "migration_plan",
    "resolve_targets",
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


# --------------------------------------------------------------------------- targets


def resolve_targets(
    loader: MigrationLoader,
    app_label: str | None = None,
    migration_name: str | None = None,
) -> list[Target]:
    """The targets ``migrate [app_label [migration_name]]`` would compute, validated the
    same way (with messages that say what to do)."""
    if app_label is None:
        if migration_name is not None:
            raise UnknownMigration(
                f"Migration name '{migration_name}' was given without an app label; "
                "give the app label first."
            )
        return list(loader.graph.leaf_nodes())
    try:
        global_apps.get_app_config(app_label)
    except LookupError as exc:
        # Django's own wording, which scripts may already match on.
        raise UnknownApp(f"No installed app with label '{app_label}'.") from exc
    if app_label not in loader.migrated_apps:
        raise UnknownApp(
            f"App '{app_label}' does not have migrations. Create them with "
            f"`makemigrations {app_label}`, or leave the app out."
        )
    if migration_name is None:
        return [key for key in loader.graph.leaf_nodes() if key[0] == app_label]
    if migration_name == "zero":
        return [(app_label, None)]
    try:
        migration = loader.get_migration_by_prefix(app_label, migration_name)
    except AmbiguityError as exc:
        matches = sorted(
            name
            for app, name in loader.disk_migrations
            if app == app_label and name.startswith(migration_name)
        )
        raise UnknownMigration(
            f"More than one migration matches '{migration_name}' in app '{app_label}' "
            f"({', '.join(matches)}). Please be more specific."
        ) from exc
    except KeyError as exc:
        raise UnknownMigration(
            f"Cannot find a migration matching '{migration_name}' from app '{app_label}'. "
            f"Run `showmigrations {app_label}` to list its migrations."
        ) from exc
    target: MigrationKey = (app_label, migration.name)
    # A partly applied squash is not in the graph: Django 5.2's ``migrate`` fails on it, so
    # aim at the last migration it replaces; Django 6.0+ plans the squash itself.
    missing = target not in loader.graph.nodes and target in loader.replacements
    if missing and not compat.plan_replans_missing_targets():
        target = tuple(loader.replacements[target].replaces[-1])  # type: ignore[assignment]
    return [target]


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class PlanStep:
    app_label: str
    name: str
    backwards: bool
    migration: Migration = field(compare=False, repr=False)

    @property
    def key(self) -> MigrationKey:
        return (self.app_label, self.name)


def migration_plan(executor: MigrationExecutor, targets: Iterable[Target]) -> tuple[PlanStep, ...]:
    """``executor.migration_plan(targets)`` as ``PlanStep``s (same order, same directions)."""
    # The executor may rebuild the graph (a target that a squash replaced).
    with graph_errors(executor.loader):
        plan = executor.migration_plan(list(targets))
    return tuple(
        PlanStep(migration.app_label, migration.name, backwards, migration)
        for migration, backwards in plan
    )


@dataclass(frozen=True)
class RollbackHint:
    """How to return an app to today's state after the upgrade, and whether that can work."""

    app_label: str
    target: str  # the migration name to pass to `migrate`, or "zero"
    unapplies: tuple[MigrationKey, ...]  # in the order `migrate` would unapply them
    irreversible: tuple[str, ...]  # "app.name: operation" that cannot be undone

    @property
    def possible(self) -> bool:
        return not self.irreversible

    @property
    def command(self) -> str:
        return f"migrate {self.app_label} {self.target}"


def rollback_hints(
    executor: MigrationExecutor, plan: Iterable[PlanStep]
) -> tuple[RollbackHint, ...]:
    """For each app that ``plan`` moves forward: the ``migrate`` target that brings it back.

    The backward plan is Django's own (``executor.migration_plan``), computed as if ``plan``
    had been applied; it may unapply other apps' migrations that depend on the app.
    """
    loader = executor.loader
    applied_now = dict(loader.applied_migrations)
    forward = [step for step in plan if not step.backwards]
    after = dict(applied_now)
    after.update({step.key: step.migration for step in forward})
    hints = []
    loader.applied_migrations = after
    graph = loader.graph
    # Django's plan to "zero" lists every root of the graph, per app: the graph does not
    # change here, so list them once (sorted, as root_nodes returns them).
    roots = graph.root_nodes()
    graph.root_nodes = lambda app=None: [r for r in roots if not app or r[0] == app]  # type: ignore[method-assign]
    try:
        for app_label in dict.fromkeys(step.app_label for step in forward):
            current = _latest_applied(loader, app_label, applied_now)
            target: Target = (app_label, current)
            steps = executor.migration_plan([target])
            hints.append(
                RollbackHint(
                    app_label=app_label,
                    target=current or "zero",
                    unapplies=tuple((m.app_label, m.name) for m, _ in steps),
                    irreversible=tuple(
                        f"{m.app_label}.{m.name}: {operation.describe()}"
                        for m, _ in steps
                        for operation in m.operations
                        if not operation_reversible(operation)
                    ),
                )
            )
    finally:
        loader.applied_migrations = applied_now
        del graph.root_nodes
    return tuple(hints)


def _latest_applied(
    loader: MigrationLoader, app_label: str, applied: Mapping[MigrationKey, object]
) -> str | None:
    """The app's applied migration that no applied migration of the app follows."""
    node_map = loader.graph.node_map
    for key in applied:
        if key[0] == app_label and key in node_map:
            children = node_map[key].children
            if not any(child.key[0] == app_label and child.key in applied for child in children):
                return key[1]
    return None


def operation_reversible(operation: object) -> bool:
    # Same rule as `migrate --plan`: RunPython/RunSQL need their reverse, others say.
    if hasattr(operation, "code"):
        return operation.reverse_code is not None
    if hasattr(operation, "sql"):
        return operation.reverse_sql is not None
    return bool(getattr(operation, "reversible", True))


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
    # The rows themselves: the loader's ``applied_migrations`` is already adjusted for squashes.
    rows = frozenset(MigrationRecorder(connection).applied_migrations())
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


@dataclass(frozen=True)
class _CreatedTable:
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
