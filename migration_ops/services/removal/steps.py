"""The steps of a plan, in execution order, with the SQL each one runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db.migrations.recorder import MigrationRecorder

from migration_ops.core.partial import PartlyUnapplied
from migration_ops.core.schema import Schema
from migration_ops.services.backup import FINISHED, WRITTEN
from migration_ops.services.privileges import merge_needs, statement_needs
from migration_ops.services.removal.cascade import content_type_where
from migration_ops.services.removal.plan import (
    BACKUP,
    DELETE_CONTENT_TYPES,
    DELETE_MIGRATION_ROWS,
    DROP_CONSTRAINT,
    DROP_LEFTOVER_TABLES,
    DROP_OBJECTS,
    DROP_TABLES,
    UNAPPLY,
    Cascade,
    CascadeTotal,
    IncomingConstraint,
    PlannedObject,
    PlannedTable,
    Step,
)
from migration_ops.services.removal.reverse import reverse_sql
from migration_ops.services.removal.wording import join
from migration_ops.text import count

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.introspection.base import Introspector


def plan_steps(
    *,
    introspector: Introspector,
    live: Schema,
    strategy: str,
    tables: Sequence[PlannedTable],
    objects: Sequence[PlannedObject],
    incoming: Sequence[IncomingConstraint],
    unapply: Sequence[str],
    resumed: PartlyUnapplied | None,
    labels: Sequence[str],
    migration_rows: Sequence[str],
    content_types: Sequence[str],
    cascades: Sequence[Cascade],
    totals: Sequence[CascadeTotal],
    backup_dir: str | Path | None,
    backup_status: str | None,
    connection: BaseDatabaseWrapper,
) -> tuple[Step, ...]:
    quote = connection.ops.quote_name
    steps: list[Step] = []
    if backup_dir is not None and backup_status in (WRITTEN, FINISHED):
        steps.append(
            Step(
                BACKUP,
                f"Keep the backup that an interrupted run wrote to {backup_dir}",
                f"Kept the backup in {backup_dir}.",
            )
        )
    elif backup_dir is not None:
        steps.append(
            Step(
                BACKUP,
                f"Back up the rows of {count(len(tables), 'table')}"
                f"{' and of the content types' if content_types else ''} to {backup_dir}",
                f"Backed up the rows to {backup_dir}.",
            )
        )
    for constraint in incoming:
        if constraint.rebuild:
            description = f"Rebuild table {constraint.table} without foreign key {constraint.label}"
            done = f"Rebuilt table {constraint.table} without foreign key {constraint.label}."
        else:
            description = f"Drop foreign key {constraint.label}"
            done = f"Dropped foreign key {constraint.label}."
        steps.append(
            Step(
                DROP_CONSTRAINT,
                description,
                done,
                sql=constraint.sql,
                tables=(constraint.table,),
                foreign_key=constraint.foreign_key,
            )
        )
    table_names = [t.name for t in tables]
    object_names = [o.name for o in objects]
    if strategy == "migrate":
        sql_of = reverse_sql(connection, unapply)
        for label in unapply:
            if resumed is not None and label == resumed.label:
                # An earlier run began this one's reverse: the rest of it, then the row.
                steps.append(
                    Step(
                        UNAPPLY,
                        f"Finish unapplying migration {label}",
                        f"Finished unapplying migration {label}.",
                        sql=(f"-- {resumed.message}",),
                        migration=label,
                    )
                )
                continue
            steps.append(
                Step(
                    UNAPPLY,
                    f"Unapply migration {label}",
                    f"Unapplied migration {label}.",
                    sql=sql_of[label],
                    migration=label,
                )
            )
        if table_names or object_names:
            # Reverse RunSQL drops what it created, if it says so: the rest goes here.
            what = "tables" if not object_names else "tables, views and sequences"
            steps.append(
                Step(
                    DROP_LEFTOVER_TABLES,
                    f"Drop the {what} of these apps that the reverse migrations left, if any",
                    f"Dropped the {what} of these apps that were left, if any.",
                    sql=(
                        f"-- Then any {_leftover_noun(bool(object_names))} of these apps that "
                        "is left is dropped.",
                    ),
                    tables=(*table_names, *object_names),
                )
            )
    else:
        nouns = {o.name: o.noun for o in objects}
        for dropped, statement in introspector.drop_objects_sql(live, table_names + object_names):
            if dropped[0] in nouns:
                noun, kind = nouns[dropped[0]], DROP_OBJECTS
            else:
                noun, kind = ("table" if len(dropped) == 1 else "tables"), DROP_TABLES
            steps.append(
                Step(
                    kind,
                    f"Drop {noun} {', '.join(dropped)}",
                    f"Dropped {noun} {', '.join(dropped)}.",
                    sql=(statement,),
                    tables=dropped,
                    statements=((statement, ()),),
                )
            )
    if migration_rows:
        recorder_table = MigrationRecorder.Migration._meta.db_table
        sorted_labels = tuple(sorted(labels))
        sql = (
            f"DELETE FROM {quote(recorder_table)} WHERE {quote('app')} IN "
            f"({', '.join(['%s'] * len(sorted_labels))})"
        )
        steps.append(
            Step(
                DELETE_MIGRATION_ROWS,
                f"Delete {count(len(migration_rows), 'row')} from {recorder_table}",
                f"Deleted {count(len(migration_rows), 'row')} from {recorder_table}.",
                sql=(_display(sql, sorted_labels),),
                statements=((sql, sorted_labels),),
            )
        )
    if content_types:
        from django.contrib.contenttypes.models import ContentType

        statements: list[tuple[str, tuple[Any, ...]]] = []
        # Children first: their WHERE clauses select through their parents' rows.
        for cascade in sorted(cascades, key=lambda c: -c.depth):
            if cascade.action == "delete":
                sql = f"DELETE FROM {quote(cascade.table)} WHERE {cascade.where}"
            else:
                sql = (
                    f"UPDATE {quote(cascade.table)} SET {quote(cascade.column)} = NULL"
                    f" WHERE {cascade.where}"
                )
            statements.append((sql, cascade.params))
        where, params = content_type_where(connection, labels)
        statements.append(
            (f"DELETE FROM {quote(ContentType._meta.db_table)} WHERE {where}", params)
        )
        deleted = [count(len(content_types), "content type")] + [
            f"{t.rows} {t.description}" for t in totals if t.action == "delete" and t.rows
        ]
        nulled = [
            f"set {' and '.join(t.fields)} to NULL on {t.rows} {t.description}"
            for t in totals
            if t.action == "set-null" and t.rows
        ]
        what = join(deleted) + (f"; {join(nulled)}" if nulled else "")
        steps.append(
            Step(
                DELETE_CONTENT_TYPES,
                f"Delete {what}",
                f"Deleted {what}.",
                sql=tuple(_display(sql, params) for sql, params in statements),
                statements=tuple(statements),
            )
        )
    return tuple(steps)


def privileges_needed(steps: Sequence[Step]) -> dict[str, set[str]]:
    """``{table: privileges}`` that carrying out ``steps`` needs."""
    recorder_table = MigrationRecorder.Migration._meta.db_table
    parts: list[dict[str, set[str]]] = []
    for step in steps:
        parts.append(statement_needs(step.sql))
        if step.kind in (DROP_TABLES, DROP_LEFTOVER_TABLES, DROP_OBJECTS):
            parts.append({table: {"DROP"} for table in step.tables})
        elif step.kind == UNAPPLY:  # the executor deletes the migration's row
            parts.append({recorder_table: {"DELETE"}})
    return merge_needs(*parts)


def _leftover_noun(objects: bool) -> str:
    return "table, view or sequence" if objects else "table"


def _display(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with its ``%s`` placeholders replaced by literals, for people to read."""
    parts = sql.split("%s")
    assert len(parts) == len(params) + 1
    out = [parts[0]]
    for value, part in zip(params, parts[1:], strict=True):
        out.append(
            str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
        )
        out.append(part)
    return "".join(out)
