"""``migrate`` of the reset apps on an empty scratch database, timed."""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor

from migration_ops.core.scratch import scratch_database


def time_fresh_migrate(connection: BaseDatabaseWrapper, apps: Sequence[str]) -> tuple[int, float]:
    """(migrations run, seconds) of ``migrate`` of ``apps`` on an empty scratch database."""
    with scratch_database(connection) as scratch:
        executor = MigrationExecutor(scratch)
        targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in apps]
        steps = executor.migration_plan(targets)
        started = time.perf_counter()
        executor.migrate(targets, plan=steps)
        return len(steps), time.perf_counter() - started
