"""What differs between the supported Django versions (``migration_ops.compat``), proved on the
version running the suite: each test asserts that version's behaviour, for real.

Nested squashes (a squash that replaces a squash) exist from Django 6.0 on; the copies of the
``journal`` migrations they are made from live in a temporary package (see
``tests/test_reset_migrations.py``), never in the source tree.
"""

# ruff: noqa: F811 (tests take the imported `project` fixture)
from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, models
from django.db.migrations import AlterField
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.functions import Lower, Now

from migration_ops import compat
from migration_ops.core.diff import diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.history import PartialSquash, load_history
from migration_ops.core.operations import Risk, RiskFinding
from migration_ops.introspection import snapshot
from tests.ddl import created_model
from tests.test_operations import (
    BOOK,
    BOOK_LOCK,
    loader,  # noqa: F401 (a fixture)
    one,
    rebuild,
)
from tests.test_reset_migrations import (
    ALIASES,
    JOURNAL_OLD,
    Project,
    app_rows,
    makemigrations_check,
    migrate_plan,
    plan_upgrade_clean,
    project,  # noqa: F401 (a fixture)
    reset,
)
from tests.utils import run_command

pytestmark = pytest.mark.django_db(databases=list(ALIASES), transaction=True)

INNER = "0001_initial_squashed_0004_alter_entry_title"
OUTER = f"{INNER}_squashed_0005_rename_body_entry_text"
NOTHING_PLANNED = "Planned operations:\n  No planned migration operations.\n"
NESTED = pytest.mark.skipif(
    not compat.NESTED_SQUASHES, reason="Django 5.2 cannot squash a squashed migration"
)


def squash_twice() -> None:
    """journal 0001-0004 squashed, then that squash and 0005 squashed, by Django itself."""
    call_command("squashmigrations", "journal", "0001", "0004", interactive=False, verbosity=0)
    call_command("squashmigrations", "journal", INNER, "0005", interactive=False, verbosity=0)


def test_feature_detection_matches_the_loader():
    loader = MigrationLoader(connections["default"], load=False)
    assert compat.NESTED_SQUASHES is hasattr(loader, "all_replaced_applied")
    assert compat.plan_replans_missing_targets() is compat.NESTED_SQUASHES


@pytest.mark.skipif(compat.NESTED_SQUASHES, reason="Django 6.0+ squashes squashed migrations")
def test_django_52_refuses_to_squash_a_squash(project: Project):
    call_command("squashmigrations", "journal", "0001", "0004", interactive=False, verbosity=0)
    with pytest.raises(CommandError, match="You cannot squash squashed migrations"):
        call_command("squashmigrations", "journal", INNER, "0005", interactive=False, verbosity=0)


@NESTED
class TestNestedSquashes:
    def test_replaced_leaves_resolve_the_inner_squash(self, project: Project):
        squash_twice()
        loader = MigrationLoader(connections["default"])
        assert loader.replacements[("journal", OUTER)].replaces == [
            ("journal", INNER),
            ("journal", "0005_rename_body_entry_text"),
        ]
        assert compat.replaced_leaves(loader.disk_migrations, ("journal", OUTER)) == tuple(
            ("journal", name) for name in JOURNAL_OLD[:5]
        )

    def test_new_squash_of_squash_before_migrate_is_no_finding(self, project: Project):
        """The deploy that brings the nested squash: the database records the old
        migrations only; Django has nothing to run, plan_upgrade finds nothing wrong."""
        squash_twice()
        assert INNER not in app_rows("default", "journal")
        out, err, code = run_command("plan_upgrade", "--check", format="json")
        assert (err, code) == ("", 0)
        document = json.loads(out)
        assert (document["migrations"], document["findings"]) == ([], [])
        assert migrate_plan() == NOTHING_PLANNED

        # migrate then records both squashes (check_replacements, recursively).
        call_command("migrate", verbosity=0)
        assert app_rows("default", "journal") == sorted([*JOURNAL_OLD, INNER, OUTER])
        assert plan_upgrade_clean()[1:] == ("", 0)

    def test_partly_applied_nested_squash_lists_the_leaves(self, project: Project, settings):
        squash_twice()
        settings.MIGRATION_MODULES = {**settings.MIGRATION_MODULES, "reviews": None}
        recorder = MigrationRecorder(connections["other"])
        recorder.record_unapplied("reviews", "0001_initial")
        for name in JOURNAL_OLD[2:]:
            recorder.record_unapplied("journal", name)
        history = load_history(connections["other"])
        applied = (("journal", "0001_initial"), ("journal", "0002_entry_category"))
        assert history.partial_squashes == (
            PartialSquash(
                "other",
                ("journal", INNER),
                applied=applied,
                unapplied=(("journal", "0003_entry_slug"), ("journal", "0004_alter_entry_title")),
            ),
            PartialSquash(
                "other",
                ("journal", OUTER),
                applied=applied,
                unapplied=tuple(("journal", name) for name in JOURNAL_OLD[2:5]),
            ),
        )
        # Django's plan goes through the replaced migrations (both squashes are partial).
        executor = MigrationExecutor(connections["other"])
        plan = executor.migration_plan([("journal", JOURNAL_OLD[-1])])
        assert [m.name for m, _ in plan] == list(JOURNAL_OLD[2:])

    def test_reset_transitions_a_nested_squash(self, project: Project):
        squash_twice()
        for alias in ALIASES:
            call_command("migrate", database=alias, verbosity=0)
        out, err, code = reset(project, "journal")
        assert (err, code) == ("", 0), out
        assert "  journal: 14 old migrations become 1 new migration.\n" in out
        assert project.files("journal") == ["0001_reset.py"]
        source = (project.directory("journal") / "0001_reset.py").read_text()
        assert f"('journal', '{OUTER}')" in source
        assert app_rows("default", "journal") == sorted([*JOURNAL_OLD, INNER, OUTER, "0001_reset"])
        assert makemigrations_check() == "No changes detected\n"
        assert migrate_plan() == NOTHING_PLANNED
        assert plan_upgrade_clean()[1:] == ("", 0)
        # The other database, at the old head, follows with a plain migrate.
        call_command("migrate", database="other", verbosity=0)
        assert app_rows("other", "journal") == app_rows("default", "journal")
        assert plan_upgrade_clean("other")[1:] == ("", 0)


