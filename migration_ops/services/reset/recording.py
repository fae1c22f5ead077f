"""Recording a reset in django_migrations: delete and record rows in one transaction, and
check that ``migrate`` has nothing left to do before committing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.exceptions import ResetFailed
from migration_ops.services.reset.plan import ResetPlan


def record(
    connection: BaseDatabaseWrapper, plan: ResetPlan, apps: Sequence[str]
) -> tuple[int, int]:
    """Delete and record rows in one transaction, then check that ``migrate`` has nothing
    to do for the apps and the history is consistent (else roll back)."""
    recorder = MigrationRecorder(connection)
    recorder.ensure_schema()
    with _transaction(connection):
        return _record_rows(connection, recorder, plan, apps)


@contextmanager
def _transaction(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """One transaction whose commit is the moment the reset becomes real.

    Not ``transaction.atomic``: a Ctrl-C inside its commit skips the rollback, and turning
    autocommit back on then commits the rows on SQLite and MySQL while the files are put
    back (a ghost row). Here the rollback comes first, whatever interrupted, so an
    interruption leaves the rows either committed or not; the caller reads them back.
    """
    if connection.in_atomic_block:  # the caller's transaction decides
        with transaction.atomic(using=connection.alias):
            yield
        return
    transaction.set_autocommit(False, using=connection.alias)
    try:
        yield
        connection.commit()
    except BaseException:
        with suppress(Exception):  # a session the interruption broke: it rolls back anyway
            connection.rollback()
        raise
    finally:
        # After an interruption psycopg may refuse ("can't change 'autocommit' now"); the
        # caller then discards the session.
        with suppress(Exception):
            transaction.set_autocommit(True, using=connection.alias)


def _record_rows(
    connection: BaseDatabaseWrapper,
    recorder: MigrationRecorder,
    plan: ResetPlan,
    apps: Sequence[str],
) -> tuple[int, int]:
    deleted = recorded = 0
    for app in plan.apps:
        if app.rows_to_delete:
            deleted += recorder.migration_qs.filter(
                app=app.app_label, name__in=app.rows_to_delete
            ).delete()[0]
        present = set(
            recorder.migration_qs.filter(
                app=app.app_label, name__in=app.rows_to_record
            ).values_list("name", flat=True)
        )
        # Idempotent: a row already there (an earlier run's commit) is not recorded twice.
        for name in app.rows_to_record:
            if name not in present:
                recorder.record_applied(app.app_label, name)
                recorded += 1
    executor = MigrationExecutor(connection)
    try:
        executor.loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:
        raise ResetFailed(
            f"Recording the new migrations would leave an inconsistent history: {exc} "
            "The old migration files are back in place and django_migrations is unchanged."
        ) from exc
    graph = executor.loader.graph
    new = {
        (m.app_label, m.name) for a in plan.apps if a.app_label in apps for m in a.new_migrations
    }
    # The last of them: a target that is applied would plan to unapply its children.
    targets = sorted(k for k in new if not any(c.key in new for c in graph.node_map[k].children))
    pending = [
        f"{m.app_label}.{m.name}"
        for m, backwards in executor.migration_plan(targets)
        if not backwards
    ]
    if pending:
        raise ResetFailed(
            f"After recording, `migrate` would still run {', '.join(pending)}. The old "
            "migration files are back in place and django_migrations is unchanged."
        )
    return deleted, recorded


def is_recorded(connection: BaseDatabaseWrapper, rows: Iterable[tuple[str, str]]) -> bool:
    """Whether every one of ``rows`` is in django_migrations now (read back, not assumed)."""
    wanted = set(rows)
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return not wanted
    return wanted <= set(recorder.applied_migrations())


def rows_to_record(plan: ResetPlan) -> list[tuple[str, str]]:
    return [(app.app_label, name) for app in plan.apps for name in app.rows_to_record]


def discard(connection: BaseDatabaseWrapper) -> None:
    """Drop ``connection``'s session after an interruption inside the recording transaction:
    the server rolls back whatever was not committed, and the next query opens a new
    session. An interruption inside ``Atomic.__exit__`` can leave Django's bookkeeping
    half-way (PostgreSQL then says "can't change 'autocommit' now"); it is reset first."""
    connection.in_atomic_block = False
    connection.savepoint_ids = []
    connection.atomic_blocks = []
    connection.needs_rollback = False
    connection.closed_in_transaction = False
    connection.commit_on_exit = True
    with suppress(Exception):  # a session already broken by the interruption
        connection.close()
    connection.connection = None
