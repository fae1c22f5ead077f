"""Carrying out a reset plan: move and write files, verify, record; undo on failure.

The file changes are journaled (:mod:`migration_ops.core.file_changes`): a manifest in the
backup folder lists them before the first one, so that a run killed at any point can be
completed or rolled back by the next one (:mod:`.recovery`). Which of the two is decided by
django_migrations alone: the recording is one transaction, the last step; once it has
committed the reset is complete, before that it never happened. After an interruption at
that commit the rows are read back, never assumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from django.core.management.utils import run_formatters
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.core.file_changes import JournaledChanges, Move, Rewrite, Write, forget_modules
from migration_ops.exceptions import MigrationOpsError, ResetFailed, ResetInterrupted, ResetRefused
from migration_ops.services.common import get_connection, lock_database
from migration_ops.services.reset import measurement, recording, verification
from migration_ops.services.reset.plan import DONE, RESET, Measurement, ResetPlan, ResetResult

Progress = Callable[[str], None]


def journal_of(plan: ResetPlan) -> JournaledChanges:
    """The journaled file changes of ``plan`` (with what a re-run needs to decide)."""
    work = plan.work
    return JournaledChanges(
        Path(plan.backup_dir) if plan.backup_dir else Path.cwd(),
        moves=tuple(Move(old, backup) for old, backup in work.moves),
        writes=tuple(Write(path, text) for path, text in work.writes),
        rewrites=tuple(Rewrite(path, text, backup) for path, text, backup in work.rewrites),
        meta={
            "database": plan.database,
            "mode": plan.mode,
            "apps": [app.app_label for app in plan.apps if app.action != DONE],
            "record": [list(row) for row in recording.rows_to_record(plan)],
            "packages": list(work.packages),
        },
    )


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

        changes = journal_of(plan)
        recording_started = False
        try:
            if plan.writes_files:
                changes.begin()
                report(f"Moving the old migration files to {plan.backup_dir}")
                report("Writing the new migration files")
                changes.apply()
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
            recording_started = True
            deleted, recorded = recording.record(connection, plan, active)
        except BaseException as exc:
            failure = _after_failure(connection, plan, changes, exc, recording_started)
            if failure is exc:
                raise
            raise failure from exc
        if plan.writes_files:
            try:
                changes.finish()
            except BaseException as exc:
                # Recorded: the reset is complete whatever happens to its journal now.
                error = ResetInterrupted if _interrupted(exc) else ResetFailed
                raise error(
                    f"Interrupted ({_describe(exc)}) after the new migrations were recorded: "
                    "the reset is complete. Run the same command again to remove its journal "
                    f"{changes.manifest}."
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


def _after_failure(
    connection: BaseDatabaseWrapper,
    plan: ResetPlan,
    changes: JournaledChanges,
    exc: BaseException,
    recording_started: bool,
) -> BaseException:
    """Leave one consistent side after ``exc``; return what to raise, which says which."""
    interrupted = _interrupted(exc)
    if recording_started:
        recording.discard(connection)
        try:
            done = recording.is_recorded(connection, recording.rows_to_record(plan))
        except Exception as read_error:
            # Nothing can be decided without the rows: the journal stays for the re-run.
            return ResetFailed(
                f"The reset was interrupted while recording ({_describe(exc)}), and "
                f"django_migrations cannot be read back ({_describe(read_error)}). Run the "
                "same command again: it reads the journal in "
                f"{changes.manifest if plan.writes_files else 'memory'} and completes the reset "
                "or rolls it back, from the rows it finds."
            )
        if done:
            # The commit went through: the reset is complete; only the journal is left.
            if plan.writes_files:
                changes.finish()
            forget_modules(plan.work.packages)
            return ResetInterrupted(
                f"Interrupted ({_describe(exc)}) after the new migrations were recorded: the "
                "reset is complete, files and rows. Nothing is left to do."
            )
    problems = changes.undo() if plan.writes_files else []
    forget_modules(plan.work.packages)
    if problems:
        return ResetFailed(
            f"The reset failed ({exc}) and could not be undone completely: "
            f"{'; '.join(problems)}. The backup folder {plan.backup_dir} has the old "
            f"files and the journal {changes.manifest.name}; django_migrations is unchanged. "
            "Run the same command again to finish the undo."
        )
    if plan.writes_files:
        changes.finish(remove_backup_dir=True)
    if interrupted:
        return ResetInterrupted(
            "Interrupted before the new migrations were recorded: the old migration files are "
            "back in place and django_migrations is unchanged. Run the same command again to "
            "reset."
        )
    if isinstance(exc, MigrationOpsError) or not isinstance(exc, Exception):
        return exc
    return ResetFailed(
        f"The reset failed: {type(exc).__name__}: {exc}. The old migration files are "
        "back in place and django_migrations is unchanged."
    )


def _interrupted(exc: BaseException) -> bool:
    """A Ctrl-C, possibly masked by what it broke (PostgreSQL's "can't change autocommit")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "Ctrl-C"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def _carries_code(plan: ResetPlan) -> bool:
    return any(m.follow_up for app in plan.apps if app.action == RESET for m in app.new_migrations)
