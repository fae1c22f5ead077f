"""CI annotations for a ``plan_upgrade`` result: what failed (or may), and where in the code.

One annotation per finding and per risk that ``--fail-on`` matched (and, with ``--check``, per
pending migration), pointing at the migration file and the line of the operation where there is
one, or at the model of a drifted table. Paths are relative to ``root`` (the repository checkout
in CI); a file outside it gets no path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migration_ops.core.operations import RiskFinding
from migration_ops.core.sources import SourceLocation, migration_location, model_location
from migration_ops.services.findings import Finding
from migration_ops.services.upgrade import PlannedMigration, UpgradePlan

if TYPE_CHECKING:  # the rehearsal's modules load only when a rehearsal runs
    from migration_ops.core.rehearsal.runner import MigrationRun
    from migration_ops.services.rehearsal import Rehearsal

# Findings whose subject is a migration label ("app.name").
_MIGRATION_SUBJECTS = frozenset(
    {"inconsistent-history", "partial-squash", "existing-initial-tables", "half-applied"}
)


@dataclass(frozen=True)
class Annotation:
    level: str  # "error" when it fails the run, else "warning"
    title: str
    message: str
    file: str | None = None  # relative to the root, "/"-separated
    line: int | None = None


def plan_annotations(
    plan: UpgradePlan, *, fail_on: Collection[str], check: bool, root: Path
) -> tuple[Annotation, ...]:
    root = root.resolve()

    def located(location: SourceLocation | None) -> dict[str, str | int | None]:
        if location is None or not location.path.is_relative_to(root):
            return {}
        return {"file": location.path.relative_to(root).as_posix(), "line": location.line}

    found: list[Annotation] = []
    for migration in plan.migrations:
        if check:
            found.append(
                Annotation(
                    "error",
                    "plan_upgrade: pending migration",
                    f"{_direction(migration)} {migration.label}: pending on database "
                    f"{plan.database!r}.",
                    **located(migration_location(migration.app_label, migration.name)),
                )
            )
        for risk in migration.risks:
            if risk.risk.value in fail_on:
                found.append(
                    _risk(
                        migration,
                        None,
                        risk,
                        located(migration_location(migration.app_label, migration.name)),
                    )
                )
        count = len(migration.operations)
        for position, operation in enumerate(migration.operations):
            # A backward plan lists the operations in the order they are undone.
            index = count - 1 - position if migration.backwards else position
            for risk in operation.risks:
                if risk.risk.value in fail_on:
                    where = migration_location(migration.app_label, migration.name, index)
                    found.append(_risk(migration, operation.description, risk, located(where)))
    level = "error" if check or "findings" in fail_on else "warning"
    for finding in plan.findings:
        found.append(
            Annotation(
                level,
                f"plan_upgrade: {finding.kind}",
                finding.message,
                **located(finding_location(finding)),
            )
        )
    if plan.rehearsal is not None:
        rehearsal_level = "error" if check or "rehearsal" in fail_on else "warning"
        found += _rehearsal_annotations(plan, plan.rehearsal, rehearsal_level, located)
    return tuple(found)


_PASS_TITLES = {"plan": "run", "reverse": "run in reverse", "plan again": "second run"}


def _rehearsal_annotations(
    plan: UpgradePlan,
    rehearsal: Rehearsal,
    level: str,
    located: Callable[[SourceLocation | None], dict[str, str | int | None]],
) -> Iterator[Annotation]:
    """The failed migration of the rehearsal (at its failing operation) and every
    difference the round trip left; a rehearsal that passed has none."""
    title = "plan_upgrade: rehearsal"
    for rehearsal_pass in rehearsal.passes:
        failed = rehearsal_pass.failure
        if failed is None:
            continue
        what = f"{'Unapply' if failed.backwards else 'Apply'} {failed.label}"
        if failed.failed_operation:
            what += f", {failed.failed_operation}"
        message = (
            f"The rehearsal's {_PASS_TITLES.get(rehearsal_pass.name, rehearsal_pass.name)} "
            f"failed: {what}: {failed.error}"
        )
        if failed.left_applied:
            message += (
                f" Left applied (DDL is not transactional here): {'; '.join(failed.left_applied)}."
            )
        where = migration_location(
            failed.app_label, failed.name, _failed_operation_index(plan, failed)
        )
        yield Annotation(level, title, message, **located(where))
    for found in rehearsal.round_trip_differences:
        yield Annotation(
            level,
            title,
            f"The rehearsal's round trip, after {found.after} compared with "
            f"{found.compared_with}: {found.difference.message}",
        )


def _failed_operation_index(plan: UpgradePlan, failed: MigrationRun) -> int | None:
    """The failing operation's place in the migration file (None: raised outside any)."""
    position = next((i for i, op in enumerate(failed.operations) if op.error is not None), None)
    if position is None or not failed.backwards:
        return position
    # Unapplied in reverse order: count from the end of the migration's operations.
    planned = next((m for m in plan.migrations if m.label == failed.label), None)
    return None if planned is None else len(planned.operations) - 1 - position


def finding_location(finding: Finding) -> SourceLocation | None:
    if finding.kind == "schema-drift" and finding.app_label and finding.subject:
        return model_location(finding.app_label, finding.subject)
    if finding.kind == "conflict" and finding.app_label:
        leaves = sorted(finding.detail.get("leaves", ()))
        return migration_location(finding.app_label, leaves[0]) if leaves else None
    if finding.kind in _MIGRATION_SUBJECTS and finding.subject and "." in finding.subject:
        app_label, name = finding.subject.split(".", 1)
        operation = None
        if finding.kind == "half-applied":
            operation = len(finding.detail.get("applied_operations", ()))  # the first to run
        return migration_location(app_label, name, operation)
    return None


def _direction(migration: PlannedMigration) -> str:
    return "Unapply" if migration.backwards else "Apply"


def _risk(
    migration: PlannedMigration,
    operation: str | None,
    risk: RiskFinding,
    where: dict[str, str | int | None],
) -> Annotation:
    what = f"{_direction(migration)} {migration.label}"
    if operation is not None:
        what += f", {operation}"
    return Annotation(
        "error", f"plan_upgrade: {risk.risk.value}", f"{what}: {risk.reason}", **where
    )
