"""Building the removal plan from the live database, the migration files and the models.
Reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.apps import apps as global_apps

from migration_ops.core.ownership import Ownership, attribute_tables
from migration_ops.core.references import (
    installed_app_files,
    module_references,
    settings_references,
)
from migration_ops.core.schema import Schema
from migration_ops.exceptions import MigrationOpsError, UnknownApp
from migration_ops.introspection import Introspector, get_introspector
from migration_ops.services import backup as backups
from migration_ops.services.common import get_connection
from migration_ops.services.privileges import privileges_refusal
from migration_ops.services.removal.cascade import cascade_totals, content_types_and_cascades
from migration_ops.services.removal.footprint import (
    has_custom_db_table,
    incoming_constraints,
    recorded_migrations,
)
from migration_ops.services.removal.inheritance import parent_rows
from migration_ops.services.removal.plan import (
    STRATEGIES,
    PlannedObject,
    PlannedTable,
    RemovalPlan,
)
from migration_ops.services.removal.references import (
    code_references,
    dependent_migrations,
    remove_together,
)
from migration_ops.services.removal.refusals import plan_refusals
from migration_ops.services.removal.reverse import partly_unapplied, reverse_migrations
from migration_ops.services.removal.steps import plan_steps, privileges_needed
from migration_ops.services.removal.targets import app_to_remove


def build_removal_plan(
    app_labels: Sequence[str],
    database: str = "default",
    *,
    strategy: str = "auto",
    drop_incoming_constraints: bool = False,
    backup_dir: str | Path | None = None,
) -> RemovalPlan:
    """Plan the removal of ``app_labels`` from ``database``. Reads only.

    Raises ``UnknownApp`` for a label that is neither installed nor found in the
    database; every other problem is a refusal in the plan.
    """
    if strategy not in STRATEGIES:
        raise MigrationOpsError(
            f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}."
        )
    labels = tuple(dict.fromkeys(app_labels))
    if not labels:
        raise UnknownApp("Give the label of at least one app to remove.")
    connection = get_connection(database)
    introspector = get_introspector(connection)
    live = introspector.snapshot()
    ownership = attribute_tables(connection, schema=live)
    configs = {config.label: config for config in global_apps.get_app_configs()}
    for label in labels:
        if label not in configs and label not in ownership.stale_apps:
            raise UnknownApp(
                f"No installed or removed app with label {label!r}: it is not in "
                f"INSTALLED_APPS, and database {database!r} has no migration rows or content "
                "types of it. Check the spelling (labels are the last part of the module "
                "name unless the AppConfig sets one)."
            )
    removed = set(labels)
    apps = tuple(app_to_remove(label, configs, ownership, removed) for label in labels)

    table_names = [t for label in labels for t in ownership.tables_of(label)]
    ordered = [t for group in introspector.drop_order(live, table_names) for t in group]
    row_counts = introspector.count_rows(ordered)
    tables = tuple(
        PlannedTable(
            name=t,
            app_label=str(ownership.owners[t].app_label),
            model=ownership.owners[t].model,
            reason=ownership.owners[t].reason,
            rows=row_counts[t],
            custom_db_table=has_custom_db_table(t, ownership, connection),
        )
        for t in ordered
    )
    objects = planned_objects(introspector, live, ownership, labels)
    going = {*ordered, *(o.name for o in objects)}
    dependent_views = foreign_dependents(live, ownership, going)
    incoming, incoming_problems = incoming_constraints(introspector, live, ownership, ordered)
    references = code_references(removed)
    dependents = dependent_migrations(connection, removed)
    migration_rows = recorded_migrations(connection, live, removed)
    content_types, cascades, checked = content_types_and_cascades(
        connection, live, removed, set(ordered)
    )
    totals = cascade_totals(connection, cascades)
    parents = parent_rows(connection, live, ownership, ordered, cascades)

    migrate_blocker, unapply = reverse_migrations(connection, apps, ordered, removed)
    chosen = "drop" if strategy == "drop" or (strategy == "auto" and migrate_blocker) else "migrate"
    together = remove_together(labels, connection, live, ownership)
    resumed = partly_unapplied(connection, live, unapply) if chosen == "migrate" else None
    packages = [app.package for app in apps if app.package]
    left = (
        settings_references(packages)
        + module_references(packages, installed_app_files(exclude=packages))
        if packages
        else []
    )
    refusals = plan_refusals(
        labels=labels,
        together=together,
        migrate_blocker=migrate_blocker if strategy == "migrate" else None,
        references=references,
        dependents=dependents,
        incoming=incoming,
        incoming_problems=incoming_problems if drop_incoming_constraints else None,
        cascades=cascades,
        backup_dir=backup_dir,
        database=database,
        nothing_to_remove=not (tables or objects or migration_rows or content_types),
        dependent_views=dependent_views,
        sequence_users=live.sequence_users(going),
    )
    steps = plan_steps(
        introspector=introspector,
        live=live,
        strategy=chosen,
        tables=tables,
        objects=objects,
        incoming=incoming if drop_incoming_constraints else (),
        unapply=unapply,
        resumed=resumed,
        labels=labels,
        migration_rows=migration_rows,
        content_types=content_types,
        cascades=cascades,
        totals=totals,
        backup_dir=backup_dir,
        backup_status=(
            None if backup_dir is None else backups.backup_status(backup_dir, database, labels)
        ),
        connection=connection,
    )
    # Last: what the steps need is known once they are.
    missing = privileges_refusal(connection, database, privileges_needed(steps))
    if missing is not None:
        refusals = (*refusals, missing)
    return RemovalPlan(
        database=database,
        vendor=connection.vendor,
        apps=apps,
        requested_strategy=strategy,
        strategy=chosen,
        migrate_blocker=migrate_blocker,
        tables=tables,
        incoming=incoming,
        drop_incoming_constraints=drop_incoming_constraints,
        code_references=references,
        dependent_migrations=dependents,
        unapply=unapply if chosen == "migrate" else (),
        partly_unapplied=resumed,
        migration_rows=migration_rows,
        content_types=content_types,
        cascades=cascades,
        cascade_totals=totals,
        relations_checked=checked,
        parent_rows=parents,
        remove_together=together,
        references_left=tuple(left),
        steps=steps,
        refusals=refusals,
        backup_dir=None if backup_dir is None else str(backup_dir),
        fk_checks_sql=introspector.foreign_key_checks_sql(),
        objects=objects,
    )


def planned_objects(
    introspector: Introspector, live: Schema, ownership: Ownership, labels: Sequence[str]
) -> tuple[PlannedObject, ...]:
    """The views and sequences of the apps, in the order they are dropped."""
    names = [name for label in labels for name in ownership.objects_of(label)]
    ordered = [n for dropped, _ in introspector.drop_objects_sql(live, names) for n in dropped]
    return tuple(
        PlannedObject(
            name=name,
            kind=live.objects[name].kind,
            noun=live.objects[name].noun,
            app_label=str(ownership.objects[name].app_label),
            reason=ownership.objects[name].reason,
            depends_on=tuple(sorted(live.objects[name].depends_on)),
        )
        for name in ordered
    )


def foreign_dependents(
    live: Schema, ownership: Ownership, removed: set[str]
) -> tuple[tuple[str, str, str | None, tuple[str, ...]], ...]:
    """``(name, noun, owner app or None, what it reads of ``removed``)`` of each view that
    stays (another app's, or no app's) and reads a table or object to remove."""
    return tuple(
        (
            view.name,
            view.noun,
            ownership.objects[view.name].app_label,
            tuple(sorted(view.depends_on & removed)),
        )
        for view in live.dependents(removed)
        if view.name not in removed
    )
