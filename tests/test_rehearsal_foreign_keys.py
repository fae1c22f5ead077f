"""The rehearsal's structure copy keeps each foreign key's ON DELETE and ON UPDATE action, and
its proof (the copy compared with the live database) fails when an action is lost.

A RunPython that deletes parent rows, or a Django 6.1 ``on_delete=DB_CASCADE``, behaves on the
scratch copy as on the live database only if the copy has the live actions. The tables are
made with raw SQL in the live test database, copied as ``plan_upgrade --rehearse`` copies
them, and the actions read back from the scratch database's own catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from migration_ops.core.rehearsal.compare import compare, picture
from migration_ops.core.rehearsal.isolation import every_alias_on
from migration_ops.core.rehearsal.scratch import scratch_database
from migration_ops.introspection import get_copier
from migration_ops.introspection.copying import Structure

pytestmark = pytest.mark.django_db(transaction=True)

PARENT, CHILD = "rh_fk_parent", "rh_fk_child"
# The action a foreign key declared without one gets (MySQL/MariaDB report RESTRICT).
DEFAULT = "RESTRICT" if connection.vendor == "mysql" else "NO ACTION"
LIVE_ACTIONS = {
    "cascade_id": ("CASCADE", DEFAULT),
    "set_null_id": ("SET NULL", "CASCADE"),
}
_PG_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


@pytest.fixture
def two_tables() -> Iterator[None]:
    """A parent, and a child with a foreign key ON DELETE CASCADE and one ON DELETE SET NULL
    (ON UPDATE CASCADE), created in the live test database and dropped afterwards."""
    q = connection.ops.quote_name
    references = f"REFERENCES {q(PARENT)} ({q('id')})"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {q(PARENT)} ({q('id')} integer NOT NULL PRIMARY KEY)")
        cursor.execute(
            f"CREATE TABLE {q(CHILD)} ({q('id')} integer NOT NULL PRIMARY KEY, "
            f"{q('cascade_id')} integer NOT NULL, {q('set_null_id')} integer NULL, "
            f"CONSTRAINT {q('rh_fk_cascade')} FOREIGN KEY ({q('cascade_id')}) {references} "
            "ON DELETE CASCADE, "
            f"CONSTRAINT {q('rh_fk_set_null')} FOREIGN KEY ({q('set_null_id')}) {references} "
            "ON DELETE SET NULL ON UPDATE CASCADE)"
        )
    try:
        assert actions(connection) == LIVE_ACTIONS
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {q(CHILD)}")
            cursor.execute(f"DROP TABLE {q(PARENT)}")


def actions(db: BaseDatabaseWrapper) -> dict[str, tuple[str, str]]:
    """``CHILD``'s foreign keys as column -> (ON DELETE, ON UPDATE), from ``db``'s catalogue."""
    sql = {
        "sqlite": 'SELECT "from", on_delete, on_update FROM pragma_foreign_key_list(%s)',
        "mysql": """
            SELECT k.COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE
            FROM information_schema.REFERENTIAL_CONSTRAINTS r
            JOIN information_schema.KEY_COLUMN_USAGE k
              ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA
             AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
            WHERE r.CONSTRAINT_SCHEMA = DATABASE() AND r.TABLE_NAME = %s
        """,
        "postgresql": """
            SELECT a.attname, c.confdeltype, c.confupdtype FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.conrelid = %s::regclass
        """,
    }[db.vendor]
    with db.cursor() as cursor:
        cursor.execute(sql, [CHILD])
        rows = cursor.fetchall()
    names = _PG_ACTIONS if db.vendor == "postgresql" else {}
    return {
        column: (names.get(on_delete, on_delete), names.get(on_update, on_update))
        for column, on_delete, on_update in rows
    }


def without(pattern: str, structure: Structure) -> Structure:
    """``structure`` with every clause matching ``pattern`` removed: a copier that loses it."""
    cut = re.compile(rf" {pattern}(?=[\s,)]|$)", re.IGNORECASE)

    def edit(statements: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(cut.sub("", s) for s in statements)

    return replace(
        structure,
        statements=edit(structure.statements),
        phases=tuple(tuple(edit(group) for group in phase) for phase in structure.phases),
    )


def copy_and_prove(
    lose: str | None = None,
) -> tuple[dict[str, tuple[str, str]], list[tuple[str, ...]]]:
    """Copy the live structure into a scratch database as the rehearsal does (``lose``: a
    clause the copy drops), and return the copy's actions and the proof's differences."""
    live = connections[DEFAULT_DB_ALIAS]  # `connection` is the scratch one under every_alias_on
    live_picture = picture(get_copier(live, live), live)
    with scratch_database(live) as scratch:
        copier = get_copier(live, scratch.connection)
        structure = copier.read_structure()
        with every_alias_on(scratch.connection):
            copier.create(structure if lose is None else without(lose, structure))
            copied = actions(scratch.connection)
            differences = compare(picture(copier, scratch.connection), live_picture)
    return copied, [(d.kind, d.table, d.subject, d.message) for d in differences]


def definition(column: str, on_delete: str, on_update: str) -> str:
    """How the proof shows the foreign key of ``CHILD.column`` with these actions."""
    if connection.vendor == "postgresql":  # pg_get_constraintdef(): NO ACTION left out
        return " ".join(
            [
                f"FOREIGN KEY ({column}) REFERENCES {PARENT}(id)",
                *([f"ON UPDATE {on_update}"] if on_update != "NO ACTION" else []),
                *([f"ON DELETE {on_delete}"] if on_delete != "NO ACTION" else []),
            ]
        )
    target = f"{PARENT} " if connection.vendor == "mysql" else ""
    return f"{target}ON DELETE {on_delete} ON UPDATE {on_update}"


def lost(column: str, have: tuple[str, str], want: tuple[str, str]) -> tuple[str, ...]:
    """The proof's difference for the foreign key of ``CHILD.column``: ``have`` (ON DELETE,
    ON UPDATE) on the copy, ``want`` on the live database."""
    if connection.vendor == "sqlite":  # SQLite keeps no name: named by columns and target
        kind, subject = "foreign key", f"({column}) REFERENCES {PARENT} (id)"
    else:
        kind = "constraint f" if connection.vendor == "postgresql" else "foreign key"
        subject = {"cascade_id": "rh_fk_cascade", "set_null_id": "rh_fk_set_null"}[column]
    message = (
        f"The {kind} {subject} of {CHILD} is {definition(column, *have)}, "
        f"expected {definition(column, *want)}."
    )
    return ("object-definition", CHILD, subject, message)


@pytest.mark.usefixtures("two_tables")
class TestForeignKeyActions:
    def test_the_copy_has_the_live_actions_of_each_foreign_key(self):
        copied, differences = copy_and_prove()
        assert copied == LIVE_ACTIONS
        assert differences == []

    def test_deleting_a_parent_on_the_copy_cascades_and_sets_null(self):
        q = connection.ops.quote_name
        live = connections[DEFAULT_DB_ALIAS]
        with scratch_database(live) as scratch:
            copier = get_copier(live, scratch.connection)
            structure = copier.read_structure()
            with every_alias_on(scratch.connection):
                copier.create(structure)
            with scratch.connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {q(PARENT)} VALUES (1), (2)")
                cursor.execute(f"INSERT INTO {q(CHILD)} VALUES (10, 1, 2), (11, 2, 1)")
                cursor.execute(f"DELETE FROM {q(PARENT)} WHERE {q('id')} = 2")
                cursor.execute(f"SELECT * FROM {q(CHILD)} ORDER BY {q('id')}")
                # Row 11 deleted with its parent (CASCADE), row 10 kept with NULL (SET NULL).
                assert [tuple(row) for row in cursor.fetchall()] == [(10, 1, None)]

    def test_a_copy_without_the_on_delete_actions_fails_the_proof(self):
        copied, differences = copy_and_prove(lose=r"ON DELETE (CASCADE|SET NULL)")
        assert copied == {"cascade_id": (DEFAULT, DEFAULT), "set_null_id": (DEFAULT, "CASCADE")}
        assert differences == [
            lost("cascade_id", (DEFAULT, DEFAULT), ("CASCADE", DEFAULT)),
            lost("set_null_id", (DEFAULT, "CASCADE"), ("SET NULL", "CASCADE")),
        ]

    def test_a_copy_without_an_on_update_action_fails_the_proof(self):
        copied, differences = copy_and_prove(lose="ON UPDATE CASCADE")
        assert copied == {"cascade_id": ("CASCADE", DEFAULT), "set_null_id": ("SET NULL", DEFAULT)}
        assert differences == [lost("set_null_id", ("SET NULL", DEFAULT), ("SET NULL", "CASCADE"))]
