from __future__ import annotations

import pytest
from django.db import connection, connections, models
from django.db.migrations.loader import MigrationLoader
from legacy.models import Customer
from library.models import Author, Book
from shop.models import Product
from shop_reports.models import Report

from migration_ops.core.diff import KINDS, SchemaDiff, SchemaDifference, diff
from migration_ops.core.expected import expected_schema, models_schema
from migration_ops.core.schema import Column, ForeignKey, Schema, Table
from migration_ops.core.states import applied_state
from migration_ops.introspection import snapshot
from tests.ddl import (
    SPECIMEN_TABLE,
    added_column,
    added_index,
    altered_field,
    created_model,
    dropped_model,
    execute,
    removed_constraint,
    removed_field,
    removed_index,
    specimen_state,
)
from tests.scenario import DEFAULT_TABLES, OTHER_TABLES


def live_diff(alias: str = "default") -> SchemaDiff:
    db = connections[alias]
    return diff(snapshot(db), expected_schema(applied_state(db), db))


def differences(*items: tuple[str, str, str, str | None, str | None]) -> tuple:
    return tuple(SchemaDifference(*item) for item in items)


# After migrate ---------------------------------------------------------------------------


@pytest.mark.django_db(databases=["default", "other"])
@pytest.mark.parametrize(
    ("alias", "tables"), [("default", DEFAULT_TABLES), ("other", OTHER_TABLES)]
)
def test_no_difference_after_migrate(alias, tables):
    db = connections[alias]
    expected = expected_schema(applied_state(db), db)
    live = snapshot(db)

    assert list(expected.tables) == tables
    assert diff(live, expected).differences == ()
    assert not diff(live, expected)


@pytest.mark.django_db(databases=["default", "other"])
@pytest.mark.parametrize("alias", ["default", "other"])
def test_current_models_match_the_migrated_database(alias):
    db = connections[alias]

    assert diff(snapshot(db), models_schema(db)).differences == ()


@pytest.mark.django_db(transaction=True)
def test_no_difference_for_every_field_type():
    # Created as migrate would: the model rendered from a state, by the schema editor.
    state = specimen_state()
    with created_model(connection, state.apps.get_model("library", "Specimen")):
        live = snapshot(connection)
        expected = expected_schema(state, connection)

        assert {SPECIMEN_TABLE, f"{SPECIMEN_TABLE}_authors"} <= set(expected.tables)
        assert diff(live, expected).differences == ()


@pytest.mark.django_db(databases=["default", "other"])
def test_expected_schema_of_some_apps():
    state = applied_state(connection)

    assert list(expected_schema(state, connection, app_labels={"library", "shop"}).tables) == [
        "library_author",
        "library_book",
        "shop_order",
        "shop_orderline",
        "shop_product",
    ]
    # The router keeps legacy off "other".
    assert expected_schema(state, connections["other"], app_labels={"legacy"}).tables == {}
    assert list(models_schema(connection, app_labels={"legacy"}).tables) == [
        "legacy_club",
        "legacy_membership",
        "legacy_tag",
        "old_customer_records",
        "old_customer_records_tags",
    ]


@pytest.mark.django_db
def test_applied_state_follows_the_recorded_rows():
    loader = MigrationLoader(connection)
    # As if library.0002 (and the apps that depend on it) were not applied yet.
    loader.applied_migrations = {
        key: row
        for key, row in loader.applied_migrations.items()
        if key != ("library", "0002_book_published") and key[0] not in {"shop", "shop_reports"}
    }

    state = applied_state(connection, loader)
    library = expected_schema(state, connection, app_labels={"library"})

    assert ("shop", "product") not in state.models
    # An app without migrations is rendered from its current models (real_apps).
    assert state.apps.get_model("unmigrated", "Note")._meta.db_table == "unmigrated_note"
    # What library.0002 added is in the database but not in the applied state.
    assert diff(snapshot(connection, library.tables), library).differences == differences(
        ("extra-column", "library_book", "published", None, "date"),
        ("extra-index", "library_book", "published, title", None, "published, title"),
    )


@pytest.mark.django_db
def test_applied_state_without_applied_migrations():
    loader = MigrationLoader(connection)
    loader.applied_migrations = {}

    state = applied_state(connection, loader)

    assert state.models == {}
    assert [m._meta.label for m in state.apps.get_models()] == [
        "unmigrated.Note",
        "unmigrated.NoteSummary",
    ]


