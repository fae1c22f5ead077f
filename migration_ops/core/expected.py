"""The schema that models say should exist on a database alias.

Two sources: the project state of the migrations applied on the alias
(:func:`~migration_ops.core.states.applied_state` then :func:`expected_schema`), or the
current models (:func:`models_schema`). Either way the tables are built the way Django's
schema editor creates them and normalised by the alias's introspector, so that ``diff()``
against a snapshot taken right after ``migrate`` is empty.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from django.apps import apps as global_apps
from django.conf import settings
from django.db import models, router
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.utils import resolve_relation
from django.db.models import Field
from django.db.models import ForeignKey as ForeignKeyField
from django.db.models.options import normalize_together
from django.utils.module_loading import import_string

from migration_ops import compat
from migration_ops.core.schema import Column, ForeignKey, Schema, Table
from migration_ops.core.states import ModelKey
from migration_ops.core.tables import auto_m2m_table, can_migrate, db_table, is_auto_m2m
from migration_ops.introspection import get_introspector

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.introspection.base import Introspector

ModelClass = type[models.Model]


class NeedsRendering(Exception):
    """A model state whose table cannot be read without rendering it."""


# Private records are named tuples: a frozen dataclass costs several times as much to
# create at import (each of its methods is compiled), and these are only built and read.
class FieldColumn(NamedTuple):
    """What the schema editor makes of one concrete field."""

    field: str
    column: str
    type: str
    null: bool
    primary_key: bool = False
    unique: bool = False
    db_index: bool = False
    # (table, column) of the foreign key constraint the column gets, if any, and what the
    # database does on delete (ForeignKey.on_delete).
    references: tuple[str, str] | None = None
    on_delete: str = "NO ACTION"


def _on_delete(field: Field) -> str:
    """What the database does when the row ``field`` references is deleted (Django 6.1's
    ``DB_CASCADE`` and the like; every other ``on_delete`` runs in Python)."""
    return compat.db_on_delete(field) or "NO ACTION"


def expected_schema(
    state: ProjectState,
    connection: BaseDatabaseWrapper,
    *,
    app_labels: Collection[str] | None = None,
    render: bool = False,
) -> Schema:
    """The tables that ``state`` says exist on ``connection``: managed, concrete models
    (auto-created M2M tables included) that the routers allow on this alias, plus
    ``django_migrations`` unless ``app_labels`` restricts the apps.

    The tables are read from the model states without rendering them, unless database
    routers are configured (they are given model classes: the state is rendered, as
    ``migrate`` renders it), ``render`` is true, or a model needs rendering (a generated
    column, a composite primary key, a ``ForeignObject``, a field class that computes its
    column or parameters its own way).
    """
    introspector = get_introspector(connection)
    tables: list[Table] | None = None
    if not render and not router.routers:
        try:
            tables = list(_state_tables(state, connection, introspector, app_labels))
        except NeedsRendering:
            tables = None
    if tables is None:
        tables = list(_rendered_tables(state, connection, introspector, app_labels))
    return _schema(tables, connection, introspector, app_labels)


def models_schema(
    connection: BaseDatabaseWrapper, *, app_labels: Collection[str] | None = None
) -> Schema:
    """Like :func:`expected_schema`, from the current models in ``django.apps.apps``."""
    introspector = get_introspector(connection)
    tables = [
        model_table(
            model,
            connection,
            introspector,
            list(getattr(model._meta, "index_together", ()) or ()),
            settings_auto_field=True,
        )
        for model in _allowed(global_apps.get_models(include_auto_created=True), connection)
        if app_labels is None or model._meta.app_label in app_labels
    ]
    return _schema(tables, connection, introspector, app_labels)


def allowed_on(model: ModelClass, connection: BaseDatabaseWrapper) -> bool:
    """Whether ``migrate`` creates ``model``'s table on ``connection`` (as operations decide)."""
    return model._meta.can_migrate(connection) and router.allow_migrate_model(
        connection.alias, model
    )


