"""What ``migrate`` will do: its targets and its plan, exactly as ``migrate`` computes them,
and the ``migrate`` command that would bring each app back afterwards.

Built on ``django.db.migrations``' executor; an unbuildable graph raises
``BrokenMigrationGraph`` (through :func:`~migration_ops.core.history.graph_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.apps import apps as global_apps
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration

from migration_ops import compat
from migration_ops.core.history import MigrationKey, Target, graph_errors
from migration_ops.exceptions import UnknownApp, UnknownMigration

__all__ = [
    "PlanStep",
    "RollbackHint",
    "migration_plan",
    "operation_reversible",
    "resolve_targets",
    "rollback_hints",
]


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
