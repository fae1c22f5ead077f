"""Carrying out a reset plan: move and write files, verify, record; undo on failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from django.core.management.utils import run_formatters
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.core.file_changes import FileChanges, forget_modules
from migration_ops.exceptions import MigrationOpsError, ResetFailed, ResetRefused
from migration_ops.services.common import get_connection, lock_database
from migration_ops.services.reset import measurement, recording, verification
from migration_ops.services.reset.plan import DONE, RESET, Measurement, ResetPlan, ResetResult

Progress = Callable[[str], None]


def apply_reset(
    plan: ResetPlan, *, measure: bool = False, progress: Progress | None = None
) -> ResetResult:
    """Carry out ``plan``: files, verification, rows. On any failure before the rows are
    recorded, the old files are put back and :class:`ResetFailed` is raised."""
    report = progress or (lambda message: None)
    started = time.perf_counter()
    connection = get_connection(plan.database)
    active = [app.app_label for app in plan.apps if app.action != DONE]
    with lock_database(connection.alias):
        rows = frozenset(
            key
            for key in MigrationRecorder(connection).applied_migrations()
            if key[0] in {app.app_label for app in plan.apps}
        )
        if rows != plan.work.rows or any(not old.exists() for old, _ in plan.work.moves):
            raise ResetRefused(
                "The migration files or rows changed since the plan was made; nothing was "
                "changed. Run the command again."
            )
        if plan.nothing_to_do:
            return ResetResult(plan, 0, 0, 0, 0, 0, None, time.perf_counter() - started)
        reset = [app.app_label for app in plan.apps if app.action == RESET]
        before: tuple[int, float] | None = None
        if measure and reset:
            report("Timing a fresh migrate with the old migrations")
            before = measurement.time_fresh_migrate(connection, reset)

        changes = FileChanges(Path(plan.backup_dir) if plan.backup_dir else Path.cwd())
        try:
            if plan.writes_files:
                report(f"Moving the old migration files to {plan.backup_dir}")
                for old, backup in plan.work.moves:
                    changes.move_to_backup(old, backup.relative_to(changes.backup_dir))
                report("Writing the new migration files")
                for path, text in plan.work.writes:
                    changes.write(path, text)
                for path, text, backup in plan.work.rewrites:
                    changes.rewrite(path, text, backup.relative_to(changes.backup_dir))
                with suppress(Exception):  # as makemigrations: black, if installed
                    run_formatters([str(path) for path, _ in plan.work.writes])
            forget_modules(plan.work.packages)
            report("Verifying the new migrations")
            verified = verification.verify(connection, plan, active)
            after = None
            if reset and (measure or _carries_code(plan)):
                # Carried code meets a schema it was not written for: build a new database
                # from the new files (never the live one) before anything is recorded.
                report("Building a fresh database from the new migrations")
                after = measurement.build_fresh_database(connection, reset)
            report("Recording the new migrations")
            deleted, recorded = recording.record(connection, plan, active)
        except BaseException as exc:
            problems = changes.undo()
            forget_modules(plan.work.packages)
            if problems:
                raise ResetFailed(
                    f"The reset failed ({exc}) and could not be undone completely: "
                    f"{'; '.join(problems)}. The backup folder {plan.backup_dir} has the old "
                    "files; django_migrations is unchanged."
                ) from exc
            if isinstance(exc, MigrationOpsError) or not isinstance(exc, Exception):
                raise
            raise ResetFailed(
                f"The reset failed: {type(exc).__name__}: {exc}. The old migration files are "
                "back in place and django_migrations is unchanged."
            ) from exc

    measured = None
    if before is not None and after is not None:
        measured = Measurement(before[0], before[1], after.migrations, after.seconds)
    return ResetResult(
        plan=plan,
        files_before=sum(app.files_before for app in plan.apps if app.action == RESET),
        files_after=sum(app.files_after for app in plan.apps if app.action == RESET),
        rows_deleted=deleted,
        rows_recorded=recorded,
        verified_tables=verified,
        measurement=measured,
        seconds=time.perf_counter() - started,
    )


def _carries_code(plan: ResetPlan) -> bool:
    return any(m.follow_up for app in plan.apps if app.action == RESET for m in app.new_migrations)
