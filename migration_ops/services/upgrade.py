"""``plan_upgrade``: what ``migrate`` would do to this database, and what is wrong with it.

Read-only: builds an :class:`UpgradePlan` from the engine (history, ownership, schema diff)
and never writes to the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.conf import conf
from migration_ops.core.diff import SchemaDiff, diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.history import load_history
from migration_ops.core.operations import (
    MigrationRisks,
    Risk,
    RiskFinding,
    classify_plan,
)
from migration_ops.core.ownership import (
    RUNSQL,
    UNMANAGED,
    attribute_tables,
    state_table_owners,
)
from migration_ops.core.plan import (
    PlanStep,
    RollbackHint,
    migration_plan,
    operation_reversible,
    rollback_hints,
)
from migration_ops.core.plan import resolve_targets as resolve_migrate_targets
from migration_ops.core.provenance import pending_transitions
from migration_ops.core.states import applied_state, plan_start_state
from migration_ops.introspection import snapshot
from migration_ops.services.common import fewer_collections, get_connection, load_executor
from migration_ops.services.findings import (
    Finding,
    drift_finding,
    half_applied_finding,
    history_findings,
    ownership_findings,
    transition_findings,
)

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.core.partial import HalfAppliedMigration
    from migration_ops.core.sql import MigrationSQL, OperationSQL
    from migration_ops.services.rehearsal import PreparedScratch, Rehearsal, RehearsalOptions

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PlannedOperation:
    description: str
    # False when ``migrate`` cannot run this operation in the planned direction.
    reversible: bool = True
    risks: tuple[RiskFinding, ...] = ()
    # The statements (only when SQL was asked for); ``sql_unavailable`` says why there
    # are none when the SQL cannot be produced without the real prior schema.
    sql: tuple[str, ...] | None = None
    sql_unavailable: str | None = None


@dataclass(frozen=True)
class PlannedMigration:
    app_label: str
    name: str
    backwards: bool
    atomic: bool
    operations: tuple[PlannedOperation, ...]
    # Labels of the planned migrations that must run before this one.
    after: tuple[str, ...] = ()
    risks: tuple[RiskFinding, ...] = ()  # migration-level (non-atomic, cross-app spill)
    # The whole migration as `migrate` will execute it, in `sqlmigrate`'s layout (only when SQL
    # was asked for).
    sql: tuple[str, ...] | None = None

    @property
    def risk_classes(self) -> tuple[Risk, ...]:
        found = {f.risk for f in self.risks} | {f.risk for o in self.operations for f in o.risks}
        return tuple(risk for risk in Risk if risk in found)

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"


@dataclass(frozen=True)
class UpgradePlan:
    database: str
    vendor: str
    targets: tuple[tuple[str, str | None], ...]
    migrations: tuple[PlannedMigration, ...]
    findings: tuple[Finding, ...]
    rollback: tuple[RollbackHint, ...] = ()
    rehearsal: Rehearsal | None = None  # with --rehearse

    @property
    def pending(self) -> bool:
        return bool(self.migrations)

    @property
    def clean(self) -> bool:
        return not self.migrations and not self.findings

    @property
    def risk_classes(self) -> tuple[Risk, ...]:
        found = {risk for m in self.migrations for risk in m.risk_classes}
        return tuple(risk for risk in Risk if risk in found)


def build_upgrade_plan(
    database: str = "default",
    app_label: str | None = None,
    migration_name: str | None = None,
    *,
    sql: bool = False,
    rehearse: RehearsalOptions | None = None,
    progress: Progress | None = None,
) -> UpgradePlan:
    """Plan ``migrate [app_label [migration_name]]`` on ``database`` and collect findings.

    With ``sql``, every operation carries the SQL ``migrate`` will execute for it; with
    ``rehearse``, the plan also runs on a scratch copy of the database (``rehearsal``).
    """
    with fewer_collections():
        return _build_upgrade_plan(
            database, app_label, migration_name, sql=sql, rehearse=rehearse, progress=progress
        )


def _build_upgrade_plan(
    database: str,
    app_label: str | None,
    migration_name: str | None,
    *,
    sql: bool,
    rehearse: RehearsalOptions | None,
    progress: Progress | None,
) -> UpgradePlan:
    report = progress or (lambda message: None)
    connection = get_connection(database)
    if rehearse is None:
        return _plan(connection, app_label, migration_name, sql, None, report)
    # Imported here: only --rehearse needs the executor machinery and the copiers.
    from migration_ops.services.rehearsal import PreparedScratch

    # The scratch copy is built by the server while the plan is worked out here.
    report("Creating the scratch database")
    prepared = PreparedScratch(connection, rehearse)
    try:
        return _plan(connection, app_label, migration_name, sql, prepared, report)
    finally:
        prepared.close()


def _plan(
    connection: BaseDatabaseWrapper,
    app_label: str | None,
    migration_name: str | None,
    sql: bool,
    prepared: PreparedScratch | None,
    report: Progress,
) -> UpgradePlan:
    database = connection.alias
    report("Loading migrations")
    executor = load_executor(connection)
    targets = resolve_migrate_targets(executor.loader, app_label, migration_name)
    steps = migration_plan(executor, targets)
    if prepared is not None:
        prepared.render_start_state(executor.loader, steps)

    report("Reading migration history")
    history = load_history(connection, executor.loader)
    # A clean-slate reset waiting for its command here: the command records its migrations
    # (migrate would fail on the existing tables), so they are not planned.
    transitions = pending_transitions(executor.loader, history.applied)
    waiting = frozenset(key for t in transitions for key in t.new_keys)
    steps = tuple(step for step in steps if step.key not in waiting)

    report("Reading the live schema")
    live = snapshot(connection)
    # One replay of the applied history serves ownership and the expected schema (which
    # renders it, so ownership must read it first).
    state = applied_state(connection, executor.loader)
    ownership = attribute_tables(
        connection, schema=live, loader=executor.loader, applied_state=state
    )

    report("Comparing the live schema with the applied migrations")
    expected = expected_schema(state, connection)
    # Tables no installed app owns are findings of their own (stale, orphan); drift is
    # about what the applied migrations promise.
    # Objects RunSQL made are their app's, but no model says what they hold; ignored
    # tables are checked for nothing, drift included.
    compared = {
        name
        for name, owner in ownership.owners.items()
        if owner.installed
        and owner.app_label is not None
        and owner.reason not in (UNMANAGED, RUNSQL)
    } | set(expected.tables)
    compared = {name for name in compared if not conf.is_ignored_table(name)}
    # A database on which migrate never ran (not even its django_migrations table) is
    # empty, not drifted: the migrations promise nothing there yet.
    never_migrated = MigrationRecorder.Migration._meta.db_table not in live
    drift = (
        SchemaDiff()
        if never_migrated
        else diff(live.restricted_to(compared), expected.restricted_to(compared))
    )
    half_applied: tuple[HalfAppliedMigration, ...] = ()
    if drift:
        report("Looking for half-applied migrations")
        # Imported here: only drift needs it.
        from migration_ops.core.partial import diagnose_half_applied

        # Whatever the targets, a failed `migrate` was heading for the leaves.
        forward = migration_plan(executor, executor.loader.graph.leaf_nodes())
        half_applied = diagnose_half_applied(
            connection, executor.loader, state, live, forward, drift.tables
        )
    explained = {table for migration in half_applied for table in migration.tables}
    # The app owning each drifted table: the live owner, else (a missing table) the state's.
    drift_owners = state_table_owners(state, connection) if drift else {}
    drift_owners.update(
        (name, owner.app_label) for name, owner in ownership.owners.items() if owner.app_label
    )

    report("Classifying operations")
    pairs = [(step.migration, step.backwards) for step in steps]
    start = plan_start_state(executor.loader, pairs)
    risks = classify_plan(
        connection,
        executor.loader,
        pairs,
        target_app_labels={app_label} if app_label else None,
        start_state=start,
        table_sizes={t.name: (t.rows, t.bytes) for t in live},
        long_lock_rows=conf.LONG_LOCK_ROWS,
        long_lock_bytes=conf.LONG_LOCK_BYTES,
    )
    collected: tuple[MigrationSQL, ...] | None = None
    if sql:
        report("Collecting SQL")
        # Imported here: most runs do not ask for SQL, and the engine is a large module.
        from migration_ops.core.sql import collect_plan_sql

        collected = collect_plan_sql(
            connection, executor.loader, pairs, start_state=start, reproduce="migrate"
        )

    findings = (
        *transition_findings(transitions, database),
        *history_findings(history, transitions),
        *ownership_findings(ownership, live),
        *(half_applied_finding(migration) for migration in half_applied),
        *(
            drift_finding(d, drift_owners.get(d.table))
            for d in drift.differences
            if d.table not in explained
        ),
    )
    migrations = planned_migrations(executor, steps, risks, collected)
    rehearsal = None
    if prepared is not None:
        from migration_ops.services.rehearsal import rehearse as run_rehearsal

        operation_risks = {
            (m.label, op.description): tuple(f.risk.value for f in op.risks)
            for m in migrations
            for op in m.operations
        }
        rehearsal = run_rehearsal(
            connection,
            steps,
            live,
            prepared.options,
            operation_risks=operation_risks,
            progress=report,
            loader=executor.loader,
            recorded=history.applied,
            prepared=prepared,
        )
    return UpgradePlan(
        database=database,
        vendor=connection.vendor,
        targets=tuple(targets),
        migrations=migrations,
        findings=tuple(findings),
        rollback=rollback_hints(executor, steps),
        rehearsal=rehearsal,
    )


def planned_migrations(
    executor: MigrationExecutor,
    steps: tuple[PlanStep, ...],
    risks: tuple[MigrationRisks, ...],
    collected: tuple[MigrationSQL, ...] | None,
) -> tuple[PlannedMigration, ...]:
    node_map = executor.loader.graph.node_map
    planned = {step.key for step in steps}

    def after(step: PlanStep) -> tuple[str, ...]:
        # Applying waits for dependencies; unapplying waits for dependants.
        node = node_map[step.key]
        neighbours = node.children if step.backwards else node.parents
        keys = sorted(n.key for n in neighbours if n.key in planned)
        return tuple(f"{app}.{name}" for app, name in keys)

    sqls = collected if collected is not None else (None,) * len(steps)
    return tuple(
        planned_migration(step, after(step), step_risks, sql)
        for step, step_risks, sql in zip(steps, risks, sqls, strict=True)
    )


def planned_migration(
    step: PlanStep,
    after: tuple[str, ...],
    risks: MigrationRisks,
    sql: MigrationSQL | None,
) -> PlannedMigration:
    operations = list(zip(step.migration.operations, risks.operation_findings, strict=True))
    if step.backwards:
        operations.reverse()  # the order they are undone in, as the SQL is
    statements = sql.operations if sql is not None else [None] * len(operations)
    return PlannedMigration(
        app_label=step.app_label,
        name=step.name,
        backwards=step.backwards,
        atomic=step.migration.atomic,
        operations=tuple(
            planned_operation(operation, step.backwards, found, operation_sql)
            for (operation, found), operation_sql in zip(operations, statements, strict=True)
        ),
        after=after,
        risks=risks.migration_findings,
        sql=sql.statements if sql is not None else None,
    )


def planned_operation(
    operation: Operation,
    backwards: bool,
    risks: tuple[RiskFinding, ...],
    sql: OperationSQL | None,
) -> PlannedOperation:
    description = operation.describe()
    if backwards and not hasattr(operation, "code") and not hasattr(operation, "sql"):
        description = f"Undo {description}"  # as `migrate --plan` says it
    return PlannedOperation(
        description,
        reversible=operation_reversible(operation) if backwards else True,
        risks=risks,
        sql=sql.statements if sql is not None else None,
        sql_unavailable=sql.unavailable if sql is not None else None,
    )
