"""Fresh ``migrate`` runs of the reset apps on scratch databases, in a child process that
cannot reach the live database (:mod:`migration_ops.core.isolation`): the timings of
``--measure``, and the check that carried code still runs on a new database."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.backends.base.base import BaseDatabaseWrapper

from migration_ops.core.isolation import FreshMigrate, fresh_migrate
from migration_ops.exceptions import ResetFailed


def time_fresh_migrate(connection: BaseDatabaseWrapper, apps: Sequence[str]) -> tuple[int, float]:
    """(migrations run, seconds) of ``migrate`` of ``apps`` with the old migrations."""
    run = fresh_migrate(connection, apps)
    if not run.ok:
        raise ResetFailed(
            f"Timing a fresh migrate with the old migrations failed on a scratch database"
            f"{_where(run)}: {run.error}. Nothing was changed; run without --measure."
        )
    return run.migrations, run.seconds


def build_fresh_database(connection: BaseDatabaseWrapper, apps: Sequence[str]) -> FreshMigrate:
    """``migrate`` of ``apps`` with the new migrations on a scratch database; raises
    :class:`ResetFailed` (which the caller turns into an undo) when it fails."""
    run = fresh_migrate(connection, apps)
    if not run.ok:
        raise ResetFailed(
            f"The new migrations do not build a fresh database: `migrate` failed on a "
            f"scratch database{_where(run)}: {run.error}. A carried operation cannot run "
            "where the reset puts it; fix or drop it (without --keep-data-migrations it is "
            "left out and listed). The old migration files are back in place and "
            "django_migrations is unchanged."
        )
    return run


def _where(run: FreshMigrate) -> str:
    return f" in {run.failed_migration}" if run.failed_migration else ""
