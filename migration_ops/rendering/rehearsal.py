"""How ``plan_upgrade`` shows a rehearsal: text for people, the JSON "rehearsal" object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.color import Style

from migration_ops.core.rehearsal.runner import MigrationRun, Pass
from migration_ops.services.rehearsal import Rehearsal
from migration_ops.text import count


def rehearsal_text(
    rehearsal: Rehearsal, write: Callable[[str], None], style: Style, verbosity: int
) -> None:
    where = (
        f"database alias {rehearsal.scratch_alias!r}"
        if rehearsal.scratch_alias
        else f"scratch database {rehearsal.scratch!r}"
    )
    write(style.MIGRATE_HEADING(f"Rehearsal on {where}:"))
    if rehearsal.leftover_removed:
        write("  Removed a scratch database left by an earlier rehearsal.")
    copied = sum(rehearsal.rows_copied.values())
    rows = f" and {count(copied, 'row')}" if copied else ""
    write(
        f"  Copied {count(rehearsal.tables_copied, 'table')}{rows} from the live catalogue "
        f"in {rehearsal.copy_seconds:.2f} s."
    )
    if rehearsal.copy_differences:
        write(
            style.ERROR(
                "  The copy differs from the live database (the rehearsal may not show what "
                "migrate will meet):"
            )
        )
        for difference in rehearsal.copy_differences:
            write(style.ERROR(f"    {difference.message}"))
    else:
        write(
            "  The copy's structure equals the live one (tables, columns, keys, indexes, "
            "constraints and their names)."
        )
    for note in rehearsal.not_copied:
        write(style.WARNING(f"  {note}"))
    for rehearsal_pass in rehearsal.passes:
        _pass_text(rehearsal_pass, write, style, verbosity)
    for migration in rehearsal.half_applied:
        write(
            style.ERROR(
                "  Left like this, the live database would get this finding from plan_upgrade: "
                f"[half-applied] {migration.message}"
            )
        )
    if rehearsal.round_trip and rehearsal.failure is None:
        if rehearsal.round_trip_differences:
            write(style.ERROR("  The round trip does not restore the structure:"))
            for found in rehearsal.round_trip_differences:
                where = f"After {found.after}, compared with {found.compared_with}"
                write(style.ERROR(f"    {where}: {found.difference.message}"))
        else:
            write(
                "  Round trip: the reverse restored the starting structure, the second run "
                "the first run's."
            )
    if rehearsal.projections:
        write(style.MIGRATE_HEADING("Projected durations on the live table sizes (estimates):"))
        for p in rehearsal.projections:
            risks = f" [{', '.join(p.risk_classes)}]" if p.risk_classes else ""
            write(
                f"  {p.migration}: {p.operation}{risks}: ~{p.projected_seconds:.2f} s ({p.basis})"
            )
    if rehearsal.kept:
        write(
            style.WARNING(
                f"  The scratch database was kept; open it with: {rehearsal.connect_command}"
            )
        )
    else:
        gone = "emptied" if rehearsal.scratch_alias else "dropped"
        write(f"  The scratch database was {gone}.")
    verdict = "FAILED" if rehearsal.failed else "passed"
    line = f"Rehearsal {verdict}."
    write(style.ERROR(line) if rehearsal.failed else style.SUCCESS(line))


def _pass_text(
    rehearsal_pass: Pass, write: Callable[[str], None], style: Style, verbosity: int
) -> None:
    title = {"plan": "The plan", "reverse": "The plan in reverse", "plan again": "The plan again"}
    write(
        f"  {title.get(rehearsal_pass.name, rehearsal_pass.name)} ({rehearsal_pass.seconds:.2f} s):"
    )
    if not rehearsal_pass.migrations:
        write("    Nothing to run.")
    for migration in rehearsal_pass.migrations:
        direction = "Unapply" if migration.backwards else "Apply"
        if migration.error is None:
            statements = count(len(migration.statements), "statement")
            write(
                f"    {direction} {migration.label}... OK ({migration.seconds:.3f} s, {statements})"
            )
        else:
            write(style.ERROR(f"    {direction} {migration.label}... FAILED"))
            write(
                style.ERROR(
                    f"      Operation: {migration.failed_operation or '(outside any operation)'}"
                )
            )
            write(style.ERROR(f"      Error: {migration.error}"))
            if migration.left_applied:
                left = "; ".join(migration.left_applied)
                write(style.ERROR(f"      Left applied (DDL is not transactional here): {left}"))
            else:
                write("      Nothing of it stays applied (rolled back).")
        if verbosity >= 2:
            for operation in migration.operations:
                write(f"      {operation.description} ({operation.seconds:.3f} s)")
                for statement in operation.statements:
                    write(style.SQL_KEYWORD("        " + statement.replace("\n", "\n        ")))


def rehearsal_json(rehearsal: Rehearsal) -> dict[str, Any]:
    return {
        "scratch_database": rehearsal.scratch,
        "scratch_alias": rehearsal.scratch_alias,
        "kept": rehearsal.kept,
        "connect_command": rehearsal.connect_command,
        "leftover_removed": rehearsal.leftover_removed,
        "tables_copied": rehearsal.tables_copied,
        "rows_copied": dict(rehearsal.rows_copied),
        "copy_seconds": rehearsal.copy_seconds,
        "not_copied": list(rehearsal.not_copied),
        "copy_differences": [d.as_dict() for d in rehearsal.copy_differences],
        "passes": [
            {
                "name": p.name,
                "seconds": p.seconds,
                "failed": p.failure is not None,
                "migrations": [_migration_json(m) for m in p.migrations],
            }
            for p in rehearsal.passes
        ],
        "round_trip": rehearsal.round_trip,
        "round_trip_differences": [
            {"after": d.after, "compared_with": d.compared_with, **d.difference.as_dict()}
            for d in rehearsal.round_trip_differences
        ],
        "half_applied": [
            {
                "migration": m.label,
                "applied_operations": list(m.applied),
                "remaining_operations": list(m.remaining),
                "message": m.message,
            }
            for m in rehearsal.half_applied
        ],
        "projections": [
            {
                "migration": p.migration,
                "operation": p.operation,
                "table": p.table,
                "seconds": p.seconds,
                "rows_copied": p.rows_copied,
                "live_rows": p.live_rows,
                "projected_seconds": p.projected_seconds,
                "risk_classes": list(p.risk_classes),
                "basis": p.basis,
            }
            for p in rehearsal.projections
        ],
        "failed": rehearsal.failed,
    }


def _migration_json(migration: MigrationRun) -> dict[str, Any]:
    return {
        "app_label": migration.app_label,
        "name": migration.name,
        "backwards": migration.backwards,
        "seconds": migration.seconds,
        "error": migration.error,
        "failed_operation": migration.failed_operation,
        "left_applied": list(migration.left_applied),
        "statements": list(migration.statements),
        "operations": [
            {
                "description": op.description,
                "seconds": op.seconds,
                "table": op.table,
                "error": op.error,
                "statements": list(op.statements),
            }
            for op in migration.operations
        ],
    }
