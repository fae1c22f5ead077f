from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS

from migration_ops.exceptions import MigrationOpsError
from migration_ops.management.base import DatabaseCommand
from migration_ops.management.interaction import INTERRUPTED, confirm, interrupted
from migration_ops.services.common import lock_database
from migration_ops.services.removal import (
    STRATEGIES,
    ParentRows,
    RemovalInterrupted,
    RemovalPlan,
    RemovalResult,
    build_removal_plan,
    execute_removal,
    finish_backup,
    refusal_message,
)
from migration_ops.text import count

JSON_SCHEMA_VERSION = 1


class Command(DatabaseCommand):
    help = (
        "Remove the tables, migration rows, content types and permissions of apps from a "
        "database, whether or not the apps are still in INSTALLED_APPS. Shows the plan first "
        "and refuses, changing nothing, when the removal would break something."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "app_labels",
            nargs="+",
            metavar="app_label",
            help="Label of an app to remove; several apps are removed together.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help='Nominates the database to remove the apps from. Defaults to the "default" '
            "database.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show the plan and the SQL, and change nothing.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Tells Django to NOT prompt the user for input of any kind.",
        )
        parser.add_argument(
            "--strategy",
            choices=STRATEGIES,
            default="auto",
            help="migrate: run the apps' migrations backwards; drop: drop their tables; auto "
            "(default): migrate, or drop when the migrations cannot run backwards.",
        )
        parser.add_argument(
            "--backup",
            metavar="DIR",
            help="Write the rows of every table to drop, and of the content types and "
            "permissions to delete, to this new or empty directory before any change.",
        )
        parser.add_argument(
            "--drop-incoming-constraints",
            action="store_true",
            help="Drop the foreign keys that tables which stay have into the tables to drop "
            "(they are listed in the plan), instead of refusing.",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format: text for people (default) or json for scripts (needs "
            "--noinput or --dry-run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["format"] == "json"
        if as_json and options["interactive"] and not options["dry_run"]:
            raise CommandError(
                "--format json needs --noinput or --dry-run: a script cannot answer the "
                "confirmation prompt.",
                returncode=2,
            )
        verbosity = options["verbosity"]
        database = options["database"]

        def progress(message: str) -> None:
            if verbosity >= 1 and not as_json:
                self.stdout.write(f"  {message}")

        result: RemovalResult | None = None
        try:
            with lock_database(database):
                plan = build_removal_plan(
                    options["app_labels"],
                    database,
                    strategy=options["strategy"],
                    drop_incoming_constraints=options["drop_incoming_constraints"],
                    backup_dir=options["backup"],
                )
                if not as_json:
                    self.render_plan(plan)
                stop = plan.refusals or options["dry_run"] or plan.changes_nothing
                if stop:
                    if not options["dry_run"]:
                        finish_backup(plan)
                    self.render_end(plan, as_json, dry_run=options["dry_run"])
                    if plan.refusals:
                        raise CommandError(refusal_message(plan), returncode=2)
                    return
                if options["interactive"] and not self.confirm(plan):
                    self.stdout.write("Cancelled; nothing was changed.")
                    return
                if not as_json:
                    self.stdout.write(self.style.MIGRATE_HEADING("Removing:"))
                result = execute_removal(plan, progress=progress)
        except RemovalInterrupted as exc:
            if as_json:
                self.stdout.write(json.dumps(to_json(exc.plan, done=exc.done), indent=2))
            if interrupted(exc.error):
                raise CommandError(interrupted_message(exc), returncode=INTERRUPTED) from None
            raise CommandError(str(exc), returncode=1) from exc
        except MigrationOpsError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except KeyboardInterrupt:
            # Steps are interrupted inside execute_removal (RemovalInterrupted); here it was
            # before the first one, or while releasing the lock after the last one.
            if result is None:
                raise CommandError(
                    "Interrupted (Ctrl-C) while planning; nothing was changed.",
                    returncode=INTERRUPTED,
                ) from None

        if as_json:
            self.stdout.write(json.dumps(to_json(plan, result=result), indent=2))
        else:
            self.render_result(plan, result)

    # Text --------------------------------------------------------------------------------

    def confirm(self, plan: RemovalPlan) -> bool:
        backup = f" A backup is written to {plan.backup_dir} first." if plan.backup_dir else ""
        return confirm(
            self,
            f"This removes {_labels(plan.labels)} from database {plan.database!r} and cannot "
            f"be undone.{backup}\nType 'yes' to continue, or 'no' to cancel: ",
        )

    def render_plan(self, plan: RemovalPlan) -> None:
        write, heading = self.stdout.write, self.style.MIGRATE_HEADING
        write(heading(f"Plan to remove {_labels(plan.labels)} from database {plan.database!r}:"))
        for app in plan.apps:
            if app.installed:
                write(f"  {app.label}: installed ({app.installed_apps_entry!r} in INSTALLED_APPS)")
            else:
                write(f"  {app.label}: not installed; found from {', '.join(app.evidence)}")
        if plan.strategy == "migrate" and plan.requested_strategy != "migrate":
            write(
                f"Strategy: migrate (auto: the migrations of {_labels(plan.labels)} can run "
                "backwards)."
            )
        elif plan.strategy == "migrate" and plan.migrate_blocker:
            write(f"Strategy: migrate, which cannot run: {plan.migrate_blocker}.")
        elif plan.strategy == "migrate":
            write("Strategy: migrate.")
        elif plan.requested_strategy == "auto" and plan.migrate_blocker:
            write(f"Strategy: drop (auto: {plan.migrate_blocker}).")
        else:
            write("Strategy: drop.")

        write(
            heading(
                f"Tables to drop, referencing tables first ({count(len(plan.tables), 'table')}, "
                f"{count(plan.rows, 'row')}):"
            )
        )
        width = max((len(t.name) for t in plan.tables), default=0)
        rows_width = max((len(count(t.rows, "row")) for t in plan.tables), default=0)
        for table in plan.tables:
            write(
                f"  {table.name:<{width}}  {count(table.rows, 'row'):>{rows_width}}  "
                f"{table.app_label}: {table.attribution}"
            )
        if not plan.tables:
            write("  None.")
        if plan.objects:
            write(heading(f"Views and sequences to drop ({count(len(plan.objects), 'object')}):"))
            width = max(len(o.name) for o in plan.objects)
            noun_width = max(len(o.noun) for o in plan.objects)
            for obj in plan.objects:
                write(
                    f"  {obj.name:<{width}}  {obj.noun:<{noun_width}}  "
                    f"{obj.app_label}: {obj.attribution}"
                )
        if plan.parent_rows:
            write(
                heading("Rows of tables that stay whose child rows go (multi-table inheritance):")
            )
            for parents in plan.parent_rows:
                model = f" ({parents.model})" if parents.model else ""
                write(
                    f"  {count(parents.rows, 'row')} of {parents.table}{model}, parents of the "
                    f"rows of {parents.child_table}: {parent_rows_fate(parents)}"
                )

        write(heading("Foreign keys into these tables from tables that stay:"))
        for constraint in plan.incoming:
            action = "table rebuilt without it" if constraint.rebuild else "constraint dropped"
            suffix = f"; {action}" if plan.drop_incoming_constraints else ""
            write(f"  {constraint.label} ({constraint.owner_text}{suffix})")
        if not plan.incoming:
            write("  None.")

        write(heading("Models of installed apps that stay and refer to these apps:"))
        for reference in plan.code_references:
            write(f"  {reference.model}.{reference.field} -> {reference.target}")
        if not plan.code_references:
            write("  None.")

        write(heading("Migrations of other apps that depend on these apps:"))
        for dependent in plan.dependent_migrations:
            state = "applied" if dependent.applied else "not applied"
            fate = "removed too" if dependent.removed else "stays"
            write(f"  {dependent.migration} on {', '.join(dependent.depends_on)} ({state}; {fate})")
        if not plan.dependent_migrations:
            write("  None.")

        if plan.strategy == "migrate" and not plan.migrate_blocker:
            write(heading("Migrations to unapply, in order:"))
            for label in plan.unapply:
                write(f"  {label}")
            if not plan.unapply:
                write("  None.")
            if plan.partly_unapplied is not None:
                write(f"  {plan.partly_unapplied.message}")

        write(heading(f"Rows to delete from django_migrations ({len(plan.migration_rows)}):"))
        by_app: dict[str, list[str]] = {}
        for row in plan.migration_rows:
            app, _, name = row.partition(".")
            by_app.setdefault(app, []).append(name)
        for app, names in by_app.items():
            write(f"  {app}: {', '.join(names)}")
        if not plan.migration_rows:
            write("  None.")

        write(heading(f"Content types to delete ({len(plan.content_types)}):"))
        if plan.content_types:
            write(f"  {', '.join(plan.content_types)}")
        else:
            write("  None.")
        # Only what has rows: the relations without any are counted, not listed.
        listed = [t for t in plan.cascade_totals if t.rows or t.protected]
        for total in listed:
            through = f", through {_join(total.fields)}" if len(total.fields) > 1 else ""
            what = f"{total.rows} {total.description} ({total.model}{through})"
            if total.protected:
                write(f"  Protected by: {what}")
            elif total.action == "delete":
                write(f"  Deleted with them: {what}")
            else:
                fields = _join(total.fields)
                write(f"  Kept, {fields} set to NULL (on_delete=SET_NULL): {what}")
        unlisted = plan.relations_checked - sum(t.relations for t in listed)
        if unlisted:
            which = (
                "the one with no rows is" if unlisted == 1 else f"the {unlisted} with no rows are"
            )
            write(f"  Checked {count(plan.relations_checked, 'relation')}: {which} not listed.")

        if plan.steps and not plan.refusals:
            write(heading("Steps:"))
            for number, step in enumerate(plan.steps, start=1):
                write(f"  {number}. {step.description}")

    def render_end(self, plan: RemovalPlan, as_json: bool, *, dry_run: bool) -> None:
        """After a plan that stops there: refused, dry run, or nothing to do."""
        if as_json:
            self.stdout.write(json.dumps(to_json(plan, dry_run=dry_run), indent=2))
            return
        if plan.refusals:
            return
        if dry_run and not plan.changes_nothing:
            self.stdout.write(self.style.MIGRATE_HEADING("SQL:"))
            for statement in plan.sql:
                for line in statement.strip().splitlines():
                    self.stdout.write(f"  {line}")
        if plan.changes_nothing:
            self.stdout.write(
                f"Nothing to remove: database {plan.database!r} has no tables, migration rows "
                f"or content types of {_labels(plan.labels)}."
            )
            self.render_left_to_do(plan.left_to_do)
        else:
            self.stdout.write("Dry run: nothing was changed.")

    def render_result(self, plan: RemovalPlan, result: RemovalResult) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed {_labels(result.labels)} from database {result.database!r}: "
                f"{count(len(plan.tables), 'table')} ({count(plan.rows, 'row')}), "
                f"{_objects(plan)}"
                f"{count(len(plan.migration_rows), 'migration row')}, "
                f"{count(len(plan.content_types), 'content type')}."
            )
        )
        self.render_left_to_do(result.left_to_do)

    def render_left_to_do(self, items: tuple[str, ...]) -> None:
        if items:
            self.stdout.write(self.style.MIGRATE_HEADING("Left to do:"))
            for item in items:
                self.stdout.write(f"  {item}")