def _allowed(candidates: Iterable[ModelClass], connection: BaseDatabaseWrapper) -> list[ModelClass]:
    allowed = []
    for model in candidates:
        owner = model._meta.auto_created
        # An auto-created M2M table is made with its model's table, or not at all.
        if owner and not allowed_on(owner, connection):
            continue
        if allowed_on(model, connection):
            allowed.append(model)
    return allowed


def _schema(
    tables: Iterable[Table],
    connection: BaseDatabaseWrapper,
    introspector: Introspector,
    app_labels: Collection[str] | None,
) -> Schema:
    by_name = {table.name: table for table in tables}
    if app_labels is None:
        # migrate creates its own table on every alias it runs on, whatever the routers say.
        recorder = model_table(MigrationRecorder.Migration, connection, introspector)
        by_name.setdefault(recorder.name, recorder)
    return introspector.make_schema(by_name.values())


# --------------------------------------------------------------------------- rendered models


def _rendered_tables(
    state: ProjectState,
    connection: BaseDatabaseWrapper,
    introspector: Introspector,
    app_labels: Collection[str] | None,
) -> Iterator[Table]:
    rendered = state.apps  # renders every model once
    for model in _allowed(rendered.get_models(include_auto_created=True), connection):
        meta = model._meta
        if app_labels is not None and meta.app_label not in app_labels:
            continue
        # Django 5.1+ prunes index_together from rendered models; the state keeps it.
        model_state = state.models.get((meta.app_label, meta.model_name))
        options: dict[str, Any] = model_state.options if model_state is not None else {}
        yield model_table(
            model, connection, introspector, list(options.get("index_together") or ())
        )


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
    pk_override = None
    if settings_auto_field and meta.auto_created and meta.pk is not None and meta.pk.auto_created:
        pk_override = _settings_auto_field_type(connection)
    columns = []
    for field in meta.local_concrete_fields:
        db_type = field.db_parameters(connection)["type"]
        if db_type is None or field.column is None:
            continue
        if field.primary_key and pk_override is not None:
            db_type = pk_override
        references = None
        if field.remote_field is not None and getattr(field, "db_constraint", False):
            references = (
                field.remote_field.model._meta.db_table,
                field.target_field.column,  # type: ignore[attr-defined]
            )
        columns.append(
            FieldColumn(
                field=field.name,
                column=field.column,
                type=db_type,
                null=_nullable(field, connection),
                primary_key=field.primary_key,
                unique=field.unique,
                db_index=field.db_index,
                references=references,
                on_delete=_on_delete(field),
            )
        )
    pk_fields = getattr(meta, "pk_fields", None) or ([meta.pk] if meta.pk else [])
    return build_table(
        meta.db_table,
        columns,
        connection,
        introspector,
        primary_key=tuple(f.column for f in pk_fields if f.column),
        unique_together=meta.unique_together,
        index_together=index_together,
        indexes=meta.indexes,
        constraints=meta.constraints,
    )


# --------------------------------------------------------------------------- model states


def _state_tables(
    state: ProjectState,
    connection: BaseDatabaseWrapper,
    introspector: Introspector,
    app_labels: Collection[str] | None,
) -> Iterator[Table]:
    """The tables of ``state`` read from its model states, as :func:`_rendered_tables`
    reads them from rendered models; raises :class:`NeedsRendering`."""
    models = dict(state.models)
    # Apps without migrations, as StateApps renders them: current models minus relations.
    for app_label in sorted(state.real_apps):
        for model in global_apps.get_app_config(app_label).get_models():
            model_state = ModelState.from_model(model, exclude_rels=True)
            models[app_label, model_state.name_lower] = model_state
    reader = _StateReader(models, connection)
    for (app_label, _), model_state in models.items():
        if app_labels is not None and app_label not in app_labels:
            continue
        if not can_migrate(model_state, connection):
            continue
        yield reader.table(model_state, introspector)
        for name, field in model_state.fields.items():
            if is_auto_m2m(field):
                yield reader.m2m_table(model_state, name, field, introspector)


