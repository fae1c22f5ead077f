"""Recording a reset in django_migrations: delete and record rows in one transaction, and
check that ``migrate`` has nothing left to do before committing."""

from __future__ import annotations

from collections.abc import Sequence

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
    deleted = recorded = 0
    with transaction.atomic(using=connection.alias):
        for app in plan.apps:
            if app.rows_to_delete:
                deleted += recorder.migration_qs.filter(
                    app=app.app_label, name__in=app.rows_to_delete
                ).delete()[0]
            for name in app.rows_to_record:
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
            (m.app_label, m.name)
            for a in plan.apps
            if a.app_label in apps
            for m in a.new_migrations
        }
        # The last of them: a target that is applied would plan to unapply its children.
        targets = sorted(
            k for k in new if not any(c.key in new for c in graph.node_map[k].children)
        )
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
