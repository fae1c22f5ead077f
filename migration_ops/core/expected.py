"""The schema that models say should exist on a database alias.

Two sources: the project state of the migrations applied on the alias
(:func:`~migration_ops.core.states.applied_state` then :func:`expected_schema`), or the
current models (:func:`models_schema`). Either way the tables are built the way Django's
schema editor creates them and normalised by the alias's introspector, so that ``diff()``
against a snapshot taken right after ``migrate`` is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.apps import apps as global_apps
from django.conf import settings
from django.db import models, router
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.utils.module_loading import import_string

from migration_ops.core.schema import Column, ForeignKey, Schema, Table
from migration_ops.introspection import get_introspector

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.introspection.base import Introspector

ModelClass = type[models.Model]


def expected_schema(
    state: ProjectState,
    connection: BaseDatabaseWrapper,
    *,
    app_labels: Collection[str] | None = None,
) -> Schema:
    """The tables that ``state`` says exist on ``connection``: managed, concrete models
    (auto-created M2M tables included) that the routers allow on this alias, plus
    ``django_migrations`` unless ``app_labels`` restricts the apps.
    """
    rendered = state.apps  # renders every model once

    def index_together(model: ModelClass) -> Sequence[Sequence[str]]:
        # Django 5.1+ prunes index_together from rendered models; the state keeps it.
        model_state = state.models.get((model._meta.app_label, model._meta.model_name))
        options: dict[str, Any] = model_state.options if model_state is not None else {}
        return list(options.get("index_together") or ())

    return _schema(
        rendered.get_models(include_auto_created=True), connection, app_labels, index_together
    )


def models_schema(
    connection: BaseDatabaseWrapper, *, app_labels: Collection[str] | None = None
) -> Schema:
    """Like :func:`expected_schema`, from the current models in ``django.apps.apps``."""
    return _schema(
        global_apps.get_models(include_auto_created=True),
        connection,
        app_labels,
        lambda model: list(getattr(model._meta, "index_together", ()) or ()),
        settings_auto_field=True,
    )


def allowed_on(model: ModelClass, connection: BaseDatabaseWrapper) -> bool:
    """Whether ``migrate`` creates ``model``'s table on ``connection`` (as operations decide)."""
    return model._meta.can_migrate(connection) and router.allow_migrate_model(
        connection.alias, model
    )


def _schema(
    candidates: Iterable[ModelClass],
    connection: BaseDatabaseWrapper,
    app_labels: Collection[str] | None,
    index_together: Callable[[ModelClass], Sequence[Sequence[str]]],
    *,
    settings_auto_field: bool = False,
) -> Schema:
    introspector = get_introspector(connection)
    tables: dict[str, Table] = {}
    for model in candidates:
        if app_labels is not None and model._meta.app_label not in app_labels:
            continue
        if allowed_on(model, connection):
            table = model_table(
                model,
                connection,
                introspector,
                index_together(model),
                settings_auto_field=settings_auto_field,
            )
            tables[table.name] = table
    if app_labels is None:
        # migrate creates its own table on every alias it runs on, whatever the routers say.
        recorder = model_table(MigrationRecorder.Migration, connection, introspector)
        tables.setdefault(recorder.name, recorder)
    return introspector.make_schema(tables.values())


def model_table(
    model: ModelClass,
    connection: BaseDatabaseWrapper,
    introspector: Introspector,
    index_together: Sequence[Sequence[str]] = (),
    *,
    settings_auto_field: bool = False,
) -> Table:
    """The table Django's schema editor creates for ``model`` (before normalisation).

    ``settings_auto_field``: give an auto-created M2M table the primary key type of
    ``settings.DEFAULT_AUTO_FIELD``, as migrations do (their rendered apps have no app
    config, so an app's ``default_auto_field`` never reaches these tables), instead of the
    current model's. Use it for current models, not for models rendered from a state.
    """
    meta = model._meta
    features = connection.features
    pk_override = None
    if settings_auto_field and meta.auto_created and meta.pk is not None and meta.pk.auto_created:
        pk_override = import_string(settings.DEFAULT_AUTO_FIELD)().db_parameters(connection)["type"]

    def column_of(name: str) -> str:
        return meta.get_field(name).column  # type: ignore[union-attr]

    columns: list[Column] = []
    uniques: set[tuple[str, ...]] = set()
    indexes: set[tuple[str, ...]] = set()
    foreign_keys: set[ForeignKey] = set()
    for field in meta.local_concrete_fields:
        db_type = field.db_parameters(connection)["type"]
        if db_type is None or field.column is None:
            continue
        null = (
            field.null
            or getattr(field, "generated", False)  # generated columns get no NOT NULL
            or (field.empty_strings_allowed and features.interprets_empty_strings_as_nulls)
        )
        if field.primary_key and pk_override is not None:
            db_type = pk_override
        columns.append(Column(field.column, db_type, null and not field.primary_key))
        # As the schema editor decides: a unique field gets no index of its own.
        if field.primary_key:
            pass  # the primary key (below)
        elif field.unique:
            uniques.add((field.column,))
        elif field.db_index and introspector.creates_field_index(db_type):
            indexes.add((field.column,))
        if (
            field.remote_field is not None
            and getattr(field, "db_constraint", False)
            and features.supports_foreign_keys
        ):
            foreign_keys.add(
                ForeignKey(
                    (field.column,),
                    field.remote_field.model._meta.db_table,
                    (field.target_field.column,),  # type: ignore[attr-defined]
                )
            )
    for names in meta.unique_together:
        uniques.add(tuple(column_of(n) for n in names))
    for names in index_together:
        indexes.add(tuple(column_of(n) for n in names))
    for index in meta.indexes:
        # Only field-based, unconditional indexes can be compared by columns.
        if index.fields and not index.expressions and index.condition is None:
            indexes.add(tuple(column_of(n.lstrip("-")) for n in index.fields))
    checks: set[str] = set()
    for constraint in meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            if _unique_created(constraint, connection):
                uniques.add(tuple(column_of(n) for n in constraint.fields))
        elif (
            isinstance(constraint, models.CheckConstraint)
            and features.supports_table_check_constraints
        ):
            checks.add(constraint.name)
    pk_fields = getattr(meta, "pk_fields", None) or ([meta.pk] if meta.pk else [])
    return Table(
        name=meta.db_table,
        columns=tuple(columns),
        primary_key=tuple(f.column for f in pk_fields if f.column),
        uniques=frozenset(uniques),
        indexes=frozenset(indexes),
        foreign_keys=frozenset(foreign_keys),
        checks=frozenset(checks),
    )


def _unique_created(constraint: models.UniqueConstraint, connection: BaseDatabaseWrapper) -> bool:
    """Whether the constraint is a plain unique on columns that this backend creates."""
    features = connection.features
    if not constraint.fields or constraint.condition is not None or constraint.expressions:
        return False
    if constraint.deferrable and not features.supports_deferrable_unique_constraints:
        return False
    if constraint.include and not features.supports_covering_indexes:
        return False
    return getattr(constraint, "nulls_distinct", None) is None or getattr(
        features, "supports_nulls_distinct_unique_constraints", False
    )
