from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from library.models import Author

from migration_ops.core.schema import Column, ForeignKey, IncomingForeignKey, Table
from migration_ops.exceptions import UnsupportedDatabase
from migration_ops.introspection import get_introspector, snapshot
from migration_ops.introspection import sqlite as sqlite_introspection
from migration_ops.introspection.mysql import MySQLIntrospector
from migration_ops.introspection.postgresql import PostgreSQLIntrospector
from migration_ops.introspection.sqlite import SQLiteIntrospector
from migration_ops.introspection.sqlite_sql import named_checks
from tests.ddl import SPECIMEN_TABLE, created_model, scratch_tables, specimen_state
from tests.scenario import DEFAULT_TABLES, OTHER_TABLES

BOOK_TYPES = {
    "sqlite": ("integer", "varchar(200)", "varchar(13)", "integer unsigned", "bigint", "date"),
    "mysql": ("bigint", "varchar(200)", "varchar(13)", "int unsigned", "bigint", "date"),
    "postgresql": ("bigint", "varchar(200)", "varchar(13)", "integer", "bigint", "date"),
}
# Backends name the checks of PositiveIntegerField themselves.
BOOK_CHECKS = {
    "sqlite": {"library_book_pages_sane"},
    "mysql": {"library_book_pages_sane", "pages"},
    "postgresql": {"library_book_pages_sane", "library_book_pages_check"},
}
SPECIMEN_COLUMNS = (
    *("id", "uid", "slug", "number", "small", "print_run", "copies", "price", "weight"),
    *("hardcover", "metadata", "blurb", "email", "day", "release_time", "printed_at"),
    *("reading_time", "printer_ip", "cover", "book_id", "illustrator_id", "previous_id"),
)
# Spaces within a type are written "_".
SPECIMEN_TYPES = {
    "sqlite": "integer char(32) varchar(50) smallint_unsigned smallint integer bigint_unsigned"
    " decimal real bool text text varchar(254) date time datetime bigint char(39) blob bigint"
    " bigint bigint",
    "mysql": "bigint uuid varchar(50) smallint_unsigned smallint int bigint_unsigned"
    " decimal(10,2) double bool longtext longtext varchar(254) date time(6) datetime(6) bigint"
    " char(39) longblob bigint bigint bigint",
    "postgresql": "bigint uuid varchar(50) smallint smallint integer bigint numeric(10,2)"
    " double_precision boolean jsonb text varchar(254) date time timestamp_with_time_zone"
    " interval inet bytea bigint bigint bigint",
}
SPECIMEN_NULLABLE = {
    "weight",
    "release_time",
    "printed_at",
    "reading_time",
    "printer_ip",
    "cover",
    "illustrator_id",
    "previous_id",
}

# Queries per snapshot (the tables, then one for views and sequences): constant on MySQL and
# PostgreSQL; SQLite adds one count(*) per table.
QUERIES = {
    # Catalogue queries, then the row counts: up to 400 tables per UNION ALL.
    "sqlite": lambda tables: 8 + math.ceil(tables / 400),
    "mysql": lambda tables: 7,
    "postgresql": lambda tables: 5,
}


@pytest.mark.django_db
def test_book_table(vendor):
    book = snapshot(connection).tables["library_book"]

    assert book.name == "library_book"
    assert book.column_names == ("id", "title", "isbn", "pages", "author_id", "published")
    assert tuple(c.type for c in book.columns) == BOOK_TYPES[vendor]
    assert [c.name for c in book.columns if c.null] == ["published"]
    assert book.primary_key == ("id",)
    assert book.uniques == {("isbn",)}
    # author_id's index: Django's on SQLite and PostgreSQL, InnoDB's own on MySQL. The
    # PostgreSQL "_like" pattern indexes of title and isbn are redundant.
    assert book.indexes == {("title",), ("author_id",), ("published", "title")}
    assert book.foreign_keys == {ForeignKey(("author_id",), "library_author", ("id",))}
    assert book.checks == BOOK_CHECKS[vendor]


