"""The migration history engine: targets and plans exactly as ``migrate``, and every finding
provoked for real on the test databases."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connections
from django.db.migrations.exceptions import NodeNotFoundError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from migration_ops import compat
from migration_ops.core.history import (
    ExistingInitialTables,
    History,
    InconsistentDependency,
    PartialSquash,
    load_history,
    load_loader,
)
from migration_ops.core.plan import PlanStep, migration_plan, resolve_targets
from migration_ops.exceptions import BrokenMigrationGraph, UnknownApp, UnknownMigration

SCENARIO_APPS = ("legacy", "library", "shop", "shop_reports")
SQUASH = ("legacy", "0002_seed_tags_squashed_0003_club_membership")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def rows() -> Iterator[Callable[[str], MigrationRecorder]]:
    """``rows(alias)`` -> a recorder for that alias; the django_migrations rows of every
    alias asked for are restored after the test (also after transactional tests)."""
    saved: dict[str, set[tuple[str, str]]] = {}

    def recorder(alias: str = "default") -> MigrationRecorder:
        result = MigrationRecorder(connections[alias])
        if alias not in saved:
            saved[alias] = set(result.applied_migrations())
        return result

    yield recorder
    for alias, keys in saved.items():
        result = MigrationRecorder(connections[alias])
        current = set(result.applied_migrations())
        for app, name in current - keys:
            result.record_unapplied(app, name)
        for app, name in keys - current:
            result.record_applied(app, name)


@pytest.fixture
def temp_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings) -> Iterator:
    """``temp_migrations(app_label, {name: source})`` points ``app_label`` at a new
    migrations package under ``tmp_path`` (never the source tree)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    packages: list[str] = []

    def make(app_label: str, files: dict[str, str]) -> str:
        package = f"history_migrations_{uuid.uuid4().hex}"
        directory = tmp_path / package
        directory.mkdir()
        (directory / "__init__.py").write_text("")
        for name, source in files.items():
            (directory / f"{name}.py").write_text(source)
        settings.MIGRATION_MODULES = {**settings.MIGRATION_MODULES, app_label: package}
        packages.append(package)
        return package

    yield make
    for module in list(sys.modules):
        if module.split(".")[0] in packages:
            del sys.modules[module]


def migration_source(dependencies: str = "[]", operations: str = "[]", extra: str = "") -> str:
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = {dependencies}\n"
        f"    operations = {operations}\n"
        f"{extra}"
    )


def steps(plan: tuple[PlanStep, ...]) -> list[tuple[str, str, bool]]:
    return [(step.app_label, step.name, step.backwards) for step in plan]


def django_steps(executor: MigrationExecutor, targets: list) -> list[tuple[str, str, bool]]:
    return [(m.app_label, m.name, backwards) for m, backwards in executor.migration_plan(targets)]


def clean_history(alias: str, applied: frozenset) -> History:
    return History(
        alias=alias,
        applied=applied,
        ghosts=(),
        stale_rows={},
        conflicts={},
        inconsistent=(),
        partial_squashes=(),
        existing_initial_tables=(),
    )


# --------------------------------------------------------------------------- targets + plan

FORWARD_ALL = [
    ("legacy", "0001_initial", False),
    ("legacy", "0002_seed_tags_squashed_0003_club_membership", False),
    ("legacy", "0004_customer_email", False),
    ("library", "0001_initial", False),
    ("library", "0002_book_published", False),
    ("shop", "0001_initial", False),
    ("shop", "0002_order_customer", False),
    ("shop_reports", "0001_initial", False),
]


