"""What a removal plan is made of: the apps, tables, constraints, references, cascades
and steps it lists, and the result of carrying it out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migration_ops.core import ownership as owners
from migration_ops.core.partial import PartlyUnapplied
from migration_ops.core.references import Reference
from migration_ops.core.schema import ForeignKey
from migration_ops.services import backup as backups
from migration_ops.services.removal.next_steps import left_to_do

Progress = Callable[[str], None]

STRATEGIES = ("auto", "migrate", "drop")

# Step kinds, in execution order.
BACKUP = "backup"
DROP_CONSTRAINT = "drop-constraint"
UNAPPLY = "unapply-migration"
DROP_OBJECTS = "drop-objects"  # views, materialized views, sequences (before and after tables)
DROP_TABLES = "drop-tables"
DROP_LEFTOVER_TABLES = "drop-leftover-tables"
DELETE_MIGRATION_ROWS = "delete-migration-rows"
DELETE_CONTENT_TYPES = "delete-content-types"

_ATTRIBUTION = {
    owners.MODEL: "model {model}",
    owners.AUTO_M2M: "auto-created many-to-many table {model}",
    owners.STALE_MIGRATIONS: "model {model} in the app's migration files",
    owners.STALE_CONTENT_TYPE: "content type {model}, default table name",
    owners.STALE_M2M: "named after a table of the app, with a foreign key to it",
    owners.RUNSQL: "created by the RunSQL of a migration of the app",
}


@dataclass(frozen=True)
class AppToRemove:
    label: str
    installed: bool
    # The INSTALLED_APPS entry (app module or AppConfig path); None when not installed.
    installed_apps_entry: str | None
    module: str | None  # top-level import name, when importable
    package: str | None  # the app's own module path ("django.contrib.flatpages"), when known
    module_path: str | None
    distributions: tuple[str, ...]  # installed distributions that provide ``module``
    # Other installed apps, staying, that the same distributions provide.
    distribution_shared_with: tuple[str, ...]
    evidence: tuple[str, ...]  # how a removed app was found in the database


@dataclass(frozen=True)
class PlannedTable:
    name: str
    app_label: str
    model: str | None
    reason: str  # an ownership reason code (``migration_ops.core.ownership``)
    rows: int
    custom_db_table: bool = False  # not the name Django would give the model's table

    @property
    def attribution(self) -> str:
        text = _ATTRIBUTION.get(self.reason, self.reason).format(model=self.model)
        return f"{text}, custom db_table" if self.custom_db_table else text


@dataclass(frozen=True)
class PlannedObject:
    """A view, materialized view or free sequence of a removed app."""

    name: str
    kind: str  # ``migration_ops.core.schema``: VIEW, MATERIALIZED_VIEW, SEQUENCE
    noun: str  # "view", "materialized view", "sequence"
    app_label: str
    reason: str  # an ownership reason code
    depends_on: tuple[str, ...]  # what a view reads, sorted

    @property
    def attribution(self) -> str:
        return _ATTRIBUTION.get(self.reason, self.reason).format(model=None)


@dataclass(frozen=True)
class IncomingConstraint:
    """A foreign key of a table that stays into a table to drop."""

    table: str
    columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]
    name: str | None
    owner: str | None  # app label of ``table``, None when no app owns it
    owner_reason: str  # ownership reason code of ``table``
    owner_installed: bool
    rebuild: bool  # the backend rebuilds ``table`` to drop it (SQLite)
    sql: tuple[str, ...]
    foreign_key: ForeignKey = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        return (
            f"{self.table}.{', '.join(self.columns)} -> "
            f"{self.to_table}.{', '.join(self.to_columns)}"
        )

    @property
    def owner_text(self) -> str:
        if self.owner is None:
            if self.owner_reason == owners.IGNORED:
                return "in MIGRATION_OPS['IGNORED_TABLES']"
            return "no app owns it"
        return f"app '{self.owner}'{'' if self.owner_installed else ', not installed'}"


@dataclass(frozen=True)
class CodeReference:
    """A model of an installed app that stays refers to a model of a removed app."""

    model: str  # "shop_reports.Report"
    field: str  # "product"
    target: str  # "shop.Product"


@dataclass(frozen=True)
class DependentMigration:
    migration: str  # "shop.0002_order_customer"
    depends_on: tuple[str, ...]  # ("legacy.0004_customer_email",)
    applied: bool
    removed: bool  # its app is removed in the same run


@dataclass(frozen=True)
class Cascade:
    """Rows that deleting the content types of the removed apps deletes or updates."""

    model: str  # "auth.Permission"
    table: str
    description: str  # "permissions", or "permission" for one row
    action: str  # "delete" or "set-null"
    field: str  # the foreign key pointing at the parent rows
    column: str  # its column
    rows: int
    depth: int  # 1 for rows pointing at content types, 2 for rows pointing at those...
    where: str = field(compare=False, repr=False)  # SQL selecting the rows, %s placeholders
    params: tuple[Any, ...] = field(compare=False, repr=False)
    protected: bool = False  # on_delete forbids the deletion (PROTECT, RESTRICT, ...)
    names: tuple[str, str] = field(default=("", ""), compare=False, repr=False)  # sing., plural


@dataclass(frozen=True)
class CascadeTotal:
    """The cascades into one table with one action, merged: the rows they reach together
    (a row that several foreign keys reach counts once)."""

    model: str
    table: str
    description: str  # "log entries", or "log entry" for one row
    action: str
    fields: tuple[str, ...]  # the foreign keys, in the walk's order
    rows: int
    protected: bool
    relations: int  # how many cascades were merged


@dataclass(frozen=True)
class ParentRows:
    """Rows of a table that stays whose child rows, in a table to drop, go (multi-table
    inheritance: a model of a removed app subclasses a concrete model of an app that stays)."""

    table: str  # "pagetree_page"
    model: str | None  # "pagetree.Page", when an app owns the table
    child_table: str  # "blog_blogpage"
    column: str  # the child's parent link column: "page_ptr_id"
    rows: int  # rows of ``table`` that have a child row in ``child_table``
    deleted: int  # of those, rows that deleting the content types deletes

    @property
    def orphaned(self) -> int:
        return self.rows - self.deleted


@dataclass(frozen=True)
class Step:
    kind: str
    description: str  # imperative: "Drop table legacy_tag"
    done: str  # past: "Dropped table legacy_tag."
    sql: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    migration: str | None = None
    statements: tuple[tuple[str, tuple[Any, ...]], ...] = field(default=(), repr=False)
    foreign_key: ForeignKey | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RemovalPlan:
    database: str
    vendor: str
    apps: tuple[AppToRemove, ...]
    requested_strategy: str
    strategy: str  # "migrate" or "drop"
    # Why the reverse migrations cannot run (``auto`` then drops; ``migrate`` refuses).
    migrate_blocker: str | None
    tables: tuple[PlannedTable, ...]  # in drop order: referencing tables first
    incoming: tuple[IncomingConstraint, ...]
    drop_incoming_constraints: bool
    code_references: tuple[CodeReference, ...]
    dependent_migrations: tuple[DependentMigration, ...]
    unapply: tuple[str, ...]  # strategy migrate: the migrations unapplied, in order
    migration_rows: tuple[str, ...]  # "app.name" rows of django_migrations to delete
    content_types: tuple[str, ...]  # "app_label.model"
    cascades: tuple[Cascade, ...]
    cascade_totals: tuple[CascadeTotal, ...]  # the cascades merged by table and action
    relations_checked: int  # how many relations the walk counted rows through
    parent_rows: tuple[ParentRows, ...]
    # Settings and modules of apps that stay that still name the apps' packages.
    references_left: tuple[Reference, ...]
    # The labels and every app that would have to be removed with them (code, migrations,
    # foreign keys), transitively; the labels alone when nothing else refers to them.
    remove_together: tuple[str, ...]
    steps: tuple[Step, ...]
    refusals: tuple[str, ...]
    backup_dir: str | None
    fk_checks_sql: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    # Strategy migrate: the first migration to unapply, when an earlier run stopped in its
    # reverse; the run continues from there.
    partly_unapplied: PartlyUnapplied | None = None
    # Views, materialized views and free sequences of the apps, in drop order.
    objects: tuple[PlannedObject, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(app.label for app in self.apps)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def changes_nothing(self) -> bool:
        return not any(step.kind != BACKUP for step in self.steps)

    @property
    def sql(self) -> tuple[str, ...]:
        """Every statement the steps run, in order, each ending with ";" (and the comments
        of the reverse migrations), with foreign-key checks switched off around the schema
        changes where the backend needs that."""
        before, after = self.fk_checks_sql
        out: list[str] = []
        ddl = (DROP_CONSTRAINT, DROP_TABLES, DROP_LEFTOVER_TABLES)
        for step in self.steps:
            if step.kind in ddl and any(not s.lstrip().startswith("--") for s in step.sql):
                out += [*before, *step.sql, *after]
            else:
                out += step.sql
        # Consecutive "on"/"off" pairs cancel out.
        merged: list[str] = []
        for statement in out:
            if merged and after and before and merged[-1] == after[-1] and statement == before[0]:
                merged.pop()
                continue
            merged.append(statement)
        return tuple(
            s if s.lstrip().startswith("--") or s.rstrip().endswith(";") else f"{s};"
            for s in merged
        )

    @property
    def left_to_do(self) -> tuple[str, ...]:
        return left_to_do(self.apps, self.references_left)


@dataclass(frozen=True)
class RemovalResult:
    database: str
    labels: tuple[str, ...]
    strategy: str
    done: tuple[str, ...]
    backup: backups.Backup | None
    left_to_do: tuple[str, ...]
