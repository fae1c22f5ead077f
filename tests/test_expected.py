"""core/expected.py: tables read from model states equal tables of rendered models."""

from __future__ import annotations

import pytest
from django.db import connection, connections, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ModelState, ProjectState
from django.test import override_settings

from migration_ops.core.expected import expected_schema
from migration_ops.core.schema import Schema
from migration_ops.core.states import state_after
from tests.ddl import specimen_state

pytestmark = pytest.mark.django_db(databases=["default", "other"])

NO_ROUTERS = override_settings(DATABASE_ROUTERS=[])


def read_without_rendering(state: ProjectState, alias: str = "default") -> Schema:
    schema = expected_schema(state, connections[alias])
    assert "apps" not in state.__dict__, "the state was rendered"
    return schema


def rendered(state: ProjectState, alias: str = "default") -> Schema:
    return expected_schema(state, connections[alias], render=True)


@NO_ROUTERS
@pytest.mark.parametrize("alias", ["default", "other"])
def test_every_state_of_the_history(alias):
    loader = MigrationLoader(connections[alias])
    for key in sorted(loader.graph.nodes):
        state = state_after(loader, [key])

        ours = read_without_rendering(state, alias)

        assert ours == rendered(state_after(loader, [key]), alias), key
    leaves = state_after(loader, loader.graph.leaf_nodes())
    assert read_without_rendering(leaves, alias) == rendered(leaves, alias)


def edge_cases() -> ProjectState:
    """Every field type of the specimen, plus keys whose columns or types come from
    elsewhere: parent links, to_field, keys to keys, self and same-name M2M tables."""
    state = specimen_state()
    fk = models.ForeignKey
    state.add_model(
        ModelState(
            "library",
            "Edition",
            [
                (
                    "book_ptr",
                    models.OneToOneField(
                        "library.book", models.CASCADE, parent_link=True, primary_key=True
                    ),
                ),
                ("code", models.CharField(max_length=12, unique=True)),
                ("label", models.CharField(max_length=20, db_column="edition_label")),
                ("editor", fk("library.author", models.CASCADE, db_column="editor_ref")),
                ("sequel", fk("self", models.SET_NULL, null=True, to_field="code")),
                ("related", models.ManyToManyField("self")),
                ("authors", models.ManyToManyField("library.author", db_constraint=False)),
                ("readers", models.ManyToManyField("library.author", db_table="mo_readers")),
            ],
            options={
                "unique_together": {("label", "editor")},
                # Removed from models in Django 5.1, still kept by migration states.
                "index_together": {("code", "label")},
                "order_with_respect_to": "editor",
            },
            bases=("library.book",),
        )
    )
    state.add_model(
        ModelState(
            "shop",
            "Edition",
            [
                ("id", models.SmallAutoField(primary_key=True)),
                # A key to a key: its type is the parent link's, which is the book's id.
                ("library_edition", fk("library.edition", models.CASCADE)),
                ("by_code", fk("library.edition", models.CASCADE, to_field="code")),
                ("others", models.ManyToManyField("library.edition")),
            ],
        )
    )
    return state


@NO_ROUTERS
@pytest.mark.parametrize("alias", ["default", "other"])
def test_edge_cases(alias):
    ours = read_without_rendering(edge_cases(), alias)

    assert ours == rendered(edge_cases(), alias)
    # The cases are there (a state that lost them would compare equal too).
    edition = ours.tables["library_edition"]
    assert edition.column_names == (
        *("book_ptr_id", "code", "edition_label", "editor_ref", "sequel_id", "_order"),
    )
    assert ("edition_label", "editor_ref") in edition.uniques
    assert ("code", "edition_label") in edition.indexes
    assert {"library_edition_related", "library_edition_authors", "mo_readers"} <= set(ours.tables)
    assert ours.tables["library_edition_related"].column_names == (
        *("id", "from_edition_id", "to_edition_id"),
    )
    assert ours.tables["shop_edition_others"].column_names == (
        *("id", "from_edition_id", "to_edition_id"),
    )


class ModelDependentField(models.IntegerField):
    """A third-party field that computes its own parameters: only a rendered model tells."""

    def db_parameters(self, connection):
        return {"type": "integer", "check": None}


def with_odd_field() -> ProjectState:
    state = edge_cases()
    state.add_model(
        ModelState(
            "shop",
            "Odd",
            [("id", models.AutoField(primary_key=True)), ("value", ModelDependentField())],
        )
    )
    return state


@NO_ROUTERS
def test_a_field_that_needs_its_model_renders_the_state():
    state = with_odd_field()

    schema = expected_schema(state, connection)

    assert "apps" in state.__dict__
    assert schema.tables["shop_odd"].column_names == ("id", "value")
    assert schema == rendered(with_odd_field())


def test_routers_get_rendered_models():
    # The test project's router allows only library on "other": routers are given models.
    state = edge_cases()

    schema = expected_schema(state, connections["other"])

    assert "apps" in state.__dict__
    assert "library_edition" in schema.tables
    assert "shop_edition" not in schema.tables
    # Library's tables (the specimen's are named mo_*) and migrate's own.
    others = [t for t in schema.tables if not t.startswith(("library_", "mo_"))]
    assert others == ["django_migrations"]