@pytest.mark.django_db
class TestPlan:
    def unrecord_scenario(self, rows) -> MigrationExecutor:
        recorder = rows()
        for app, name in recorder.applied_migrations():
            if app in SCENARIO_APPS:
                recorder.record_unapplied(app, name)
        return MigrationExecutor(connections["default"])

    def test_all_apps(self, rows):
        executor = self.unrecord_scenario(rows)
        targets = resolve_targets(executor.loader)
        assert targets == executor.loader.graph.leaf_nodes()
        assert [t for t in targets if t[0] in SCENARIO_APPS] == [
            ("legacy", "0004_customer_email"),
            ("library", "0002_book_published"),
            ("shop", "0002_order_customer"),
            ("shop_reports", "0001_initial"),
        ]
        plan = migration_plan(executor, targets)
        assert steps(plan) == FORWARD_ALL
        assert steps(plan) == django_steps(executor, targets)
        assert plan[0] == PlanStep("legacy", "0001_initial", False, plan[0].migration)
        assert plan[0].key == ("legacy", "0001_initial")
        assert plan[0].migration is executor.loader.graph.nodes[("legacy", "0001_initial")]

    def test_one_app(self, rows):
        executor = self.unrecord_scenario(rows)
        targets = resolve_targets(executor.loader, "shop")
        assert targets == [("shop", "0002_order_customer")]
        assert steps(migration_plan(executor, targets)) == [
            ("library", "0001_initial", False),
            ("library", "0002_book_published", False),
            ("shop", "0001_initial", False),
            ("legacy", "0001_initial", False),
            ("legacy", "0002_seed_tags_squashed_0003_club_membership", False),
            ("legacy", "0004_customer_email", False),
            ("shop", "0002_order_customer", False),
        ]
        assert steps(migration_plan(executor, targets)) == django_steps(executor, targets)

    def test_named_migration_by_prefix(self, rows):
        executor = self.unrecord_scenario(rows)
        targets = resolve_targets(executor.loader, "library", "0001")
        assert targets == [("library", "0001_initial")]
        assert steps(migration_plan(executor, targets)) == [("library", "0001_initial", False)]
        assert steps(migration_plan(executor, targets)) == django_steps(executor, targets)

    def test_nothing_to_do_when_migrated(self):
        executor = MigrationExecutor(connections["default"])
        targets = resolve_targets(executor.loader)
        assert migration_plan(executor, targets) == ()
        assert executor.migration_plan(targets) == []

    def test_zero(self):
        executor = MigrationExecutor(connections["default"])
        targets = resolve_targets(executor.loader, "library", "zero")
        assert targets == [("library", None)]
        assert steps(migration_plan(executor, targets)) == [
            ("shop_reports", "0001_initial", True),
            ("shop", "0002_order_customer", True),
            ("shop", "0001_initial", True),
            ("library", "0002_book_published", True),
            ("library", "0001_initial", True),
        ]
        assert steps(migration_plan(executor, targets)) == django_steps(executor, targets)

    def test_backwards_to_a_named_migration(self):
        executor = MigrationExecutor(connections["default"])
        targets = resolve_targets(executor.loader, "library", "0001_initial")
        assert targets == [("library", "0001_initial")]
        # library.0002 and whatever depends on it, library.0001 itself stays.
        assert steps(migration_plan(executor, targets)) == [
            ("shop_reports", "0001_initial", True),
            ("shop", "0002_order_customer", True),
            ("shop", "0001_initial", True),
            ("library", "0002_book_published", True),
        ]
        assert steps(migration_plan(executor, targets)) == django_steps(executor, targets)

    def test_partly_applied_squash_target(self, rows):
        recorder = rows()
        recorder.record_unapplied("legacy", "0003_club_membership")
        recorder.record_unapplied(*SQUASH)
        executor = MigrationExecutor(connections["default"])
        targets = resolve_targets(executor.loader, "legacy", "0002_seed_tags_squashed")
        if compat.plan_replans_missing_targets():
            # Django 6.0+: `migrate legacy 0002_seed_tags_squashed` runs the squash itself.
            assert targets == [SQUASH]
            assert steps(migration_plan(executor, targets)) == [(*SQUASH, False)]
        else:
            # Django 5.2's migrate fails on the squash; its last replaced migration is planned.
            with pytest.raises(NodeNotFoundError):
                MigrationExecutor(connections["default"]).migration_plan([SQUASH])
            assert targets == [("legacy", "0003_club_membership")]
            assert steps(migration_plan(executor, targets)) == [
                ("legacy", "0003_club_membership", False)
            ]
        assert steps(migration_plan(executor, targets)) == django_steps(executor, targets)


