from __future__ import annotations

import json
import os
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS

from migration_ops.core.operations import Risk, RiskFinding
from migration_ops.exceptions import MigrationOpsError
from migration_ops.management.base import DatabaseCommand
from migration_ops.services.upgrade import PlannedMigration, UpgradePlan, build_upgrade_plan
from migration_ops.text import count

# The baseline, GitHub and rehearsal modules are imported where their options are used:
# most runs ask for none of them, and every import counts against `migrate --plan`.
if TYPE_CHECKING:
    from migration_ops.services.baseline import BaselineOutcome
    from migration_ops.services.rehearsal import RehearsalOptions

JSON_SCHEMA_VERSION = 1
FAIL_ON_CHOICES = (*(risk.value for risk in Risk), "findings", "rehearsal")
# Options that only mean something with --rehearse.
REHEARSAL_OPTIONS = ("rows", "rows_from", "round_trip", "scratch_database", "keep_scratch")


class Command(DatabaseCommand):
    help = (
        "Show what `migrate` would do to a database (in order, operation by operation) and "
        "what is wrong with it: conflicts, inconsistent history, ghost migrations, stale apps, "
        "orphan tables and schema drift. Never writes to the database."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "app_label",
            nargs="?",
            help="App label of an application to plan for, as for `migrate`.",
        )
        parser.add_argument(
            "migration_name",
            nargs="?",
            help="Plan up to (or back to) this migration, as for `migrate`. Use 'zero' to "
            "plan unapplying every migration of the app.",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help='Nominates the database to plan for. Defaults to the "default" database.',
        )
        parser.add_argument(
            "--format",
            choices=["text", "json", "github", "dot", "mermaid"],
            default="text",
            help="Output format: text for people (default), json for scripts, github for "
            "GitHub Actions annotations (one per finding, per risk matched by --fail-on and per "
            "rehearsal failure or round-trip difference), "
            "or the pending plan as a graph in Graphviz dot or Mermaid syntax.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit with status 1 when migrations are pending or anything is found.",
        )
        parser.add_argument(
            "--fail-on",
            default="",
            metavar="CLASSES",
            help="Exit with status 1 when a planned operation has one of these comma-separated "
            f"risk classes ({', '.join(FAIL_ON_CHOICES)}); 'findings' fails on any finding.",
        )
        parser.add_argument(
            "--sql",
            action="store_true",
            help="Show the SQL of every operation, as migrate will execute it.",
        )
        parser.add_argument(
            "--baseline",
            metavar="FILE",
            help="Report only the findings that the baseline FILE does not list (written by "
            "--write-baseline), and say how many it left out.",
        )
        parser.add_argument(
            "--write-baseline",
            metavar="FILE",
            help="Record every current finding in the baseline FILE, then report as "
            "--baseline FILE would.",
        )
        rehearsal = parser.add_argument_group("rehearsal")
        rehearsal.add_argument(
            "--rehearse",
            action="store_true",
            help="Run the plan with Django's executor on a scratch copy of the database's "
            "structure (read from the live catalogue), recording and timing every statement. "
            "The database itself is only read.",
        )
        rehearsal.add_argument(
            "--rows",
            type=_non_negative,
            default=None,
            metavar="N",
            help="With --rehearse: copy up to N rows of every table (by primary key, keeping "
            "foreign keys satisfied), and project the operations' durations to the live sizes.",
        )
        rehearsal.add_argument(
            "--rows-from",
            action="append",
            default=[],
            metavar="TABLE",
            help="With --rows: copy rows of this table even though IGNORED_TABLES lists it "
            "(repeatable).",
        )
        rehearsal.add_argument(
            "--round-trip",
            action="store_true",
            help="With --rehearse: after the plan, run it in reverse and then again, and "
            "report every difference from the starting and first-run structures.",
        )
        rehearsal.add_argument(
            "--scratch-database",
            metavar="ALIAS",
            help="With --rehearse: use this DATABASES alias (an empty database on the same "
            "backend) instead of creating a scratch database; it is emptied afterwards.",
        )
        rehearsal.add_argument(
            "--keep-scratch",
            action="store_true",
            help="With --rehearse: keep the scratch database and print how to open it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        fail_on = parse_fail_on(options["fail_on"])
        rehearse = rehearsal_options(options)
        if "rehearsal" in fail_on and rehearse is None:
            raise CommandError("--fail-on rehearsal needs --rehearse.", returncode=2)

        def progress(message: str) -> None:
            if verbosity >= 2 and options["format"] == "text":
                self.stdout.write(self.style.HTTP_INFO(f"{message}..."))

        baseline_path, write_path = options["baseline"], options["write_baseline"]
        if baseline_path and write_path:
            raise CommandError(
                "--baseline and --write-baseline cannot be combined: --write-baseline records "
                "every current finding, then reports against it.",
                returncode=2,
            )
        outcome: BaselineOutcome | None = None
        try:
            # Read first: a bad baseline file stops the command before any work.
            known = None
            if baseline_path or write_path:
                from migration_ops.services.baseline import (
                    apply_baseline,
                    read_baseline,
                    write_baseline,
                )

                known = read_baseline(baseline_path) if baseline_path else None
            plan = build_upgrade_plan(
                options["database"],
                options["app_label"],
                options["migration_name"],
                sql=options["sql"],
                rehearse=rehearse,
                progress=progress,
            )
            if write_path:
                keys = write_baseline(write_path, plan.findings)
                plan, outcome = apply_baseline(plan, keys, write_path, written=True)
            elif known is not None:
                plan, outcome = apply_baseline(plan, known, baseline_path)
        except MigrationOpsError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except KeyboardInterrupt:
            if rehearse is None:
                raise CommandError(
                    "Interrupted (Ctrl-C) while planning; nothing was changed.", returncode=130
                ) from None
            kept = "kept" if rehearse.keep_scratch else "removed"
            raise CommandError(
                f"Rehearsal interrupted; the scratch database was {kept} and the database "
                f"{options['database']!r} was not changed.",
                returncode=130,
            ) from None

        output_format = options["format"]
        if output_format == "json":
            self.stdout.write(json.dumps(plan_to_json(plan, outcome), indent=2))
        elif output_format == "github":
            # Annotation paths are relative to the checkout, as GitHub resolves them.
            from migration_ops.rendering.github import render_github
            from migration_ops.services.annotations import plan_annotations

            root = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
            annotations = plan_annotations(plan, fail_on=fail_on, check=options["check"], root=root)
            if annotations:
                self.stdout.write(render_github(annotations))
        elif output_format == "dot":
            self.stdout.write(plan_to_dot(plan))
        elif output_format == "mermaid":
            self.stdout.write(plan_to_mermaid(plan))
        else:
            self.render_text(plan, verbosity, outcome)

        matched = [name for name in fail_on if name in failing_classes(plan)]
        if matched:
            culprits = ", ".join(
                f"{name} ({', '.join(failing_migrations(plan, name))})" for name in matched
            )
            raise CommandError(f"--fail-on matched {culprits}.", returncode=1)
        rehearsal_failed = plan.rehearsal is not None and plan.rehearsal.failed
        if options["check"] and (not plan.clean or rehearsal_failed):
            raise CommandError(
                f"{count(len(plan.migrations), 'pending migration')} and "
                f"{count(len(plan.findings), 'finding')}"
                + ("; the rehearsal failed." if rehearsal_failed else "."),
                returncode=1,
            )

    def render_text(
        self, plan: UpgradePlan, verbosity: int, baseline: BaselineOutcome | None = None
    ) -> None:
        write, style = self.stdout.write, self.style
        write(style.MIGRATE_HEADING(f"Planned operations on database {plan.database!r}:"))
        if not plan.migrations:
            write("  No planned migration operations.")
        for migration in plan.migrations:
            direction = "Unapply" if migration.backwards else "Apply"
            atomic = "" if migration.atomic else " (non-atomic)"
            write(style.MIGRATE_LABEL(f"  {direction} {migration.label}{atomic}"))
            for finding in migration.risks:
                write(style.WARNING(f"    [{finding.risk.value}] {finding.reason}"))
            for operation in migration.operations:
                line = f"    {operation.description}"
                write(style.ERROR(f"{line} (IRREVERSIBLE)") if not operation.reversible else line)
                for finding in operation.risks:
                    write(style.WARNING(f"      [{finding.risk.value}] {finding.reason}"))
                if operation.sql_unavailable:
                    write(style.ERROR(f"      {operation.sql_unavailable}"))
            if migration.sql is not None:
                write("    SQL:")
                for statement in migration.sql:
                    write(style.SQL_KEYWORD("      " + statement.replace("\n", "\n      ")))
        if plan.rollback:
            write(style.MIGRATE_HEADING("To roll back after the upgrade:"))
        for hint in plan.rollback:
            unapplies = ", ".join(f"{app}.{name}" for app, name in hint.unapplies)
            line = f"  {hint.command} (unapplies {unapplies})"
            if hint.possible:
                write(line)
            else:
                write(style.ERROR(f"{line}: NOT POSSIBLE, cannot undo:"))
                for operation in hint.irreversible:
                    write(style.ERROR(f"    {operation}"))
        write(style.MIGRATE_HEADING("Findings:"))
        if not plan.findings:
            write("  No new findings." if baseline else "  No findings.")
        for finding in plan.findings:
            write(style.WARNING(f"  [{finding.kind}] ") + finding.message)
        if baseline:
            from migration_ops.rendering.baseline import baseline_summary

            for line in baseline_summary(baseline):
                write(f"  {line}")
        if plan.rehearsal is not None:
            # Imported here, as the rehearsal itself: most runs do not rehearse.
            from migration_ops.rendering.rehearsal import rehearsal_text

            rehearsal_text(plan.rehearsal, write, style, verbosity)
        if verbosity >= 1:
            baselined = f", {len(baseline.baselined)} baselined" if baseline else ""
            write(
                f"{count(len(plan.migrations), 'migration')} planned, "
                f"{count(len(plan.findings), 'finding')}{baselined}."
            )


def plan_to_json(plan: UpgradePlan, baseline: BaselineOutcome | None = None) -> dict[str, Any]:
    """The documented JSON document (README, "JSON output"). Add keys; never rename them."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "database": plan.database,
        "vendor": plan.vendor,
        "targets": [{"app_label": app, "migration": name} for app, name in plan.targets],
        "pending": plan.pending,
        "risk_classes": [risk.value for risk in plan.risk_classes],
        "migrations": [
            {
                "app_label": m.app_label,
                "name": m.name,
                "backwards": m.backwards,
                "atomic": m.atomic,
                "risks": [risk_to_json(f) for f in m.risks],
                "operations": [
                    {
                        "description": op.description,
                        "reversible": op.reversible,
                        "risks": [risk_to_json(f) for f in op.risks],
                        "sql": None if op.sql is None else list(op.sql),
                        "sql_unavailable": op.sql_unavailable,
                    }
                    for op in m.operations
                ],
                "sql": None if m.sql is None else list(m.sql),
            }
            for m in plan.migrations
        ],
        "rollback": [
            {
                "app_label": hint.app_label,
                "target": hint.target,
                "command": hint.command,
                "possible": hint.possible,
                "unapplies": [f"{app}.{name}" for app, name in hint.unapplies],
                "irreversible": list(hint.irreversible),
            }
            for hint in plan.rollback
        ],
        "findings": [
            {
                "kind": f.kind,
                "message": f.message,
                "app_label": f.app_label,
                "subject": f.subject,
                "detail": f.detail,
            }
            for f in plan.findings
        ],
        "baseline": _baseline_json(baseline),
        # Only with --rehearse (null otherwise).
        "rehearsal": None if plan.rehearsal is None else _rehearsal_json(plan),
    }


def risk_to_json(finding: RiskFinding) -> dict[str, Any]:
    return {"class": finding.risk.value, "reason": finding.reason, "table": finding.table}


def parse_fail_on(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAIL_ON_CHOICES]
    if unknown:
        raise CommandError(
            f"Unknown --fail-on class {', '.join(map(repr, unknown))}; "
            f"choose from: {', '.join(FAIL_ON_CHOICES)}.",
            returncode=2,
        )
    return names


def _baseline_json(baseline: BaselineOutcome | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    from migration_ops.rendering.baseline import baseline_to_json

    return baseline_to_json(baseline)


def _rehearsal_json(plan: UpgradePlan) -> dict[str, Any]:
    from migration_ops.rendering.rehearsal import rehearsal_json

    assert plan.rehearsal is not None
    return rehearsal_json(plan.rehearsal)


def rehearsal_options(options: dict[str, Any]) -> RehearsalOptions | None:
    given = [name for name in REHEARSAL_OPTIONS if options[name] not in (None, False, [])]
    if not options["rehearse"]:
        if given:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
            raise CommandError(f"{flags} only make(s) sense with --rehearse.", returncode=2)
        return None
    if options["rows_from"] and not options["rows"]:
        raise CommandError("--rows-from needs --rows N.", returncode=2)
    from migration_ops.services.rehearsal import RehearsalOptions

    return RehearsalOptions(
        rows=options["rows"],
        rows_from_ignored=tuple(options["rows_from"]),
        round_trip=options["round_trip"],
        scratch_alias=options["scratch_database"],
        keep_scratch=options["keep_scratch"],
    )


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ArgumentTypeError(f"expected a number of rows (0 or more), got {value!r}")
    return number


def failing_classes(plan: UpgradePlan) -> set[str]:
    found = {risk.value for risk in plan.risk_classes} | ({"findings"} if plan.findings else set())
    if plan.rehearsal is not None and plan.rehearsal.failed:
        found.add("rehearsal")
    return found


def failing_migrations(plan: UpgradePlan, name: str) -> list[str]:
    if name == "findings":
        return [count(len(plan.findings), "finding")]
    if name == "rehearsal":
        failure = plan.rehearsal.failure if plan.rehearsal is not None else None
        if failure is not None and failure.failure is not None:
            return [f"{failure.failure.label} failed in the {failure.name!r} run"]
        return ["the round trip differs"]
    return [m.label for m in plan.migrations if name in {r.value for r in m.risk_classes}]


def _node_label(migration: PlannedMigration) -> list[str]:
    direction = "Unapply" if migration.backwards else "Apply"
    label = [f"{direction} {migration.label}", count(len(migration.operations), "operation")]
    if migration.risk_classes:
        label.append(f"[{', '.join(risk.value for risk in migration.risk_classes)}]")
    return label


def plan_to_dot(plan: UpgradePlan) -> str:
    """The pending plan as a Graphviz digraph: an edge runs from what must happen first."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"')

    lines = [f'digraph "plan_upgrade {escape(plan.database)}" {{', "  node [shape=box];"]
    for migration in plan.migrations:
        label = "\\n".join(escape(part) for part in _node_label(migration))
        lines.append(f'  "{escape(migration.label)}" [label="{label}"];')
    for migration in plan.migrations:
        lines.extend(
            f'  "{escape(before)}" -> "{escape(migration.label)}";' for before in migration.after
        )
    lines.append("}")
    return "\n".join(lines)


def plan_to_mermaid(plan: UpgradePlan) -> str:
    """The pending plan as a Mermaid flowchart (renders in GitHub and GitLab Markdown)."""
    ids = {m.label: f"m{i}" for i, m in enumerate(plan.migrations)}
    lines = ["flowchart TD"]
    for migration in plan.migrations:
        label = "<br/>".join(_node_label(migration)).replace('"', "#quot;")
        lines.append(f'    {ids[migration.label]}["{label}"]')
    for migration in plan.migrations:
        lines.extend(f"    {ids[before]} --> {ids[migration.label]}" for before in migration.after)
    return "\n".join(lines)
