"""Planning a reset: which apps get new files, which only need their rows changed (a
*transition*), and which are done; the checks of :mod:`.preconditions` and the files of
:mod:`.regeneration` put together in a :class:`ResetPlan`. Changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.core.locations import migrations_directory
from migration_ops.core.regenerate import label, module_file, stand_ins
from migration_ops.core.special_operations import SpecialOperation
from migration_ops.exceptions import ResetRefused, UnknownApp
from migration_ops.services.common import get_connection, load_executor, lock_database
from migration_ops.services.privileges import privileges_refusal
from migration_ops.services.reset.plan import (
    CLEAN_SLATE,
    DONE,
    MODES,
    REPLACE,
    RESET,
    TRANSITION,
    AppReset,
    DependentMigration,
    NewMigration,
    ResetPlan,
    _Work,
)
from migration_ops.services.reset.preconditions import (
    backup_folder,
    check_drift,
    not_first_party,
    preflight,
)
from migration_ops.services.reset.regeneration import Regeneration
from migration_ops.text import count

Progress = Callable[[str], None]


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
            self.problems += preflight(self.connection, executor, reset, force=self.force)
        self._refuse_if_any()

        compared: frozenset[str] = frozenset()
        if reset or transition:
            compared, drift = check_drift(
                self.connection, loader, reset, transition, kinds, self.report
            )
            self.problems += drift
            self._refuse_if_any()

        self.report("Regenerating migrations with the autodetector")
        apps_plans: dict[str, AppReset] = {}
        dependents: list[DependentMigration] = []
        specials: list[SpecialOperation] = []
        work = _Work()
        backup = None
        if reset:
            backup, problems = backup_folder(self.backup_dir)
            self.problems += problems
            apps_plans, dependents, specials, work = Regeneration(
                self.disk, self.rows, mode=self.mode, keep=self.keep, problems=self.problems
            ).run(loader, reset, backup)
        for app in labels:
            if app in apps_plans:
                continue
            apps_plans[app] = self._unchanged_app(app, kinds[app])
        self._check_privileges(apps_plans.values())
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
                if config.label in with_files and not_first_party(config.label) is None
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

    def _refuse_if_any(self) -> None:
        if self.problems:
            raise ResetRefused(
                "Nothing was changed:\n" + "\n".join(f"- {problem}" for problem in self.problems)
            )

    def _check_privileges(self, apps: Collection[AppReset]) -> None:
        """The recording step's INSERT and DELETE on django_migrations, known now rather
        than after the files were moved."""
        wanted = {"INSERT": any(a.rows_to_record for a in apps)}
        wanted["DELETE"] = any(a.rows_to_delete for a in apps)
        needs = {
            MigrationRecorder.Migration._meta.db_table: {p for p, yes in wanted.items() if yes}
        }
        problem = privileges_refusal(self.connection, self.connection.alias, needs)
        if problem is not None:
            self.problems.append(problem)

    # Regeneration --------------------------------------------------------------------

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
