"""Schema changes for tests, each undone on exit (MySQL DDL is not transactional and the
test databases live for the whole session, so every change must be reverted)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.state import ModelState, ProjectState


def execute(connection: BaseDatabaseWrapper, *statements: str) -> None:
    with connection.schema_editor() as editor:
        for statement in statements:
            editor.execute(statement)


def field_copy(model: type[models.Model], name: str, **changes: Any) -> models.Field:
    """A copy of ``model``'s field ``name`` with some of its options changed."""
    old = model._meta.get_field(name)
    _name, _path, args, kwargs = old.deconstruct()
    if old.remote_field is not None:
        kwargs["to"] = old.remote_field.model
    kwargs.update(changes)
    new = type(old)(*args, **kwargs)
    new.set_attributes_from_name(name)
    new.model = model
    return new


@contextmanager
def altered_field(
    connection: BaseDatabaseWrapper, model: type[models.Model], name: str, **changes: Any
) -> Iterator[None]:
    old, new = model._meta.get_field(name), field_copy(model, name, **changes)
    with connection.schema_editor() as editor:
        editor.alter_field(model, old, new, strict=True)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.alter_field(model, new, old, strict=True)


@contextmanager
def removed_field(
    connection: BaseDatabaseWrapper, model: type[models.Model], name: str
) -> Iterator[None]:
    field = model._meta.get_field(name)
    with connection.schema_editor() as editor:
        editor.remove_field(model, field)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.add_field(model, field)


@contextmanager
def added_column(
    connection: BaseDatabaseWrapper, model: type[models.Model], column: str
) -> Iterator[None]:
    """A nullable ``varchar(30)`` column that no field describes."""
    table, quote = model._meta.db_table, connection.ops.quote_name
    execute(connection, f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} varchar(30) NULL")
    try:
        yield
    finally:
        field = models.CharField(max_length=30, null=True)
        field.set_attributes_from_name(column)
        field.model = model
        with connection.schema_editor() as editor:
            editor.remove_field(model, field)


@contextmanager
def removed_index(
    connection: BaseDatabaseWrapper, model: type[models.Model], index: models.Index
) -> Iterator[None]:
    with connection.schema_editor() as editor:
        editor.remove_index(model, index)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.add_index(model, index)


@contextmanager
def added_index(
    connection: BaseDatabaseWrapper, model: type[models.Model], index: models.Index
) -> Iterator[None]:
    with connection.schema_editor() as editor:
        editor.add_index(model, index)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.remove_index(model, index)


@contextmanager
def removed_constraint(
    connection: BaseDatabaseWrapper, model: type[models.Model], name: str
) -> Iterator[None]:
    [constraint] = [c for c in model._meta.constraints if c.name == name]
    # As RemoveConstraint does: the model passed no longer has the constraint (SQLite
    # rebuilds the table from it).
    state = ProjectState.from_apps(apps)
    state.remove_constraint(model._meta.app_label, model._meta.model_name, name)
    without = state.apps.get_model(model._meta.app_label, model._meta.model_name)
    with connection.schema_editor() as editor:
        editor.remove_constraint(without, constraint)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.add_constraint(model, constraint)