@pytest.mark.django_db
class TestTargetErrors:
    @pytest.fixture
    def loader(self) -> MigrationLoader:
        return MigrationLoader(connections["default"])

    def test_unknown_app(self, loader):
        with pytest.raises(UnknownApp) as info:
            resolve_targets(loader, "nope")
        assert str(info.value) == "No installed app with label 'nope'."

    def test_app_without_migrations(self, loader):
        with pytest.raises(UnknownApp) as info:
            resolve_targets(loader, "unmigrated", "zero")
        assert str(info.value) == (
            "App 'unmigrated' does not have migrations. Create them with "
            "`makemigrations unmigrated`, or leave the app out."
        )

    def test_unknown_migration(self, loader):
        with pytest.raises(UnknownMigration) as info:
            resolve_targets(loader, "library", "0099")
        assert str(info.value) == (
            "Cannot find a migration matching '0099' from app 'library'. "
            "Run `showmigrations library` to list its migrations."
        )

    def test_ambiguous_migration(self, loader):
        with pytest.raises(UnknownMigration) as info:
            resolve_targets(loader, "legacy", "0002")
        assert str(info.value) == (
            "More than one migration matches '0002' in app 'legacy' "
            "(0002_seed_tags, 0002_seed_tags_squashed_0003_club_membership). "
            "Please be more specific."
        )

    def test_name_without_app(self, loader):
        with pytest.raises(UnknownMigration) as info:
            resolve_targets(loader, None, "0001")
        assert str(info.value) == (
            "Migration name '0001' was given without an app label; give the app label first."
        )


# --------------------------------------------------------------------------- findings