@pytest.mark.django_db(transaction=True)
def test_every_field_type_is_normalised(vendor):
    specimen = specimen_state().apps.get_model("library", "Specimen")
    with created_model(connection, specimen):
        schema = snapshot(connection, [SPECIMEN_TABLE, f"{SPECIMEN_TABLE}_authors"])
    table = schema.tables[SPECIMEN_TABLE]

    assert table.columns == tuple(
        Column(name, type_.replace("_", " "), name in SPECIMEN_NULLABLE)
        for name, type_ in zip(SPECIMEN_COLUMNS, SPECIMEN_TYPES[vendor].split(), strict=True)
    )
    assert table.primary_key == ("id",)
    # slug's own index is a prefix of the unique (slug, number): redundant.
    assert table.uniques == {("uid",), ("book_id",), ("slug", "number")}
    # illustrator_id has db_index=False: only InnoDB indexes it, for its foreign key.
    # previous_id has db_constraint=False: an index, no foreign key.
    assert table.indexes == {
        ("hardcover", "price"),
        ("previous_id",),
        *([("illustrator_id",)] if vendor == "mysql" else []),
    }
    assert table.foreign_keys == {
        ForeignKey(("book_id",), "library_book", ("id",)),
        ForeignKey(("illustrator_id",), "library_author", ("id",)),
    }
    assert "mo_price_gte_0" in table.checks
    through = schema.tables[f"{SPECIMEN_TABLE}_authors"]
    assert through.column_names == ("id", "specimen_id", "author_id")
    assert through.uniques == {("specimen_id", "author_id")}
    assert through.indexes == {("author_id",)}
    assert through.foreign_keys == {
        ForeignKey(("specimen_id",), SPECIMEN_TABLE, ("id",)),
        ForeignKey(("author_id",), "library_author", ("id",)),
    }


@pytest.mark.django_db
def test_foreign_keys_in_both_directions():
    schema = snapshot(connection)

    assert schema.incoming_foreign_keys("library_book") == [
        IncomingForeignKey("shop_product", ForeignKey(("book_id",), "library_book", ("id",))),
    ]
    assert [
        (incoming.from_table, incoming.foreign_key.columns)
        for incoming in schema.incoming_foreign_keys("old_customer_records")
    ] == [
        ("legacy_membership", ("customer_id",)),
        ("old_customer_records_tags", ("customer_id",)),
        ("shop_order", ("customer_id",)),
    ]


