"""Domain exceptions raised by the services; commands turn them into ``CommandError``."""

from __future__ import annotations

from django.db.migrations.exceptions import NodeNotFoundError


class MigrationOpsError(Exception):
    """Base class: a precondition failed or the input is wrong; nothing was changed."""


class UnknownDatabase(MigrationOpsError):
    pass


class DatabaseUnavailable(MigrationOpsError):
    """The database cannot be reached (server down, unknown database name, no such file)."""


class UnknownApp(MigrationOpsError):
    pass


class UnknownMigration(MigrationOpsError):
    pass


class BrokenMigrationGraph(MigrationOpsError):
    """The migration graph cannot be built, typically because an app that other apps'
    migrations depend on was removed from INSTALLED_APPS."""

    @classmethod
    def from_node_not_found(cls, exc: NodeNotFoundError) -> BrokenMigrationGraph:
        missing = ".".join(exc.node) if isinstance(exc.node, tuple) else str(exc.node)
        # ``origin`` is the Migration that refers to the missing node (None for the
        # messages Django rewrites itself, which already name both).
        problem = (
            f"migration {exc.origin} refers to {missing}, which does not exist"
            if exc.origin is not None
            else str(exc.message).rstrip(".")
        )
        if exc.origin is None and "some of the replaced migrations are already applied" in problem:
            # A squash (or a reset in replace mode) whose replaced files are gone, on a
            # database part-way through them: no reinstall brings the files back.
            return cls(
                f"The migration graph cannot be built on this database: {problem}. It is "
                "part-way through the migrations that a squash replaces (a partial squash): "
                "reach the end of them with the previous release, which still has their "
                "files, then run `migrate` with this one."
            )
        return cls(
            f"The migration graph is broken: {problem}. Reinstall the app that provides "
            f"{missing}, or remove the dependency on it."
        )


class UnsupportedDatabase(MigrationOpsError):
    """The database's backend (``connection.vendor``) has no introspector."""


class LockHeld(MigrationOpsError):
    """Another session holds the package's advisory lock on the database."""


class ResetRefused(MigrationOpsError):
    """``reset_migrations`` found a reason not to start; nothing was changed."""


class ResetFailed(MigrationOpsError):
    """``reset_migrations`` started and was undone: the old files are back and
    django_migrations is unchanged."""


class IsolationUnavailable(MigrationOpsError):
    """A child process that only knows scratch databases cannot be given the settings."""


class BadBaseline(MigrationOpsError):
    """A ``plan_upgrade`` baseline file is missing, unreadable, or not a baseline."""


class ResetInterrupted(MigrationOpsError):
    """``reset_migrations`` was interrupted (Ctrl-C); the message says which consistent side
    it left: complete, or undone."""


class RehearsalRefused(MigrationOpsError):
    """``plan_upgrade --rehearse`` cannot get a scratch database; nothing was created."""