def interrupted_message(exc: RemovalInterrupted) -> str:
    """A Ctrl-C while removing: what was done, what was not, what to do."""
    total = len(exc.plan.steps)
    if not exc.not_done:
        lines = [f"Interrupted (Ctrl-C) after the last of its {total} steps: the removal is done."]
    else:
        lines = [f"Interrupted (Ctrl-C) after {count(len(exc.done), 'step')} of {total}."]
    if exc.done:
        lines += ["Done:", *(f"  {step}" for step in exc.done)]
    if exc.not_done:
        lines += ["Not done:", *(f"  {step}" for step in exc.not_done)]
        lines.append("Run the same command again to complete the removal.")
    return "\n".join(lines)


def _join(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _labels(labels: tuple[str, ...]) -> str:
    quoted = [f"'{label}'" for label in labels]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _objects(plan: RemovalPlan) -> str:
    """ "1 view, 2 sequences, " (nouns by kind, in drop order), or "" without objects."""
    nouns: dict[str, int] = {}
    for obj in plan.objects:
        nouns[obj.noun] = nouns.get(obj.noun, 0) + 1
    return "".join(f"{count(n, noun)}, " for noun, n in nouns.items())


def parent_rows_fate(parents: ParentRows) -> str:
    """What becomes of parent rows: "deleted with the content types", "it stays, without
    its child row", "2 deleted with the content types, 1 stays without its child row"."""
    one = parents.orphaned == 1
    without = "its child row" if one else "their child rows"
    if not parents.orphaned:
        return "deleted with the content types"
    if not parents.deleted:
        return f"{'it stays' if one else 'they stay'}, without {without}"
    return (
        f"{parents.deleted} deleted with the content types, {parents.orphaned} "
        f"{'stays' if one else 'stay'} without {without}"
    )


def to_json(
    plan: RemovalPlan,
    *,
    dry_run: bool = False,
    result: RemovalResult | None = None,
    done: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The documented JSON document (README, safe_remove_app). Add keys; never rename them."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "database": plan.database,
        "vendor": plan.vendor,
        "apps": [
            {
                "label": app.label,
                "installed": app.installed,
                "installed_apps_entry": app.installed_apps_entry,
                "module": app.module,
                "distributions": list(app.distributions),
                "evidence": list(app.evidence),
            }
            for app in plan.apps
        ],
        "strategy": {
            "requested": plan.requested_strategy,
            "chosen": plan.strategy,
            "migrate_blocker": plan.migrate_blocker,
        },
        "tables": [
            {
                "name": t.name,
                "app_label": t.app_label,
                "model": t.model,
                "reason": t.reason,
                "attribution": t.attribution,
                "rows": t.rows,
            }
            for t in plan.tables
        ],
        "objects": [
            {
                "name": o.name,
                "kind": o.kind,
                "app_label": o.app_label,
                "reason": o.reason,
                "attribution": o.attribution,
                "depends_on": list(o.depends_on),
            }
            for o in plan.objects
        ],
        "incoming_foreign_keys": [
            {
                "table": c.table,
                "columns": list(c.columns),
                "to_table": c.to_table,
                "to_columns": list(c.to_columns),
                "name": c.name,
                "owner": c.owner,
                "rebuild": c.rebuild,
            }
            for c in plan.incoming
        ],
        "code_references": [
            {"model": r.model, "field": r.field, "target": r.target} for r in plan.code_references
        ],
        "dependent_migrations": [
            {
                "migration": d.migration,
                "depends_on": list(d.depends_on),
                "applied": d.applied,
                "removed": d.removed,
            }
            for d in plan.dependent_migrations
        ],
        "unapply": list(plan.unapply),
        "migration_rows": list(plan.migration_rows),
        "content_types": list(plan.content_types),
        "cascades": [
            {
                "model": c.model,
                "table": c.table,
                "action": c.action,
                "field": c.field,
                "column": c.column,
                "rows": c.rows,
                "protected": c.protected,
            }
            for c in plan.cascades
        ],
        "remove_together": list(plan.remove_together),
        "parent_rows": [
            {
                "table": p.table,
                "model": p.model,
                "child_table": p.child_table,
                "column": p.column,
                "rows": p.rows,
                "deleted": p.deleted,
            }
            for p in plan.parent_rows
        ],
        "steps": [{"kind": s.kind, "description": s.description} for s in plan.steps],
        "refusals": list(plan.refusals),
        "sql": list(plan.sql) if dry_run else [],
        "dry_run": dry_run,
        "completed": result is not None,
        "done": list(result.done if result is not None else done),
        "backup": (
            {"directory": result.backup.directory, "rows": result.backup.rows}
            if result is not None and result.backup is not None
            else None
        ),
        "left_to_do": list(plan.left_to_do),
        "partly_unapplied": (
            {
                "migration": plan.partly_unapplied.label,
                "undone": list(plan.partly_unapplied.undone),
                "remaining": list(plan.partly_unapplied.remaining),
            }
            if plan.partly_unapplied is not None
            else None
        ),
    }