@pytest.mark.django_db
class TestFindings:
    def history(self) -> History:
        return load_history(connections["default"])

    def test_freshly_migrated_database_is_clean(self):
        history = self.history()
        applied = frozenset(MigrationRecorder(connections["default"]).applied_migrations())
        assert history == clean_history("default", applied)
        assert {SQUASH, ("legacy", "0002_seed_tags"), ("shop", "0001_initial")} <= applied
        assert history.clean
        assert history.messages == ()

    def test_given_loader_is_used(self):
        executor = MigrationExecutor(connections["default"])
        history = load_history(connections["default"], executor.loader)
        assert history == self.history()

    def test_ghost(self, rows):
        rows().record_applied("library", "0099_gone")
        history = self.history()
        assert history.ghosts == (("library", "0099_gone"),)
        assert ("library", "0099_gone") in history.applied
        assert history.messages == (
            "Migration library.0099_gone is recorded as applied on database 'default' but has "
            "no migration file; restore the file, or remove the row with "
            "`migrate --prune library`.",
        )
        assert history.stale_rows == {}
        assert history.inconsistent == ()

    def test_stale_rows(self, rows):
        recorder = rows()
        recorder.record_applied("removedapp", "0002_more")
        recorder.record_applied("removedapp", "0001_initial")
        history = self.history()
        assert history.stale_rows == {"removedapp": ("0001_initial", "0002_more")}
        assert history.ghosts == ()
        assert history.messages == (
            "App 'removedapp' is not installed but database 'default' records 2 migrations of "
            "it; delete these rows from django_migrations if the app was removed for good.",
        )

    def test_conflict(self, temp_migrations):
        temp_migrations(
            "unmigrated",
            {
                "0001_initial": migration_source(),
                "0002_a": migration_source("[('unmigrated', '0001_initial')]"),
                "0002_b": migration_source("[('unmigrated', '0001_initial')]"),
            },
        )
        history = self.history()
        assert history.conflicts == {"unmigrated": ("0002_a", "0002_b")}
        assert history.messages == (
            "App 'unmigrated' has conflicting leaf migrations 0002_a, 0002_b; merge them with "
            "`makemigrations --merge unmigrated`.",
        )
        assert history == History(
            alias="default",
            applied=history.applied,
            ghosts=(),
            stale_rows={},
            conflicts={"unmigrated": ("0002_a", "0002_b")},
            inconsistent=(),
            partial_squashes=(),
            existing_initial_tables=(),
        )
        loader = load_loader(connections["default"])
        assert resolve_targets(loader, "unmigrated") == [
            ("unmigrated", "0002_a"),
            ("unmigrated", "0002_b"),
        ]

    def test_dependency_row_deleted(self, rows):
        rows().record_unapplied("library", "0001_initial")
        history = self.history()
        assert history.inconsistent == (
            InconsistentDependency(
                "default", ("library", "0002_book_published"), ("library", "0001_initial")
            ),
        )
        assert history.inconsistent[0].message == (
            "Migration library.0002_book_published is applied before its dependency "
            "library.0001_initial on database 'default'; if the changes of "
            "library.0001_initial are in the database, record it in django_migrations, "
            "otherwise remove the row of library.0002_book_published (`migrate` refuses to "
            "run until then)."
        )
        # The tables of the unrecorded initial migration are still there.
        assert history.existing_initial_tables == (
            ExistingInitialTables(
                "default", ("library", "0001_initial"), ("library_author", "library_book")
            ),
        )
        assert history.existing_initial_tables[0].message == (
            "Initial migration library.0001_initial is not applied on database 'default' but "
            "its tables library_author, library_book already exist; run "
            "`migrate --fake-initial` if they match the migration."
        )
        assert (history.ghosts, history.partial_squashes, history.conflicts) == ((), (), {})

    def test_several_migrations_applied_before_their_dependency(self, rows):
        rows().record_unapplied("shop", "0001_initial")
        history = self.history()
        # All of them, not only the first one Django would raise for.
        assert history.inconsistent == (
            InconsistentDependency(
                "default", ("shop", "0002_order_customer"), ("shop", "0001_initial")
            ),
            InconsistentDependency(
                "default", ("shop_reports", "0001_initial"), ("shop", "0001_initial")
            ),
        )
        # Explicit through table: no auto-created M2M table.
        assert history.existing_initial_tables == (
            ExistingInitialTables(
                "default",
                ("shop", "0001_initial"),
                ("shop_order", "shop_product", "shop_orderline"),
            ),
        )

    def test_partial_squash(self, rows):
        recorder = rows()
        recorder.record_unapplied("legacy", "0003_club_membership")
        recorder.record_unapplied(*SQUASH)
        history = self.history()
        assert history.partial_squashes == (
            PartialSquash(
                "default",
                SQUASH,
                applied=(("legacy", "0002_seed_tags"),),
                unapplied=(("legacy", "0003_club_membership"),),
            ),
        )
        assert history.partial_squashes[0].message == (
            "Squashed migration legacy.0002_seed_tags_squashed_0003_club_membership is partly "
            "applied on database 'default': legacy.0002_seed_tags is recorded but "
            "legacy.0003_club_membership is not; run `migrate legacy` while the replaced "
            "migration files still exist."
        )
        # The graph falls back to the replaced migrations: 0004 now follows 0003.
        assert history.inconsistent == (
            InconsistentDependency(
                "default", ("legacy", "0004_customer_email"), ("legacy", "0003_club_membership")
            ),
        )
        assert (history.ghosts, history.existing_initial_tables) == ((), ())

    def test_existing_initial_tables_custom_table_and_auto_m2m(self, rows):
        rows().record_unapplied("legacy", "0001_initial")
        history = self.history()
        assert history.existing_initial_tables == (
            ExistingInitialTables(
                "default",
                ("legacy", "0001_initial"),
                ("legacy_tag", "old_customer_records", "old_customer_records_tags"),
            ),
        )
        # The squash (applied: both replaced rows are there) now follows an unapplied 0001.
        assert history.inconsistent == (
            InconsistentDependency("default", SQUASH, ("legacy", "0001_initial")),
        )
        assert history.partial_squashes == ()

    def test_existing_initial_tables_partly_present(self, temp_migrations):
        # `unmigrated` got its table from syncdb; now it gets migrations.
        temp_migrations(
            "unmigrated",
            {
                "0001_initial": migration_source(
                    operations="""[
        migrations.CreateModel(
            name="Note",
            fields=[("id", models.AutoField(primary_key=True)), ("text", models.TextField())],
        ),
        migrations.CreateModel(
            name="Label",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("notes", models.ManyToManyField(to="unmigrated.note")),
            ],
            options={"db_table": "unmigrated_labels"},
        ),
        migrations.CreateModel(
            name="NoteProxy", fields=[], options={"proxy": True}, bases=("unmigrated.note",)
        ),
        migrations.CreateModel(
            name="Outside",
            fields=[("id", models.AutoField(primary_key=True))],
            options={"managed": False, "db_table": "library_author"},
        ),
        migrations.AlterModelTable(name="Label", table="unmigrated_label_set"),
    ]""",
                    extra="    initial = True\n",
                ),
            },
        )
        history = self.history()
        assert history.existing_initial_tables == (
            ExistingInitialTables(
                "default",
                ("unmigrated", "0001_initial"),
                ("unmigrated_note",),
                ("unmigrated_label_set", "unmigrated_label_set_notes"),
            ),
        )
        assert history.existing_initial_tables[0].message == (
            "Initial migration unmigrated.0001_initial is not applied on database 'default' but "
            "its table unmigrated_note already exists and unmigrated_label_set, "
            "unmigrated_label_set_notes do not; `migrate --fake-initial` cannot help, drop or "
            "rename the existing tables, or create the missing ones and fake the migration."
        )

    def test_rows_of_replaced_migrations_without_files_are_not_ghosts(self, rows, temp_migrations):
        temp_migrations(
            "unmigrated",
            {
                "0001_squashed_0002": migration_source(
                    extra="    replaces = [('unmigrated', '0001_initial'), "
                    "('unmigrated', '0002_second')]\n"
                )
            },
        )
        recorder = rows()
        recorder.record_applied("unmigrated", "0001_initial")
        recorder.record_applied("unmigrated", "0002_second")
        recorder.record_applied("unmigrated", "0001_squashed_0002")
        recorder.record_applied("unmigrated", "0000_really_gone")
        history = self.history()
        assert history.ghosts == (("unmigrated", "0000_really_gone"),)
        assert history.partial_squashes == ()

        recorder.record_unapplied("unmigrated", "0002_second")
        history = self.history()
        assert history.partial_squashes == (
            PartialSquash(
                "default",
                ("unmigrated", "0001_squashed_0002"),
                applied=(("unmigrated", "0001_initial"),),
                unapplied=(("unmigrated", "0002_second"),),
            ),
        )

    def test_everything_at_once(self, rows):
        recorder = rows()
        recorder.record_applied("library", "0099_gone")
        recorder.record_applied("removedapp", "0001_initial")
        recorder.record_unapplied("legacy", "0003_club_membership")
        recorder.record_unapplied(*SQUASH)
        recorder.record_unapplied("library", "0001_initial")
        history = self.history()
        assert not history.clean
        assert [message.split(" ", 2)[:2] for message in history.messages] == [
            ["Migration", "library.0099_gone"],
            ["App", "'removedapp'"],
            ["Migration", "legacy.0004_customer_email"],
            ["Migration", "library.0002_book_published"],
            ["Squashed", "migration"],
            ["Initial", "migration"],
        ]


