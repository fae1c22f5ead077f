from __future__ import annotations

import json
import shlex
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS

from migration_ops.exceptions import MigrationOpsError, ResetInterrupted
from migration_ops.management.base import DatabaseCommand
from migration_ops.management.interaction import INTERRUPTED, confirm, interruptible
from migration_ops.services.reset import (
    CLEAN_SLATE,
    DONE,
    MODES,
    REPLACE,
    RESET,
    REWRITTEN,
    TRANSITION,
    AppReset,
    ResetPlan,
    ResetResult,
    apply_reset,
    plan_reset,
    recover_interrupted_reset,
)
from migration_ops.text import count

JSON_SCHEMA_VERSION = 1


class Command(DatabaseCommand):
    help = (
        "Replace the migration history of apps by migrations regenerated with Django's "
        "autodetector, after checking that the database is at their head and matches them. "
        "The old files go to a backup folder; with --mode replace (default) the new migrations "
        "replace the old ones so other databases follow with `migrate`, with --mode clean-slate "
        "their rows are replaced."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("app_label", nargs="*", help="Labels of the apps to reset.")
        parser.add_argument(
            "--all-local",
            action="store_true",
            help="Reset every first-party app that has migrations (see the README for the rule).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help='Nominates the database to check and record on. Defaults to the "default" '
            "database.",
        )
        parser.add_argument(
            "--mode",
            choices=MODES,
            default=REPLACE,
            help="replace (default): the new migrations list the old ones in `replaces`, so "
            "databases at the old head follow with `migrate`. clean-slate: the old rows are "
            "deleted and the new migrations recorded; other databases run this command too.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show the plan and change nothing.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Tells Django to NOT prompt the user for input of any kind.",
        )
        parser.add_argument(
            "--backup-dir",
            help="Folder to move the old migration files to (must be empty or not exist). "
            "Default: migrations-backup-<timestamp> in the current directory.",
        )
        parser.add_argument(
            "--keep-data-migrations",
            action="store_true",
            help="Carry the non-elidable RunPython and RunSQL operations of the old migrations "
            "into a follow-up migration, so that new databases still run them.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Reset apps whose migrations are not first-party (installed packages, or "
            "outside the project root).",
        )
        parser.add_argument(
            "--measure",
            action="store_true",
            help="Time a fresh `migrate` of the apps before and after, on a scratch database "
            "created beside this one (needs the right to create databases).",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format: text for people (default) or json for scripts.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        as_json = options["format"] == "json"

        def progress(message: str) -> None:
            if verbosity >= 2 and not as_json:
                self.stdout.write(self.style.HTTP_INFO(f"{message}..."))

        try:
            recovery = recover_interrupted_reset(options["backup_dir"], dry_run=options["dry_run"])
        except MigrationOpsError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if recovery is not None and verbosity >= 1 and not as_json:
            self.stdout.write(recovery.message)

        try:
            with interruptible("planning"):
                plan = self.plan(options, progress)
        except MigrationOpsError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.run(plan, options, progress)

    def plan(self, options: dict[str, Any], progress: Any) -> ResetPlan:
        return plan_reset(
            options["app_label"],
            all_local=options["all_local"],
            database=options["database"],
            mode=options["mode"],
            force=options["force"],
            keep_data_migrations=options["keep_data_migrations"],
            backup_dir=options["backup_dir"],
            progress=progress,
        )

    def run(self, plan: ResetPlan, options: dict[str, Any], progress: Any) -> None:
        verbosity = options["verbosity"]
        as_json = options["format"] == "json"
        if not as_json and verbosity >= 1:
            self.render_plan(plan)
        if options["dry_run"] or plan.nothing_to_do:
            if as_json:
                self.stdout.write(json.dumps(to_json(plan, None, options["dry_run"]), indent=2))
            elif verbosity >= 1:
                self.stdout.write(
                    "Nothing to do." if plan.nothing_to_do else "Dry run: nothing was changed."
                )
            return
        if options["interactive"] and not self.confirm(plan):
            self.stdout.write("Reset cancelled; nothing was changed.")
            return

        try:
            result = apply_reset(plan, measure=options["measure"], progress=progress)
        except ResetInterrupted as exc:
            raise CommandError(str(exc), returncode=INTERRUPTED) from exc
        except MigrationOpsError as exc:
            raise CommandError(str(exc), returncode=2) from exc

        if as_json:
            self.stdout.write(json.dumps(to_json(plan, result, False), indent=2))
        elif verbosity >= 1:
            self.render_result(result, verbosity)

    def confirm(self, plan: ResetPlan) -> bool:
        return confirm(
            self,
            f"This changes migration files and rows on database {plan.database!r}. "
            "Type 'yes' to continue, or 'no' to cancel: ",
        )

    # Text ----------------------------------------------------------------------------

    def render_plan(self, plan: ResetPlan) -> None:
        write, style = self.stdout.write, self.style
        write(
            style.MIGRATE_HEADING(f"Reset plan for database {plan.database!r} (mode: {plan.mode}):")
        )
        for app in plan.apps:
            write(style.MIGRATE_LABEL(f"  {app.app_label}: ") + app.note)
            for line in app_lines(app, plan):
                write(f"    {line}")
        if not plan.writes_files:
            return  # no file changes: nothing depends on them, nothing is lost
        write(style.MIGRATE_HEADING("Migrations of other apps that depend on them:"))
        if not plan.dependents:
            write("  None.")
        for dependent in plan.dependents:
            write(f"  {dependent.message}")
        write(style.MIGRATE_HEADING("Operations whose effect the new migrations lack:"))
        if not plan.special_operations:
            write("  None.")
        for op in plan.special_operations:
            line = f"  {op.label}, operation {op.position} ({op.kind}): {op.description}."
            write(line + " " + (op.note if op.carried else style.WARNING(op.note)))

    def render_result(self, result: ResetResult, verbosity: int) -> None:
        write, style = self.stdout.write, self.style
        plan = result.plan
        for app in plan.apps:
            if app.action == RESET:
                write(
                    f"Moved {count(len(app.files_to_move), 'migration file')} of "
                    f"{app.app_label} to {plan.backup_dir}/{app.app_label}."
                )
                for migration in app.new_migrations:
                    write(f"Wrote {migration.path}.")
                for name in app.extra_files:
                    write(f"Wrote {app.directory}/{name}.")
        for dependent in plan.dependents:
            if dependent.handling == REWRITTEN:
                write(f"Rewrote the dependency of {dependent.label} to {dependent.target}.")
        write(
            f"Verified: the new migrations describe the "
            f"{count(result.verified_tables, 'table')} of "
            f"{', '.join(a.app_label for a in plan.apps if a.action != DONE)} as they are, "
            "and `makemigrations` finds no changes."
        )
        write(
            f"Recorded {count(result.rows_recorded, 'migration')} in django_migrations "
            f"and deleted {count(result.rows_deleted, 'row')}."
        )
        reset = [a for a in plan.apps if a.action == RESET]
        if reset:
            write(
                style.SUCCESS(
                    f"Reset {count(len(reset), 'app')} on database {plan.database!r}: "
                    f"{count(result.files_before, 'migration file')} before, "
                    f"{result.files_after} after."
                )
            )
        transitioned = [a for a in plan.apps if a.action == TRANSITION]
        if transitioned:
            write(
                style.SUCCESS(
                    f"Recorded the reset migrations of "
                    f"{', '.join(a.app_label for a in transitioned)} on database "
                    f"{plan.database!r}."
                )
            )
        if result.measurement is not None:
            m = result.measurement
            write(
                f"Fresh migrate: {count(m.migrations_before, 'migration')} in "
                f"{m.seconds_before:.2f} s before, {count(m.migrations_after, 'migration')} "
                f"in {m.seconds_after:.2f} s after."
            )
        if reset:
            write(style.MIGRATE_HEADING("Other environments:"))
            write(f"  {plan.other_environments}")
            if plan.other_environments_command:
                write(f"    {shlex.join(plan.other_environments_command)}")
        if verbosity >= 2:
            write(f"Finished in {result.seconds:.2f} s.")


def app_lines(app: AppReset, plan: ResetPlan) -> list[str]:
    lines: list[str] = []
    if app.action == RESET:
        lines.append(
            f"Move {count(len(app.files_to_move), 'file')} to {plan.backup_dir}/{app.app_label}:"
        )
        lines += [f"  {name}" for name in app.files_to_move]
        attribute = "replaces" if app.mode == REPLACE else "clean_slate_replaces"
        for migration in app.new_migrations:
            what = f"{attribute} {count(len(migration.stands_in_for), 'old migration')}"
            if migration.follow_up:
                what += "; runs the carried operations"
            lines.append(f"Write {migration.name}.py ({what})")
        lines += [f"Write {name} (functions of carried RunPython operations)" for name in
                  app.extra_files]  # fmt: skip
    if app.action in (RESET, TRANSITION):
        recorded = ", ".join(app.rows_to_record)
        if app.rows_to_delete:
            lines.append(
                f"Delete {count(len(app.rows_to_delete), 'row')} of {app.app_label} from "
                f"django_migrations and record {recorded}."
            )
        elif app.mode == CLEAN_SLATE:
            lines.append(f"Record {recorded} in django_migrations.")
        else:
            lines.append(f"Record {recorded} in django_migrations; the old rows stay.")
    return lines


def to_json(plan: ResetPlan, result: ResetResult | None, dry_run: bool) -> dict[str, Any]:
    """The documented JSON document (README, "reset_migrations"). Add keys; never rename."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "database": plan.database,
        "vendor": plan.vendor,
        "mode": plan.mode,
        "dry_run": dry_run,
        "backup_dir": plan.backup_dir,
        "apps": [
            {
                "app_label": app.app_label,
                "action": app.action,
                "mode": app.mode,
                "directory": app.directory,
                "old_migrations": list(app.old_migrations),
                "files_to_move": list(app.files_to_move),
                "new_migrations": [
                    {
                        "name": m.name,
                        "path": m.path,
                        "stands_in_for": list(m.stands_in_for),
                        "dependencies": list(m.dependencies),
                        "operations": list(m.operations),
                        "follow_up": m.follow_up,
                    }
                    for m in app.new_migrations
                ],
                "extra_files": list(app.extra_files),
                "rows_to_delete": list(app.rows_to_delete),
                "rows_to_record": list(app.rows_to_record),
                "note": app.note,
            }
            for app in plan.apps
        ],
        "dependents": [
            {
                "migration": d.label,
                "dependency": d.dependency,
                "target": d.target,
                "handling": d.handling,
                "path": d.path,
            }
            for d in plan.dependents
        ],
        "special_operations": [
            {
                "migration": op.label,
                "position": op.position,
                "kind": op.kind,
                "description": op.description,
                "elidable": op.elidable,
                "carried": op.carried,
                "note": op.note,
            }
            for op in plan.special_operations
        ],
        "other_environments": {
            "instruction": plan.other_environments,
            "command": list(plan.other_environments_command or []) or None,
        },
        "result": None
        if result is None
        else {
            "files_before": result.files_before,
            "files_after": result.files_after,
            "rows_deleted": result.rows_deleted,
            "rows_recorded": result.rows_recorded,
            "verified_tables": result.verified_tables,
            "seconds": round(result.seconds, 3),
            "measurement": None
            if result.measurement is None
            else {
                "migrations_before": result.measurement.migrations_before,
                "seconds_before": round(result.measurement.seconds_before, 3),
                "migrations_after": result.measurement.migrations_after,
                "seconds_after": round(result.measurement.seconds_after, 3),
            },
        },
    }
