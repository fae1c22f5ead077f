"""Strategy ``migrate``: whether the apps' migrations can run backwards, which ones, and
their SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.db import NotSupportedError

from migration_ops.core.partial import PartlyUnapplied, diagnose_partly_unapplied
from migration_ops.core.plan import migration_plan, operation_reversible
from migration_ops.core.sql import collect_plan_sql
from migration_ops.exceptions import MigrationOpsError
from migration_ops.services.common import load_executor
from migration_ops.services.removal.plan import (
    AppToRemove,
)
from migration_ops.services.removal.wording import quoted

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.migrations.executor import MigrationExecutor

    from migration_ops.core.schema import Schema


def zero_targets(executor: MigrationExecutor, labels: Iterable[str]) -> list[tuple[str, None]]:
    """``migrate <label> zero`` targets, sorted: the executor's plan depends on the order of
    its targets, and the plan and the execution must agree whatever order they come in."""
    return [(label, None) for label in sorted(labels) if label in executor.loader.migrated_apps]


def reverse_migrations(
    connection: BaseDatabaseWrapper,
    apps: Sequence[AppToRemove],
    tables: Sequence[str],
    removed: set[str],
) -> tuple[str | None, tuple[str, ...]]:
    """Why the apps' migrations cannot be run backwards (None if they can), and the
    migrations ``migrate <app> zero`` would unapply, in order."""
    not_installed = [a.label for a in apps if not a.installed]
    if not_installed:
        return (
            f"{quoted(not_installed)} {'is' if len(not_installed) == 1 else 'are'} not in "
            f"INSTALLED_APPS, so migrate cannot run {'its' if len(not_installed) == 1 else 'their'}"
            " migrations",
            (),
        )
    try:
        executor = load_executor(connection)
        unmigrated = [a.label for a in apps if a.label not in executor.loader.migrated_apps]
        if unmigrated and tables:
            return (
                f"{quoted(unmigrated)} {'has' if len(unmigrated) == 1 else 'have'} no migrations",
                (),
            )
        steps = migration_plan(executor, zero_targets(executor, removed))
    except MigrationOpsError as exc:
        return str(exc).rstrip("."), ()
    for step in steps:
        irreversible = [
            op.describe() for op in step.migration.operations if not operation_reversible(op)
        ]
        if irreversible:
            return (
                f"migration {step.app_label}.{step.name} cannot be unapplied "
                f"({irreversible[0]}: no reverse code)",
                (),
            )
    return None, tuple(f"{s.app_label}.{s.name}" for s in steps)


def partly_unapplied(
    connection: BaseDatabaseWrapper, live: Schema, unapply: Sequence[str]
) -> PartlyUnapplied | None:
    """Whether an earlier run stopped while unapplying the first of ``unapply``: a re-run
    continues from the reverse operations already in effect."""
    if not unapply:
        return None
    executor = load_executor(connection)
    app_label, name = unapply[0].split(".", 1)
    return diagnose_partly_unapplied(connection, executor.loader, live, (app_label, name))


def reverse_sql(
    connection: BaseDatabaseWrapper, labels: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """What ``sqlmigrate --backwards`` prints for each migration of ``labels``."""
    if not labels:
        return {}
    try:
        executor = load_executor(connection)
        nodes = executor.loader.graph.nodes
        plan = [(nodes[tuple(label.split(".", 1))], True) for label in labels]
        # The engine's one-pass collection: the same statements, without re-rendering the
        # whole project state for every migration.
        collected = collect_plan_sql(connection, executor.loader, plan, reproduce="migrate")
        return {m.label: m.body for m in collected}
    except (NotSupportedError, MigrationOpsError, KeyError) as exc:
        return {label: (f"-- The SQL of {label} cannot be shown: {exc}",) for label in labels}