# --------------------------------------------------------------------------- broken graph


@pytest.mark.django_db
class TestBrokenGraph:
    def test_dependency_on_a_removed_app(self, temp_migrations):
        temp_migrations(
            "unmigrated",
            {"0001_initial": migration_source("[('removedapp', '0001_initial')]")},
        )
        with pytest.raises(BrokenMigrationGraph) as info:
            load_history(connections["default"])
        assert str(info.value) == (
            "The migration graph is broken: migration unmigrated.0001_initial refers to "
            "removedapp.0001_initial, which does not exist. Reinstall the app that provides "
            "removedapp.0001_initial, or remove the dependency on it."
        )

    def test_first_dependency_on_a_removed_app(self, temp_migrations):
        temp_migrations(
            "unmigrated",
            {"0001_initial": migration_source("[('removedapp', '__first__')]")},
        )
        with pytest.raises(BrokenMigrationGraph) as info:
            load_history(connections["default"])
        assert str(info.value) == (
            "The migration graph is broken: migration unmigrated.0001_initial refers to "
            "removedapp.__first__, but app 'removedapp' is not installed or has no migrations. "
            "Reinstall the app, or remove the dependency on it."
        )


# --------------------------------------------------------------------------- other alias


@pytest.mark.django_db(databases=["default", "other"])
def test_other_alias_with_router_is_clean():
    other = connections["other"]
    history = load_history(other)
    applied = frozenset(MigrationRecorder(connections["default"]).applied_migrations())
    # Every migration is recorded on `other` too, though only library has tables there.
    assert history == clean_history("other", applied)
    assert "shop_order" not in other.introspection.table_names()


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_other_alias_honours_the_router(rows):
    other = connections["other"]
    recorder = rows("other")
    quote = other.ops.quote_name
    # A table the router keeps off `other` for its app: not `shop`'s, whatever its name.
    with other.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quote('shop_order')} ({quote('id')} integer)")
    try:
        recorder.record_unapplied("shop", "0001_initial")
        recorder.record_unapplied("library", "0001_initial")
        history = load_history(other)
    finally:
        with other.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quote('shop_order')}")
    assert history.existing_initial_tables == (
        ExistingInitialTables(
            "other", ("library", "0001_initial"), ("library_author", "library_book")
        ),
    )
    assert history.inconsistent == (
        InconsistentDependency(
            "other", ("library", "0002_book_published"), ("library", "0001_initial")
        ),
        InconsistentDependency("other", ("shop", "0002_order_customer"), ("shop", "0001_initial")),
        InconsistentDependency("other", ("shop_reports", "0001_initial"), ("shop", "0001_initial")),
    )
    assert load_history(connections["default"]) == clean_history(
        "default", frozenset(MigrationRecorder(connections["default"]).applied_migrations())
    )
