"""Verifying the migrations a reset wrote: the graph loads, ``makemigrations`` finds
nothing, and their schema equals the live one."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import CircularDependencyError
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from migration_ops.core.diff import diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.history import graph_errors
from migration_ops.core.regenerate import unmigrated_changes
from migration_ops.core.states import state_after
from migration_ops.exceptions import BrokenMigrationGraph, ResetFailed
from migration_ops.introspection import snapshot
from migration_ops.services.reset.plan import DONE, ResetPlan


def verify(connection: BaseDatabaseWrapper, plan: ResetPlan, apps: Sequence[str]) -> int:
    """Check the migrations now on disk; raise :class:`ResetFailed` listing what is wrong.
    Returns the number of tables compared."""
    try:
        loader = MigrationLoader(None, ignore_no_migrations=True, load=False)
        with graph_errors(loader):
            loader.build_graph()
    except CircularDependencyError as exc:
        raise ResetFailed(
            f"The new migrations form a dependency cycle ({exc}). Reset the apps of the cycle "
            "together, or use --mode clean-slate. The old migration files are back in place "
            "and django_migrations is unchanged."
        ) from exc
    except BrokenMigrationGraph as exc:
        raise ResetFailed(
            f"{exc} The old migration files are back in place and django_migrations is unchanged."
        ) from exc
    missing = [
        m.label for app in plan.apps for m in app.new_migrations
        if (m.app_label, m.name) not in loader.graph.nodes
    ]  # fmt: skip
    problems = [f"Migration {name} is not in the migration graph." for name in missing]
    changes = unmigrated_changes(state_after(loader, loader.graph.leaf_nodes()), loader.graph, apps)
    problems += [
        f"`makemigrations {app}` would still write: "
        f"{'; '.join(str(op.describe()) for m in migrations for op in m.operations)}."
        for app, migrations in changes.items()
    ]
    state = _state_of(loader, plan)
    expected = expected_schema(state, connection, app_labels=apps)
    live = snapshot(connection, plan.work.compared_tables | set(expected.tables))
    problems += [d.message for d in diff(live, expected)]
    if problems:
        raise ResetFailed(
            "The new migrations do not match the database:\n"
            + "\n".join(f"- {p}" for p in problems)
            + "\nThe old migration files are back in place and django_migrations is unchanged."
        )
    return len(expected.tables)


def _state_of(loader: MigrationLoader, plan: ResetPlan) -> ProjectState:
    nodes = [
        (m.app_label, m.name) for app in plan.apps if app.action != DONE for m in app.new_migrations
    ]
    return state_after(loader, nodes)