class _StateReader:
    """Columns of model states, resolving foreign keys through ``models``."""

    def __init__(self, models: Mapping[ModelKey, ModelState], connection: Any) -> None:
        self.models = models
        self.connection = connection

    def table(self, model_state: ModelState, introspector: Introspector) -> Table:
        options = model_state.options
        columns = [self.column(model_state, name, f) for name, f in model_state.fields.items()]
        concrete = [column for column in columns if column is not None]
        if options.get("order_with_respect_to"):
            # Options._prepare adds it, after every declared field.
            order = models.IntegerField().db_type(self.connection)
            concrete.append(FieldColumn("_order", "_order", order, null=False))
        primary_key = tuple(c.column for c in concrete if c.primary_key)
        if not primary_key:
            raise NeedsRendering(f"{model_state.app_label}.{model_state.name} has no primary key")
        return build_table(
            db_table(model_state),
            concrete,
            self.connection,
            introspector,
            primary_key=primary_key,
            unique_together=normalize_together(options.get("unique_together") or ()),
            index_together=normalize_together(options.get("index_together") or ()),
            indexes=options.get("indexes") or (),
            constraints=options.get("constraints") or (),
        )

    def column(self, model_state: ModelState, name: str, field: Field) -> FieldColumn | None:
        if field.many_to_many:
            return None  # a table of its own, or none
        if (
            getattr(field, "generated", False)
            or (field.is_relation and not isinstance(field, ForeignKeyField))
            or not _plain_field_class(type(field))
        ):
            raise NeedsRendering(f"{model_state.app_label}.{model_state.name}.{name}")
        column = _column_name(name, field)
        references = None
        if isinstance(field, ForeignKeyField):
            target, target_field = self.target(model_state, field)
            db_type = self.rel_type(target, target_field)
            if field.db_constraint:
                references = (db_table(target), self.column_name(target, target_field))
        else:
            db_type = field.db_type(self.connection)
        if db_type is None:
            return None
        return FieldColumn(
            field=name,
            column=column,
            type=db_type,
            null=_nullable(field, self.connection),
            primary_key=field.primary_key,
            unique=field.unique,
            db_index=field.db_index,
            references=references,
            on_delete=_on_delete(field),
        )

    def target(self, model_state: ModelState, field: Field) -> tuple[ModelState, str]:
        """The model state and field name a foreign key points at."""
        key = resolve_relation(
            field.remote_field.model, model_state.app_label, model_state.name_lower
        )
        target = self.models.get(key)
        if target is None:
            raise NeedsRendering(f"{key[0]}.{key[1]} is not in the state")
        name = field.remote_field.field_name or _pk_name(target)
        if name not in target.fields:
            raise NeedsRendering(f"{key[0]}.{key[1]}.{name} is not in the state")
        return target, name

    def rel_type(self, model_state: ModelState, name: str) -> str | None:
        """``target_field.rel_db_type()``, following foreign keys that are targets too."""
        field = model_state.fields[name]
        if isinstance(field, ForeignKeyField):
            return self.rel_type(*self.target(model_state, field))
        return field.rel_db_type(self.connection)

    @staticmethod
    def column_name(model_state: ModelState, name: str) -> str:
        return _column_name(name, model_state.fields[name])

    def m2m_table(
        self, model_state: ModelState, name: str, field: Field, introspector: Introspector
    ) -> Table:
        """The table ``create_many_to_many_intermediary_model`` makes for ``field``."""
        key = resolve_relation(
            field.remote_field.model, model_state.app_label, model_state.name_lower
        )
        target = self.models.get(key)
        if target is None:
            raise NeedsRendering(f"{key[0]}.{key[1]} is not in the state")
        source, to = model_state.name_lower, key[1]
        if source == to:
            source, to = f"from_{source}", f"to_{to}"
        constraint = bool(field.remote_field.db_constraint)
        columns = [
            FieldColumn(
                "id", "id", _settings_auto_field_type(self.connection), False, primary_key=True
            )
        ]
        for column_name, model in ((source, model_state), (to, target)):
            pk = _pk_name(model)
            columns.append(
                FieldColumn(
                    field=column_name,
                    column=f"{column_name}_id",
                    type=self.rel_type(model, pk),  # type: ignore[arg-type]
                    null=False,
                    db_index=True,
                    references=(db_table(model), self.column_name(model, pk))
                    if constraint
                    else None,
                )
            )
        return build_table(
            auto_m2m_table(model_state, name, field),
            columns,
            self.connection,
            introspector,
            primary_key=("id",),
            unique_together=[(source, to)],
        )


