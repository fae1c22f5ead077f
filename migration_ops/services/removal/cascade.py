"""The content types of the apps and the rows their deletion deletes or updates, following
the reverse relations of the models Django knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.apps import apps as global_apps
from django.db import models, router

from migration_ops import compat
from migration_ops.core.schema import Schema
from migration_ops.services.removal.plan import Cascade, CascadeTotal

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


def _content_type_table(connection: BaseDatabaseWrapper, live: Schema) -> str | None:
    if not global_apps.is_installed("django.contrib.contenttypes"):
        return None
    from django.contrib.contenttypes.models import ContentType

    table = ContentType._meta.db_table
    if table not in live or not router.allow_migrate_model(connection.alias, ContentType):
        return None
    return table


def content_type_where(
    connection: BaseDatabaseWrapper, labels: Iterable[str]
) -> tuple[str, tuple[Any, ...]]:
    labels = tuple(sorted(labels))
    placeholders = ", ".join(["%s"] * len(labels))
    return f"{connection.ops.quote_name('app_label')} IN ({placeholders})", labels


def content_types_and_cascades(
    connection: BaseDatabaseWrapper, live: Schema, removed: set[str], dropped: set[str]
) -> tuple[tuple[str, ...], tuple[Cascade, ...], int]:
    """The content types of the removed apps and what deleting them cascades to.

    Follows the reverse relations of the models Django knows (``on_delete`` decides), into
    tables that exist and stay: the rows of the removed apps' own models go with their
    tables. Also returns how many relations were checked (rows counted through them).
    """
    table = _content_type_table(connection, live)
    if table is None or table in dropped:
        return (), (), 0
    from django.contrib.contenttypes.models import ContentType

    quote = connection.ops.quote_name
    where, params = content_type_where(connection, removed)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('app_label')}, {quote('model')} FROM {quote(table)} WHERE {where}"
            f" ORDER BY {quote('app_label')}, {quote('model')}",
            params,
        )
        names = tuple(f"{app}.{model}" for app, model in cursor.fetchall())
    if not names:
        return (), (), 0
    cascades: list[Cascade] = []
    checked = _walk(
        connection, live, removed, dropped, ContentType, where, params, 1, cascades, set()
    )
    return names, tuple(cascades), checked


def cascade_totals(
    connection: BaseDatabaseWrapper, cascades: Sequence[Cascade]
) -> tuple[CascadeTotal, ...]:
    """``cascades`` merged by table, action and protection, in the walk's order. A table that
    several relations reach has its rows counted once, through all of them at once."""
    groups: dict[tuple[str, str, bool], list[Cascade]] = {}
    for cascade in cascades:
        groups.setdefault((cascade.table, cascade.action, cascade.protected), []).append(cascade)
    quote = connection.ops.quote_name
    totals = []
    for (table, action, protected), members in groups.items():
        rows = members[0].rows
        if len(members) > 1:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {quote(table)} WHERE "
                    + " OR ".join(f"({c.where})" for c in members),
                    [p for c in members for p in c.params],
                )
                rows = int(cursor.fetchone()[0])
        singular, plural = members[0].names
        totals.append(
            CascadeTotal(
                model=members[0].model,
                table=table,
                description=singular if rows == 1 else plural,
                action=action,
                fields=tuple(dict.fromkeys(c.field for c in members)),
                rows=rows,
                protected=protected,
                relations=len(members),
            )
        )
    return tuple(totals)


def _walk(
    connection: BaseDatabaseWrapper,
    live: Schema,
    removed: set[str],
    dropped: set[str],
    parent: type[models.Model],
    where: str,
    params: tuple[Any, ...],
    depth: int,
    out: list[Cascade],
    seen: set[type[models.Model]],
) -> int:
    """Append to ``out`` what deleting the rows of ``parent`` that ``where`` selects deletes
    or updates, recursively; return how many relations were checked."""
    quote = connection.ops.quote_name
    checked = 0
    seen = seen | {parent}
    # Relations to this model only: for a child of multi-table inheritance, the relations it
    # inherits point at its parent's table, whose rows the walk reaches from the parent.
    for relation in parent._meta.get_fields(include_parents=False, include_hidden=True):
        if not (relation.auto_created and not relation.concrete):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        related = relation.related_model
        opts = related._meta
        if (
            opts.app_label in removed
            or opts.proxy
            or not opts.managed
            or opts.db_table in dropped
            or opts.db_table not in live
            or related in seen
        ):
            continue
        fk = relation.field
        sub = (
            f"SELECT {quote(fk.target_field.column)} FROM {quote(parent._meta.db_table)}"
            f" WHERE {where}"
        )
        child_where = f"{quote(fk.column)} IN ({sub})"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {quote(opts.db_table)} WHERE {child_where}", params
            )
            rows = int(cursor.fetchone()[0])
        checked += 1
        on_delete = compat.python_on_delete(relation.on_delete)
        if on_delete is models.CASCADE:
            action = "delete"
        elif on_delete is models.SET_NULL:
            action = "set-null"
        elif rows:
            action = "delete"
        else:
            continue
        name = opts.verbose_name if rows == 1 else opts.verbose_name_plural
        cascade = Cascade(
            model=opts.label,
            table=opts.db_table,
            description=str(name),
            action=action,
            field=fk.name,
            column=fk.column,
            rows=rows,
            depth=depth,
            where=child_where,
            params=params,
            protected=on_delete not in (models.CASCADE, models.SET_NULL),
            names=(str(opts.verbose_name), str(opts.verbose_name_plural)),
        )
        out.append(cascade)
        if action == "delete":
            checked += _walk(
                connection,
                live,
                removed,
                dropped,
                related,
                child_where,
                params,
                depth + 1,
                out,
                seen,
            )
    return checked
