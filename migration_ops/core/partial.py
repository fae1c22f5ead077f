"""Half-applied migrations: which operations of a pending migration are already in the database.

On backends that cannot roll back DDL (MySQL/MariaDB), a migration that fails half way leaves
its first operations applied and nothing recorded. The live schema then matches neither the
state of the applied migrations nor the state after the pending one, but the state after some
of its operations. We find that prefix by comparing the live schema with the expected schema
after each operation, only for migrations whose tables show drift (so a clean database costs
nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from migration_ops.core.diff import diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.plan import PlanStep
from migration_ops.core.schema import Schema
from migration_ops.text import count


@dataclass(frozen=True)
class HalfAppliedMigration:
    app_label: str
    name: str
    applied: tuple[str, ...]  # descriptions of the operations found in the database
    remaining: tuple[str, ...]  # descriptions of the operations still to run
    tables: tuple[str, ...]  # the tables compared

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    @property
    def complete(self) -> bool:
        """Every operation is in the database; only the django_migrations row is missing."""
        return not self.remaining

    @property
    def message(self) -> str:
        total = len(self.applied) + len(self.remaining)
        if self.complete:
            return (
                f"Migration {self.label} is in the database but not recorded as applied "
                f"(all {count(total, 'operation')} found); record it with "
                f"`migrate {self.app_label} {self.name} --fake`."
            )
        return (
            f"Migration {self.label} is half-applied: {len(self.applied)} of "
            f"{count(total, 'operation')} already in the database "
            f"({'; '.join(self.applied)}), still to run: {'; '.join(self.remaining)}. "
            f"Run the remaining operations' SQL by hand (`sqlmigrate {self.app_label} "
            f"{self.name}` shows it), then `migrate {self.app_label} {self.name} --fake`; "
            "or undo the applied ones by hand and run `migrate` again."
        )


def diagnose_half_applied(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    applied: ProjectState,
    live: Schema,
    plan: Sequence[PlanStep],
    drifted_tables: Iterable[str],
) -> tuple[HalfAppliedMigration, ...]:
    """Pending migrations whose first operations (or all of them) are already in ``live``.

    Candidates are the forward steps of ``plan`` whose dependencies are all applied: the
    migrations a failed ``migrate`` could have been running. ``applied`` is the project
    state of the applied migrations; ``drifted_tables`` the tables where ``live`` differs
    from it.
    """
    drifted = set(drifted_tables)
    if not drifted:
        return ()
    recorded = set(loader.applied_migrations)
    found = []
    for step in plan:
        if step.backwards or not _dependencies_applied(loader, step, recorded):
            continue
        diagnosis = _diagnose(connection, applied, live, step, drifted)
        if diagnosis is not None:
            found.append(diagnosis)
    return tuple(found)


def _dependencies_applied(loader: MigrationLoader, step: PlanStep, recorded: set) -> bool:
    node = loader.graph.node_map[step.key]
    return all(parent.key in recorded for parent in node.parents)


def _diagnose(
    connection: BaseDatabaseWrapper,
    applied: ProjectState,
    live: Schema,
    step: PlanStep,
    drifted: set[str],
) -> HalfAppliedMigration | None:
    operations = step.migration.operations
    # The expected schema of the migration's app before and after each operation.
    schemas = [expected_schema(applied, connection, app_labels={step.app_label})]
    state = applied
    for operation in operations:
        state = state.clone()
        operation.state_forwards(step.app_label, state)
        schemas.append(expected_schema(state, connection, app_labels={step.app_label}))
    tables = sorted({name for schema in schemas for name in schema.tables})
    if drifted.isdisjoint(tables):
        return None
    compared = live.restricted_to(set(tables))
    for done, schema in enumerate(schemas):
        if not diff(compared, schema):
            if done == 0:
                return None  # the drift is elsewhere: this migration has not started
            descriptions = [operation.describe() for operation in operations]
            return HalfAppliedMigration(
                app_label=step.app_label,
                name=step.name,
                applied=tuple(descriptions[:done]),
                remaining=tuple(descriptions[done:]),
                tables=tuple(tables),
            )
    return None


@dataclass(frozen=True)
class PartlyUnapplied:
    """A migration recorded as applied whose reverse already began: a ``migrate`` backwards
    stopped after undoing its last operations (MySQL commits each DDL statement), or after
    committing them and before deleting its django_migrations row (Django records the
    unapply outside the schema transaction, so on every backend)."""

    app_label: str
    name: str
    still_applied: int  # its first operations, whose effect is still in the database
    undone: tuple[str, ...]  # descriptions of the operations already undone, in undo order
    remaining: tuple[str, ...]  # descriptions of the operations still to undo, in undo order

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    @property
    def message(self) -> str:
        total = len(self.undone) + len(self.remaining)
        found = (
            f"Migration {self.label} was being unapplied when an earlier run stopped: the "
            f"reverse of {len(self.undone)} of its {count(total, 'operation')} is already in "
            f"the database ({'; '.join(self.undone)})"
        )
        if not self.remaining:
            return f"{found}; it is only recorded as unapplied."
        return f"{found}; the rest is undone now ({'; '.join(self.remaining)})."


def diagnose_partly_unapplied(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    live: Schema,
    key: tuple[str, str],
) -> PartlyUnapplied | None:
    """How far the reverse of migration ``key`` (applied, the next to unapply) got in
    ``live``: None when it has not begun, or when the schema is at no point of it.

    Undoing a migration walks back through the states after each prefix of its operations;
    we compare the live tables of its app with each of them, from the full migration down
    (operations without a schema effect, such as ``RunPython``, count as not undone).
    """
    app_label, _ = key
    migration = loader.graph.nodes[key]
    operations = migration.operations
    state = loader.project_state(key, at_end=False)
    schemas = [expected_schema(state, connection, app_labels={app_label})]
    for operation in operations:
        state = state.clone()
        operation.state_forwards(app_label, state)
        schemas.append(expected_schema(state, connection, app_labels={app_label}))
    compared = live.restricted_to({name for schema in schemas for name in schema.tables})
    for still_applied in range(len(operations), -1, -1):
        if not diff(compared, schemas[still_applied]):
            if still_applied == len(operations):
                return None
            descriptions = [f"Undo {operation.describe()}" for operation in operations]
            return PartlyUnapplied(
                app_label=app_label,
                name=key[1],
                still_applied=still_applied,
                undone=tuple(reversed(descriptions[still_applied:])),
                remaining=tuple(reversed(descriptions[:still_applied])),
            )
    return None
