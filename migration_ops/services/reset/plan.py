"""What a reset plan and its result hold: frozen dataclasses and the action/mode constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from migration_ops.core.regenerate import MigrationKey
from migration_ops.core.special_operations import SpecialOperation

REPLACE = "replace"
CLEAN_SLATE = "clean-slate"
MODES = (REPLACE, CLEAN_SLATE)

# What happens to each app (AppReset.action).
RESET = "reset"  # new files are written and recorded
TRANSITION = "transition"  # the files are already reset; only the rows change
DONE = "done"  # nothing to do

# How a dependent migration keeps loading (DependentMigration.handling).
REMAPPED = "remapped"
REWRITTEN = "rewritten"


@dataclass(frozen=True)
class NewMigration:
    app_label: str
    name: str
    path: str
    stands_in_for: tuple[str, ...]  # names of the old migrations of the app
    dependencies: tuple[str, ...]  # "app.name" labels
    operations: tuple[str, ...]  # descriptions
    follow_up: bool = False  # runs the operations --keep-data-migrations carries

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"


@dataclass(frozen=True)
class AppReset:
    app_label: str
    action: str  # RESET, TRANSITION or DONE
    mode: str  # the mode of the files written (or found, for a transition)
    directory: str | None
    old_migrations: tuple[str, ...]  # the old history, in order
    files_to_move: tuple[str, ...]  # file names in ``directory``
    new_migrations: tuple[NewMigration, ...]
    extra_files: tuple[str, ...]  # modules kept for carried RunPython functions
    rows_to_delete: tuple[str, ...]
    rows_to_record: tuple[str, ...]
    note: str  # one sentence

    @property
    def files_before(self) -> int:
        return len(self.files_to_move) if self.action == RESET else len(self.new_migrations)

    @property
    def files_after(self) -> int:
        return len(self.new_migrations)


@dataclass(frozen=True)
class DependentMigration:
    """A migration of another app that depends on an old migration of a reset app."""

    app_label: str
    name: str
    dependency: str  # "app.name" of the old migration
    target: str  # "app.name" of the new migration standing in for it
    handling: str  # REMAPPED (by Django, through replaces) or REWRITTEN (in its file)
    path: str | None

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    @property
    def message(self) -> str:
        if self.handling == REMAPPED:
            return (
                f"{self.label} depends on {self.dependency}: Django remaps the dependency to "
                f"{self.target}, which replaces it; the file is not changed."
            )
        return f"{self.label} depends on {self.dependency}: its file is rewritten to {self.target}."


@dataclass(frozen=True)
class _Work:
    """What :func:`apply_reset` does with files; not part of the plan's public data."""

    moves: tuple[tuple[Path, Path], ...] = ()  # (old file, path inside the backup folder)
    writes: tuple[tuple[Path, str], ...] = ()
    rewrites: tuple[tuple[Path, str, Path], ...] = ()  # (file, new text, backup path)
    packages: tuple[str, ...] = ()  # migrations packages whose modules change
    compared_tables: frozenset[str] = frozenset()
    rows: frozenset[MigrationKey] = frozenset()  # the plan's apps' rows when planned


@dataclass(frozen=True)
class ResetPlan:
    database: str
    vendor: str
    mode: str
    apps: tuple[AppReset, ...]
    dependents: tuple[DependentMigration, ...]
    special_operations: tuple[SpecialOperation, ...]
    keep_data_migrations: bool
    backup_dir: str | None  # None when no file changes
    # For the other environments: a sentence, and the command to run there (clean-slate).
    other_environments: str
    other_environments_command: tuple[str, ...] | None
    work: _Work = field(default_factory=_Work, compare=False, repr=False)

    @property
    def nothing_to_do(self) -> bool:
        return all(app.action == DONE for app in self.apps)

    @property
    def writes_files(self) -> bool:
        return any(app.action == RESET for app in self.apps)

    def app(self, app_label: str) -> AppReset:
        return next(app for app in self.apps if app.app_label == app_label)


@dataclass(frozen=True)
class Measurement:
    """Seconds a fresh ``migrate`` of the reset apps (and what they depend on) took."""

    migrations_before: int
    seconds_before: float
    migrations_after: int
    seconds_after: float


@dataclass(frozen=True)
class ResetResult:
    plan: ResetPlan
    files_before: int
    files_after: int
    rows_deleted: int
    rows_recorded: int
    verified_tables: int
    measurement: Measurement | None
    seconds: float