# Fields whose column is their name (or name_id for a foreign key) unless db_column says.
_PLAIN_ATTNAMES = (Field.get_attname, ForeignKeyField.get_attname)
_PLAIN_ATTNAME_COLUMNS = (Field.get_attname_column, ForeignKeyField.get_attname_column)


@cache
def _plain_field_class(kind: type[Field]) -> bool:
    """Whether fields of ``kind`` name their column and parameters as Django's own do
    (asked once per class: a thousand fields have a dozen classes)."""
    return (
        kind.get_attname in _PLAIN_ATTNAMES
        and kind.get_attname_column in _PLAIN_ATTNAME_COLUMNS
        and kind.db_parameters.__module__.startswith("django.db.models.fields")
    )


def _column_name(name: str, field: Field) -> str:
    """``get_attname_column()`` of a field named ``name`` (plain attnames only)."""
    return field.db_column or (f"{name}_id" if isinstance(field, ForeignKeyField) else name)


def _pk_name(model_state: ModelState) -> str:
    for name, field in model_state.fields.items():
        if field.primary_key:
            return name
    raise NeedsRendering(f"{model_state.app_label}.{model_state.name} has no primary key")


# --------------------------------------------------------------------------- tables


def build_table(
    name: str,
    columns: Sequence[FieldColumn],
    connection: BaseDatabaseWrapper,
    introspector: Introspector,
    *,
    primary_key: tuple[str, ...],
    unique_together: Iterable[Sequence[str]] = (),
    index_together: Iterable[Sequence[str]] = (),
    indexes: Iterable[models.Index] = (),
    constraints: Iterable[models.BaseConstraint] = (),
) -> Table:
    """The table the schema editor creates for these columns and ``Meta`` options."""
    features = connection.features
    by_field = {c.field: c.column for c in columns}
    uniques: set[tuple[str, ...]] = set()
    plain: set[tuple[str, ...]] = set()
    foreign_keys: set[ForeignKey] = set()
    for column in columns:
        # As the schema editor decides: a unique field gets no index of its own.
        if column.primary_key:
            pass  # the primary key (below)
        elif column.unique:
            uniques.add((column.column,))
        elif column.db_index and introspector.creates_field_index(column.type):
            plain.add((column.column,))
        if column.references is not None and features.supports_foreign_keys:
            table, target = column.references
            foreign_keys.add(
                ForeignKey((column.column,), table, (target,), on_delete=column.on_delete)
            )
    for names in unique_together:
        uniques.add(tuple(by_field[n] for n in names))
    for names in index_together:
        plain.add(tuple(by_field[n] for n in names))
    for index in indexes:
        # Only field-based, unconditional indexes can be compared by columns.
        if index.fields and not index.expressions and index.condition is None:
            plain.add(tuple(by_field[n.lstrip("-")] for n in index.fields))
    checks: set[str] = set()
    for constraint in constraints:
        if isinstance(constraint, models.UniqueConstraint):
            if _unique_created(constraint, connection):
                uniques.add(tuple(by_field[n] for n in constraint.fields))
        elif (
            isinstance(constraint, models.CheckConstraint)
            and features.supports_table_check_constraints
        ):
            checks.add(constraint.name)
    return Table(
        name=name,
        columns=tuple(Column(c.column, c.type, c.null and not c.primary_key) for c in columns),
        primary_key=primary_key,
        uniques=frozenset(uniques),
        indexes=frozenset(plain),
        foreign_keys=frozenset(foreign_keys),
        checks=frozenset(checks),
    )


def _nullable(field: Field, connection: BaseDatabaseWrapper) -> bool:
    return bool(
        field.null
        or getattr(field, "generated", False)  # generated columns get no NOT NULL
        or (field.empty_strings_allowed and connection.features.interprets_empty_strings_as_nulls)
    )


def _settings_auto_field_type(connection: BaseDatabaseWrapper) -> str:
    return import_string(settings.DEFAULT_AUTO_FIELD)().db_parameters(connection)["type"]


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
