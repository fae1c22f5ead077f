"""The findings of ``plan_upgrade``: what is wrong with the database or the migration files,
whatever is pending, each a stable ``kind`` and one sentence that says what to do.

Built from the engine's reports (history, ownership, pending resets, half-applied
migrations, schema drift); used by the plan, the baseline and the annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migration_ops.core.provenance import PendingTransition, transition_command
from migration_ops.services.advice import drift_advice
from migration_ops.text import count

if TYPE_CHECKING:
    from migration_ops.core.diff import SchemaDifference
    from migration_ops.core.history import History
    from migration_ops.core.ownership import Ownership
    from migration_ops.core.partial import HalfAppliedMigration
    from migration_ops.core.schema import Schema


@dataclass(frozen=True)
class Finding:
    """Something wrong with the database or the migration files, whatever is pending.

    ``kind`` is a stable code (see the README's JSON schema); ``message`` one sentence
    that says what is wrong and what to do.
    """

    kind: str
    message: str
    app_label: str | None = None
    subject: str | None = None
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


def transition_findings(transitions: Sequence[PendingTransition], database: str) -> list[Finding]:
    """One finding for every app that waits for a clean-slate reset's command."""
    if not transitions:
        return []
    # Imported here: only a pending reset quotes a command, and every import counts.
    import shlex

    apps = [t.app_label for t in transitions]
    command = transition_command(apps, database)
    described = "; ".join(
        f"{', '.join(f'{t.app_label}.{n}' for n in t.new_migrations)} "
        f"{'stands' if len(t.new_migrations) == 1 else 'stand'} in for "
        f"{count(len(t.recorded_old), 'migration')} recorded here"
        for t in transitions
    )
    return [
        Finding(
            "pending-reset",
            f"The migrations of {_apps(apps)} were reset with `reset_migrations --mode "
            f"clean-slate` ({described}), and database {database!r} still records the old "
            f"history. Run `{shlex.join(command)}` here before `migrate`: it verifies the "
            "schema and records the new migrations in place of the old rows.",
            app_label=apps[0] if len(apps) == 1 else None,
            subject=" ".join(apps),
            detail={
                "apps": apps,
                "command": list(command),
                "new_migrations": [_label(k) for t in transitions for k in sorted(t.new_keys)],
                "old_migrations": [
                    f"{t.app_label}.{n}" for t in transitions for n in t.recorded_old
                ],
            },
        )
    ]


def _label(key: tuple[str, str]) -> str:
    return f"{key[0]}.{key[1]}"


def _apps(app_labels: Sequence[str]) -> str:
    quoted = [f"'{app}'" for app in app_labels]
    return f"app {quoted[0]}" if len(quoted) == 1 else f"apps {', '.join(quoted)}"


def history_findings(
    history: History, transitions: Sequence[PendingTransition] = ()
) -> list[Finding]:
    """The history's findings, leaving out what a pending reset explains: its old rows
    (not ghosts), and dependencies on, or initial tables of, its new migrations."""
    old = frozenset(key for t in transitions for key in t.old_keys)
    new = frozenset(key for t in transitions for key in t.new_keys)
    findings = [
        Finding(
            "conflict",
            f"Conflicting migrations in app {app!r}: {', '.join(leaves)}.",
            app_label=app,
            subject=app,
            detail={"leaves": list(leaves)},
        )
        for app, leaves in sorted(history.conflicts.items())
    ]
    findings += [
        Finding(
            "ghost-migration",
            f"Migration {app}.{name} is recorded as applied but has no migration file.",
            app_label=app,
            subject=f"{app}.{name}",
        )
        for app, name in history.ghosts
        if (app, name) not in old
    ]
    findings += [
        Finding(
            "inconsistent-history",
            problem.message,
            app_label=problem.migration[0],
            subject=".".join(problem.migration),
        )
        for problem in history.inconsistent
        if problem.dependency not in new and problem.migration not in new
    ]
    findings += [
        Finding(
            "partial-squash",
            squash.message,
            app_label=squash.squash[0],
            subject=".".join(squash.squash),
        )
        for squash in history.partial_squashes
    ]
    findings += [
        Finding(
            "existing-initial-tables",
            initial.message,
            app_label=initial.migration[0],
            subject=".".join(initial.migration),
        )
        for initial in history.existing_initial_tables
        if initial.migration not in new
    ]
    return findings


def ownership_findings(ownership: Ownership, live: Schema | None = None) -> list[Finding]:
    """Stale apps, orphan tables, and the views and sequences of ``live`` (the schema
    ``ownership`` was read from) that no app owns."""
    findings = [
        Finding(
            "stale-app",
            f"App {label!r} is not installed but still has "
            f"{count(len(stale.tables), 'table')}, "
            f"{count(len(stale.migration_rows), 'migration row')} and "
            f"{count(len(stale.content_types), 'content type')}; "
            f"remove them with `safe_remove_app {label}`.",
            app_label=label,
            subject=label,
            detail={
                "tables": list(stale.tables),
                "migration_rows": list(stale.migration_rows),
                "content_types": list(stale.content_types),
                "evidence": list(stale.evidence),
            },
        )
        for label, stale in sorted(ownership.stale_apps.items())
    ]
    findings += [
        Finding(
            "orphan-table",
            f"Table {table!r} belongs to no installed or removed app; drop it, or add it to "
            "MIGRATION_OPS['IGNORED_TABLES'] if another tool owns it.",
            subject=table,
        )
        for table in ownership.orphans
    ]
    objects = live.objects if live is not None else {}
    findings += [
        Finding(
            "unowned-object",
            f"{objects[name].noun.capitalize()} {name!r} was created by no migration of an "
            "installed or removed app (no RunSQL names it); drop it, or add it to "
            "MIGRATION_OPS['IGNORED_TABLES'] if another tool owns it.",
            subject=name,
            detail={"object": name, "object_kind": objects[name].kind},
        )
        for name in ownership.unowned_objects
        if name in objects
    ]
    return findings


def half_applied_finding(migration: HalfAppliedMigration) -> Finding:
    return Finding(
        "half-applied",
        migration.message,
        app_label=migration.app_label,
        subject=migration.label,
        detail={
            "applied_operations": list(migration.applied),
            "remaining_operations": list(migration.remaining),
            "tables": list(migration.tables),
        },
    )


def drift_finding(difference: SchemaDifference, app_label: str | None = None) -> Finding:
    return Finding(
        "schema-drift",
        f"{difference.message} {drift_advice(difference, app_label)}",
        app_label=app_label,
        subject=difference.table,
        detail={
            "difference": difference.kind,
            "table": difference.table,
            "subject": difference.subject,
            "expected": difference.expected,
            "actual": difference.actual,
        },
    )