# --------------------------------------------------------------------------- risks


AUTHOR = "library_author"


def test_primary_key_type_change_rewrites_the_table_and_its_foreign_keys(loader):
    """What Django 6.0's BigAutoField default generates: AlterField of an AutoField primary
    key into a BigAutoField (here the way back of the opposite change)."""
    small = models.AutoField(primary_key=True, serialize=False, verbose_name="ID")
    old_type = small.db_type(connection)
    new_type = models.BigAutoField(primary_key=True).db_type(connection)
    findings = one(loader, "library", AlterField("author", "id", small), backwards=True)
    if old_type == new_type:  # SQLite: both are "integer"; the table is rebuilt all the same
        assert (old_type, findings) == ("integer", rebuild(AUTHOR))
        return
    assert findings == [
        RiskFinding(
            Risk.TABLE_REBUILD,
            f"Changes primary key {AUTHOR}.id from {old_type} to {new_type}: every row of "
            f"{AUTHOR} is rewritten, and so is every foreign key column that references it, "
            "with those tables locked meanwhile. Django 6.0 made BigAutoField the default "
            "DEFAULT_AUTO_FIELD: a project or app that sets neither DEFAULT_AUTO_FIELD nor "
            "default_auto_field gets one such migration per model.",
            AUTHOR,
        )
    ]


def test_python_level_on_delete_changes_are_not_findings(loader):
    protect = models.ForeignKey("library.author", models.PROTECT, related_name="books")
    assert compat.db_on_delete(protect) is None
    assert one(loader, "library", AlterField("book", "author", protect)) == []


NOT_NULL_AGAIN = RiskFinding(
    Risk.BREAKS_RUNNING_CODE,
    f"Makes column {BOOK}.author_id NOT NULL without a database default: the running release "
    "may still write NULL there.",
    BOOK,
)


@pytest.mark.skipif(not compat.DB_ON_DELETE, reason="database-level on_delete is Django 6.1+")
@pytest.mark.parametrize(
    ("on_delete", "kwargs", "action", "risk", "what"),
    [
        ("DB_CASCADE", {}, "CASCADE", Risk.DESTRUCTIVE, f"deletes the rows of {BOOK}"),
        ("DB_SET_NULL", {"null": True}, "SET NULL", Risk.DATA, f"sets {BOOK}.author_id to NULL"),
        (
            "DB_SET_DEFAULT",
            {"db_default": 1},
            "SET DEFAULT",
            Risk.DATA,
            f"sets {BOOK}.author_id to its default",
        ),
    ],
)
def test_database_level_on_delete_both_ways(loader, on_delete, kwargs, action, risk, what):
    field = models.ForeignKey(
        "library.author", getattr(models, on_delete), related_name="books", **kwargs
    )
    assert compat.db_on_delete(field) == action
    operation = AlterField("book", "author", field)
    assert one(loader, "library", operation) == [
        RiskFinding(
            risk,
            f"Adds ON DELETE {action} to foreign key {BOOK}.author_id: the database {what} when "
            "the row it references is deleted, by any client and without Django's signals.",
            BOOK,
        ),
        *rebuild(BOOK),
        BOOK_LOCK,
    ]
    assert one(loader, "library", operation, backwards=True) == [
        *([NOT_NULL_AGAIN] if kwargs.get("null") else []),
        RiskFinding(
            Risk.BREAKS_RUNNING_CODE,
            f"Removes ON DELETE {action} from foreign key {BOOK}.author_id: the running release "
            "leaves that to the database, so its deletes of the rows it references fail.",
            BOOK,
        ),
        *rebuild(BOOK),
        BOOK_LOCK,
    ]


