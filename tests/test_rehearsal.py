"""``plan_upgrade --rehearse`` on SQLite, MariaDB and PostgreSQL.

Every test that rehearses takes a fingerprint of both live aliases (snapshot, named
indexes and constraints, a checksum of every table's rows) before and after, and requires
them equal (the ``unchanged`` fixture): the live database is only ever read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import load_backend

from migration_ops.core.rehearsal.compare import compare, picture
from migration_ops.core.rehearsal.scratch import scratch_name
from migration_ops.exceptions import RehearsalRefused
from migration_ops.introspection import get_copier, get_introspector, snapshot
from migration_ops.rendering.github import escape_data
from migration_ops.services.rehearsal import RehearsalOptions
from migration_ops.services.rehearsal import rehearse as rehearse_plan
from tests.rehearsal_app import APP, LOG_TABLE, TABLE, forget_modules, write_app
from tests.restricted import low_privilege_connection
from tests.utils import run_command

pytestmark = pytest.mark.django_db(databases=["default", "other"], transaction=True)

SCHEMA_PATH = (
    Path(__file__).parent.parent / "migration_ops" / "schemas" / "plan_upgrade.schema.json"
)


def fingerprint(alias: str) -> tuple:
    """Everything a rehearsal could change on ``alias``: structure, names and rows."""
    live = connections[alias]
    schema = snapshot(live)
    objects = get_copier(live, live).catalogue_objects(live)
    quote = live.ops.quote_name
    checksums = {}
    with live.cursor() as cursor:
        for table in schema.tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            rows = sorted(repr(tuple(row)) for row in cursor.fetchall())
            checksums[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    # Sizes are estimates (compare=False): the structure and the rows are what count.
    return schema, objects, checksums


def server_databases() -> set[str]:
    """This run's databases on the live server, whose names start with the live one's
    (SQLite: the rehearsal's scratch file, if any). Other sessions share the server."""
    if connection.vendor == "sqlite":
        return {scratch_name(connection)} if Path(scratch_name(connection)).exists() else set()
    sql = {
        "postgresql": "SELECT datname FROM pg_database",
        "mysql": "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = {row[0] for row in cursor.fetchall()}
    return {name for name in names if name.startswith(connection.settings_dict["NAME"])}


@pytest.fixture
def unchanged() -> Iterator[None]:
    before = fingerprints()
    databases = server_databases()
    yield
    assert fingerprints() == before
    assert server_databases() == databases  # no scratch database left behind


class Demo:
    """``demo(*pending, gadgets=[(code, name), ...], logs=[gadget index, ...])``: the app at
    0001 on the live database with those rows, and ``pending`` migrations on disk. The live
    fingerprint is taken once the rows are in, and compared before the app is removed."""

    def __init__(self, root: Path, settings) -> None:
        self.root = root
        self.settings = settings
        self.packages: list[str] = []
        self.before: dict | None = None

    def __call__(self, *pending: str, gadgets=(), logs=()) -> None:
        package = write_app(self.root, list(pending), connection.vendor)
        self.packages.append(package)
        self.settings.INSTALLED_APPS = [*self.settings.INSTALLED_APPS, APP]
        modules = getattr(self.settings, "MIGRATION_MODULES", {})
        self.settings.MIGRATION_MODULES = {**modules, APP: package}
        # The executor, not `migrate`: no post-migrate content types to clean up.
        MigrationExecutor(connection).migrate([(APP, "0001_initial")])
        from rehearsal_demo.models import Gadget, Log

        made = [Gadget.objects.create(code=code, name=name) for code, name in gadgets]
        for index in logs:
            Log.objects.create(gadget=made[index], note=f"log of {made[index].code}")
        self.before = fingerprints()

    def live_changed_on_purpose(self) -> None:
        self.before = None


def fingerprints() -> dict:
    return {alias: fingerprint(alias) for alias in ("default", "other")}


@pytest.fixture
def demo(tmp_path_factory, settings, monkeypatch) -> Iterator[Demo]:
    root = tmp_path_factory.getbasetemp() / "rehearsal_apps"
    root.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(root))
    app = Demo(root, settings)
    yield app
    if app.packages:
        after = fingerprints() if app.before is not None else None
        MigrationExecutor(connection).migrate([(APP, None)])
        for package in app.packages:
            forget_modules(package)
        assert after == app.before, "the rehearsal changed the live database"


def rehearse(*args: str, **options) -> tuple[dict, str, int]:
    out, err, code = run_command("plan_upgrade", "--rehearse", *args, format="json", **options)
    return (json.loads(out) if out else {}), err, code


def passes(document: dict) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Each pass as (name, [(migration, error), ...])."""
    return [
        (p["name"], [(f"{m['app_label']}.{m['name']}", m["error"]) for m in p["migrations"]])
        for p in document["rehearsal"]["passes"]
    ]


def pending_migration(document: dict) -> dict:
    return document["rehearsal"]["passes"][0]["migrations"][0]


DUPLICATES = [("a", "one"), ("a", "two"), ("b", None)]


@pytest.mark.usefixtures("unchanged")
class TestCopy:
    def test_copy_of_the_whole_test_database_equals_it(self):
        document, err, code = rehearse()
        assert (err, code) == ("", 0)
        rehearsal = document["rehearsal"]
        assert rehearsal["copy_differences"] == []
        assert rehearsal["not_copied"] == []
        assert rehearsal["tables_copied"] == len(snapshot(connection).tables)
        assert rehearsal["rows_copied"] == {}  # structure only (django_migrations aside)
        assert passes(document) == [("plan", [])]
        assert rehearsal["failed"] is False

    def test_names_are_compared_where_the_engine_diff_compares_columns(self, demo):
        demo()
        copier = get_copier(connection, connection)
        before = picture(copier, connection)
        quote = connection.ops.quote_name
        # Same columns, another name: invisible to the engine's diff, not to the copy proof.
        introspector = get_introspector(connection)
        on = f" ON {quote(TABLE)}" if connection.vendor == "mysql" else ""
        introspector.execute_statements([f"DROP INDEX {quote('rh_gadget_name')}{on}"])
        introspector.execute_statements(
            [f"CREATE INDEX {quote('rh_gadget_name2')} ON {quote(TABLE)} ({quote('name')})"]
        )
        after = picture(copier, connection)
        assert [(d.kind, d.table, d.subject) for d in compare(after, before)] == [
            ("extra-object", TABLE, "rh_gadget_name2"),
            ("missing-object", TABLE, "rh_gadget_name"),
        ]
        introspector.execute_statements([f"DROP INDEX {quote('rh_gadget_name2')}{on}"])
        introspector.execute_statements(
            [f"CREATE INDEX {quote('rh_gadget_name')} ON {quote(TABLE)} ({quote('name')})"]
        )

    def test_a_view_is_reported_as_not_copied(self):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE VIEW {quote('rehearse_view')} AS SELECT 1 AS one")
        try:
            document, err, code = rehearse()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP VIEW {quote('rehearse_view')}")
        assert (err, code) == ("", 0)
        assert document["rehearsal"]["not_copied"] == ["The view rehearse_view is not copied."]
        assert document["rehearsal"]["copy_differences"] == []

    def test_rows_respect_foreign_keys_and_the_limit(self, demo):
        demo(
            "0002_structure",
            gadgets=[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")],
            logs=[0, 3, 1, 3],
        )
        document, err, code = rehearse("--rows", "2")
        assert (err, code) == ("", 0)
        copied = document["rehearsal"]["rows_copied"]
        # The first two gadgets; the logs among the first two whose gadget was copied.
        assert (copied[TABLE], copied[LOG_TABLE]) == (2, 1)
        assert all(n <= 2 for n in copied.values())

    def test_ignored_tables_are_copied_without_rows_unless_named(self):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {quote('scheduler_job')} (id integer PRIMARY KEY)")
            cursor.execute(f"INSERT INTO {quote('scheduler_job')} VALUES (1), (2)")
        try:
            plain, _, _ = rehearse("--rows", "5")
            named, _, _ = rehearse("--rows", "5", "--rows-from", "scheduler_job")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {quote('scheduler_job')}")
        assert "scheduler_job" not in plain["rehearsal"]["rows_copied"]
        assert named["rehearsal"]["rows_copied"]["scheduler_job"] == 2
        assert plain["rehearsal"]["tables_copied"] == len(snapshot(connection).tables) + 1
        assert plain["rehearsal"]["copy_differences"] == []


@pytest.mark.usefixtures("unchanged")
class TestRun:
    def test_runpython_writing_through_model_objects_hits_the_scratch_database(self, demo):
        demo("0002_write_logs", gadgets=[("a", "one")])
        document, err, code = rehearse()
        assert (err, code) == ("", 0)
        assert passes(document) == [("plan", [("rehearsal_demo.0002_write_logs", None)])]
        statements = pending_migration(document)["operations"][0]["statements"]
        inserts = [s for s in statements if s.startswith("INSERT INTO")]
        quote = connection.ops.quote_name
        assert [s.split(" (")[0] for s in inserts] == [
            f"INSERT INTO {quote(TABLE)}",
            f"INSERT INTO {quote(LOG_TABLE)}",
            f"INSERT INTO {quote(TABLE)}",  # through .using("other"): the scratch too
        ]

    def test_a_live_connection_held_from_before_is_refused(self, demo):
        demo("0002_cached_connection", gadgets=DUPLICATES)
        document, err, code = rehearse()
        assert (err, code) == ("", 0)
        migration = pending_migration(document)
        assert migration["failed_operation"] == "Raw Python operation"
        assert migration["error"] == (
            "LiveDatabaseReached: The rehearsal reached the live database 'default' through a "
            "connection held from before it started; refused: INSERT INTO rehearsal_demo_gadget "
            "(code, name) VALUES ('x', 'y')"
        )

    def test_recorded_statements_are_what_a_real_migrate_executes(self, demo):
        demo("0002_structure", gadgets=DUPLICATES)
        document, err, code = rehearse()
        assert (err, code) == ("", 0)
        ours = [
            s for s in pending_migration(document)["statements"] if "django_migrations" not in s
        ]
        recorded: list[str] = []

        def record(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            text = sql
            if params and not many:
                text = str(connection.ops.last_executed_query(context["cursor"], sql, params))
            recorded.append(text)
            return result

        demo.live_changed_on_purpose()  # the oracle: a real migrate of the live database
        with connection.execute_wrapper(record):
            call_command("migrate", APP, "0002_structure", verbosity=0)
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.filter(app_label=APP).delete()
        real = [s for s in recorded if "django_migrations" not in s]
        assert ours
        starts = [i for i in range(len(real)) if real[i : i + len(ours)] == ours]
        assert starts, (ours, real)

    def test_every_operation_is_timed(self, demo):
        demo("0002_structure")
        document, _, _ = rehearse()
        operations = pending_migration(document)["operations"]
        assert [(op["description"], op["table"], op["error"]) for op in operations] == [
            ("Add field flag to gadget", TABLE, None),
            ("Alter field name on gadget", TABLE, None),
            ("Create index rh_code_flag on field(s) code, flag of model gadget", TABLE, None),
        ]
        assert all(op["seconds"] >= 0 and op["statements"] for op in operations)

    def test_durations_projected_to_the_live_sizes(self, demo):
        demo("0002_structure", gadgets=[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")])
        get_introspector(connection).refresh_estimates([TABLE])  # catalogue row estimates
        demo.before = fingerprints()
        document, err, code = rehearse("--rows", "2")
        assert (err, code) == ("", 0)
        planned = {
            op["description"]: [r["class"] for r in op["risks"]]
            for op in document["migrations"][0]["operations"]
        }
        projections = document["rehearsal"]["projections"]
        assert [
            (p["operation"], p["table"], p["rows_copied"], p["live_rows"], p["risk_classes"])
            for p in projections
        ] == [(description, TABLE, 2, 4, risks) for description, risks in planned.items()]
        measured = {
            op["description"]: op["seconds"] for op in pending_migration(document)["operations"]
        }
        for p in projections:
            assert p["seconds"] == measured[p["operation"]]
            assert p["projected_seconds"] == pytest.approx(p["seconds"] * 2)
            assert p["basis"] == (
                f"{p['seconds']:.3f} s measured on 2 rows of {TABLE}, scaled linearly to its ~4 "
                "live rows (catalogue estimate)"
            )

    def test_unique_over_duplicates_fails_only_with_rows(self, demo):
        demo("0002_unique_code", gadgets=DUPLICATES)
        without, err, code = rehearse()
        assert (err, code) == ("", 0)
        assert without["rehearsal"]["failed"] is False
        document, err, code = rehearse("--rows", "10")
        assert (err, code) == ("", 0)
        migration = pending_migration(document)
        assert (migration["failed_operation"], migration["left_applied"]) == (
            "Alter field code on gadget",
            [],
        )
        assert migration["error"].startswith("IntegrityError: ")
        assert document["rehearsal"]["failed"] is True

    def test_not_null_over_null_rows_fails(self, demo):
        demo("0002_name_required", gadgets=DUPLICATES)
        document, err, code = rehearse("--rows", "10")
        assert (err, code) == ("", 0)
        migration = pending_migration(document)
        assert migration["failed_operation"] == "Alter field name on gadget"
        error_class = {"mysql": "DataError"}.get(connection.vendor, "IntegrityError")
        assert migration["error"].split(":")[0] == error_class

    def test_half_way_failure(self, demo):
        demo("0002_flag_then_unique", gadgets=DUPLICATES)
        document, err, code = rehearse("--rows", "10")
        assert (err, code) == ("", 0)
        migration = pending_migration(document)
        assert migration["failed_operation"] == "Alter field code on gadget"
        half = document["rehearsal"]["half_applied"]
        if connection.vendor == "mysql":  # DDL is not transactional: the AddField stays
            assert migration["left_applied"] == ["Add field flag to gadget"]
            assert [
                (h["migration"], h["applied_operations"], h["remaining_operations"]) for h in half
            ] == [
                (
                    "rehearsal_demo.0002_flag_then_unique",
                    ["Add field flag to gadget"],
                    ["Alter field code on gadget"],
                )
            ]
        else:
            assert (migration["left_applied"], half) == ([], [])

    def test_check_and_fail_on_rehearsal(self, demo):
        demo("0002_unique_code", gadgets=DUPLICATES)
        out, err, code = run_command("plan_upgrade", "--rehearse", "--rows", "10", "--check")
        assert code == 1
        assert err == "1 pending migration and 0 findings; the rehearsal failed."
        assert "Apply rehearsal_demo.0002_unique_code... FAILED" in out
        out, err, code = run_command(
            "plan_upgrade", "--rehearse", "--rows", "10", "--fail-on", "rehearsal"
        )
        assert (err, code) == (
            "--fail-on matched rehearsal (rehearsal_demo.0002_unique_code failed in the "
            "'plan' run).",
            1,
        )

    def test_interrupted_rehearsal_drops_the_scratch_database(self, demo):
        demo("0002_interrupted", gadgets=DUPLICATES)
        assert run_command("plan_upgrade", "--rehearse") == (
            "",
            "Rehearsal interrupted; the scratch database was removed and the database "
            "'default' was not changed.",
            130,
        )


@pytest.mark.usefixtures("unchanged")
class TestRoundTrip:
    def test_clean_round_trip(self, demo):
        demo("0002_structure", gadgets=DUPLICATES)
        document, err, code = rehearse("--round-trip", "--rows", "10")
        assert (err, code) == ("", 0)
        label = "rehearsal_demo.0002_structure"
        assert passes(document) == [
            ("plan", [(label, None)]),
            ("reverse", [(label, None)]),
            ("plan again", [(label, None)]),
        ]
        assert document["rehearsal"]["round_trip_differences"] == []
        assert document["rehearsal"]["failed"] is False

    def test_reverse_that_loses_an_index(self, demo):
        demo("0002_drop_name_index")
        document, err, code = rehearse("--round-trip")
        assert (err, code) == ("", 0)
        found = [
            (d["after"], d["kind"], d["table"], d["subject"])
            for d in document["rehearsal"]["round_trip_differences"]
        ]
        assert found == [
            ("reverse", "missing-index", TABLE, "name"),
            ("reverse", "missing-object", TABLE, "rh_gadget_name"),
        ]
        assert document["rehearsal"]["failed"] is True

    def test_runpython_without_reverse(self, demo):
        demo("0002_no_reverse", gadgets=DUPLICATES)
        document, err, code = rehearse("--round-trip")
        assert (err, code) == ("", 0)
        label = "rehearsal_demo.0002_no_reverse"
        reverse = document["rehearsal"]["passes"][1]["migrations"][0]
        assert (reverse["app_label"], reverse["backwards"], reverse["failed_operation"]) == (
            APP,
            True,
            "Raw Python operation",
        )
        assert reverse["error"].startswith("IrreversibleError: Operation <RunPython")
        assert reverse["error"].endswith(f"in {label} is not reversible")
        assert [p["name"] for p in document["rehearsal"]["passes"]] == ["plan", "reverse"]

    def test_text_output(self, demo):
        demo("0002_drop_name_index")
        out, err, code = run_command("plan_upgrade", "--rehearse", "--round-trip")
        assert (err, code) == ("", 0)
        lines = out.splitlines()
        start = lines.index(next(line for line in lines if line.startswith("Rehearsal on")))
        assert lines[start + 2 :][:1] == [
            "  The copy's structure equals the live one (tables, columns, keys, indexes, "
            "constraints and their names)."
        ]
        assert "  The round trip does not restore the structure:" in lines
        assert (
            f"    After reverse, compared with the start: Index on {TABLE} (name) is missing."
        ) in lines
        assert lines[-2:] == ["Rehearsal FAILED.", "1 migration planned, 0 findings."]


def line_in(demo: Demo, name: str, text: str) -> tuple[str, int]:
    """The demo's migration ``name`` relative to the demo root, and the line of ``text``."""
    relative = f"{demo.packages[-1]}/{name}.py"
    lines = (demo.root / relative).read_text().splitlines()
    return relative, next(n for n, line in enumerate(lines, start=1) if text in line)


@pytest.mark.usefixtures("unchanged")
class TestGithubFormat:
    """``--format github``: one annotation per failed run (at the failing operation) and per
    round-trip difference; an error where --check or --fail-on rehearsal fail the run."""

    @pytest.fixture(autouse=True)
    def workspace(self, tmp_path_factory, monkeypatch) -> None:
        # The demo's root (not the fixture itself: it must be set up after ``unchanged``).
        root = tmp_path_factory.getbasetemp() / "rehearsal_apps"
        monkeypatch.setenv("GITHUB_WORKSPACE", str(root))

    def test_failed_migration_at_its_operation(self, demo):
        demo("0002_unique_code", gadgets=DUPLICATES)
        error = pending_migration(rehearse("--rows", "10")[0])["error"]
        path, line = line_in(demo, "0002_unique_code", "migrations.AlterField(")
        annotation = (
            f"file={path},line={line},title=plan_upgrade%3A rehearsal::The rehearsal's run "
            f"failed: Apply {APP}.0002_unique_code, Alter field code on gadget: "
            f"{escape_data(error)}\n"
        )
        args = ("plan_upgrade", "--rehearse", "--rows", "10")
        assert run_command(*args, format="github") == ("::warning " + annotation, "", 0)
        assert run_command(*args, "--fail-on", "rehearsal", format="github") == (
            "::error " + annotation,
            f"--fail-on matched rehearsal ({APP}.0002_unique_code failed in the 'plan' run).",
            1,
        )

    def test_half_way_failure_says_what_stays_applied(self, demo):
        demo("0002_flag_then_unique", gadgets=DUPLICATES)
        error = pending_migration(rehearse("--rows", "10")[0])["error"]
        path, line = line_in(demo, "0002_flag_then_unique", "migrations.AlterField(")
        left = (
            " Left applied (DDL is not transactional here): Add field flag to gadget."
            if connection.vendor == "mysql"
            else ""
        )
        out, err, code = run_command("plan_upgrade", "--rehearse", "--rows", "10", format="github")
        assert (out, err, code) == (
            f"::warning file={path},line={line},title=plan_upgrade%3A rehearsal::The "
            f"rehearsal's run failed: Apply {APP}.0002_flag_then_unique, Alter field code on "
            f"gadget: {escape_data(error)}{left}\n",
            "",
            0,
        )

    def test_irreversible_reverse_at_the_migration(self, demo):
        demo("0002_no_reverse", gadgets=DUPLICATES)
        error = rehearse("--round-trip")[0]["rehearsal"]["passes"][1]["migrations"][0]["error"]
        path, line = line_in(demo, "0002_no_reverse", "class Migration")
        out, err, code = run_command(
            "plan_upgrade", "--rehearse", "--round-trip", "--check", format="github"
        )
        assert out.splitlines() == [
            f"::error file={path},line={line},title=plan_upgrade%3A pending migration::Apply "
            f"{APP}.0002_no_reverse: pending on database 'default'.",
            f"::error file={path},line={line},title=plan_upgrade%3A rehearsal::The rehearsal's "
            f"run in reverse failed: Unapply {APP}.0002_no_reverse, Raw Python operation: "
            f"{escape_data(error)}",
        ]
        assert (err, code) == ("1 pending migration and 0 findings; the rehearsal failed.", 1)

    def test_round_trip_differences(self, demo):
        demo("0002_drop_name_index")
        differences = rehearse("--round-trip")[0]["rehearsal"]["round_trip_differences"]
        # The second names the index with its definition, which each backend spells its way.
        assert [d["message"] for d in differences][:1] == [f"Index on {TABLE} (name) is missing."]
        assert run_command("plan_upgrade", "--rehearse", "--round-trip", format="github") == (
            "".join(
                "::warning title=plan_upgrade%3A rehearsal::The rehearsal's round trip, after "
                f"reverse compared with the start: {escape_data(d['message'])}\n"
                for d in differences
            ),
            "",
            0,
        )
        assert len(differences) == 2

    def test_a_passed_rehearsal_gives_none(self, demo):
        demo("0002_structure", gadgets=DUPLICATES)
        assert run_command(
            "plan_upgrade", "--rehearse", "--round-trip", "--rows", "10", format="github"
        ) == ("", "", 0)


@pytest.mark.usefixtures("unchanged")
class TestScratchDatabase:
    def test_kept_scratch_then_removed_by_the_next_run(self, demo):
        demo("0002_structure")
        document, err, code = rehearse("--keep-scratch")
        assert (err, code) == ("", 0)
        name = document["rehearsal"]["scratch_database"]
        assert name == scratch_name(connection)
        assert document["rehearsal"]["kept"] is True
        assert name in document["rehearsal"]["connect_command"]
        assert name in server_databases()
        again, err, code = rehearse()
        assert (err, code) == ("", 0)
        assert again["rehearsal"]["leftover_removed"] is True
        assert name not in server_databases()

    def test_given_alias_is_used_and_emptied(self, demo, tmp_path):
        demo("0002_structure", gadgets=DUPLICATES)
        with given_database(tmp_path) as (alias, tables):
            document, err, code = rehearse("--scratch-database", alias, "--round-trip")
            assert (err, code) == ("", 0)
            assert (document["rehearsal"]["scratch_alias"], document["rehearsal"]["failed"]) == (
                alias,
                False,
            )
            assert document["rehearsal"]["copy_differences"] == []
            assert tables() == []

    def test_given_alias_must_be_empty(self):
        document, err, code = rehearse("--scratch-database", "other")
        assert (document, code) == ({}, 2)
        assert err.startswith("The scratch database 'other' is not empty (")

    def test_given_alias_must_not_be_the_live_one(self):
        assert rehearse("--scratch-database", "default")[1:] == (
            "The scratch database 'default' is the database being planned for; pass the alias "
            "of another, empty database.",
            2,
        )

    def test_unknown_alias(self):
        assert rehearse("--scratch-database", "nope")[1:] == (
            "Unknown scratch database alias 'nope'; DATABASES defines: default, other. Add an "
            "empty database to DATABASES and pass its alias with --scratch-database.",
            2,
        )

    def test_a_planning_error_drops_the_scratch_database(self):
        # The scratch copy is prepared while the plan is worked out: an error in the plan
        # must still remove it (the ``unchanged`` fixture checks that none is left).
        assert run_command("plan_upgrade", "no_such_app", "--rehearse") == (
            "",
            "No installed app with label 'no_such_app'.",
            2,
        )

    def test_refused_before_anything_is_created(self, settings):
        if connection.vendor == "sqlite":
            missing = "/nonexistent_rehearse_dir/scratch.sqlite3"
            settings.MIGRATION_OPS = {**settings.MIGRATION_OPS, "REHEARSAL_DATABASE_NAME": missing}
            assert rehearse()[1:] == (
                f"The scratch database {missing!r} cannot be created: its directory is missing "
                "or not writable. Set MIGRATION_OPS['REHEARSAL_DATABASE_NAME'] to a file in a "
                "writable directory, or pass an empty database's alias with "
                "--scratch-database.",
                2,
            )
            return
        # The service, on a connection of a user that may only read the live database (the
        # command path is the same: plan_upgrade --rehearse calls it with its connection).
        with low_privilege_connection() as lowpriv, pytest.raises(RehearsalRefused) as refused:
            rehearse_plan(lowpriv, (), snapshot(lowpriv), RehearsalOptions())
        name = scratch_name(connection)
        lacks = {
            "postgresql": "role 'rehearse_lowpriv' has no CREATEDB attribute (ALTER ROLE "
            "rehearse_lowpriv CREATEDB gives it)",
            "mysql": f"user rehearse_lowpriv@% lacks CREATE and DROP on {name!r} (GRANT CREATE, "
            f"DROP ON `{name}`.* TO 'rehearse_lowpriv'@'%' gives it)",
        }[connection.vendor]
        assert str(refused.value) == (
            f"The rehearsal needs a scratch database {name!r} on the server of database "
            f"'lowpriv', but its user cannot create one: {lacks}. Grant the privilege, or "
            "create an empty database yourself, add it to DATABASES and pass its alias with "
            "--scratch-database."
        )


@contextmanager
def given_database(tmp_path: Path) -> Iterator[tuple[str, Callable[[], list[str]]]]:
    """An alias ``rehearse_given`` of DATABASES on an empty database of the live server; and
    a function listing its tables."""
    quote = connection.ops.quote_name
    settings_dict = dict(connections.settings["default"])
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = str(tmp_path / "given.sqlite3")
    else:
        settings_dict["NAME"] = f"{connection.settings_dict['NAME']}_given"
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {quote(settings_dict['NAME'])}")
    connections.settings["rehearse_given"] = settings_dict
    # Read through a connection of its own (pytest-django refuses the alias itself).
    reader = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "given_reader")

    def tables() -> list[str]:
        return sorted(snapshot(reader).tables)

    try:
        yield "rehearse_given", tables
    finally:
        reader.close()
        del connections.settings["rehearse_given"]
        if connection.vendor != "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE {quote(settings_dict['NAME'])}")


def test_rehearsal_options_need_rehearse():
    assert run_command("plan_upgrade", "--rows", "5", "--round-trip") == (
        "",
        "--rows, --round-trip only make(s) sense with --rehearse.",
        2,
    )
    assert run_command("plan_upgrade", "--fail-on", "rehearsal") == (
        "",
        "--fail-on rehearsal needs --rehearse.",
        2,
    )


@pytest.mark.usefixtures("unchanged")
def test_json_output_matches_the_schema(demo):
    demo("0002_flag_then_unique", gadgets=DUPLICATES)
    schema = json.loads(SCHEMA_PATH.read_text())
    for args in (("--rows", "10"), ("--round-trip",)):
        document, err, code = rehearse(*args)
        assert (err, code) == ("", 0)
        jsonschema.validate(document, schema)
