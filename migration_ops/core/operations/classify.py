"""Classification of operations, migrations and plans, from the effects and findings."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.db import router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from migration_ops.core.operations.effects import Effect, advance_past
from migration_ops.core.operations.findings import (
    MigrationRisks,
    Risk,
    RiskFinding,
    TableSizes,
    effect_findings,
    is_noop,
    special_findings,
    unique_findings,
)
from migration_ops.core.operations.fresh import FreshTables
from migration_ops.core.operations.references import touched_models
from migration_ops.core.states import (
    ModelKey,
    plan_start_state,
    state_before_migration,
    substate,
    unrendered_copy,
)


def _allowed(operation: Operation, app_label: str, connection: BaseDatabaseWrapper) -> bool:
    if not router.routers:
        return True  # what allow_migrate answers without routers
    hints = dict(getattr(operation, "hints", {}) or {})
    keys = touched_models(operation, app_label)
    if keys:
        return any(
            router.allow_migrate(connection.alias, app_label, model_name=name, **hints)
            for _, name in keys
        )
    return router.allow_migrate(connection.alias, app_label, **hints)


def classify_operation(
    operation: Operation,
    *,
    app_label: str,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    table_sizes: TableSizes | None = None,
    long_lock_rows: int,
    long_lock_bytes: int,
    migration_label: str | None = None,
) -> tuple[RiskFinding, ...]:
    """Risk findings of one operation in one direction.

    ``from_state`` is the state the operation starts from when applied *forwards* (for a
    backward step, the state that unapplying it returns to); it is not modified.
    ``table_sizes`` maps table names to ``(rows, bytes)`` (either may be None).
    """
    keys = touched_models(operation, app_label)
    state = unrendered_copy(from_state) if keys is None else substate(from_state, keys)
    findings, _ = _classify(
        operation,
        app_label,
        state,
        backwards,
        connection,
        table_sizes,
        long_lock_rows,
        long_lock_bytes,
        migration_label,
        allowed=_allowed(operation, app_label, connection),
    )
    return findings


def _classify(
    operation: Operation,
    app_label: str,
    state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    table_sizes: TableSizes | None,
    long_lock_rows: int,
    long_lock_bytes: int,
    migration_label: str | None,
    *,
    allowed: bool,
) -> tuple[tuple[RiskFinding, ...], list[Effect]]:
    """Findings and effects (in the direction's order) of one operation; advances ``state``
    (the state the operation starts from forwards) past it."""
    if not allowed:
        operation.state_forwards(app_label, state)
        return (), []
    label = f"migration {migration_label}" if migration_label else "this migration"
    found = special_findings(operation, backwards, label)
    effects = advance_past(operation, app_label, state)
    if backwards:
        effects = [effect.inverse() for effect in reversed(effects)]
    for effect in effects:
        found += effect_findings(effect, connection, table_sizes, long_lock_rows, long_lock_bytes)
    return unique_findings(found), effects


def _writes(operation: Operation, backwards: bool, effects: list[Effect]) -> tuple[bool, bool]:
    """(writes to the database, changes the schema) for the non-atomic rule."""
    if isinstance(operation, ops.RunPython):
        code = operation.reverse_code if backwards else operation.code
        return code is not None and not is_noop(code), False
    if isinstance(operation, ops.RunSQL):
        sql = operation.reverse_sql if backwards else operation.sql
        active = sql is not None and not is_noop(sql)
        return active, active  # raw SQL may well be DDL
    return bool(effects), bool(effects)


def _assess(
    migration: Migration,
    *,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    target_app_labels: Collection[str] | None,
    table_sizes: TableSizes | None,
    long_lock_rows: int,
    long_lock_bytes: int,
    fresh: FreshTables | None = None,
    in_place: bool = False,
) -> MigrationRisks:
    """The risks of one migration. ``from_state`` is advanced past the migration when
    ``in_place`` (a state the caller owns), else left untouched."""
    app_label = migration.app_label
    label = f"{app_label}.{migration.name}"
    if in_place:
        state = from_state
    else:
        keys: set[ModelKey] | None = set()
        for operation in migration.operations:
            touched = touched_models(operation, app_label)
            keys = None if keys is None or touched is None else keys | touched
        # The models this migration touches suffice, unless an operation of an unknown type
        # may touch any model.
        state = unrendered_copy(from_state) if keys is None else substate(from_state, keys)
    per_operation: list[tuple[RiskFinding, ...]] = []
    writers = ddl = 0
    for operation in migration.operations:
        allowed = _allowed(operation, app_label, connection)
        findings, effects = _classify(
            operation,
            app_label,
            state,
            backwards,
            connection,
            table_sizes,
            long_lock_rows,
            long_lock_bytes,
            label,
            allowed=allowed,
        )
        if fresh is not None:
            findings = fresh.filter(findings)
            fresh.advance(operation, backwards, effects)
        per_operation.append(findings)
        if not allowed:
            continue
        writes, changes_schema = _writes(operation, backwards, effects)
        writers += writes
        ddl += changes_schema
    migration_findings: list[RiskFinding] = []
    direction = "unapplying" if backwards else "applying"
    if not migration.atomic and writers:
        migration_findings.append(
            RiskFinding(
                Risk.NON_ATOMIC,
                f"Migration {label} declares atomic = False: if {direction} it fails "
                f"midway, the operations already run stay applied.",
            )
        )
    elif not connection.features.can_rollback_ddl and writers > 1 and ddl:
        migration_findings.append(
            RiskFinding(
                Risk.NON_ATOMIC,
                f"This database cannot roll back schema changes and {direction} {label} "
                f"runs {writers} operations: if one fails, those before it stay applied.",
            )
        )
    if backwards and target_app_labels is not None and app_label not in target_app_labels:
        targets = ", ".join(sorted(target_app_labels)) or "none"
        migration_findings.append(
            RiskFinding(
                Risk.CROSS_APP_SPILL,
                f"Unapplies {label} of app {app_label}, which was not targeted "
                f"(target: {targets}), because it depends on a migration being unapplied.",
            )
        )
    return MigrationRisks(
        app_label=app_label,
        name=migration.name,
        backwards=backwards,
        migration_findings=tuple(migration_findings),
        operation_findings=tuple(per_operation),
    )


def classify_migration(
    migration: Migration,
    *,
    from_state: ProjectState,
    backwards: bool,
    connection: BaseDatabaseWrapper,
    target_app_labels: Collection[str] | None = None,
    table_sizes: TableSizes | None = None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> tuple[RiskFinding, ...]:
    """Risk findings of one plan step: migration-level ones first, then the operations'
    in the order they run (reverse order when ``backwards``).

    ``from_state`` is the state before the migration (for a backward step too: unapplying
    returns the database to it); it is not modified. ``target_app_labels`` are the apps
    ``migrate`` was asked to move (backward steps of other apps are cross-app spill);
    ``None`` means no check.
    """
    return _assess(
        migration,
        from_state=from_state,
        backwards=backwards,
        connection=connection,
        target_app_labels=target_app_labels,
        table_sizes=table_sizes,
        long_lock_rows=long_lock_rows,
        long_lock_bytes=long_lock_bytes,
    ).findings


def classify_plan(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    plan: Sequence[tuple[Migration, bool]],
    *,
    target_app_labels: Collection[str] | None = None,
    start_state: ProjectState | None = None,
    table_sizes: TableSizes | None = None,
    long_lock_rows: int,
    long_lock_bytes: int,
) -> tuple[MigrationRisks, ...]:
    """Classify every step of a ``migrate`` plan, advancing one unrendered state.

    Forward steps start from ``start_state`` (default: the plan's applied ancestors, see
    :func:`~migration_ops.core.states.plan_start_state`); a backward step starts from the
    state ``sqlmigrate --backwards`` uses (its ancestors in the graph).

    The findings describe the database before the plan: a table an earlier operation of
    the plan creates has no running code that queries it and no rows (no
    ``breaks-running-code``, ``long-lock`` or ``destructive`` for it), unless a
    ``RunPython`` (any table) or a ``RunSQL`` (the tables its SQL names) of the plan may
    have written rows into it since (``destructive`` is kept then).
    """
    fresh = FreshTables()
    state = (
        unrendered_copy(start_state) if start_state is not None else plan_start_state(loader, plan)
    )
    results = []
    for migration, backwards in plan:
        # Both states are this function's own: classifying advances them in place (a
        # forward step's as ``migrate`` would, a backward step's is thrown away).
        before = state_before_migration(loader, migration) if backwards else state
        results.append(
            _assess(
                migration,
                from_state=before,
                backwards=backwards,
                connection=connection,
                target_app_labels=target_app_labels,
                table_sizes=table_sizes,
                long_lock_rows=long_lock_rows,
                long_lock_bytes=long_lock_bytes,
                fresh=fresh,
                in_place=True,
            )
        )
    return tuple(results)