def test_database_level_on_delete_is_followed_as_its_python_twin():
    """What safe_remove_app's cascade walk follows, as Collector(force_collection=True)."""
    assert compat.python_on_delete(models.CASCADE) is models.CASCADE
    assert compat.python_on_delete(models.PROTECT) is models.PROTECT
    if compat.DB_ON_DELETE:
        assert compat.python_on_delete(models.DB_CASCADE) is models.CASCADE
        assert compat.python_on_delete(models.DB_CASCADE) is models.DB_CASCADE.forced_collector
        assert compat.python_on_delete(models.DB_SET_NULL) is models.SET_NULL
        assert compat.python_on_delete(models.DB_SET_DEFAULT) is models.DB_SET_DEFAULT


# --------------------------------------------------------------------------- schema engine


def modern_state() -> ProjectState:
    """The project state plus two models with what Django 5.0-6.1 added to fields: database
    defaults (a literal and an expression), a stored generated column, a composite primary
    key, and (Django 6.1) database-level on_delete."""
    on_delete = models.DB_CASCADE if compat.DB_ON_DELETE else models.CASCADE
    state = ProjectState.from_apps(apps)
    state.add_model(
        ModelState(
            "library",
            "Modern",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("name", models.CharField(max_length=40, db_default="anon")),
                ("created", models.DateTimeField(db_default=Now())),
                ("count", models.IntegerField(db_default=0)),
                (
                    "lower_name",
                    models.GeneratedField(
                        expression=Lower("name"),
                        output_field=models.CharField(max_length=40),
                        db_persist=True,
                    ),
                ),
                ("author", models.ForeignKey("library.author", on_delete, related_name="+")),
            ],
            options={"db_table": "mo_modern"},
        )
    )
    state.add_model(
        ModelState(
            "library",
            "Pair",
            [
                ("pk", models.CompositePrimaryKey("left", "right")),
                ("left", models.IntegerField()),
                ("right", models.CharField(max_length=10)),
                ("modern", models.ForeignKey("library.modern", on_delete, related_name="+")),
            ],
            options={"db_table": "mo_pair"},
        )
    )
    return state


@pytest.mark.django_db(transaction=True)
def test_no_false_difference_with_the_newer_field_features():
    state = modern_state()
    with (
        created_model(connection, state.apps.get_model("library", "Modern")),
        created_model(connection, state.apps.get_model("library", "Pair")),
    ):
        live = snapshot(connection)
        expected = expected_schema(state, connection)
        assert diff(live, expected).differences == ()
        modern, pair = live.tables["mo_modern"], live.tables["mo_pair"]
        assert modern.column_names == ("id", "name", "created", "count", "lower_name", "author_id")
        assert pair.primary_key == ("left", "right")
        assert {(fk.columns, fk.to_table) for fk in pair.foreign_keys} == {
            (("modern_id",), "mo_modern")
        }
        # The database's own action, read from it and expected from the field (both ways of
        # reading the state): CASCADE only where Django 6.1 leaves the deleting to it.
        action = "CASCADE" if compat.DB_ON_DELETE else "NO ACTION"
        for schema in (live, expected, expected_schema(state, connection, render=True)):
            assert {fk.on_delete for fk in schema.tables["mo_pair"].foreign_keys} == {action}
            assert {fk.on_delete for fk in schema.tables["mo_modern"].foreign_keys} == {action}
        if compat.DB_ON_DELETE:
            # The constraint really carries the action (Django 6.1 writes it into the DDL).
            relations = connection.introspection.get_relations(connection.cursor(), "mo_pair")
            assert relations["modern_id"] == ("id", "mo_modern", models.DB_CASCADE)
