"""core/states.py: the fast state replay gives Django's own model states."""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import (
    AddField,
    AlterField,
    CreateModel,
    RenameField,
    RenameModel,
)
from django.db.migrations.state import ModelState, ProjectState
from django.db.models import NOT_PROVIDED

from migration_ops.core.states import (
    AdvancingState,
    ancestors_in_order,
    applied_state,
    state_after,
    state_before_migration,
    unrendered_copy,
)

pytestmark = pytest.mark.django_db


def test_every_node_state_equals_django_make_state():
    loader = MigrationLoader(connection)
    for key in sorted(loader.graph.nodes):
        migration = loader.graph.nodes[key]

        after = state_after(loader, [key])
        before = state_before_migration(loader, migration)

        assert after.models == loader.project_state(key, at_end=True).models, key
        assert before.models == loader.project_state(key, at_end=False).models, key
        assert after.real_apps == loader.unmigrated_apps


def test_leaf_state_equals_django_make_state():
    loader = MigrationLoader(connection)
    leaves = loader.graph.leaf_nodes()

    state = state_after(loader, leaves)

    assert state.models == loader.project_state(leaves, at_end=True).models
    assert isinstance(state, AdvancingState)


def test_applied_state_equals_django_make_state():
    loader = MigrationLoader(connection)
    applied = sorted(k for k in loader.applied_migrations if k in loader.graph.nodes)

    state = applied_state(connection, loader)

    assert applied
    assert state.models == loader.graph.make_state(applied, at_end=True).models


def test_ancestors_come_parents_first_once_each():
    loader = MigrationLoader(connection)
    leaves = loader.graph.leaf_nodes()

    order = ancestors_in_order(loader, leaves)

    assert len(order) == len(set(order)) == len(loader.graph.nodes)
    position = {key: index for index, key in enumerate(order)}
    for key in order:
        for parent in loader.graph.node_map[key].parents:
            assert position[parent.key] < position[key]


def _book_state(state_class: type[ProjectState]) -> ProjectState:
    state = state_class(real_apps=set())
    state.add_model(
        ModelState(
            "catalogue",
            "Book",
            [
                ("id", models.AutoField(primary_key=True)),
                ("title", models.CharField(max_length=20)),
            ],
        )
    )
    return state


@pytest.mark.parametrize("preserve_default", [True, False])
def test_alter_field_unrendered_matches_project_state(preserve_default):
    operation = AlterField(
        "book", "title", models.CharField(max_length=50, default="x"), preserve_default
    )
    ours, django = _book_state(AdvancingState), _book_state(ProjectState)

    operation.state_forwards("catalogue", ours)
    operation.state_forwards("catalogue", django)

    assert ours.models == django.models
    title = ours.models["catalogue", "book"].fields["title"]
    assert title.max_length == 50
    assert title.default == ("x" if preserve_default else NOT_PROVIDED)
    # The operation's own field is never changed (Django clones it before resetting).
    assert operation.field.default == "x"


def test_alter_field_on_a_rendered_state_rerenders():
    state = _book_state(AdvancingState)
    assert state.apps.get_model("catalogue", "Book")._meta.get_field("title").max_length == 20

    AlterField("book", "title", models.CharField(max_length=50)).state_forwards("catalogue", state)

    assert state.apps.get_model("catalogue", "Book")._meta.get_field("title").max_length == 50


def test_copies_stay_advancing_and_independent():
    state = _book_state(AdvancingState)

    copy = unrendered_copy(state)
    clone = state.clone()
    AlterField("book", "title", models.CharField(max_length=99)).state_forwards("catalogue", copy)

    assert isinstance(copy, AdvancingState)
    assert isinstance(clone, AdvancingState)
    assert state.models["catalogue", "book"].fields["title"].max_length == 20
    assert copy.models["catalogue", "book"].fields["title"].max_length == 99


def _keyed_state(state_class: type[ProjectState]) -> ProjectState:
    state = _book_state(state_class)
    state.models["catalogue", "book"].fields["code"] = models.CharField(max_length=5, unique=True)
    return state


def _replay(state: ProjectState) -> ProjectState:
    """Renames around foreign keys by to_field, some added after the first rename."""
    fk = models.ForeignKey
    operations = [
        AddField("book", "isbn", models.CharField(max_length=13, unique=True)),
        RenameField("book", "title", "name"),  # the first rename builds the index
        CreateModel(
            "Copy",
            [
                ("id", models.AutoField(primary_key=True)),
                ("book", fk("catalogue.book", models.CASCADE, to_field="code")),
            ],
        ),
        AddField("copy", "by_isbn", fk("catalogue.book", models.CASCADE, to_field="isbn")),
        RenameField("book", "code", "reference"),
        RenameField("book", "isbn", "ean"),
        RenameModel("Book", "Work"),
        RenameField("work", "reference", "ref"),
    ]
    for operation in operations:
        operation.state_forwards("catalogue", state)
    return state


def test_rename_field_repoints_references_added_after_the_index_was_built():
    ours, django = _replay(_keyed_state(AdvancingState)), _replay(_keyed_state(ProjectState))

    assert ours.models == django.models
    copy = ours.models["catalogue", "copy"].fields
    assert copy["book"].remote_field.field_name == "ref"
    assert copy["book"].to_fields == ("ref",)
    assert copy["by_isbn"].remote_field.field_name == "ean"
