"""``safe_remove_app``: remove the whole database footprint of apps, installed or not.

:func:`build_removal_plan` only reads. :func:`execute_removal` writes, one step at a time,
in an order that leaves a state the same command completes when re-run after an
interruption at any point (MySQL runs every DDL statement in a transaction of its own):

1. back up the rows (``--backup``);
2. drop the foreign keys that tables which stay have into the tables to drop;
3. unapply the apps' migrations (strategy ``migrate``), or drop their views, then their
   tables, referencing tables first, then their free sequences (strategy ``drop``), then
   drop any table, view or sequence of the apps that is left;
4. delete the apps' ``django_migrations`` rows;
5. delete their content types, and what that deletion cascades to.

Migration rows and content types go last because they are how a re-run finds the
remaining tables of an app that is no longer installed.

The modules: :mod:`.plan` (what a plan is made of), :mod:`.planner` (building it),
:mod:`.targets`, :mod:`.footprint`, :mod:`.references`, :mod:`.cascade` and :mod:`.reverse`
(its parts), :mod:`.refusals`, :mod:`.steps`, :mod:`.execute` and :mod:`.next_steps`.
"""

from migration_ops.services.removal.execute import (
    RemovalInterrupted,
    execute_removal,
    finish_backup,
)
from migration_ops.services.removal.next_steps import left_to_do
from migration_ops.services.removal.plan import (
    BACKUP,
    DELETE_CONTENT_TYPES,
    DELETE_MIGRATION_ROWS,
    DROP_CONSTRAINT,
    DROP_LEFTOVER_TABLES,
    DROP_OBJECTS,
    DROP_TABLES,
    STRATEGIES,
    UNAPPLY,
    AppToRemove,
    Cascade,
    CodeReference,
    DependentMigration,
    IncomingConstraint,
    ParentRows,
    PlannedObject,
    PlannedTable,
    Progress,
    RemovalPlan,
    RemovalResult,
    Step,
)
from migration_ops.services.removal.planner import build_removal_plan
from migration_ops.services.removal.refusals import RemovalRefused, refusal_message

__all__ = [
    "BACKUP",
    "DELETE_CONTENT_TYPES",
    "DELETE_MIGRATION_ROWS",
    "DROP_CONSTRAINT",
    "DROP_LEFTOVER_TABLES",
    "DROP_OBJECTS",
    "DROP_TABLES",
    "STRATEGIES",
    "UNAPPLY",
    "AppToRemove",
    "Cascade",
    "CodeReference",
    "DependentMigration",
    "IncomingConstraint",
    "ParentRows",
    "PlannedObject",
    "PlannedTable",
    "Progress",
    "RemovalInterrupted",
    "RemovalPlan",
    "RemovalRefused",
    "RemovalResult",
    "Step",
    "build_removal_plan",
    "execute_removal",
    "finish_backup",
    "left_to_do",
    "refusal_message",
]
