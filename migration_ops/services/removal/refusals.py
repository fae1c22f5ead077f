"""Why a removal cannot go ahead, each reason saying what to do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from migration_ops.exceptions import MigrationOpsError
from migration_ops.services import backup as backups
from migration_ops.services.removal.plan import (
    Cascade,
    CodeReference,
    DependentMigration,
    IncomingConstraint,
    RemovalPlan,
)
from migration_ops.services.removal.wording import join, quoted
from migration_ops.text import count


class RemovalRefused(MigrationOpsError):
    """The plan has refusals; nothing was changed."""

    def __init__(self, plan: RemovalPlan) -> None:
        self.plan = plan
        super().__init__(refusal_message(plan))


def plan_refusals(
    *,
    labels: tuple[str, ...],
    together: tuple[str, ...],
    migrate_blocker: str | None,
    references: Sequence[CodeReference],
    dependents: Sequence[DependentMigration],
    incoming: Sequence[IncomingConstraint],
    incoming_problems: Sequence[str] | None,
    cascades: Sequence[Cascade],
    backup_dir: str | Path | None,
    database: str,
    nothing_to_remove: bool,
    dependent_views: Sequence[tuple[str, str, str | None, tuple[str, ...]]] = (),
    sequence_users: Mapping[str, frozenset[str]] | None = None,
) -> tuple[str, ...]:
    """Why the removal cannot go ahead, one sentence (or a few) each saying what to do.

    ``migrate_blocker`` only when ``--strategy migrate`` was asked for;
    ``incoming_problems`` only with ``--drop-incoming-constraints``; ``together``: the
    labels and every app that would have to go with them.
    """
    refusals: list[str] = []
    if migrate_blocker:
        refusals.append(
            f"--strategy migrate cannot remove {quoted(labels)}: {migrate_blocker}. Use "
            "--strategy drop (or auto, the default, which falls back to it)."
        )
    # The whole set at once: suggesting only the apps that refer directly would be refused
    # again for the apps that refer to those.
    same_run = f"remove these apps in the same run: safe_remove_app {' '.join(together)}."
    if references:
        refusals.append(
            f"Models of installed apps that stay refer to models of {quoted(labels)}: "
            f"{'; '.join(f'{r.model}.{r.field} -> {r.target}' for r in references)}. Their "
            f"code would break: remove those fields (and migrate) first, or {same_run}"
        )
    kept_dependents = [d for d in dependents if not d.removed]
    if kept_dependents:
        listed = "; ".join(f"{d.migration} on {', '.join(d.depends_on)}" for d in kept_dependents)
        depended = {dep.partition(".")[0] for d in kept_dependents for dep in d.depends_on}
        zero = join([f"`migrate {label} zero`" for label in labels if label in depended])
        refusals.append(
            f"Migrations of apps that stay depend on migrations of {quoted(labels)}: {listed}. "
            f"{zero} would unapply them, and without {quoted(labels)} their migration graph "
            "cannot be built: edit those dependencies out of their migration files first, or "
            f"{same_run}"
        )
    if incoming and incoming_problems is None:
        refusals.append(
            f"Tables that stay have foreign keys into tables to drop: "
            f"{'; '.join(f'{c.label} ({c.owner_text})' for c in incoming)}. Pass "
            "--drop-incoming-constraints to drop these constraints and keep those tables, or "
            "remove the apps that own them in the same run."
        )
    refusals += incoming_problems or ()
    if dependent_views:
        listed = "; ".join(
            f"{noun} {name} ({f'app {owner!r}' if owner else 'no app owns it'}) reads "
            f"{', '.join(reads)}"
            for name, noun, owner, reads in dependent_views
        )
        refusals.append(
            f"Views that stay read tables or views to drop: {listed}. Dropping them would "
            "break them (PostgreSQL refuses without CASCADE, which safe_remove_app never "
            "uses): drop or redefine them first (with a migration of the app that owns them), "
            "or remove the apps that own them in the same run."
        )
    if sequence_users:
        listed = "; ".join(
            f"sequence {name} (used by {', '.join(sorted(tables))})"
            for name, tables in sorted(sequence_users.items())
        )
        refusals.append(
            f"Tables that stay call sequences to drop in their column defaults: {listed}. "
            "Dropping the sequences would break those defaults (PostgreSQL refuses without "
            "CASCADE): change the defaults first, or remove the apps that own those tables in "
            "the same run."
        )
    protected = [c for c in cascades if c.protected]
    if protected:
        refusals.append(
            "Rows that protect the content types of these apps from deletion: "
            f"{'; '.join(f'{count(c.rows, c.model)} ({c.table}.{c.column})' for c in protected)}."
            " Delete them, or change their on_delete, first."
        )
    if backup_dir is not None:
        problem = backups.check_backup_directory(
            backup_dir, database=database, apps=labels, finished_ok=nothing_to_remove
        )
        if problem:
            refusals.append(problem)
    return tuple(refusals)


def refusal_message(plan: RemovalPlan) -> str:
    head = (
        f"Refusing to remove {quoted(plan.labels)} from database {plan.database!r}; "
        "nothing was changed."
    )
    return "\n".join([head, *(f"- {r}" for r in plan.refusals)])
