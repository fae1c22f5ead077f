"""The new migrations of a reset: Django's autodetector in memory, the operations carried
by ``--keep-data-migrations``, which old migrations each new one stands in for, and the
other apps' migrations that depend on the old ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.writer import MigrationWriter

from migration_ops.core.locations import migrations_directory, migrations_package
from migration_ops.core.regenerate import (
    MigrationKey,
    label,
    migration_name_for,
    migration_source,
    module_file,
    old_history,
    partition,
    regenerate,
    rewrite_dependencies,
)
from migration_ops.core.special_operations import (
    SpecialOperation,
    follow_up_migration,
    special_operations,
)
from migration_ops.services.reset.plan import (
    CLEAN_SLATE,
    REMAPPED,
    RESET,
    REWRITTEN,
    AppReset,
    DependentMigration,
    NewMigration,
    _Work,
)
from migration_ops.services.reset.preconditions import not_first_party
from migration_ops.text import count


class Regeneration:
    """Works out the files of the apps to reset; appends refusals to ``problems``."""

    def __init__(
        self,
        disk: Mapping[MigrationKey, Migration],
        rows: frozenset[MigrationKey],
        *,
        mode: str,
        keep: bool,
        problems: list[str],
    ) -> None:
        self.disk = disk
        self.rows = rows
        self.mode = mode
        self.keep = keep
        self.problems = problems

    def run(
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
            problem = not_first_party(key[0]) if path is not None else "no file"
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
