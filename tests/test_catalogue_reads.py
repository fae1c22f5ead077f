"""The live reads behind ``plan_upgrade --sql``: Django's ``get_constraints`` for many
tables in a constant number of queries (``Introspector.read_constraints``), and SQL
collection whose catalogue queries do not grow with the number of live tables a plan
changes (issue #11).

Every test is ``transaction=True``: the tables are created for real, and on SQLite a
schema editor refuses to start inside a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, models
from django.db.migrations import operations as ops
from django.db.migrations.migration import Migration
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext

from migration_ops.core.sql import collect_plan_sql
from migration_ops.introspection import get_introspector

pytestmark = pytest.mark.django_db(transaction=True)

APP = "catreads"


def _models(n: int) -> list[ModelState]:
    """``n`` pairs of tables: a parent with a unique column, a child with a foreign key
    to it, a unique_together and an index."""
    states = []
    for i in range(n):
        states.append(
            ModelState(
                APP,
                f"Parent{i}",
                [
                    ("id", models.AutoField(primary_key=True)),
                    ("name", models.CharField(max_length=40, unique=True)),
                ],
            )
        )
        states.append(
            ModelState(
                APP,
                f"Child{i}",
                [
                    ("id", models.AutoField(primary_key=True)),
                    ("parent", models.ForeignKey(f"{APP}.Parent{i}", models.CASCADE)),
                    ("a", models.IntegerField()),
                    ("b", models.IntegerField()),
                    ("label", models.CharField(max_length=40)),
                ],
                options={
                    "unique_together": {("a", "b")},
                    "indexes": [models.Index(fields=["label"], name=f"catreads_c{i}_label")],
                },
            )
        )
    return states


def _extra_models() -> list[ModelState]:
    """What the equality test needs beyond the plain tables: checks (named, and the
    inline ones of positive integers and JSON), composite, descending, partial and
    expression indexes, unique constraints over several columns."""
    features = connection.features
    indexes = [
        models.Index(fields=["a", "-b"], name="catreads_x_a_b_desc"),
        models.Index(fields=["-label"], name="catreads_x_label_desc"),
    ]
    if features.supports_expression_indexes:
        indexes.append(models.Index(Lower("label"), name="catreads_x_lower"))
    if features.supports_partial_indexes:
        indexes.append(
            models.Index(fields=["b"], name="catreads_x_partial", condition=models.Q(a__gt=0))
        )
    fields: list[tuple[str, models.Field]] = []
    checks = [models.CheckConstraint(condition=models.Q(a__lte=1000), name="catreads_x_a_lte")]
    if features.supports_stored_generated_columns:
        generated = models.GeneratedField(
            expression=models.F("a") + 1, output_field=models.IntegerField(), db_persist=True
        )
        fields.append(("a_next", generated))
        checks.append(
            models.CheckConstraint(condition=models.Q(a_next__gte=1), name="catreads_x_next")
        )
    return [
        ModelState(
            APP,
            "Extra",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("parent", models.ForeignKey(f"{APP}.Parent0", models.CASCADE, null=True)),
                ("a", models.PositiveIntegerField()),
                ("b", models.PositiveSmallIntegerField()),
                ("label", models.CharField(max_length=40, unique=True)),
                ("data", models.JSONField(null=True)),
                *fields,
            ],
            options={
                "indexes": indexes,
                "constraints": [
                    *checks,
                    models.UniqueConstraint(fields=["a", "b", "label"], name="catreads_x_abl"),
                ],
            },
        )
    ]


def _state(states: list[ModelState]) -> ProjectState:
    state = ProjectState()
    for model_state in states:
        state.add_model(model_state)
    return state


@pytest.fixture
def live_tables() -> Iterator[list[ProjectState]]:
    """Creates the tables of the states appended to the list; drops them afterwards."""
    created: list[ProjectState] = []
    yield created
    for state in created:
        with connection.schema_editor() as editor:
            for model in reversed(list(state.apps.get_models())):
                editor.delete_model(model)


def _create(state: ProjectState, live_tables: list[ProjectState]) -> None:
    live_tables.append(state)
    with connection.schema_editor() as editor:
        for model in state.apps.get_models():
            editor.create_model(model)


# --------------------------------------------------------------------------- equality


def test_read_constraints_is_djangos_get_constraints(live_tables):
    _create(_state(_models(1) + _extra_models()), live_tables)
    tables = connection.introspection.table_names()
    assert {"catreads_parent0", "catreads_child0", "catreads_extra"} <= set(tables)
    batched = get_introspector(connection).read_constraints([*tables, "catreads_missing"])
    with connection.cursor() as cursor:
        expected = {t: connection.introspection.get_constraints(cursor, t) for t in tables}
    assert batched.pop("catreads_missing") == {}
    assert batched == expected
    # Not vacuous: what the extra table has shows in Django's answer.
    extra = expected["catreads_extra"]
    assert {"catreads_x_a_b_desc", "catreads_x_a_lte", "catreads_x_abl"} <= set(extra)
    assert any(c["foreign_key"] for c in expected["catreads_child0"].values())


def test_read_sequences_is_djangos_get_sequences(live_tables):
    _create(_state(_models(1) + _extra_models()), live_tables)
    tables = connection.introspection.table_names()
    batched = get_introspector(connection).read_sequences([*tables, "catreads_missing"])
    if connection.vendor != "postgresql":
        assert batched is None  # the schema editor reads no sequences
        return
    assert batched is not None
    with connection.cursor() as cursor:
        expected = {t: connection.introspection.get_sequences(cursor, t) for t in tables}
    assert batched.pop("catreads_missing") == []
    assert batched == expected
    assert expected["catreads_extra"] == [
        {"name": "catreads_extra_id_seq", "table": "catreads_extra", "column": "id"}
    ]


def test_read_constraints_of_some_tables(live_tables):
    _create(_state(_models(2)), live_tables)
    wanted = ["catreads_child1", "catreads_parent0"]
    batched = get_introspector(connection).read_constraints(wanted)
    with connection.cursor() as cursor:
        expected = {t: connection.introspection.get_constraints(cursor, t) for t in wanted}
    assert batched == expected


# --------------------------------------------------------------------------- query count


def _plan(n: int) -> Migration:
    """A migration that changes all ``2 n`` tables of :func:`_models`."""
    operations: list[ops.base.Operation] = []
    for i in range(n):
        operations += [
            # PostgreSQL reads the sequence of an AutoField whose type changes.
            ops.AlterField(f"Parent{i}", "id", models.BigAutoField(primary_key=True)),
            ops.AlterUniqueTogether(f"Child{i}", set()),
            ops.AddIndex(f"Child{i}", models.Index(fields=["a"], name=f"catreads_c{i}_a")),
            ops.RemoveIndex(f"Child{i}", f"catreads_c{i}_label"),
            ops.AlterField(
                f"Child{i}",
                "parent",
                models.ForeignKey(f"{APP}.Parent{i}", models.CASCADE, null=True),
            ),
            ops.AlterField(f"Parent{i}", "name", models.CharField(max_length=40)),
        ]
    migration = Migration("0002_change", APP)
    migration.operations = operations
    return migration


def _collection_queries(n: int, live_tables: list[ProjectState]) -> tuple[int, list[str]]:
    """The queries that collecting :func:`_plan` (``n``) runs, after its tables exist."""
    state = _state(_models(n))
    _create(state, live_tables)
    migration = _plan(n)
    with CaptureQueriesContext(connection) as queries:
        (result,) = collect_plan_sql(
            connection,
            None,
            [(migration, False)],
            start_state=state,  # type: ignore[arg-type]
        )
    assert [op.unavailable for op in result.operations] == [None] * len(migration.operations)
    assert all(op.statements for op in result.operations)
    for state in live_tables:
        with connection.schema_editor() as editor:
            for model in reversed(list(state.apps.get_models())):
                editor.delete_model(model)
    live_tables.clear()
    return len(queries), [q["sql"] for q in queries.captured_queries]


def test_collection_queries_do_not_grow_with_the_tables_changed(live_tables):
    few, _ = _collection_queries(2, live_tables)
    many, many_sql = _collection_queries(6, live_tables)
    assert few == many, "\n".join(many_sql)


def test_read_storage_engines_is_djangos_get_storage_engine(live_tables):
    _create(_state(_models(1)), live_tables)
    introspector = get_introspector(connection)
    if connection.vendor != "mysql":
        assert introspector.read_storage_engines() is None  # only MySQL's editor asks
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE catreads_myisam (id integer PRIMARY KEY) ENGINE=MyISAM")
        cursor.execute("CREATE VIEW catreads_view AS SELECT id FROM catreads_myisam")
    try:
        batched = introspector.read_storage_engines()
        with connection.cursor() as cursor:
            names = connection.introspection.table_names(cursor, include_views=True)
            expected = {t: connection.introspection.get_storage_engine(cursor, t) for t in names}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP VIEW catreads_view")
            cursor.execute("DROP TABLE catreads_myisam")
    assert batched == expected
    assert (expected["catreads_myisam"], expected["catreads_view"]) == ("MyISAM", None)


def test_collection_queries_do_not_grow_with_the_tables_created():
    """Creating tables with foreign keys: MySQL's schema editor asks each referring
    table's storage engine, answered from one read."""

    def queries(n: int) -> int:
        migration = Migration("0001_initial", APP)
        migration.operations = [
            ops.CreateModel(m.name, list(m.fields.items()), m.options) for m in _models(n)
        ]
        with CaptureQueriesContext(connection) as captured:
            (result,) = collect_plan_sql(
                connection, None, [(migration, False)], start_state=ProjectState()
            )
        assert all(op.statements and not op.unavailable for op in result.operations)
        return len(captured)

    assert queries(2) == queries(6)
