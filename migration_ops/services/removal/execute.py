"""Carrying out a plan, one step at a time, saying what was done when a step fails."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.apps import apps as global_apps
from django.db import transaction
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.core.plan import migration_plan
from migration_ops.exceptions import MigrationOpsError
from migration_ops.introspection import get_introspector
from migration_ops.services import backup as backups
from migration_ops.services.common import get_connection, load_executor, lock_database
from migration_ops.services.removal.cascade import content_type_where
from migration_ops.services.removal.plan import (
    BACKUP,
    DELETE_CONTENT_TYPES,
    DELETE_MIGRATION_ROWS,
    DROP_CONSTRAINT,
    DROP_LEFTOVER_TABLES,
    DROP_OBJECTS,
    DROP_TABLES,
    UNAPPLY,
    Progress,
    RemovalPlan,
    RemovalResult,
    Step,
)
from migration_ops.services.removal.refusals import RemovalRefused
from migration_ops.services.removal.reverse import zero_targets
from migration_ops.services.removal.wording import quoted
from migration_ops.text import count

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.migrations.migration import Migration

    from migration_ops.introspection.base import Introspector


class RemovalInterrupted(Exception):
    """A step failed (or was interrupted): the steps in ``done`` were carried out."""

    def __init__(self, plan: RemovalPlan, done: tuple[str, ...], error: BaseException) -> None:
        self.plan = plan
        self.done = done
        self.not_done = tuple(s.description for s in plan.steps[len(done) :])
        self.error = error
        reason = f"{type(error).__name__}: {str(error).rstrip('.')}"
        if not self.not_done:
            message = f"The removal was interrupted after its last step ({reason}); all done."
        else:
            message = (
                f"The removal stopped after {count(len(done), 'step')} of {len(plan.steps)}, "
                f"at '{self.not_done[0]}': {reason}. Not done: {'; '.join(self.not_done)}. "
                "Run the same command again to complete the removal."
            )
        super().__init__(message)


class PlanOutdated(MigrationOpsError):
    """What the plan was made from changed before the step that depends on it."""


class RemovalStopped(MigrationOpsError):
    """The plan no longer fits the database: the removal stopped before any change."""

    def __init__(self, plan: RemovalPlan, reason: PlanOutdated, backup: str | None) -> None:
        self.plan = plan
        written = f" (the backup in {backup} was written)" if backup else ""
        super().__init__(
            f"The removal of {quoted(plan.labels)} stopped before any change: "
            f"{str(reason).rstrip('.')}. Nothing was changed{written}; run the command again "
            "for a new plan."
        )


def execute_removal(plan: RemovalPlan, *, progress: Progress | None = None) -> RemovalResult:
    """Carry out ``plan`` step by step, calling ``progress`` after each step.

    Takes the package's lock (re-entrant: hold it with :func:`lock_database` from planning
    on). Raises ``RemovalRefused`` for a plan with refusals, before any change, and
    ``RemovalInterrupted`` (with the steps done) when a step, or ``progress``, fails;
    ``RemovalStopped`` when the plan no longer fits the database before any change.
    """
    if plan.refusals:
        raise RemovalRefused(plan)
    report = progress or (lambda message: None)
    connection = get_connection(plan.database)
    introspector = get_introspector(connection)
    done: list[str] = []
    running = [False]  # whether the step after those done had begun
    backup: backups.Backup | None = None

    def started() -> None:
        running[0] = True

    def finished(step: Step, message: str | None = None) -> None:
        done.append(message or step.done)
        running[0] = False
        report(message or step.done)

    with lock_database(plan.database):
        try:
            index = 0
            while index < len(plan.steps):
                step = plan.steps[index]
                started()
                if step.kind == UNAPPLY:
                    batch = [s for s in plan.steps[index:] if s.kind == UNAPPLY]
                    _unapply(connection, plan, batch, started, finished)
                    index += len(batch)
                    continue
                if step.kind == BACKUP:
                    backup = _write_backup(connection, plan)
                    verb = "Kept the backup of" if backup.kept else "Backed up"
                    finished(
                        step,
                        f"{verb} {count(backup.rows, 'row')} of "
                        f"{count(len(backup.tables), 'table')} "
                        f"{'in' if backup.kept else 'to'} {backup.directory}.",
                    )
                elif step.kind == DROP_CONSTRAINT:
                    assert step.foreign_key is not None
                    with introspector.foreign_key_checks_disabled():
                        introspector.drop_foreign_key(step.tables[0], step.foreign_key)
                    finished(step)
                elif step.kind in (DROP_TABLES, DROP_LEFTOVER_TABLES):
                    _drop_tables(introspector, step)
                    finished(step)
                elif step.kind == DROP_OBJECTS:
                    introspector.execute_statements(sql for sql, _ in step.statements)
                    finished(step)
                else:
                    _run_statements(connection, step.statements)
                    if step.kind == DELETE_CONTENT_TYPES:
                        _clear_content_type_cache()
                    finished(step)
                index += 1
            if plan.backup_dir is not None:
                backups.mark_finished(plan.backup_dir)
        except PlanOutdated as exc:
            if all(step.kind == BACKUP for step in plan.steps[: len(done)]):
                raise RemovalStopped(plan, exc, backup and backup.directory) from exc
            raise RemovalInterrupted(plan, tuple(done), exc) from exc
        except (Exception, KeyboardInterrupt) as exc:
            if running[0]:
                done = _read_back(connection, plan, done)
            raise RemovalInterrupted(plan, tuple(done), exc) from exc
    return RemovalResult(
        database=plan.database,
        labels=plan.labels,
        strategy=plan.strategy,
        done=tuple(done),
        backup=backup,
        left_to_do=plan.left_to_do,
    )


def _read_back(connection: BaseDatabaseWrapper, plan: RemovalPlan, done: list[str]) -> list[str]:
    """The steps done, with the one that was running read back from the database: leaving
    a transaction block that an interruption broke can commit it (MySQL and SQLite commit
    when autocommit is turned back on), or not (PostgreSQL)."""
    if len(done) >= len(plan.steps):
        return done
    step = plan.steps[len(done)]
    try:
        # A new session: one that was interrupted may be unusable, or still in the
        # transaction, whose changes would look done but end with it.
        connection.close()
        in_effect = _in_effect(connection, plan, step)
    except Exception:
        return done  # cannot tell: say only what is known
    return [*done, step.done] if in_effect else done


def _in_effect(connection: BaseDatabaseWrapper, plan: RemovalPlan, step: Step) -> bool:
    if step.kind in (DROP_TABLES, DROP_LEFTOVER_TABLES, DROP_OBJECTS):
        live = get_introspector(connection).snapshot(set(step.tables))
        return not live.tables and not live.objects
    if step.kind == DROP_CONSTRAINT:
        live = get_introspector(connection).snapshot({step.tables[0]})
        table = live.tables.get(step.tables[0])
        return table is not None and step.foreign_key not in table.foreign_keys
    recorded = set(MigrationRecorder(connection).applied_migrations())
    if step.kind == UNAPPLY:
        assert step.migration is not None
        return tuple(step.migration.split(".", 1)) not in recorded
    if step.kind == DELETE_MIGRATION_ROWS:
        return not any(app in plan.labels for app, _ in recorded)
    if step.kind == DELETE_CONTENT_TYPES:
        where, params = content_type_where(connection, plan.labels)
        from django.contrib.contenttypes.models import ContentType

        table = connection.ops.quote_name(ContentType._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
            return cursor.fetchone()[0] == 0
    if step.kind == BACKUP:
        assert plan.backup_dir is not None
        status = backups.backup_status(plan.backup_dir, plan.database, plan.labels)
        return status in (backups.WRITTEN, backups.FINISHED)
    return False


def finish_backup(plan: RemovalPlan) -> bool:
    """For a plan with nothing left to remove: mark the backup that an interrupted run of
    the same removal wrote as finished (the run stopped after its last step). True if it
    did."""
    if plan.backup_dir is None or not plan.changes_nothing or plan.refusals:
        return False
    status = backups.backup_status(plan.backup_dir, plan.database, plan.labels)
    if status != backups.WRITTEN:
        return False
    backups.mark_finished(plan.backup_dir)
    return True


def _write_backup(connection: BaseDatabaseWrapper, plan: RemovalPlan) -> backups.Backup:
    from django.contrib.contenttypes.models import ContentType

    selections = []
    if plan.content_types:
        ct_table = ContentType._meta.db_table
        where, params = content_type_where(connection, plan.labels)
        selections.append(backups.Selection(ct_table, where, params))
        # Parents before children, so that a restore inserts them in that order.
        for cascade in sorted(plan.cascades, key=lambda c: c.depth):
            if cascade.action == "delete":
                selections.append(backups.Selection(cascade.table, cascade.where, cascade.params))
            else:
                selections.append(
                    backups.Selection(
                        cascade.table,
                        cascade.where,
                        cascade.params,
                        backups.SET_NULL,
                        cascade.column,
                    )
                )
    assert plan.backup_dir is not None
    return backups.write_backup(
        plan.backup_dir,
        connection,
        apps=plan.labels,
        tables=[t.name for t in plan.tables],
        selections=selections,
    )


def _unapply(
    connection: BaseDatabaseWrapper,
    plan: RemovalPlan,
    steps: list[Step],
    started: Callable[[], None],
    finished: Callable[[Step, str | None], None],
) -> None:
    executor = load_executor(connection)
    targets = zero_targets(executor, plan.labels)
    planned = migration_plan(executor, targets)
    if tuple(f"{s.app_label}.{s.name}" for s in planned) != tuple(s.migration for s in steps):
        raise PlanOutdated("the migrations to unapply changed since the plan was made")
    by_label = {s.migration: s for s in steps}

    def callback(action: str, migration: Migration | None = None, fake: bool = False) -> None:
        if action == "unapply_start":
            started()
        if action == "unapply_success" and migration is not None:
            step = by_label[f"{migration.app_label}.{migration.name}"]
            finished(step, None)

    resumed = plan.partly_unapplied
    if resumed is not None and planned and planned[0].key == (resumed.app_label, resumed.name):
        # Undo only the operations still in effect, then record the migration as unapplied
        # (and what it replaces), as Django's unapply_migration does.
        migration = planned[0].migration
        rest = type(migration)(migration.name, migration.app_label)
        rest.operations = list(migration.operations[: resumed.still_applied])
        rest.replaces = list(migration.replaces)
        rest.atomic = migration.atomic
        executor.progress_callback = callback
        before = executor.loader.project_state(planned[0].key, at_end=False)
        executor.unapply_migration(before, rest)
        executor = load_executor(connection)  # its loader knows the row is gone
        planned = migration_plan(executor, targets)
        if not planned:
            return
    executor.progress_callback = callback
    executor.migrate(targets, plan=[(s.migration, True) for s in planned])


def _drop_tables(introspector: Introspector, step: Step) -> None:
    with introspector.foreign_key_checks_disabled():
        if step.kind == DROP_TABLES:
            introspector.execute_statements(sql for sql, _ in step.statements)
            return
        # What the reverse migrations left (tables they did not create, objects their
        # RunSQL does not drop): known only now.
        live = introspector.snapshot()
        left = [t for t in step.tables if t in live.tables or t in live.objects]
        for _, statement in introspector.drop_objects_sql(live, left):
            introspector.execute_statements([statement])


def _run_statements(
    connection: BaseDatabaseWrapper, statements: Iterable[tuple[str, tuple[Any, ...]]]
) -> None:
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params or None)


def _clear_content_type_cache() -> None:
    if global_apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
