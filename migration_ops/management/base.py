"""The base class of the package's commands: system checks that cannot reach a database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from migration_ops.exceptions import MigrationOpsError
from migration_ops.management.interaction import INTERRUPTED
from migration_ops.services.common import get_connection


class DatabaseCommand(BaseCommand):
    """A command whose system checks report an unreachable database as a ``CommandError``.

    Django 6.1 runs the backends' field checks on every alias before ``handle()``, and on
    MySQL/MariaDB they connect; an unreachable server must not end in a traceback there,
    nor a Ctrl-C while they wait for it.
    """

    def check(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().check(*args, **kwargs)
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted (Ctrl-C) during the system checks; nothing was changed.",
                returncode=INTERRUPTED,
            ) from None
        except DatabaseError:
            for alias in connections:
                try:
                    get_connection(alias)
                except MigrationOpsError as exc:
                    raise CommandError(str(exc), returncode=2) from exc
            raise
