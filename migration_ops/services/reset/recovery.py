"""A reset interrupted by a kill: found from its journal, completed or rolled back.

A run that was killed leaves its manifest in the backup folder and a marker beside the
migration files it touched (:mod:`migration_ops.core.file_changes`). The next run of the
command finds either, before it loads any migration (the graph may be broken half-way
through the moves), and decides from django_migrations alone: when the new migrations are
recorded, the recording committed and the reset is complete (any file change still missing
is made); otherwise it never happened, and every file goes back. Then the command plans
as usual: after a completion there is nothing to do, after a roll-back the reset runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.apps import apps as global_apps

from migration_ops.core.file_changes import (
    JournaledChanges,
    JournalError,
    discard_unwritten_manifest,
    find_manifests,
    forget_modules,
    stale_markers,
)
from migration_ops.core.locations import migrations_directory
from migration_ops.exceptions import ResetFailed, ResetRefused
from migration_ops.services.common import get_connection, lock_database
from migration_ops.services.reset import recording
from migration_ops.text import count

COMPLETED = "completed"
ROLLED_BACK = "rolled-back"


@dataclass(frozen=True)
class Recovery:
    manifest: str
    database: str
    action: str  # COMPLETED or ROLLED_BACK
    apps: tuple[str, ...]
    files: int  # file changes the journal lists

    @property
    def message(self) -> str:
        apps = ", ".join(self.apps)
        if self.action == COMPLETED:
            return (
                f"Found an interrupted reset of {apps} (journal {self.manifest}): its new "
                f"migrations are recorded on database {self.database!r}, so it was complete; "
                f"checked its {count(self.files, 'file change')} and removed the journal."
            )
        return (
            f"Found an interrupted reset of {apps} (journal {self.manifest}): its new "
            f"migrations are not recorded on database {self.database!r}, so it was rolled "
            f"back: {count(self.files, 'file change')} undone, the old migration files are "
            "back in place."
        )


def _migrations_dirs() -> list[Path]:
    dirs = []
    for config in global_apps.get_app_configs():
        try:
            directory = migrations_directory(config.label)
        except Exception:  # a migrations package that no longer imports
            continue
        if directory is not None:
            dirs.append(directory)
    return dirs


def recover_interrupted_reset(
    backup_dir: str | Path | None = None, *, dry_run: bool = False
) -> Recovery | None:
    """Complete or roll back the reset whose journal is found (None when there is none).
    With ``dry_run``, refuse with what a real run would do, changing nothing."""
    directories = _migrations_dirs()
    manifests = find_manifests(
        directories, Path(backup_dir).resolve() if backup_dir is not None else None
    )
    if not manifests:
        if not dry_run:
            for marker in stale_markers(directories):
                marker.unlink(missing_ok=True)  # a run killed while finishing
            if backup_dir is not None:
                # A run killed while writing its manifest: nothing else was changed.
                discard_unwritten_manifest(Path(backup_dir).resolve())
        return None
    if len(manifests) > 1:
        raise ResetRefused(
            "Several interrupted resets left journals: "
            f"{', '.join(str(m) for m in manifests)}. Nothing was changed; move all but one "
            "away (or restore their files by hand) and run the command again."
        )
    manifest = manifests[0]
    try:
        changes = JournaledChanges.load(manifest)
    except JournalError as exc:
        raise ResetRefused(f"{exc}. Nothing was changed.") from exc
    database = str(changes.meta["database"])
    rows = [(str(app), str(name)) for app, name in changes.meta["record"]]
    apps = tuple(str(app) for app in changes.meta["apps"])
    files = len(changes.moves) + len(changes.writes) + len(changes.rewrites)
    connection = get_connection(database)
    with lock_database(connection.alias):
        done = recording.is_recorded(connection, rows)
        if dry_run:
            would = (
                "its new migrations are recorded: a run completes it"
                if done
                else "its new migrations are not recorded: a run rolls its file changes back"
            )
            raise ResetRefused(
                f"An interrupted reset of {', '.join(apps)} left its journal {manifest}; "
                f"{would}, then plans again. Dry run: nothing was changed."
            )
        try:
            if done:
                changes.complete()
                changes.finish()
            else:
                problems = changes.undo()
                if problems:
                    raise ResetFailed(
                        f"The interrupted reset of {', '.join(apps)} (journal {manifest}) "
                        f"could not be rolled back completely: {'; '.join(problems)}. "
                        "django_migrations is unchanged; fix the files named and run the "
                        "command again."
                    )
                changes.finish(remove_backup_dir=True)
        finally:
            forget_modules(str(p) for p in changes.meta.get("packages", ()))
    return Recovery(str(manifest), database, COMPLETED if done else ROLLED_BACK, apps, files)
