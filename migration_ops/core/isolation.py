"""A fresh ``migrate`` in a child process that cannot reach the live databases.

A data migration may ignore the connection it is given (``Thing.objects.create()`` follows
the routers to ``default``), so a scratch alias in this process is no isolation: the live
connections stay one router decision away. The child gets the project's settings with
``DATABASES`` replaced: the alias to build points at a scratch database created for the run
(a name with a suffix on the same server, or a file beside a SQLite database) and every
other alias at one that is never created (an in-memory database for SQLite). No live
database name is left in the child's settings.

The parent passes the settings module (``DJANGO_SETTINGS_MODULE``), the runtime values of
``INSTALLED_APPS`` and ``MIGRATION_MODULES`` (which tests and ``override_settings`` change)
and ``sys.path``; the child writes a JSON result: migrations run and seconds, or the error
and the migration it happened in.

Run as ``python -m migration_ops.core.isolation PAYLOAD`` by :func:`fresh_migrate` only.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migration_ops.exceptions import IsolationUnavailable

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

SUFFIX = "mo_isolated"


@dataclass(frozen=True)
class FreshMigrate:
    """What ``migrate`` of some apps did on an empty scratch database."""

    migrations: int  # in the plan
    seconds: float  # of the migrate itself (not the child's start)
    error: str | None = None  # "IntegrityError: ..." when it failed
    failed_migration: str | None = None  # "app.name" it failed in

    @property
    def ok(self) -> bool:
        return self.error is None


def fresh_migrate(connection: BaseDatabaseWrapper, app_labels: Sequence[str]) -> FreshMigrate:
    """``migrate`` of ``app_labels`` (and what they depend on) from the files on disk, on a
    scratch copy of ``connection``'s server, in a child process."""
    from django.conf import settings
    from django.db import connections

    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        raise IsolationUnavailable(
            "A fresh migrate on a scratch database runs in a separate process, which needs "
            "the settings as a module: set DJANGO_SETTINGS_MODULE (settings.configure() "
            "cannot be handed to another process). Nothing was changed."
        )
    databases = {
        alias: _scratch_settings(connections[alias], build=alias == connection.alias)
        for alias in connections
    }
    with tempfile.TemporaryDirectory(prefix="migration-ops-") as folder:
        payload = Path(folder) / "payload.pickle"
        result = Path(folder) / "result.json"
        payload.write_bytes(
            pickle.dumps(
                {
                    "settings_module": module,
                    "databases": databases,
                    "alias": connection.alias,
                    "apps": list(app_labels),
                    "installed_apps": list(settings.INSTALLED_APPS),
                    "migration_modules": dict(settings.MIGRATION_MODULES),
                    "result": str(result),
                }
            )
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.curdir for p in sys.path)}
        child = subprocess.run(
            [sys.executable, "-m", "migration_ops.core.isolation", str(payload)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if not result.exists():
            lines = (child.stderr or child.stdout).strip().splitlines()
            return FreshMigrate(0, 0.0, f"the child process failed: {' '.join(lines[-1:])}")
        data = json.loads(result.read_text(encoding="utf-8"))
    return FreshMigrate(
        data["migrations"], data["seconds"], data.get("error"), data.get("migration")
    )


def _scratch_settings(connection: BaseDatabaseWrapper, *, build: bool) -> dict[str, Any]:
    settings_dict = deepcopy(connection.creation.get_test_db_clone_settings(SUFFIX))
    if connection.vendor == "sqlite" and not build:
        settings_dict["NAME"] = ":memory:"
    # The child creates the built one under this name (its TEST NAME), never another.
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "NAME": settings_dict["NAME"]}
    settings_dict["TEST"]["MIRROR"] = None
    return settings_dict


# --------------------------------------------------------------------------- the child


def _child(payload_path: str) -> None:
    payload = pickle.loads(Path(payload_path).read_bytes())
    os.environ["DJANGO_SETTINGS_MODULE"] = payload["settings_module"]
    from django.conf import settings

    # Before django.setup() and before any connection exists.
    settings.DATABASES = payload["databases"]
    settings.INSTALLED_APPS = payload["installed_apps"]
    settings.MIGRATION_MODULES = payload["migration_modules"]
    import django

    django.setup()
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[payload["alias"]]
    name = connection.creation._create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    connection.close()
    connection.settings_dict["NAME"] = name
    result: dict[str, Any] = {"migrations": 0, "seconds": 0.0}
    current: list[str] = []

    def track(action: str, migration: Any = None, fake: bool = False) -> None:
        if action == "apply_start":
            current[:] = [f"{migration.app_label}.{migration.name}"]

    try:
        executor = MigrationExecutor(connection, progress_callback=track)
        apps = set(payload["apps"])
        targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in apps]
        plan = executor.migration_plan(targets)
        result["migrations"] = len(plan)
        started = time.perf_counter()
        executor.migrate(targets, plan=plan)
        result["seconds"] = time.perf_counter() - started
    except Exception as exc:  # reported to the parent, which decides
        # The first line: PostgreSQL adds DETAIL lines with the row's values.
        message = str(exc).strip().splitlines()
        result["error"] = f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ")
        result["migration"] = current[0] if current else None
    finally:
        for each in connections.all():
            each.close()
        connection.creation._destroy_test_db(name, verbosity=0)
    Path(payload["result"]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    _child(sys.argv[1])