@contextmanager
def dropped_model(connection: BaseDatabaseWrapper, model: type[models.Model]) -> Iterator[None]:
    with connection.schema_editor() as editor:
        editor.delete_model(model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(model)


@contextmanager
def scratch_tables(
    connection: BaseDatabaseWrapper, count: int, prefix: str = "mo_scratch"
) -> Iterator[list[str]]:
    """``count`` tables, each with a foreign key to the first one, a unique constraint, an
    index and a check constraint; dropped on exit (children first)."""
    quote = connection.ops.quote_name
    names = [f"{prefix}_{i:03d}" for i in range(count)]
    created: list[str] = []
    try:
        for i, name in enumerate(names):
            parent = names[0] if i else name
            execute(
                connection,
                f"CREATE TABLE {quote(name)} ("
                f" {quote('id')} integer NOT NULL PRIMARY KEY,"
                f" {quote('parent_id')} integer NULL,"
                f" {quote('code')} varchar(20) NOT NULL,"
                f" {quote('label')} varchar(50) NOT NULL,"
                f" CONSTRAINT {quote(name + '_code_uniq')} UNIQUE ({quote('code')}),"
                f" CONSTRAINT {quote(name + '_code_check')} CHECK ({quote('code')} <> ''),"
                f" CONSTRAINT {quote(name + '_parent_fk')} FOREIGN KEY ({quote('parent_id')})"
                f" REFERENCES {quote(parent)} ({quote('id')}))",
                f"CREATE INDEX {quote(name + '_label')} ON {quote(name)} ({quote('label')})",
            )
            created.append(name)
        yield names
    finally:
        for name in reversed(created):
            execute(connection, f"DROP TABLE {quote(name)}")


SPECIMEN_TABLE = "mo_specimen"


def specimen_state() -> ProjectState:
    """The current project state plus ``library.Specimen``: one column of (nearly) every
    field type, the kinds of keys Django creates, and an auto-created M2M table."""
    state = ProjectState.from_apps(apps)
    state.add_model(
        ModelState(
            "library",
            "Specimen",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("uid", models.UUIDField(unique=True)),
                ("slug", models.SlugField()),
                ("number", models.PositiveSmallIntegerField()),
                ("small", models.SmallIntegerField()),
                ("print_run", models.IntegerField()),
                ("copies", models.PositiveBigIntegerField()),
                ("price", models.DecimalField(max_digits=10, decimal_places=2)),
                ("weight", models.FloatField(null=True)),
                ("hardcover", models.BooleanField()),
                ("metadata", models.JSONField()),
                ("blurb", models.TextField()),
                ("email", models.EmailField()),
                ("day", models.DateField()),
                ("release_time", models.TimeField(null=True)),
                ("printed_at", models.DateTimeField(null=True)),
                ("reading_time", models.DurationField(null=True)),
                ("printer_ip", models.GenericIPAddressField(null=True)),
                ("cover", models.BinaryField(null=True)),
                ("book", models.OneToOneField("library.book", models.CASCADE)),
                # No index of its own: InnoDB still creates one for the constraint.
                (
                    "illustrator",
                    models.ForeignKey("library.author", models.SET_NULL, null=True, db_index=False),
                ),
                # An index but no constraint.
                (
                    "previous",
                    models.ForeignKey(
                        "library.specimen", models.DO_NOTHING, null=True, db_constraint=False
                    ),
                ),
                ("authors", models.ManyToManyField("library.author", related_name="+")),
            ],
            options={
                "db_table": SPECIMEN_TABLE,
                "indexes": [models.Index(fields=["hardcover", "-price"], name="mo_hc_price")],
                "constraints": [
                    models.UniqueConstraint(fields=["slug", "number"], name="mo_slug_number"),
                    models.CheckConstraint(condition=models.Q(price__gte=0), name="mo_price_gte_0"),
                ],
            },
        )
    )
    return state


@contextmanager
def created_model(connection: BaseDatabaseWrapper, model: type[models.Model]) -> Iterator[None]:
    with connection.schema_editor() as editor:
        editor.create_model(model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(model)


@contextmanager
def foreign_key_on_delete(
    connection: BaseDatabaseWrapper, model: type[models.Model], name: str, action: str
) -> Iterator[None]:
    """``model``'s foreign key ``name`` made again in the database with ``ON DELETE action``
    (the model unchanged: drift), and made again as Django makes it on exit. SQLite keeps
    its foreign keys in the table's definition: the table is rebuilt."""
    field = model._meta.get_field(name)

    def make(clause: str) -> None:
        with connection.schema_editor() as editor:
            for template in ("sql_create_fk", "sql_create_inline_fk"):
                sql = getattr(editor, template)
                if sql:  # SQLite's are inline, the others' statements of their own
                    setattr(
                        editor, template, sql.replace("%(to_column)s)", f"%(to_column)s){clause}")
                    )
            if connection.vendor == "sqlite":
                editor._remake_table(model)
                return
            [fk_name] = editor._constraint_names(model, [field.column], foreign_key=True)
            editor.execute(editor._delete_fk_sql(model, fk_name))
            editor.execute(editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))

    make(f" ON DELETE {action}")
    try:
        yield
    finally:
        make("")