@pytest.mark.django_db(transaction=True)
def test_foreign_keys_carry_the_database_s_on_delete_action():
    q = connection.ops.quote_name
    parent, child = "mo_fk_parent", "mo_fk_child"
    references = f"REFERENCES {q(parent)} ({q('id')})"
    columns = {
        "plain_id": "",  # as Django makes them: MySQL/MariaDB report RESTRICT
        "restrict_id": " ON DELETE RESTRICT",
        "cascade_id": " ON DELETE CASCADE",
        "set_null_id": " ON DELETE SET NULL",
        "set_default_id": " ON DELETE SET DEFAULT",
    }
    if connection.vendor == "mysql":
        del columns["set_default_id"]  # InnoDB refuses it
    keys = ", ".join(
        [f"{q(c)} integer NULL" for c in columns]
        + [f"FOREIGN KEY ({q(c)}) {references}{action}" for c, action in columns.items()]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {q(parent)} ({q('id')} integer NOT NULL PRIMARY KEY)")
        cursor.execute(f"CREATE TABLE {q(child)} ({q('id')} integer NOT NULL PRIMARY KEY, {keys})")
    try:
        table = snapshot(connection).tables[child]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {q(child)}")
            cursor.execute(f"DROP TABLE {q(parent)}")
    restrict = "NO ACTION" if connection.vendor == "mysql" else "RESTRICT"  # InnoDB: the same
    assert {fk.columns[0]: fk.on_delete for fk in table.foreign_keys} == {
        "plain_id": "NO ACTION",
        "restrict_id": restrict,
        "cascade_id": "CASCADE",
        "set_null_id": "SET NULL",
        **({} if connection.vendor == "mysql" else {"set_default_id": "SET DEFAULT"}),
    }


@pytest.mark.django_db(databases=["default", "other"])
def test_tables_of_each_alias():
    assert list(snapshot(connections["other"]).tables) == OTHER_TABLES
    assert list(snapshot(connection).tables) == DEFAULT_TABLES


@pytest.mark.django_db
def test_tables_filter(vendor):
    full = snapshot(connection)
    with CaptureQueriesContext(connection) as queries:
        part = snapshot(connection, ["library_book", "shop_product", "no_such_table"])

    assert list(part.tables) == ["library_book", "shop_product"]
    assert part.tables["library_book"] == full.tables["library_book"]
    assert part.tables["shop_product"] == full.tables["shop_product"]
    assert len(queries) == QUERIES[vendor](2)
    assert snapshot(connection, []).tables == {}


@pytest.mark.django_db(transaction=True)
def test_rows_and_bytes():
    introspector = get_introspector(connection)
    Author.objects.bulk_create(Author(name=f"Author {i}") for i in range(3))
    introspector.refresh_estimates(["library_author", "library_book"])

    schema = introspector.snapshot(["library_author", "library_book"])

    assert schema.tables["library_author"].rows == 3
    assert schema.tables["library_book"].rows == 0
    for table in schema:
        assert isinstance(table.bytes, int)
        assert table.bytes > 0


@pytest.mark.django_db(transaction=True)
def test_row_counts_split_over_queries(monkeypatch):
    # SQLite counts up to 400 tables per UNION ALL query: force one table per query.
    monkeypatch.setattr(sqlite_introspection, "_COUNTS_PER_QUERY", 1)
    introspector = get_introspector(connection)
    Author.objects.bulk_create(Author(name=f"Author {i}") for i in range(2))
    tables = ["library_author", "library_book", "shop_product"]
    introspector.refresh_estimates(tables)

    schema = introspector.snapshot(tables)

    assert {t.name: t.rows for t in schema} == {
        "library_author": 2,
        "library_book": 0,
        "shop_product": 0,
    }


@pytest.mark.django_db(transaction=True)
def test_snapshot_queries_do_not_grow_with_tables(vendor):
    existing = len(snapshot(connection).tables)
    counts = []
    for count in (5, 50):
        with scratch_tables(connection, count) as names:
            with CaptureQueriesContext(connection) as queries:
                schema = snapshot(connection)
            counts.append(len(queries))
            scratch = schema.tables[names[-1]]
        assert set(names) <= set(schema.tables)
        assert scratch.column_names == ("id", "parent_id", "code", "label")
        assert scratch.primary_key == ("id",)
        assert scratch.uniques == {("code",)}
        # No index for parent_id but InnoDB's own.
        assert scratch.indexes == {("label",), *([("parent_id",)] if vendor == "mysql" else [])}
        assert scratch.foreign_keys == {ForeignKey(("parent_id",), names[0], ("id",))}
        assert f"{names[-1]}_code_check" in scratch.checks
        assert len(schema.incoming_foreign_keys(names[0])) == count

    assert counts == [QUERIES[vendor](existing + 5), QUERIES[vendor](existing + 50)]
    assert not {t for t in snapshot(connection).tables if t.startswith("mo_scratch")}


def test_unsupported_vendor():
    fake = SimpleNamespace(vendor="oracle", alias="legacy_db")

    with pytest.raises(UnsupportedDatabase) as excinfo:
        get_introspector(fake)  # type: ignore[arg-type]

    assert str(excinfo.value) == (
        "Database 'legacy_db' uses the 'oracle' backend, which migration_ops does not "
        "support. Supported: mysql, postgresql, sqlite."
    )


@pytest.mark.django_db
def test_get_introspector_by_vendor(vendor):
    introspector = get_introspector(connection)

    assert introspector.vendor == vendor
    assert introspector.connection is connection


MARIADB = SimpleNamespace(mysql_is_mariadb=True)
MYSQL = SimpleNamespace(mysql_is_mariadb=False)


@pytest.mark.parametrize(
    ("introspector", "raw", "normalised"),
    [
        (SQLiteIntrospector(None), "INTEGER", "integer"),
        (SQLiteIntrospector(None), "BOOLEAN", "bool"),
        (SQLiteIntrospector(None), "decimal(10, 2)", "decimal(10,2)"),
        (SQLiteIntrospector(None), "  varchar ( 20 ) ", "varchar(20)"),
        (SQLiteIntrospector(None), "integer  unsigned", "integer unsigned"),
        (MySQLIntrospector(MARIADB), "int(11)", "int"),
        (MySQLIntrospector(MARIADB), "integer AUTO_INCREMENT", "int"),
        (MySQLIntrospector(MARIADB), "bigint(20) unsigned", "bigint unsigned"),
        (MySQLIntrospector(MARIADB), "integer UNSIGNED", "int unsigned"),
        (MySQLIntrospector(MARIADB), "tinyint(1)", "bool"),
        (MySQLIntrospector(MARIADB), "bool", "bool"),
        (MySQLIntrospector(MARIADB), "tinyint(4)", "tinyint"),
        (MySQLIntrospector(MARIADB), "json", "longtext"),
        (MySQLIntrospector(MYSQL), "json", "json"),
        (MySQLIntrospector(MARIADB), "numeric(8, 2)", "decimal(8,2)"),
        (MySQLIntrospector(MARIADB), "double precision", "double"),
        (MySQLIntrospector(MARIADB), "datetime(6)", "datetime(6)"),
        (PostgreSQLIntrospector(None), "character varying(100)", "varchar(100)"),
        (PostgreSQLIntrospector(None), "character varying", "varchar"),
        (PostgreSQLIntrospector(None), "character(32)", "char(32)"),
        (PostgreSQLIntrospector(None), "numeric(10, 2)", "numeric(10,2)"),
        (PostgreSQLIntrospector(None), "decimal(10,2)", "numeric(10,2)"),
        (PostgreSQLIntrospector(None), "time without time zone", "time"),
        (PostgreSQLIntrospector(None), "timestamp(3) without time zone", "timestamp(3)"),
        (PostgreSQLIntrospector(None), "timestamptz", "timestamp with time zone"),
        (PostgreSQLIntrospector(None), "serial", "integer"),
        (PostgreSQLIntrospector(None), "bigserial", "bigint"),
        (PostgreSQLIntrospector(None), "int4", "integer"),
        (PostgreSQLIntrospector(None), "integer", "integer"),
        (PostgreSQLIntrospector(None), "bool", "boolean"),
        (PostgreSQLIntrospector(None), "character varying(10)[]", "varchar(10)[]"),
    ],
)
def test_normalise_type(introspector, raw, normalised):
    assert introspector.normalise_type(raw) == normalised
    assert introspector.normalise_type(normalised) == normalised  # idempotent


def table(**kwargs) -> Table:
    kwargs.setdefault("columns", (Column("id", "integer", False),))
    return Table("t", **kwargs)


def test_redundant_indexes_are_dropped():
    raw = table(
        primary_key=("id", "v"),
        uniques=frozenset({("a", "b")}),
        indexes=frozenset({("id",), ("a",), ("a", "b"), ("c",), ("c", "d"), ("e",)}),
    )

    normalised = SQLiteIntrospector(None).normalise_table(raw)

    assert normalised.indexes == {("c", "d"), ("e",)}
    assert normalised.uniques == {("a", "b")}
    assert SQLiteIntrospector(None).normalise_table(normalised) == normalised


def test_primary_key_columns_are_not_null():
    raw = table(
        columns=(Column("id", "INTEGER", True), Column("x", "text", True)), primary_key=("id",)
    )

    normalised = SQLiteIntrospector(None).normalise_table(raw)

    assert normalised.columns == (Column("id", "integer", False), Column("x", "text", True))


def test_mysql_indexes_foreign_keys_itself():
    raw = table(
        uniques=frozenset({("a", "b")}),
        indexes=frozenset({("c", "d")}),
        foreign_keys=frozenset(
            ForeignKey((column,), "other", ("id",)) for column in ("a", "b", "c", "e")
        ),
    )

    assert MySQLIntrospector(MARIADB).normalise_table(raw).indexes == {
        ("b",),
        ("c", "d"),
        ("e",),
    }
    assert PostgreSQLIntrospector(None).normalise_table(raw).indexes == {("c", "d")}


def test_named_checks():
    sql = (
        'CREATE TABLE "t" ("id" integer NOT NULL PRIMARY KEY, "n" integer unsigned NOT NULL'
        ' CHECK ("n" >= 0), "s" text NOT NULL DEFAULT \'CONSTRAINT "x" CHECK\','
        ' CONSTRAINT "t_n_sane" CHECK ("n" < 10), CONSTRAINT "t_s_uniq" UNIQUE ("s"),'
        ' CONSTRAINT [odd ""name] CHECK ("s" <> \'\'),'
        ' -- CONSTRAINT "in_a_comment" CHECK (1)\n'
        ' /* CONSTRAINT "in_a_block" CHECK (1) */ "z" integer NULL)'
    )

    assert named_checks(sql) == ["t_n_sane", 'odd ""name']
