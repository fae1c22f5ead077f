"""``reset_migrations``: every test works on copies of the scenario apps' migrations in a
temporary package (``MIGRATION_MODULES``), never on ``testproject/*/migrations``, and puts
django_migrations back as it found it."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.migrations.exceptions import InconsistentMigrationHistory, NodeNotFoundError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from journal.models import Entry

import migration_ops.services.reset as reset_service
from migration_ops.core.diff import diff
from migration_ops.core.scratch import scratch_database
from migration_ops.introspection import get_introspector, snapshot
from migration_ops.services.common import LOCK_NAME
from tests.ddl import added_column
from tests.utils import run_command

TESTPROJECT = Path(__file__).resolve().parent.parent / "testproject"
JOURNAL_OLD = (
    "0001_initial",
    "0002_entry_category",
    "0003_entry_slug",
    "0004_alter_entry_title",
    "0005_rename_body_entry_text",
    "0006_seed_categories",
    "0007_entry_published",
    "0008_entry_journal_entry_pub_created",
    "0009_lowercase_category_names",
    "0010_entry_mood",
    "0011_alter_entry_slug",
    "0012_entry_rating",
)
JOURNAL_TABLES = ("journal_category", "journal_entry")
ALIASES = ("default", "other")


@dataclass
class Project:
    """A project root (``BASE_DIR``) holding a package with copies of the migrations of
    ``journal`` and ``reviews``."""

    root: Path
    package: str
    backup: Path

    def directory(self, app: str) -> Path:
        return self.root / self.package / app

    def files(self, app: str) -> list[str]:
        return sorted(p.name for p in self.directory(app).glob("*.py") if p.name != "__init__.py")

    def contents(self) -> dict[str, bytes]:
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*.py"))
            if "__pycache__" not in p.parts
        }

    def module(self, app: str) -> str:
        return f"{self.package}.{app}"


def all_rows(alias: str) -> set[tuple[str, str]]:
    return set(MigrationRecorder(connections[alias]).applied_migrations())


def app_rows(alias: str, app: str) -> list[str]:
    return sorted(name for a, name in all_rows(alias) if a == app)


def restore_rows(alias: str, rows: set[tuple[str, str]]) -> None:
    recorder = MigrationRecorder(connections[alias])
    current = all_rows(alias)
    for app, name in current - rows:
        recorder.record_unapplied(app, name)
    for app, name in rows - current:
        recorder.record_applied(app, name)


def forget(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]


@contextmanager
def temporary_project(tmp_path: Path, settings) -> Iterator[Project]:
    package = "mo_reset_" + re.sub(r"\W", "_", tmp_path.name)
    root = tmp_path / "project"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").touch()
    for app in ("journal", "reviews"):
        shutil.copytree(
            TESTPROJECT / app / "migrations",
            root / package / app,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    rows = {alias: all_rows(alias) for alias in ALIASES}
    sys.path.insert(0, str(root))
    settings.BASE_DIR = root
    settings.MIGRATION_MODULES = {"journal": f"{package}.journal", "reviews": f"{package}.reviews"}
    try:
        yield Project(root, package, tmp_path / "backup")
    finally:
        sys.path.remove(str(root))
        forget(package)
        for alias in ALIASES:
            restore_rows(alias, rows[alias])


@pytest.fixture
def project(tmp_path: Path, settings) -> Iterator[Project]:
    with temporary_project(tmp_path, settings) as created:
        yield created


pytestmark = pytest.mark.django_db(databases=list(ALIASES), transaction=True)


def reset(project: Project, *args: str, **options: object) -> tuple[str, str, int]:
    options.setdefault("interactive", False)
    return run_command("reset_migrations", *args, backup_dir=str(project.backup), **options)


def journal_schema(alias: str = "default"):
    return snapshot(connections[alias], JOURNAL_TABLES)


def migrate_plan(alias: str = "default") -> str:
    out = StringIO()
    call_command("migrate", plan=True, database=alias, stdout=out, no_color=True)
    return out.getvalue()


def makemigrations_check() -> str:
    out = StringIO()
    call_command("makemigrations", check=True, dry_run=True, stdout=out, no_color=True)
    return out.getvalue()


def plan_upgrade_clean(alias: str = "default") -> tuple[str, str, int]:
    return run_command("plan_upgrade", "--check", database=alias)


def fresh_schema(apps: tuple[str, ...], tables: tuple[str, ...]):
    """Build a scratch database from the migrations on disk (``apps`` and what they need);
    return the snapshot of ``tables`` and the journal categories it holds."""
    with scratch_database(connections["default"]) as scratch:
        executor = MigrationExecutor(scratch)
        targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in apps]
        executor.migrate(targets)
        with scratch.cursor() as cursor:
            cursor.execute("SELECT name FROM journal_category ORDER BY name")
            categories = [row[0] for row in cursor.fetchall()]
        return snapshot(scratch, tables), categories


MOVE_LINES = "".join(f"      {name}.py\n" for name in JOURNAL_OLD)
SPECIALS = (
    "  journal.0006_seed_categories, operation 1 (RunPython): Raw Python: "
    "seed_categories(). {note}\n"
    "  journal.0009_lowercase_category_names, operation 1 (RunSQL): Raw SQL: UPDATE "
    "journal_category SET name = LOWER(name). Elidable: dropped (a fresh database will not run "
    "it).\n"
)
DROPPED = "Dropped (a fresh database will not run it); --keep-data-migrations carries it."
CARRIED = "Carried: new databases run it once the schema exists."
REPLACE_OTHERS = (
    "Other environments:\n"
    "  Deploy the new migration files, then run `python manage.py migrate` on every other "
    "database: one at the old head records the new migrations as applied, a new one is built "
    "from them. A database part-way through the old history must first reach the old head "
    "with the previous release (`plan_upgrade` reports it as a partial squash).\n"
)


def replace_plan_text(project: Project) -> str:
    return (
        "Reset plan for database 'default' (mode: replace):\n"
        "  journal: 12 old migrations become 1 new migration.\n"
        f"    Move 12 files to {project.backup}/journal:\n"
        f"{MOVE_LINES}"
        "    Write 0001_reset.py (replaces 12 old migrations)\n"
        "    Record 0001_reset in django_migrations; the old rows stay.\n"
        "Migrations of other apps that depend on them:\n"
        "  reviews.0001_initial depends on journal.0005_rename_body_entry_text: Django remaps "
        "the dependency to journal.0001_reset, which replaces it; the file is not changed.\n"
        "Operations whose effect the new migrations lack:\n" + SPECIALS.format(note=DROPPED)
    )


# --------------------------------------------------------------------------- replace mode


class TestReplaceMode:
    def test_reset_then_everything_is_clean(self, project: Project):
        before = journal_schema()
        out, err, code = reset(project, "journal")
        assert (err, code) == ("", 0)
        new_file = project.directory("journal") / "0001_reset.py"
        assert out == replace_plan_text(project) + (
            f"Moved 12 migration files of journal to {project.backup}/journal.\n"
            f"Wrote {new_file}.\n"
            "Verified: the new migrations describe the 2 tables of journal as they are, and "
            "`makemigrations` finds no changes.\n"
            "Recorded 1 migration in django_migrations and deleted 0 rows.\n"
            "Reset 1 app on database 'default': 12 migration files before, 1 after.\n"
            + REPLACE_OTHERS
        )
        assert project.files("journal") == ["0001_reset.py"]
        assert sorted(p.name for p in (project.backup / "journal").iterdir()) == [
            f"{name}.py" for name in JOURNAL_OLD
        ]
        source = new_file.read_text()
        assert "replaces = [('journal', '0001_initial'), " in source
        assert "    initial = True\n" in source
        assert app_rows("default", "journal") == sorted([*JOURNAL_OLD, "0001_reset"])

        assert makemigrations_check() == "No changes detected\n"
        assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"
        assert plan_upgrade_clean()[1:] == ("", 0)
        assert diff(journal_schema(), before).differences == ()
        schema, categories = fresh_schema(("journal",), JOURNAL_TABLES)
        assert diff(schema, before).differences == ()
        assert categories == []  # the data migration was dropped

    def test_second_database_at_old_head_follows_with_plain_migrate(self, project: Project):
        assert reset(project, "journal")[2] == 0
        call_command("migrate", database="other", verbosity=0)
        assert app_rows("other", "journal") == sorted([*JOURNAL_OLD, "0001_reset"])
        assert plan_upgrade_clean("other")[1:] == ("", 0)
        # Running the command there, or again here, changes nothing.
        for alias in ALIASES:
            out, err, code = reset(project, "journal", database=alias)
            assert (out, err, code) == (
                f"Reset plan for database '{alias}' (mode: replace):\n"
                "  journal: Already reset: 1 new migration recorded, nothing to do.\n"
                "Nothing to do.\n",
                "",
                0,
            )

    def test_database_part_way_through_old_history_is_refused(self, project: Project):
        assert reset(project, "journal")[2] == 0
        recorder = MigrationRecorder(connections["other"])
        for name in JOURNAL_OLD[7:]:
            recorder.record_unapplied("journal", name)
        rows = all_rows("other")

        out, err, code = reset(project, "journal", database="other")
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            "- Database 'other' is part-way through the old history of 'journal': 7 of its 12 "
            "old migrations are recorded, journal.0008_entry_journal_entry_pub_created, "
            "journal.0009_lowercase_category_names, journal.0010_entry_mood, "
            "journal.0011_alter_entry_slug, journal.0012_entry_rating are not. The new "
            "migrations cannot be recorded here: deploy the previous release and run `migrate` "
            "to reach the old head first, then run this command (or `migrate`) again."
        )
        assert all_rows("other") == rows
        # Django's own migrate refuses too (reviews depends on a replaced migration).
        with pytest.raises(NodeNotFoundError, match="some of the replaced migrations are"):
            call_command("migrate", database="other", verbosity=0)
        out, err, code = run_command("plan_upgrade", database="other")
        assert (out, code) == ("", 2)
        assert err.startswith("The migration graph cannot be built on this database: ")
        assert err.endswith(
            "It is part-way through the migrations that a squash replaces (a partial squash): "
            "reach the end of them with the previous release, which still has their files, then "
            "run `migrate` with this one."
        )

    def test_squash_not_yet_recorded_is_refused_until_migrate_records_it(self, project: Project):
        """The deploy that brings a new squash: every migration it replaces is recorded, the
        squash itself is not until `migrate` runs (check_replacements)."""
        call_command("squashmigrations", "journal", "0001", "0004", interactive=False, verbosity=0)
        squash = "0001_initial_squashed_0004_alter_entry_title"
        files, rows = project.files("journal"), all_rows("default")

        out, err, code = reset(project, "journal")
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            f"- Squashed migration journal.{squash} is not recorded on database 'default', "
            "although every migration it replaces is: `migrate` records it. Run `migrate` "
            "first, then reset."
        )
        assert (project.files("journal"), all_rows("default")) == (files, rows)

        # Every database runs the squash's release `migrate` before the reset's release.
        for alias in ALIASES:
            call_command("migrate", database=alias, verbosity=0)
        out, err, code = reset(project, "journal")
        assert (err, code) == ("", 0), out
        assert project.files("journal") == ["0001_reset.py"]
        assert makemigrations_check() == "No changes detected\n"
        assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"

    def test_plan_upgrade_reports_part_way_database_as_partial_squash(self, project, settings):
        assert reset(project, "journal")[2] == 0
        # Without an app depending on the old migrations, the graph loads.
        settings.MIGRATION_MODULES = {**settings.MIGRATION_MODULES, "reviews": None}
        recorder = MigrationRecorder(connections["other"])
        recorder.record_unapplied("reviews", "0001_initial")
        for name in JOURNAL_OLD[7:]:
            recorder.record_unapplied("journal", name)
        out, _, _ = run_command("plan_upgrade", database="other", format="json")
        findings = json.loads(out)["findings"]
        assert [(f["kind"], f["app_label"]) for f in findings] == [("partial-squash", "journal")]
        assert findings[0]["message"].startswith(
            "Squashed migration journal.0001_reset is partly applied on database 'other': "
            "journal.0001_initial, "
        )

    def test_dependent_app_still_loads_and_applies(self, project: Project):
        assert reset(project, "journal")[2] == 0
        assert (project.directory("reviews") / "0001_initial.py").read_text() == (
            TESTPROJECT / "reviews" / "migrations" / "0001_initial.py"
        ).read_text()
        call_command("migrate", "reviews", "zero", verbosity=0)
        try:
            assert app_rows("default", "reviews") == []
        finally:
            call_command("migrate", "reviews", verbosity=0)
        assert app_rows("default", "reviews") == ["0001_initial"]
        assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"
        schema, _ = fresh_schema(("reviews",), ("reviews_review",))
        assert diff(schema, snapshot(connections["default"], ["reviews_review"])).differences == ()


# --------------------------------------------------------------------------- clean-slate mode


class TestCleanSlateMode:
    def test_reset_with_kept_data_migration(self, project: Project):
        before = journal_schema()
        out, err, code = reset(project, "journal", mode="clean-slate", keep_data_migrations=True)
        assert (err, code) == ("", 0)
        journal = project.directory("journal")
        assert out == (
            "Reset plan for database 'default' (mode: clean-slate):\n"
            "  journal: 12 old migrations become 2 new migrations.\n"
            f"    Move 12 files to {project.backup}/journal:\n"
            f"{MOVE_LINES}"
            "    Write 0001_reset.py (clean_slate_replaces 11 old migrations)\n"
            "    Write 0002_reset_data.py (clean_slate_replaces 1 old migration; runs the "
            "carried operations)\n"
            "    Write _kept_0006_seed_categories.py (functions of carried RunPython "
            "operations)\n"
            "    Delete 12 rows of journal from django_migrations and record 0001_reset, "
            "0002_reset_data.\n"
            "Migrations of other apps that depend on them:\n"
            "  reviews.0001_initial depends on journal.0005_rename_body_entry_text: its file is "
            "rewritten to journal.0001_reset.\n"
            "Operations whose effect the new migrations lack:\n"
            + SPECIALS.format(note=CARRIED)
            + f"Moved 12 migration files of journal to {project.backup}/journal.\n"
            f"Wrote {journal / '0001_reset.py'}.\n"
            f"Wrote {journal / '0002_reset_data.py'}.\n"
            f"Wrote {journal / '_kept_0006_seed_categories.py'}.\n"
            "Rewrote the dependency of reviews.0001_initial to journal.0001_reset.\n"
            "Verified: the new migrations describe the 2 tables of journal as they are, and "
            "`makemigrations` finds no changes.\n"
            "Recorded 2 migrations in django_migrations and deleted 12 rows.\n"
            "Reset 1 app on database 'default': 12 migration files before, 2 after.\n"
            "Other environments:\n"
            "  Deploy the new migration files, then run this on every other database (it "
            "verifies the schema first, and does nothing where it already ran):\n"
            "    python manage.py reset_migrations journal --mode clean-slate --noinput\n"
        )
        assert project.files("journal") == [
            "0001_reset.py",
            "0002_reset_data.py",
            "_kept_0006_seed_categories.py",
        ]
        assert app_rows("default", "journal") == ["0001_reset", "0002_reset_data"]
        reviews = (project.directory("reviews") / "0001_initial.py").read_text()
        assert '    dependencies = [("journal", "0001_reset")]\n' in reviews
        assert (project.backup / "reviews" / "0001_initial.py").read_text() == (
            TESTPROJECT / "reviews" / "migrations" / "0001_initial.py"
        ).read_text()
        first = (journal / "0001_reset.py").read_text()
        assert "\n    replaces = " not in first
        assert "    clean_slate_replaces = [('journal', '0001_initial'), " in first

        # Until the other database runs the printed command, its history is inconsistent
        # (reviews.0001_initial is recorded, its new dependency is not).
        with pytest.raises(InconsistentMigrationHistory):
            makemigrations_check()
        args = ("journal", "--mode", "clean-slate")
        assert reset(project, *args, database="other", keep_data_migrations=True)[1:] == ("", 0)
        assert makemigrations_check() == "No changes detected\n"
        assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"
        assert plan_upgrade_clean()[1:] == ("", 0)
        schema, categories = fresh_schema(("journal", "reviews"), JOURNAL_TABLES)
        assert diff(schema, before).differences == ()
        assert categories == ["Travel", "Work"]  # the carried RunPython ran

    def test_other_environment_runs_the_printed_command_and_it_is_idempotent(self, project):
        assert reset(project, "journal", mode="clean-slate")[2] == 0
        assert app_rows("other", "journal") == list(JOURNAL_OLD)

        out, err, code = reset(project, "journal", mode="clean-slate", database="other")
        assert (err, code) == ("", 0)
        assert out == (
            "Reset plan for database 'other' (mode: clean-slate):\n"
            "  journal: The files are already reset (clean-slate); the database still records "
            "the old history: verify the schema and record the new migrations.\n"
            "    Delete 12 rows of journal from django_migrations and record 0001_reset.\n"
            "Verified: the new migrations describe the 0 tables of journal as they are, and "
            "`makemigrations` finds no changes.\n"
            "Recorded 1 migration in django_migrations and deleted 12 rows.\n"
            "Recorded the reset migrations of journal on database 'other'.\n"
        )
        assert app_rows("other", "journal") == ["0001_reset"]
        assert plan_upgrade_clean("other")[1:] == ("", 0)
        for alias in ALIASES:
            out, _, code = reset(project, "journal", mode="clean-slate", database=alias)
            assert code == 0
            assert out.endswith("Nothing to do.\n")
            assert "  journal: Already reset: 1 new migration recorded, nothing to do.\n" in out

    def test_dependent_outside_the_project_is_refused(self, project: Project, settings):
        # reviews' migrations now live outside BASE_DIR: not ours to rewrite.
        elsewhere = project.root.parent / "elsewhere"
        shutil.copytree(project.root / project.package, elsewhere / f"{project.package}_x")
        sys.path.insert(0, str(elsewhere))
        try:
            settings.MIGRATION_MODULES = {
                **settings.MIGRATION_MODULES,
                "reviews": f"{project.package}_x.reviews",
            }
            contents, rows = project.contents(), all_rows("default")
            out, err, code = reset(project, "journal", mode="clean-slate")
            assert (out, code) == ("", 2)
            assert err == (
                "Nothing was changed:\n"
                "- Migration reviews.0001_initial depends on "
                "journal.0005_rename_body_entry_text and cannot be rewritten (its migrations "
                f"are in {(elsewhere / f'{project.package}_x' / 'reviews').resolve()}, outside "
                f"the project root {project.root.resolve()}). Use --mode replace, where Django "
                "remaps such dependencies."
            )
            assert (project.contents(), all_rows("default")) == (contents, rows)
            # Replace mode leaves the file alone, and it keeps loading.
            assert reset(project, "journal")[2] == 0
            call_command("migrate", "reviews", "zero", verbosity=0)
            call_command("migrate", "reviews", verbosity=0)
            assert app_rows("default", "reviews") == ["0001_initial"]
        finally:
            sys.path.remove(str(elsewhere))
            forget(f"{project.package}_x")


# --------------------------------------------------------------------------- refusals


def assert_unchanged(project: Project, contents: dict[str, bytes], rows: set) -> None:
    assert project.contents() == contents
    assert all_rows("default") == rows
    assert not project.backup.exists()


class TestRefusals:
    def test_drift_is_listed_and_nothing_changes(self, project: Project):
        contents, rows = project.contents(), all_rows("default")
        with added_column(connections["default"], Entry, "legacy_note"):
            out, err, code = reset(project, "journal")
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            "- The live schema of app 'journal' differs from what the migrations describe; "
            "regenerated migrations would hide this:\n"
            "    Column journal_entry.legacy_note exists but no field expects it.\n"
            "  Bring the database and the migrations back in line first (see `plan_upgrade`)."
        )
        assert_unchanged(project, contents, rows)

    def test_database_behind_head_names_pending_migrations(self, project: Project):
        call_command("migrate", "journal", "0010", verbosity=0)
        try:
            contents, rows = project.contents(), all_rows("default")
            out, err, code = reset(project, "journal")
            assert_unchanged(project, contents, rows)
        finally:
            call_command("migrate", "journal", verbosity=0)
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            "- Database 'default' is not at the head of app 'journal': 2 migrations are "
            "pending (journal.0011_alter_entry_slug, journal.0012_entry_rating). Run `migrate` "
            "first, then reset."
        )

    def test_model_changes_without_migrations(self, project: Project):
        # The copy lacks the migration that adds Entry.rating (its row stays recorded).
        (project.directory("journal") / "0012_entry_rating.py").unlink()
        contents, rows = project.contents(), all_rows("default")
        out, err, code = reset(project, "journal")
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            "- The models of 'journal' have changes that are not in migrations (Add field "
            "rating to entry). Run `makemigrations journal` and `migrate` first."
        )
        assert_unchanged(project, contents, rows)

    def test_conflicting_leaves(self, project: Project):
        directory = project.directory("journal")
        source = (directory / "0012_entry_rating.py").read_text()
        (directory / "0012_other.py").write_text(
            source.split("    operations")[0] + "    operations = []\n"
        )
        contents, rows = project.contents(), all_rows("default")
        out, err, code = reset(project, "journal")
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            "- App 'journal' has conflicting leaf migrations 0012_entry_rating, 0012_other; "
            "merge them with `makemigrations --merge journal` first.\n"
            "- Database 'default' is not at the head of app 'journal': 1 migration is pending "
            "(journal.0012_other). Run `migrate` first, then reset."
        )
        assert_unchanged(project, contents, rows)

    def test_app_of_an_installed_package(self, project: Project):
        import django.contrib.auth

        directory = (Path(django.contrib.auth.__file__).parent / "migrations").resolve()
        out, err, code = reset(project, "auth", dry_run=True)
        assert (out, code) == ("", 2)
        assert re.fullmatch(
            "Nothing was changed:\n"
            f"- App 'auth' is not first-party: its migrations are in {re.escape(str(directory))}, "
            r"inside the installed packages of \S+\. Its migrations belong to whoever ships it; "
            "pass --force to reset them anyway.",
            err,
        ), err

    def test_app_outside_the_project_root(self, project: Project, settings):
        settings.BASE_DIR = project.root / "elsewhere"
        out, err, code = reset(project, "journal")
        assert (out, code) == ("", 2)
        assert err == (
            "Nothing was changed:\n"
            f"- App 'journal' is not first-party: its migrations are in "
            f"{project.directory('journal').resolve()}, outside the project root "
            f"{(project.root / 'elsewhere').resolve()}. Its migrations belong to whoever ships "
            "it; pass --force to reset them anyway."
        )
        out, err, code = reset(project, "journal", force=True, dry_run=True)
        assert (err, code) == ("", 0)

    def test_lock_held_by_another_session(self, project: Project):
        contents, rows = project.contents(), all_rows("default")
        session = connections.create_connection("default")
        try:
            with get_introspector(session).lock(LOCK_NAME):
                out, err, code = reset(project, "journal")
        finally:
            session.close()
        assert (out, code) == ("", 2)
        assert err.startswith("Another session holds the 'migration_ops' lock on database ")
        assert_unchanged(project, contents, rows)

    def test_unknown_and_unmigrated_apps(self, project: Project):
        assert reset(project, "nope") == ("", "No installed app with label 'nope'.", 2)
        assert reset(project, "unmigrated") == (
            "",
            "App 'unmigrated' has no migrations; there is nothing to reset.",
            2,
        )
        assert reset(project) == (
            "",
            "Give the labels of the apps to reset, or --all-local (not both).",
            2,
        )


# --------------------------------------------------------------------------- failures


class TestFailureIsUndone:
    def test_failure_after_files_written_before_rows_recorded(self, project, monkeypatch):
        contents, rows = project.contents(), all_rows("default")
        written: list[list[str]] = []

        def fail(*args: object) -> None:
            written.append(project.files("journal"))
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(reset_service.recording, "record", fail)
        out, err, code = reset(project, "journal", mode="clean-slate", keep_data_migrations=True)
        assert code == 2
        assert err == (
            "The reset failed: RuntimeError: disk on fire. The old migration files are back in "
            "place and django_migrations is unchanged."
        )
        assert out.startswith("Reset plan for database 'default' (mode: clean-slate):\n")
        assert written == [["0001_reset.py", "0002_reset_data.py", "_kept_0006_seed_categories.py"]]
        assert_unchanged(project, contents, rows)
        # And the restored files still work.
        assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"

    def test_new_migrations_that_do_not_match_are_not_recorded(self, project, monkeypatch):
        contents, rows = project.contents(), all_rows("default")
        real = reset_service.regeneration.regenerate

        def lossy(*args, **kwargs):
            # As if the writer had lost a field: verification must catch it.
            new = real(*args, **kwargs)
            [entry] = [op for op in new["journal"][0].operations if op.name == "Entry"]
            entry.fields = [(name, f) for name, f in entry.fields if name != "rating"]
            return new

        monkeypatch.setattr(reset_service.regeneration, "regenerate", lossy)
        out, err, code = reset(project, "journal")
        assert code == 2
        assert out == replace_plan_text(project)
        assert err == (
            "The new migrations do not match the database:\n"
            "- `makemigrations journal` would still write: Add field rating to entry.\n"
            "- Column journal_entry.rating exists but no field expects it.\n"
            "The old migration files are back in place and django_migrations is unchanged."
        )
        assert_unchanged(project, contents, rows)

    def test_failure_while_recording_rolls_the_rows_back(self, project, monkeypatch):
        contents, rows = project.contents(), all_rows("default")
        calls: list[str] = []
        original = MigrationRecorder.record_applied

        def record_applied(self, app: str, name: str) -> None:
            calls.append(name)
            if len(calls) == 2:
                raise RuntimeError("connection lost")
            original(self, app, name)

        monkeypatch.setattr(MigrationRecorder, "record_applied", record_applied)
        out, err, code = reset(project, "journal", mode="clean-slate", keep_data_migrations=True)
        assert code == 2
        assert out.startswith("Reset plan for database 'default' (mode: clean-slate):\n")
        assert err == (
            "The reset failed: RuntimeError: connection lost. The old migration files are back "
            "in place and django_migrations is unchanged."
        )
        # The 12 old rows had been deleted and one new row recorded inside the transaction.
        assert calls == ["0001_reset", "0002_reset_data"]
        assert_unchanged(project, contents, rows)


# --------------------------------------------------------------------------- output and options


class TestOutput:
    def test_dry_run_changes_nothing(self, project: Project):
        contents, rows = project.contents(), all_rows("default")
        out, err, code = reset(project, "journal", dry_run=True)
        assert (err, code) == ("", 0)
        assert out == replace_plan_text(project) + "Dry run: nothing was changed.\n"
        assert_unchanged(project, contents, rows)

    def test_json(self, project: Project):
        out, err, code = reset(project, "journal", format="json")
        assert (err, code) == ("", 0)
        document = json.loads(out)
        result = document.pop("result")
        assert result.pop("seconds") > 0
        assert result == {
            "files_before": 12,
            "files_after": 1,
            "rows_deleted": 0,
            "rows_recorded": 1,
            "verified_tables": 2,
            "measurement": None,
        }
        [app] = document.pop("apps")
        [new] = app.pop("new_migrations")
        assert new.pop("operations") == ["Create model Category", "Create model Entry"]
        assert new == {
            "name": "0001_reset",
            "path": str(project.directory("journal") / "0001_reset.py"),
            "stands_in_for": list(JOURNAL_OLD),
            "dependencies": [],
            "follow_up": False,
        }
        assert app == {
            "app_label": "journal",
            "action": "reset",
            "mode": "replace",
            "directory": str(project.directory("journal").resolve()),
            "old_migrations": list(JOURNAL_OLD),
            "files_to_move": [f"{name}.py" for name in JOURNAL_OLD],
            "extra_files": [],
            "rows_to_delete": [],
            "rows_to_record": ["0001_reset"],
            "note": "12 old migrations become 1 new migration.",
        }
        assert document.pop("special_operations")[0] == {
            "migration": "journal.0006_seed_categories",
            "position": 1,
            "kind": "RunPython",
            "description": "Raw Python: seed_categories()",
            "elidable": False,
            "carried": False,
            "note": DROPPED,
        }
        assert document.pop("other_environments")["command"] is None
        assert document == {
            "schema_version": 1,
            "database": "default",
            "vendor": connections["default"].vendor,
            "mode": "replace",
            "dry_run": False,
            "backup_dir": str(project.backup.resolve()),
            "dependents": [
                {
                    "migration": "reviews.0001_initial",
                    "dependency": "journal.0005_rename_body_entry_text",
                    "target": "journal.0001_reset",
                    "handling": "remapped",
                    "path": str(project.directory("reviews").resolve() / "0001_initial.py"),
                }
            ],
        }

    def test_measure_times_a_fresh_migrate_before_and_after(self, project: Project):
        out, err, code = reset(project, "journal", measure=True)
        assert (err, code) == ("", 0)
        assert re.search(
            r"\nFresh migrate: 12 migrations in \d+\.\d\d s before, 1 migration in \d+\.\d\d s "
            r"after\.\n",
            out,
        ), out

    def test_all_local_resets_the_first_party_apps(self, project: Project):
        out, err, code = reset(project, "--all-local", mode="clean-slate")
        assert (err, code) == ("", 0)
        assert project.files("journal") == ["0001_reset.py"]
        assert project.files("reviews") == ["0001_reset.py"]
        assert app_rows("default", "journal") == ["0001_reset"]
        assert app_rows("default", "reviews") == ["0001_reset"]
        reviews = (project.directory("reviews") / "0001_reset.py").read_text()
        assert "('journal', '0001_reset')," in reviews
        assert "Reset 2 apps on database 'default': 13 migration files before, 2 after.\n" in out
        assert out.endswith(
            "    python manage.py reset_migrations --all-local --mode clean-slate --noinput\n"
        )
        assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"
        assert makemigrations_check() == "No changes detected\n"

    def test_interactive_cancel(self, project: Project, monkeypatch):
        contents, rows = project.contents(), all_rows("default")
        monkeypatch.setattr("builtins.input", lambda prompt: "no")
        out, err, code = reset(project, "journal", interactive=True)
        assert (err, code) == ("", 0)
        assert out.endswith("Reset cancelled; nothing was changed.\n")
        assert_unchanged(project, contents, rows)

    def test_default_backup_folder_and_verbosity_0(self, project, monkeypatch, tmp_path):
        monkeypatch.chdir(tmp_path)
        out, err, code = run_command("reset_migrations", "journal", interactive=False, verbosity=0)
        assert (out, err, code) == ("", "", 0)
        [backup] = [p for p in tmp_path.iterdir() if p.name.startswith("migrations-backup-")]
        assert re.fullmatch(r"migrations-backup-\d{8}-\d{6}", backup.name)
        assert len(list((backup / "journal").iterdir())) == 12

    def test_replace_mode_with_kept_data_migration(self, project: Project):
        out, err, code = reset(project, "journal", keep_data_migrations=True)
        assert (err, code) == ("", 0)
        assert "    Write 0001_reset.py (replaces 11 old migrations)\n" in out
        assert "    Write 0002_reset_data.py (replaces 1 old migration; runs the carried " in out
        data = (project.directory("journal") / "0002_reset_data.py").read_text()
        assert "    replaces = [('journal', '0012_entry_rating')]\n" in data
        assert f"code={project.package}.journal._kept_0006_seed_categories.seed_categories," in data
        # A database at the old head records both without running the data migration again.
        call_command("migrate", database="other", verbosity=0)
        assert app_rows("other", "journal") == sorted(
            [*JOURNAL_OLD, "0001_reset", "0002_reset_data"]
        )
        schema, categories = fresh_schema(("journal",), JOURNAL_TABLES)
        assert diff(schema, journal_schema()).differences == ()
        assert categories == ["Travel", "Work"]


# --------------------------------------------------------------------------- pieces


def test_old_history_puts_a_squash_after_what_it_replaces():
    from django.db.migrations.loader import MigrationLoader

    from migration_ops.core.regenerate import old_history

    loader = MigrationLoader(None, load=False)
    loader.load_disk()
    assert old_history(loader.disk_migrations, "legacy") == [
        "0001_initial",
        "0002_seed_tags",
        "0003_club_membership",
        "0002_seed_tags_squashed_0003_club_membership",
        "0004_customer_email",
    ]


def test_rewrite_dependencies_edits_only_the_pairs():
    from migration_ops.core.regenerate import rewrite_dependencies

    source = (
        "from django.db import migrations\n"
        "\n"
        "# ('journal', '0005_x') in a comment stays\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [\n"
        "        ('journal', '0005_x'),\n"
        '        ("shop", "0001_initial"),  # é\n'
        "    ]\n"
        "    operations = []\n"
    )
    text, done = rewrite_dependencies(source, {("journal", "0005_x"): ("journal", "0001_reset")})
    assert done == {("journal", "0005_x")}
    assert text == source.replace(
        "        ('journal', '0005_x'),", "        ('journal', '0001_reset'),"
    )