# Changes to the live database -------------------------------------------------------------


@pytest.fixture
def clean_before():
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_missing_table(clean_before):
    with dropped_model(connection, Report):
        assert live_diff().differences == differences(
            (
                "missing-table",
                "shop_reports_report",
                "shop_reports_report",
                "shop_reports_report",
                None,
            )
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_extra_table(clean_before):
    quote = connection.ops.quote_name
    execute(connection, f"CREATE TABLE {quote('mo_stray')} ({quote('id')} integer PRIMARY KEY)")
    try:
        assert live_diff().differences == differences(
            ("extra-table", "mo_stray", "mo_stray", None, "mo_stray")
        )
    finally:
        execute(connection, f"DROP TABLE {quote('mo_stray')}")
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_missing_column(clean_before):
    with removed_field(connection, Author, "born"):
        assert live_diff().differences == differences(
            ("missing-column", "library_author", "born", "date", None)
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_extra_column(clean_before):
    with added_column(connection, Author, "nickname"):
        assert live_diff().differences == differences(
            ("extra-column", "library_author", "nickname", None, "varchar(30)")
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_nullability_change(clean_before):
    with altered_field(connection, Author, "name", null=True):
        [difference] = live_diff().differences
        assert difference == SchemaDifference(
            "column-null", "library_author", "name", "NOT NULL", "NULL"
        )
        assert difference.message == ("Column library_author.name allows NULL, expected NOT NULL.")
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_column_type_change(clean_before):
    with altered_field(connection, Customer, "name", max_length=150):
        assert live_diff().differences == differences(
            ("column-type", "old_customer_records", "name", "varchar(100)", "varchar(150)")
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_missing_unique_constraint(clean_before):
    with altered_field(connection, Book, "isbn", unique=False):
        assert live_diff().differences == differences(
            ("missing-unique", "library_book", "isbn", "isbn", None)
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_missing_index(clean_before):
    [index] = Book._meta.indexes
    with removed_index(connection, Book, index):
        assert live_diff().differences == differences(
            ("missing-index", "library_book", "published, title", "published, title", None)
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_extra_index(clean_before):
    with added_index(connection, Author, models.Index(fields=["name"], name="mo_author_name")):
        assert live_diff().differences == differences(
            ("extra-index", "library_author", "name", None, "name")
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_missing_foreign_key(clean_before):
    with altered_field(connection, Product, "book", db_constraint=False):
        assert live_diff().differences == differences(
            ("missing-foreign-key", "shop_product", "book_id", "library_book (id)", None)
        )
    assert live_diff().differences == ()


@pytest.mark.django_db(transaction=True)
def test_missing_check_constraint(clean_before):
    with removed_constraint(connection, Book, "library_book_pages_sane"):
        assert live_diff().differences == differences(
            (
                "missing-check",
                "library_book",
                "library_book_pages_sane",
                "library_book_pages_sane",
                None,
            )
        )
    assert live_diff().differences == ()


# diff() on hand-built schemas -------------------------------------------------------------


def col(name: str, type_: str = "integer", null: bool = False) -> Column:
    return Column(name, type_, null)


EXPECTED = Schema(
    "sqlite",
    {
        "a_gone": Table("a_gone", (col("id"),), ("id",)),
        "b_table": Table(
            "b_table",
            (col("id"), col("name", "varchar(10)"), col("note", "text", True), col("gone")),
            ("id",),
            uniques=frozenset({("name",), ("name", "note")}),
            indexes=frozenset({("note",), ("id", "name")}),
            foreign_keys=frozenset(
                {
                    ForeignKey(("id",), "a_gone", ("id",)),
                    ForeignKey(("note",), "c", ("x",)),
                    ForeignKey(("name",), "p", ("id",), on_delete="CASCADE"),
                }
            ),
            checks=frozenset({"b_sane", "b_kept"}),
        ),
    },
)
ACTUAL = Schema(
    "sqlite",
    {
        "b_table": Table(
            "b_table",
            (col("name", "varchar(20)", True), col("id"), col("note", "text", True), col("new")),
            ("name",),
            uniques=frozenset({("name",), ("note",)}),
            indexes=frozenset({("new",), ("id", "name")}),
            foreign_keys=frozenset(
                {
                    ForeignKey(("id",), "a_gone", ("id",), "fk1"),
                    ForeignKey(("new",), "c", ("x",)),
                    ForeignKey(("name",), "p", ("id",), "fk2"),
                }
            ),
            checks=frozenset({"b_kept", "b_auto_named"}),
            rows=10,
            bytes=4096,
        ),
        "z_stray": Table("z_stray", (col("id"),), ("id",)),
    },
)


def test_diff_reports_every_kind_in_order():
    result = diff(ACTUAL, EXPECTED)

    assert [(d.kind, d.table, d.subject, d.expected, d.actual) for d in result.differences] == [
        ("missing-table", "a_gone", "a_gone", "a_gone", None),
        ("missing-column", "b_table", "gone", "integer", None),
        ("extra-column", "b_table", "new", None, "integer"),
        ("column-type", "b_table", "name", "varchar(10)", "varchar(20)"),
        ("column-null", "b_table", "name", "NOT NULL", "NULL"),
        ("primary-key", "b_table", "primary key", "id", "name"),
        ("missing-unique", "b_table", "name, note", "name, note", None),
        ("extra-unique", "b_table", "note", None, "note"),
        ("missing-index", "b_table", "note", "note", None),
        ("extra-index", "b_table", "new", None, "new"),
        ("missing-foreign-key", "b_table", "note", "c (x)", None),
        ("extra-foreign-key", "b_table", "new", None, "c (x)"),
        ("foreign-key-on-delete", "b_table", "name", "CASCADE", "NO ACTION"),
        ("missing-check", "b_table", "b_sane", "b_sane", None),
        ("extra-table", "z_stray", "z_stray", None, "z_stray"),
    ]
    assert [d.message for d in result] == [
        "Table a_gone is missing.",
        "Column b_table.gone is missing.",
        "Column b_table.new exists but no field expects it.",
        "Column b_table.name has type varchar(20), expected varchar(10).",
        "Column b_table.name allows NULL, expected NOT NULL.",
        "Table b_table has primary key (name), expected (id).",
        "Unique constraint on b_table (name, note) is missing.",
        "Unique constraint on b_table (note) exists but is not expected.",
        "Index on b_table (note) is missing.",
        "Index on b_table (new) exists but is not expected.",
        "Foreign key on b_table (note) to c (x) is missing.",
        "Foreign key on b_table (new) to c (x) exists but is not expected.",
        "Foreign key on b_table (name) has ON DELETE NO ACTION in the database, expected CASCADE.",
        "Check constraint b_sane on b_table is missing.",
        "Table z_stray exists but no model expects it.",
    ]
    assert set(KINDS) == {d.kind for d in result}
    assert result.tables == ("a_gone", "b_table", "z_stray")
    assert len(result.for_table("b_table")) == 13
    assert bool(result)
    assert diff(ACTUAL, EXPECTED) == result  # deterministic


def test_diff_of_equal_schemas_is_empty():
    result = diff(EXPECTED, EXPECTED)

    assert result == SchemaDiff(())
    assert not result
    assert len(result) == 0


def test_other_messages():
    assert SchemaDifference("column-null", "t", "c", "NULL", "NOT NULL").message == (
        "Column t.c is NOT NULL, expected it to allow NULL."
    )
    assert SchemaDifference("primary-key", "t", "primary key", "id", None).message == (
        "Table t has primary key (none), expected (id)."
    )
    assert SchemaDifference(
        "missing-column", "library_book", "pages", "integer", None
    ).as_dict() == {
        "kind": "missing-column",
        "table": "library_book",
        "subject": "pages",
        "expected": "integer",
        "actual": None,
        "message": "Column library_book.pages is missing.",
    }


def test_unknown_kind_and_vendor_mismatch():
    with pytest.raises(ValueError, match=r"^Unknown schema difference kind 'missing-view'\.$"):
        SchemaDifference("missing-view", "t", "t", None, None)
    with pytest.raises(ValueError, match=r"^Cannot compare a mysql schema with a sqlite schema\.$"):
        diff(Schema("mysql", {}), Schema("sqlite", {}))
