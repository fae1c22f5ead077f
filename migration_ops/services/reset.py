"""``reset_migrations``: replace apps' migration histories by regenerated migrations.

Two steps, as ``migrate`` has a plan and an executor:

- :func:`plan_reset` checks the preconditions (refusing with :class:`ResetRefused`), runs
  Django's autodetector in memory and returns a :class:`ResetPlan`: files to move and to
  write, rows to change, other apps' migrations that depend on the reset ones, and every
  operation whose effect the new migrations lack. It changes nothing.
- :func:`apply_reset` moves the old files to the backup folder, writes the new ones,
  verifies them (the graph loads, ``makemigrations`` finds nothing, their schema equals the
  live one) and records them in one transaction. Anything failing before the end puts the old
  files back and leaves django_migrations untouched (:class:`ResetFailed`).

An app whose files are already the result of a reset (the new migrations name the old ones in
``replaces`` or in the clean-slate marker) while the database still records the old
history is *transitioned*: verified and recorded, no file written. That is what running the
same command on another environment does, and why running it twice changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from django.apps import apps as global_apps
from django.core.management.utils import run_formatters
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.exceptions import CircularDependencyError, InconsistentMigrationHistory
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter

from migration_ops.core.diff import SchemaDifference, diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.file_changes import FileChanges, forget_modules
from migration_ops.core.history import graph_errors, load_history, migration_plan
from migration_ops.core.locations import (
    migrations_directory,
    migrations_package,
    not_first_party_reason,
)
from migration_ops.core.ownership import attribute_tables
from migration_ops.core.regenerate import (
    MigrationKey,
    SpecialOperation,
    follow_up_migration,
    label,
    migration_name_for,
    migration_source,
    module_file,
    old_history,
    partition,
    regenerate,
    rewrite_dependencies,
    special_operations,
    stand_ins,
    unmigrated_changes,
)
from migration_ops.core.schema import Schema
from migration_ops.core.scratch import scratch_database
from migration_ops.core.states import applied_state, state_after
from migration_ops.exceptions import (
    BrokenMigrationGraph,
    MigrationOpsError,
    ResetFailed,
    ResetRefused,
    UnknownApp,
)
from migration_ops.introspection import snapshot
from migration_ops.services.common import get_connection, load_executor, lock_database
from migration_ops.text import count

Progress = Callable[[str], None]

# The package's advisory lock: one migration-changing command per database at a time.

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


# --------------------------------------------------------------------------- planning


def plan_reset(
    app_labels: Sequence[str] = (),
    *,
    all_local: bool = False,
    database: str = DEFAULT_DB_ALIAS,
    mode: str = REPLACE,
    force: bool = False,
    keep_data_migrations: bool = False,
    backup_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> ResetPlan:
    """Check the preconditions and work out the reset of ``app_labels`` (or of every
    first-party app with migrations); changes nothing."""
    if mode not in MODES:
        raise ResetRefused(f"Unknown mode {mode!r}; use 'replace' or 'clean-slate'.")
    if bool(app_labels) == all_local:
        raise ResetRefused("Give the labels of the apps to reset, or --all-local (not both).")
    connection = get_connection(database)
    with lock_database(connection.alias):
        return _Planner(
            connection,
            mode=mode,
            force=force,
            keep=keep_data_migrations,
            backup_dir=backup_dir,
            report=progress or (lambda message: None),
        ).plan(tuple(dict.fromkeys(app_labels)), all_local)


class _Planner:
    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        *,
        mode: str,
        force: bool,
        keep: bool,
        backup_dir: str | Path | None,
        report: Progress,
    ) -> None:
        self.connection = connection
        self.mode = mode
        self.force = force
        self.keep = keep
        self.backup_dir = Path(backup_dir) if backup_dir else None
        self.report = report
        self.problems: list[str] = []

    def plan(self, app_labels: tuple[str, ...], all_local: bool) -> ResetPlan:
        self.report("Reading migration files and rows")
        disk = MigrationLoader(None, load=False)
        disk.load_disk()
        self.disk = disk.disk_migrations
        self.rows = rows = frozenset(MigrationRecorder(self.connection).applied_migrations())
        labels = self._labels(app_labels, all_local)

        # Which apps need new files, which only need their rows changed.
        kinds = {app: self._classify(app) for app in labels}
        self._refuse_if_any()

        self.report("Loading migrations")
        executor = load_executor(self.connection)
        loader = executor.loader
        reset = [app for app in labels if kinds[app][0] == RESET]
        transition = [app for app in labels if kinds[app][0] == TRANSITION]
        if reset:
            self._preflight(executor, reset)
        self._refuse_if_any()

        compared: frozenset[str] = frozenset()
        if reset or transition:
            compared = self._check_drift(loader, reset, transition, kinds)

        self.report("Regenerating migrations with the autodetector")
        apps_plans: dict[str, AppReset] = {}
        dependents: list[DependentMigration] = []
        specials: list[SpecialOperation] = []
        work = _Work()
        backup = None
        if reset:
            backup = self._backup_dir()
            apps_plans, dependents, specials, work = self._regenerate(loader, reset, backup)
        for app in labels:
            if app in apps_plans:
                continue
            apps_plans[app] = self._unchanged_app(app, kinds[app])
        self._refuse_if_any()
        work = replace(
            work,
            compared_tables=compared,
            rows=frozenset(key for key in rows if key[0] in labels),
        )
        instruction, command = self._other_environments(labels if not all_local else None)
        return ResetPlan(
            database=self.connection.alias,
            vendor=self.connection.vendor,
            mode=self.mode,
            apps=tuple(apps_plans[app] for app in labels),
            dependents=tuple(dependents),
            special_operations=tuple(specials),
            keep_data_migrations=self.keep,
            backup_dir=str(backup) if backup is not None else None,
            other_environments=instruction,
            other_environments_command=command,
            work=work,
        )

    # Apps ----------------------------------------------------------------------------

    def _labels(self, app_labels: tuple[str, ...], all_local: bool) -> list[str]:
        with_files = {app for app, _ in self.disk}
        if all_local:
            local = [
                config.label
                for config in global_apps.get_app_configs()
                if config.label in with_files and self._not_first_party(config.label) is None
            ]
            if not local:
                raise ResetRefused("No first-party app has migrations; nothing to reset.")
            return sorted(local)
        for app in app_labels:
            try:
                global_apps.get_app_config(app)
            except LookupError as exc:
                raise UnknownApp(f"No installed app with label '{app}'.") from exc
            if app not in with_files:
                raise UnknownApp(f"App '{app}' has no migrations; there is nothing to reset.")
        return list(app_labels)

    def _not_first_party(self, app_label: str) -> str | None:
        directory = migrations_directory(app_label)
        if directory is None:
            return f"its migrations package {migrations_package(app_label)} cannot be imported"
        return not_first_party_reason(directory)

    def _own(self, app_label: str) -> dict[str, Migration]:
        return {name: m for (app, name), m in self.disk.items() if app == app_label}

    def _classify(self, app_label: str) -> tuple[str, str, dict[str, tuple[str, ...]]]:
        """(action, mode of the files, {new migration: old names}) of ``app_label``."""
        own = self._own(app_label)
        members = {
            name: tuple(n for app, n in stand_ins(m) if app == app_label) for name, m in own.items()
        }
        # Migrations that stand in for old ones whose files are all gone: a reset's result.
        members = {
            name: old
            for name, old in members.items()
            if old and not any((app_label, n) in self.disk for n in old)
        }
        if not members or not any(
            not any(dep[0] == app_label for dep in own[name].dependencies) for name in members
        ):
            return RESET, self.mode, {}
        files_mode = REPLACE if any(own[n].replaces for n in members) else CLEAN_SLATE
        recorded = {name for app, name in self.rows if app == app_label}
        old = {n for names in members.values() for n in names}
        if set(members) <= recorded:
            if set(own) == set(members):
                return DONE, files_mode, members
            return RESET, self.mode, {}  # a reset app with later migrations: reset again
        if not recorded:
            return DONE, files_mode, members
        if old <= recorded:
            return TRANSITION, files_mode, members
        missing = [n for n in _ordered(old, members) if n not in recorded]
        present = [n for n in _ordered(old, members) if n in recorded]
        self.problems.append(
            f"Database '{self.connection.alias}' is part-way through the old history of "
            f"'{app_label}': {len(present)} of its {count(len(old), 'old migration')} "
            f"{'is' if len(present) == 1 else 'are'} recorded, "
            f"{', '.join(f'{app_label}.{n}' for n in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not. The new migrations cannot be "
            "recorded here: deploy the previous release and run `migrate` to reach the old "
            "head first, then run this command (or `migrate`) again."
        )
        return TRANSITION, files_mode, members

    def _unchanged_app(
        self, app_label: str, kind: tuple[str, str, dict[str, tuple[str, ...]]]
    ) -> AppReset:
        action, files_mode, members = kind
        own = self._own(app_label)
        recorded = {name for app, name in self.rows if app == app_label}
        old = tuple(_ordered({n for names in members.values() for n in names}, members))
        new = tuple(
            NewMigration(
                app_label,
                name,
                str(module_file(own[name]) or ""),
                members[name],
                tuple(label(d) for d in own[name].dependencies),
                tuple(str(op.describe()) for op in own[name].operations),
            )
            for name in _ordered(set(members), {n: (n,) for n in members})
        )
        to_record = tuple(m.name for m in new if m.name not in recorded)
        if action == DONE:
            note = (
                f"Already reset: {count(len(new), 'new migration')} recorded, nothing to do."
                if recorded
                else "No migration of it is recorded on this database; `migrate` builds it "
                "from the new migrations."
            )
            to_record = ()
            to_delete: tuple[str, ...] = ()
        else:
            to_delete = tuple(sorted(recorded - set(members))) if files_mode == CLEAN_SLATE else ()
            note = (
                f"The files are already reset ({files_mode}); the database still records the "
                "old history: verify the schema and record the new migrations."
            )
        directory = migrations_directory(app_label)
        return AppReset(
            app_label=app_label,
            action=action,
            mode=files_mode,
            directory=str(directory) if directory else None,
            old_migrations=old,
            files_to_move=(),
            new_migrations=new,
            extra_files=(),
            rows_to_delete=to_delete,
            rows_to_record=to_record,
            note=note,
        )

    # Preconditions -------------------------------------------------------------------

    def _preflight(self, executor: MigrationExecutor, reset: Sequence[str]) -> None:
        loader = executor.loader
        for app in reset:
            reason = self._not_first_party(app)
            if reason is not None and not self.force:
                self.problems.append(
                    f"App '{app}' is not first-party: {reason}. Its migrations belong to "
                    "whoever ships it; pass --force to reset them anyway."
                )
        for app, leaves in sorted(loader.detect_conflicts().items()):
            if app in reset:
                self.problems.append(
                    f"App '{app}' has conflicting leaf migrations {', '.join(leaves)}; merge "
                    f"them with `makemigrations --merge {app}` first."
                )
        targets = [key for key in loader.graph.leaf_nodes() if key[0] in reset]
        pending = [step for step in migration_plan(executor, targets) if not step.backwards]
        if pending:
            names = ", ".join(f"{s.app_label}.{s.name}" for s in pending)
            self.problems.append(
                f"Database '{self.connection.alias}' is not at the head of "
                f"{_apps(reset)}: {count(len(pending), 'migration')} "
                f"{'is' if len(pending) == 1 else 'are'} pending ({names}). Run `migrate` "
                "first, then reset."
            )
        history = load_history(self.connection, loader)
        for problem in history.inconsistent:
            if problem.migration[0] in reset or problem.dependency[0] in reset:
                self.problems.append(problem.message)
        changes = unmigrated_changes(
            state_after(loader, loader.graph.leaf_nodes()), loader.graph, reset
        )
        for app, migrations in changes.items():
            operations = [str(op.describe()) for m in migrations for op in m.operations]
            self.problems.append(
                f"The models of '{app}' have changes that are not in migrations "
                f"({'; '.join(operations)}). Run `makemigrations {app}` and `migrate` first."
            )

    def _check_drift(
        self,
        loader: MigrationLoader,
        reset: Sequence[str],
        transition: Sequence[str],
        kinds: Mapping[str, tuple[str, str, dict[str, tuple[str, ...]]]],
    ) -> frozenset[str]:
        """Refuse when the live tables of the apps differ from what their migrations (the
        applied ones, or the reset ones on disk) describe; return the tables compared."""
        self.report("Reading the live schema")
        live = snapshot(self.connection)
        ownership = attribute_tables(self.connection, schema=live)
        checked = set(reset) | set(transition)
        nodes = [(app, name) for app in transition for name in kinds[app][2]]
        expected = self._expected(loader, reset, nodes)
        compared = frozenset(
            {t for t, owner in ownership.owners.items() if owner.app_label in checked}
            | set(expected.tables)
        )
        drift = diff(live.restricted_to(compared), expected)
        if drift:
            self.problems.append(_drift_problem(drift.differences, checked))
        self._refuse_if_any()
        return compared

    def _expected(
        self, loader: MigrationLoader, reset: Sequence[str], transition: Sequence[MigrationKey]
    ) -> Schema:
        tables = {}
        if reset:
            state = applied_state(self.connection, loader)
            tables.update(expected_schema(state, self.connection, app_labels=reset).tables)
        if transition:
            # The state of the reset migrations on disk (rows still name the old ones).
            state = state_after(loader, transition)
            apps = {app for app, _ in transition}
            tables.update(expected_schema(state, self.connection, app_labels=apps).tables)
        return Schema(self.connection.vendor, dict(sorted(tables.items())))

    def _backup_dir(self) -> Path:
        if self.backup_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            directory = Path.cwd() / f"migrations-backup-{stamp}"
        else:
            directory = self.backup_dir
        directory = directory.resolve()
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            self.problems.append(
                f"The backup folder {directory} already exists and is not empty; pass "
                "another --backup-dir."
            )
        return directory

    def _refuse_if_any(self) -> None:
        if self.problems:
            raise ResetRefused(
                "Nothing was changed:\n" + "\n".join(f"- {problem}" for problem in self.problems)
            )

    # Regeneration --------------------------------------------------------------------

    def _regenerate(
        self, loader: MigrationLoader, reset: Sequence[str], backup: Path
    ) -> tuple[dict[str, AppReset], list[DependentMigration], list[SpecialOperation], _Work]:
        clean_slate = self.mode == CLEAN_SLATE
        history = {app: old_history(self.disk, app) for app in reset}
        base = migration_name_for(n for names in history.values() for n in names)
        new = regenerate(reset, loader.graph, base)

        files = {
            key: path
            for key, migration in self.disk.items()
            if key[0] in reset and (path := module_file(migration)) is not None
        }
        modules = {type(self.disk[key]).__module__: path for key, path in files.items()}
        # Operations as a fresh database runs them: a squash instead of what it replaces.
        replaced_on_disk = {
            (app, name)
            for key, m in self.disk.items()
            if key[0] in reset and m.replaces
            for app, name in m.replaces
        }
        runs = [
            (key, self.disk[key])
            for app in reset
            for key in ((app, name) for name in history[app])
            if key in self.disk and key not in replaced_on_disk
        ]
        specials, kept = special_operations(runs, keep=self.keep, reset_modules=modules)

        leaves = {app: (app, migrations[-1].name) for app, migrations in new.items()}
        carrying: set[MigrationKey] = set()
        for app, carried in kept.items():
            number = len(new[app]) + 1
            follow_up = follow_up_migration(
                app, number, base, leaves[app], carried, self.disk, leaves
            )
            if number <= len(history[app]):
                new[app].append(follow_up)
            else:
                # No old migration left for a migration of its own: the last one runs them.
                last = new[app][-1]
                last.operations += follow_up.operations
                last.dependencies += [
                    d for d in follow_up.dependencies[1:] if d not in last.dependencies
                ]
            carrying.add((app, new[app][-1].name))

        stand_in: dict[MigrationKey, MigrationKey] = {}
        shares: dict[MigrationKey, tuple[MigrationKey, ...]] = {}
        for app in reset:
            old_keys = [(app, name) for name in history[app]]
            if len(new[app]) > len(old_keys):
                self.problems.append(
                    f"App '{app}' has {count(len(old_keys), 'migration')} but would get "
                    f"{len(new[app])} new ones (the autodetector splits a cycle between its "
                    "models and another app's); a reset would not shorten its history, leave "
                    "it out."
                )
                continue
            for migration, share in zip(new[app], partition(old_keys, len(new[app])), strict=True):
                shares[(app, migration.name)] = share
                for key in share:
                    stand_in[key] = (app, migration.name)
        if self.problems:
            return {}, [], specials, _Work()

        dependents, rewrites = self._dependents(reset, stand_in, backup)
        packages = {migrations_package(app) for app in reset}
        packages.update(migrations_package(d.app_label) for d in dependents)

        plans: dict[str, AppReset] = {}
        moves: list[tuple[Path, Path]] = []
        writes: list[tuple[Path, str]] = []
        for app in reset:
            directory = migrations_directory(app)
            own_files = sorted(path for key, path in files.items() if key[0] == app)
            for path in own_files:
                moves.append((path, backup / app / path.name))
            new_migrations = []
            for migration in new[app]:
                key = (app, migration.name)
                writer = MigrationWriter(migration, include_header=True)
                path = Path(writer.path).resolve()
                source = migration_source(migration, shares[key], clean_slate=clean_slate)
                writes.append((path, source))
                new_migrations.append(
                    NewMigration(
                        app,
                        migration.name,
                        str(path),
                        tuple(name for _, name in shares[key]),
                        tuple(label(d) for d in migration.dependencies),
                        tuple(str(op.describe()) for op in migration.operations),
                        follow_up=key in carrying,
                    )
                )
            extra = sorted(kept[app].modules.items()) if app in kept else []
            for _, (path, source) in extra:
                writes.append((path, source))
            recorded = tuple(sorted(name for a, name in self.rows if a == app))
            plans[app] = AppReset(
                app_label=app,
                action=RESET,
                mode=self.mode,
                directory=str(directory) if directory else None,
                old_migrations=tuple(history[app]),
                files_to_move=tuple(path.name for path in own_files),
                new_migrations=tuple(new_migrations),
                extra_files=tuple(path.name for _, (path, _) in extra),
                rows_to_delete=recorded if clean_slate else (),
                rows_to_record=tuple(m.name for m in new_migrations),
                note=(
                    f"{count(len(history[app]), 'old migration')} "
                    f"{'becomes' if len(history[app]) == 1 else 'become'} "
                    f"{count(len(new_migrations), 'new migration')}."
                ),
            )
        for path, _ in writes:
            if path.exists():
                self.problems.append(f"File {path} already exists; move it away first.")
        work = _Work(
            moves=tuple(moves),
            writes=tuple(writes),
            rewrites=tuple(rewrites),
            packages=tuple(sorted(p for p in packages if p)),
        )
        return plans, dependents, specials, work

    def _dependents(
        self,
        reset: Sequence[str],
        stand_in: Mapping[MigrationKey, MigrationKey],
        backup: Path,
    ) -> tuple[list[DependentMigration], list[tuple[Path, str, Path]]]:
        found: list[DependentMigration] = []
        rewrites: list[tuple[Path, str, Path]] = []
        for key, migration in sorted(self.disk.items()):
            if key[0] in reset:
                continue
            needed = {
                tuple(dep): stand_in[tuple(dep)]  # type: ignore[index]
                for dep in migration.dependencies
                if tuple(dep) in stand_in
            }
            if not needed:
                continue
            path = module_file(migration)
            handling = REWRITTEN if self.mode == CLEAN_SLATE else REMAPPED
            for old, new in sorted(needed.items()):
                found.append(
                    DependentMigration(
                        key[0], key[1], label(old), label(new), handling, str(path or "")
                    )
                )
            if handling != REWRITTEN:
                continue
            problem = self._not_first_party(key[0]) if path is not None else "no file"
            if problem is None and path is not None:
                text, done = rewrite_dependencies(path.read_text(encoding="utf-8"), needed)
                if done == set(needed):
                    rewrites.append((path, text, backup / key[0] / path.name))
                    continue
                problem = "its dependencies are not a literal list of (app, name) pairs"
            self.problems.append(
                f"Migration {label(key)} depends on "
                f"{', '.join(label(old) for old in sorted(needed))} and cannot be rewritten "
                f"({problem}). Use --mode replace, where Django remaps such dependencies."
            )
        return found, rewrites

    def _other_environments(
        self, labels: Sequence[str] | None
    ) -> tuple[str, tuple[str, ...] | None]:
        if self.mode == REPLACE:
            return (
                "Deploy the new migration files, then run `python manage.py migrate` on every "
                "other database: one at the old head records the new migrations as applied, "
                "a new one is built from them. A database part-way through the old history "
                "must first reach the old head with the previous release (`plan_upgrade` "
                "reports it as a partial squash)."
            ), None
        command = ("python", "manage.py", "reset_migrations", *(labels or ("--all-local",)))
        command += ("--mode", CLEAN_SLATE, "--noinput")
        if self.connection.alias != DEFAULT_DB_ALIAS:
            command += ("--database", self.connection.alias)
        return (
            "Deploy the new migration files, then run this on every other database (it "
            "verifies the schema first, and does nothing where it already ran):"
        ), command


def _ordered(names: Iterable[str], members: Mapping[str, tuple[str, ...]]) -> list[str]:
    """``names`` in the order of the new migrations' lists (the old history's order)."""
    order = [n for old in sorted(members.values()) for n in old]
    position = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: (position.get(n, len(order)), n))


def _apps(app_labels: Sequence[str]) -> str:
    quoted = [f"'{app}'" for app in app_labels]
    return f"app {quoted[0]}" if len(quoted) == 1 else f"apps {', '.join(quoted)}"


def _drift_problem(differences: Iterable[SchemaDifference], apps: Collection[str]) -> str:
    lines = "\n".join(f"    {d.message}" for d in differences)
    return (
        f"The live schema of {_apps(sorted(apps))} differs from what the migrations describe; "
        "regenerated migrations would hide this:\n"
        f"{lines}\n  Bring the database and the migrations back in line first (see "
        "`plan_upgrade`)."
    )


# --------------------------------------------------------------------------- applying


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
            before = _time_fresh_migrate(connection, reset)

        changes = FileChanges(Path(plan.backup_dir) if plan.backup_dir else Path.cwd())
        try:
            if plan.writes_files:
                report(f"Moving the old migration files to {plan.backup_dir}")
                for old, backup in plan.work.moves:
                    changes.move_to_backup(old, backup.relative_to(changes.backup_dir))
                report("Writing the new migration files")
                for path, text in plan.work.writes:
                    changes.write(path, text)
                for path, text, backup in plan.work.rewrites:
                    changes.rewrite(path, text, backup.relative_to(changes.backup_dir))
                with suppress(Exception):  # as makemigrations: black, if installed
                    run_formatters([str(path) for path, _ in plan.work.writes])
            forget_modules(plan.work.packages)
            report("Verifying the new migrations")
            verified = _verify(connection, plan, active)
            report("Recording the new migrations")
            deleted, recorded = _record(connection, plan, active)
        except BaseException as exc:
            problems = changes.undo()
            forget_modules(plan.work.packages)
            if problems:
                raise ResetFailed(
                    f"The reset failed ({exc}) and could not be undone completely: "
                    f"{'; '.join(problems)}. The backup folder {plan.backup_dir} has the old "
                    "files; django_migrations is unchanged."
                ) from exc
            if isinstance(exc, MigrationOpsError) or not isinstance(exc, Exception):
                raise
            raise ResetFailed(
                f"The reset failed: {type(exc).__name__}: {exc}. The old migration files are "
                "back in place and django_migrations is unchanged."
            ) from exc

    measurement = None
    if before is not None:
        report("Timing a fresh migrate with the new migrations")
        after = _time_fresh_migrate(connection, reset)
        measurement = Measurement(before[0], before[1], after[0], after[1])
    return ResetResult(
        plan=plan,
        files_before=sum(app.files_before for app in plan.apps if app.action == RESET),
        files_after=sum(app.files_after for app in plan.apps if app.action == RESET),
        rows_deleted=deleted,
        rows_recorded=recorded,
        verified_tables=verified,
        measurement=measurement,
        seconds=time.perf_counter() - started,
    )


def _verify(connection: BaseDatabaseWrapper, plan: ResetPlan, apps: Sequence[str]) -> int:
    """Check the migrations now on disk; raise :class:`ResetFailed` listing what is wrong.
    Returns the number of tables compared."""
    try:
        loader = MigrationLoader(None, ignore_no_migrations=True, load=False)
        with graph_errors(loader):
            loader.build_graph()
    except CircularDependencyError as exc:
        raise ResetFailed(
            f"The new migrations form a dependency cycle ({exc}). Reset the apps of the cycle "
            "together, or use --mode clean-slate. The old migration files are back in place "
            "and django_migrations is unchanged."
        ) from exc
    except BrokenMigrationGraph as exc:
        raise ResetFailed(
            f"{exc} The old migration files are back in place and django_migrations is unchanged."
        ) from exc
    missing = [
        m.label for app in plan.apps for m in app.new_migrations
        if (m.app_label, m.name) not in loader.graph.nodes
    ]  # fmt: skip
    problems = [f"Migration {name} is not in the migration graph." for name in missing]
    changes = unmigrated_changes(state_after(loader, loader.graph.leaf_nodes()), loader.graph, apps)
    problems += [
        f"`makemigrations {app}` would still write: "
        f"{'; '.join(str(op.describe()) for m in migrations for op in m.operations)}."
        for app, migrations in changes.items()
    ]
    state = _state_of(loader, plan)
    expected = expected_schema(state, connection, app_labels=apps)
    live = snapshot(connection, plan.work.compared_tables | set(expected.tables))
    problems += [d.message for d in diff(live, expected)]
    if problems:
        raise ResetFailed(
            "The new migrations do not match the database:\n"
            + "\n".join(f"- {p}" for p in problems)
            + "\nThe old migration files are back in place and django_migrations is unchanged."
        )
    return len(expected.tables)


def _state_of(loader: MigrationLoader, plan: ResetPlan) -> ProjectState:
    nodes = [
        (m.app_label, m.name) for app in plan.apps if app.action != DONE for m in app.new_migrations
    ]
    return state_after(loader, nodes)


def _record(
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


def _time_fresh_migrate(connection: BaseDatabaseWrapper, apps: Sequence[str]) -> tuple[int, float]:
    """(migrations run, seconds) of ``migrate`` of ``apps`` on an empty scratch database."""
    with scratch_database(connection) as scratch:
        executor = MigrationExecutor(scratch)
        targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in apps]
        steps = executor.migration_plan(targets)
        started = time.perf_counter()
        executor.migrate(targets, plan=steps)
        return len(steps), time.perf_counter() - started
