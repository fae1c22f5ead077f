from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections

from tests.utils import run_command

CLEAN_TEXT = (
    "Planned operations on database 'default':\n"
    "  No planned migration operations.\n"
    "Findings:\n"
    "  No findings.\n"
    "0 migrations planned, 0 findings.\n"
)


def migrate_plan_output(*args: str, database: str = "default") -> list[tuple[str, list[str]]]:
    """What ``migrate --plan`` lists: [(label, [operation descriptions])]."""
    out = StringIO()
    call_command("migrate", *args, plan=True, database=database, stdout=out, no_color=True)
    listed: list[tuple[str, list[str]]] = []
    for line in out.getvalue().splitlines()[1:]:
        if line.startswith("    "):
            listed[-1][1].append(line.strip())
        elif line.strip() and line.strip() != "No planned migration operations.":
            listed.append((line.strip(), []))
    return listed


def plan_upgrade_listing(*args: str, database: str = "default") -> list[tuple[str, list[str]]]:
    out, err, code = run_command("plan_upgrade", *args, database=database, format="json")
    assert (err, code) == ("", 0)
    return [
        (
            f"{m['app_label']}.{m['name']}",
            [op["description"] for op in m["operations"]],
        )
        for m in json.loads(out)["migrations"]
    ]


@pytest.fixture
def restore_migrations() -> Iterator[None]:
    """For tests that migrate backwards: bring every database back to the leaves."""
    yield
    for alias in ("default", "other"):
        call_command("migrate", database=alias, verbosity=0)


@pytest.mark.django_db(databases=["default", "other"])
class TestFreshDatabase:
    def test_nothing_pending_and_no_findings(self):
        assert run_command("plan_upgrade") == (CLEAN_TEXT, "", 0)

    def test_check_passes(self):
        assert run_command("plan_upgrade", "--check") == (CLEAN_TEXT, "", 0)

    def test_other_alias_is_clean_too(self):
        out, err, code = run_command("plan_upgrade", "--check", database="other")
        assert (err, code) == ("", 0)
        assert out == CLEAN_TEXT.replace("'default'", "'other'")

    def test_json_document(self):
        out, err, code = run_command("plan_upgrade", format="json")
        assert (err, code) == ("", 0)
        document = json.loads(out)
        assert document == {
            "schema_version": 1,
            "database": "default",
            "vendor": connection.vendor,
            "targets": document["targets"],
            "pending": False,
            "risk_classes": [],
            "migrations": [],
            "rollback": [],
            "findings": [],
            "baseline": None,
            "rehearsal": None,
        }
        assert {"app_label": "library", "migration": "0002_book_published"} in document["targets"]

    def test_verbosity_0_drops_the_summary(self):
        out, _, _ = run_command("plan_upgrade", verbosity=0)
        assert out == CLEAN_TEXT.replace("0 migrations planned, 0 findings.\n", "")

    def test_verbosity_2_reports_progress(self):
        out, _, _ = run_command("plan_upgrade", verbosity=2)
        assert out.splitlines()[:6] == [
            "Loading migrations...",
            "Reading migration history...",
            "Reading the live schema...",
            "Comparing the live schema with the applied migrations...",
            "Classifying operations...",
            "Planned operations on database 'default':",
        ]


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
@pytest.mark.usefixtures("restore_migrations")
class TestPendingMigrations:
    def test_app_rolled_back_one_migration_lists_what_migrate_plan_lists(self):
        call_command("migrate", "shop", "0001", verbosity=0)

        assert plan_upgrade_listing() == migrate_plan_output()
        assert plan_upgrade_listing() == [
            ("shop.0002_order_customer", ["Add field customer to order"])
        ]
        out, err, code = run_command("plan_upgrade", "--check")
        assert out == (
            "Planned operations on database 'default':\n"
            "  Apply shop.0002_order_customer\n"
            "    Add field customer to order\n"
            "To roll back after the upgrade:\n"
            "  migrate shop 0001_initial (unapplies shop.0002_order_customer)\n"
            "Findings:\n"
            "  No findings.\n"
            "1 migration planned, 0 findings.\n"
        )
        assert (err, code) == ("1 pending migration and 0 findings.", 1)

    def test_rollback_hint_in_json(self):
        call_command("migrate", "shop", "0001", verbosity=0)
        out, _, _ = run_command("plan_upgrade", format="json")
        assert json.loads(out)["rollback"] == [
            {
                "app_label": "shop",
                "target": "0001_initial",
                "command": "migrate shop 0001_initial",
                "possible": True,
                "unapplies": ["shop.0002_order_customer"],
                "irreversible": [],
            }
        ]

    def test_rollback_that_cannot_work_is_flagged(self):
        # legacy's RunPython has no reverse, so only a fake rollback gets the history there.
        call_command("migrate", "legacy", "0001", fake=True, verbosity=0)
        try:
            out, _, _ = run_command("plan_upgrade", format="json")
        finally:
            call_command("migrate", fake=True, verbosity=0)
        assert json.loads(out)["rollback"] == [
            {
                "app_label": "legacy",
                "target": "0001_initial",
                "command": "migrate legacy 0001_initial",
                "possible": False,
                "unapplies": [
                    "shop.0002_order_customer",
                    "legacy.0004_customer_email",
                    "legacy.0002_seed_tags_squashed_0003_club_membership",
                ],
                "irreversible": [
                    "legacy.0002_seed_tags_squashed_0003_club_membership: Raw Python operation"
                ],
            },
            {
                "app_label": "shop",
                "target": "0001_initial",
                "command": "migrate shop 0001_initial",
                "possible": True,
                "unapplies": ["shop.0002_order_customer"],
                "irreversible": [],
            },
        ]

    def test_without_check_pending_migrations_exit_0(self):
        call_command("migrate", "shop", "0001", verbosity=0)
        _, err, code = run_command("plan_upgrade")
        assert (err, code) == ("", 0)

    def test_everything_pending_on_empty_app_history(self):
        call_command("migrate", "shop_reports", "zero", verbosity=0)
        call_command("migrate", "shop", "zero", verbosity=0)
        assert plan_upgrade_listing() == migrate_plan_output()
        assert [label for label, _ in plan_upgrade_listing()] == [
            "shop.0001_initial",
            "shop.0002_order_customer",
            "shop_reports.0001_initial",
        ]

    def test_dot_graph(self):
        call_command("migrate", "shop", "zero", verbosity=0)
        assert run_command("plan_upgrade", format="dot") == (
            'digraph "plan_upgrade default" {\n'
            "  node [shape=box];\n"
            '  "shop.0001_initial" [label="Apply shop.0001_initial\\n4 operations'
            + {"sqlite": "\\n[table-rebuild]", "mysql": "\\n[non-atomic]"}.get(
                connection.vendor, ""
            )
            + '"];\n'
            '  "shop.0002_order_customer" [label="Apply shop.0002_order_customer\\n1 operation"];\n'
            '  "shop_reports.0001_initial" '
            '[label="Apply shop_reports.0001_initial\\n1 operation"];\n'
            '  "shop.0001_initial" -> "shop.0002_order_customer";\n'
            '  "shop.0001_initial" -> "shop_reports.0001_initial";\n'
            "}\n",
            "",
            0,
        )

    def test_mermaid_graph_of_a_backward_plan(self):
        assert run_command("plan_upgrade", "shop", "zero", format="mermaid") == (
            "flowchart TD\n"
            '    m0["Unapply shop_reports.0001_initial<br/>1 operation'
            '<br/>[destructive, cross-app-spill, breaks-running-code]"]\n'
            '    m1["Unapply shop.0002_order_customer<br/>1 operation<br/>[destructive, '
            + ("table-rebuild, " if connection.vendor == "sqlite" else "")
            + 'breaks-running-code]"]\n'
            '    m2["Unapply shop.0001_initial<br/>4 operations<br/>[destructive, '
            + ("non-atomic, " if connection.vendor == "mysql" else "")
            + 'breaks-running-code]"]\n'
            "    m1 --> m2\n"
            "    m0 --> m2\n",
            "",
            0,
        )

    def test_app_target_and_named_target(self):
        call_command("migrate", "shop", "zero", verbosity=0)
        assert plan_upgrade_listing("shop", "0001") == migrate_plan_output("shop", "0001")
        assert plan_upgrade_listing("shop", "0001") == [
            (
                "shop.0001_initial",
                [
                    "Create model Order",
                    "Create model Product",
                    "Create model OrderLine",
                    "Add field products to order",
                ],
            )
        ]
        assert plan_upgrade_listing("shop") == migrate_plan_output("shop")


@pytest.mark.django_db(databases=["default", "other"])
class TestBackwardPlans:
    def test_backward_plan_names_every_dependent_migration(self):
        listing = plan_upgrade_listing("library", "0001")
        # Same migrations as migrate --plan; a migration being unapplied lists its
        # operations in the order they are undone (migrate --plan keeps file order).
        assert listing == [
            (label, list(reversed(operations)))
            for label, operations in migrate_plan_output("library", "0001")
        ]
        assert [label for label, _ in listing][-2:] == [
            "shop.0001_initial",
            "library.0002_book_published",
        ]
        assert listing[-1][1] == [
            "Undo Create constraint library_book_pages_sane on model book",
            "Undo Create index library_book_pub_title on field(s) published, title of model book",
            "Undo Add field published to book",
        ]

    def test_irreversible_operation_and_risks_are_flagged(self):
        # What differs by backend: SQLite rebuilds a table to drop a column; MySQL/MariaDB
        # cannot roll back DDL, so a multi-operation migration may stop half way.
        rebuild = {
            "sqlite": "      [table-rebuild] Rebuilds table shop_order on this database: every "
            "row is copied into a new table.\n"
        }.get(connection.vendor, "")
        non_atomic = {
            "mysql": "    [non-atomic] This database cannot roll back schema changes and "
            "unapplying legacy.0002_seed_tags_squashed_0003_club_membership runs 3 operations: "
            "if one fails, those before it stay applied.\n"
        }.get(connection.vendor, "")
        assert run_command("plan_upgrade", "legacy", "0001") == (
            "Planned operations on database 'default':\n"
            "  Unapply shop.0002_order_customer\n"
            "    [cross-app-spill] Unapplies shop.0002_order_customer of app shop, which was "
            "not targeted (target: legacy), because it depends on a migration being unapplied.\n"
            "    Undo Add field customer to order\n"
            "      [destructive] Drops column shop_order.customer_id (and its data).\n"
            "      [breaks-running-code] Drops column shop_order.customer_id, which the running "
            "release queries.\n"
            f"{rebuild}"
            "  Unapply legacy.0004_customer_email\n"
            "    Undo Add field email to customer\n"
            "      [destructive] Drops column old_customer_records.email (and its data).\n"
            "      [breaks-running-code] Drops column old_customer_records.email, which the "
            "running release queries.\n"
            "  Unapply legacy.0002_seed_tags_squashed_0003_club_membership\n"
            f"{non_atomic}"
            "    Undo Add field members to club\n"
            "    Undo Create model Membership\n"
            "      [destructive] Drops table legacy_membership (and all its rows).\n"
            "      [breaks-running-code] Drops table legacy_membership, which the running "
            "release queries.\n"
            "    Undo Create model Club\n"
            "      [destructive] Drops table legacy_club (and all its rows).\n"
            "      [breaks-running-code] Drops table legacy_club, which the running release "
            "queries.\n"
            "    Raw Python operation (IRREVERSIBLE)\n"
            "      [irreversible] RunPython seed_tags has no reverse_code: unapplying migration "
            "legacy.0002_seed_tags_squashed_0003_club_membership fails before it changes "
            "anything.\n"
            "Findings:\n"
            "  No findings.\n"
            "3 migrations planned, 0 findings.\n",
            "",
            0,
        )


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
class TestDrift:
    def test_dropped_column_is_reported(self):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {quote('library_author')} DROP COLUMN {quote('born')}")
        try:
            out, err, code = run_command("plan_upgrade", "--check", format="json")
        finally:
            from library.models import Author

            with connection.schema_editor() as editor:
                editor.add_field(Author, Author._meta.get_field("born"))
        document = json.loads(out)
        assert document["findings"] == [
            {
                "kind": "schema-drift",
                "message": document["findings"][0]["message"],
                "app_label": "library",
                "subject": "library_author",
                "detail": {
                    "difference": "missing-column",
                    "table": "library_author",
                    "subject": "born",
                    "expected": document["findings"][0]["detail"]["expected"],
                    "actual": None,
                },
            }
        ]
        assert "library_author.born" in document["findings"][0]["message"]
        assert (err, code) == ("0 pending migrations and 1 finding.", 1)

    def test_orphan_table_is_reported(self):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {quote('shop_archive')} (id integer PRIMARY KEY)")
        try:
            out, err, code = run_command("plan_upgrade", "--check")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {quote('shop_archive')}")
        assert out == (
            "Planned operations on database 'default':\n"
            "  No planned migration operations.\n"
            "Findings:\n"
            "  [orphan-table] Table 'shop_archive' belongs to no installed or removed app; "
            "drop it, or add it to MIGRATION_OPS['IGNORED_TABLES'] if another tool owns it.\n"
            "0 migrations planned, 1 finding.\n"
        )
        assert (err, code) == ("0 pending migrations and 1 finding.", 1)

    def test_ignored_table_is_not_reported(self):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {quote('scheduler_jobs')} (id integer PRIMARY KEY)")
        try:
            result = run_command("plan_upgrade", "--check")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {quote('scheduler_jobs')}")
        assert result == (CLEAN_TEXT, "", 0)


@pytest.mark.django_db(databases=["default", "other"])
class TestUsageErrors:
    def test_unknown_app(self):
        assert run_command("plan_upgrade", "nosuchapp") == (
            "",
            "No installed app with label 'nosuchapp'.",
            2,
        )

    def test_unknown_migration(self):
        out, err, code = run_command("plan_upgrade", "library", "0099")
        assert (out, code) == ("", 2)
        assert err.startswith("Cannot find a migration matching '0099' from app 'library'.")

    def test_unknown_database(self):
        out, err, code = run_command("plan_upgrade", database="nosuchdb")
        assert (out, code) == ("", 2)
        assert err == (
            "Unknown database alias 'nosuchdb'; DATABASES defines: default, other. "
            "Pass one of them with --database."
        )

    def test_plan_upgrade_never_writes(self):
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM django_migrations")
            before = cursor.fetchone()[0]
        run_command("plan_upgrade", "library", "zero")
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM django_migrations")
            assert cursor.fetchone()[0] == before


@pytest.mark.django_db(databases=["default", "other"])
def test_broken_graph_is_a_usage_error_not_a_traceback(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "legacy"]
    assert run_command("plan_upgrade") == (
        "",
        "The migration graph is broken: migration shop.0002_order_customer refers to "
        "legacy.0004_customer_email, which does not exist. Reinstall the app that provides "
        "legacy.0004_customer_email, or remove the dependency on it.",
        2,
    )


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_unmanaged_model_table_is_neither_orphan_nor_drift():
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote('unmigrated_note_summary')} "
            f"(id integer PRIMARY KEY, {quote('text')} varchar(10))"
        )
    try:
        result = run_command("plan_upgrade", "--check")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quote('unmigrated_note_summary')}")
    assert result == (CLEAN_TEXT, "", 0)


LIBRARY_0002_OPERATIONS = [
    "Add field published to book",
    "Create index library_book_pub_title on field(s) published, title of model book",
    "Create constraint library_book_pages_sane on model book",
]


def half_applied_findings() -> list[dict]:
    out, err, code = run_command("plan_upgrade", format="json")
    assert (err, code) == ("", 0)
    return json.loads(out)["findings"]


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
@pytest.mark.usefixtures("restore_migrations")
class TestHalfApplied:
    """A migration that failed half way on a backend without transactional DDL."""

    @pytest.fixture
    def library_at_0001(self) -> Iterator[None]:
        from library.models import Book

        call_command("migrate", "library", "0001", verbosity=0)
        yield
        # Undo the raw DDL the test did, so that `migrate` can run the migration again.
        live = connection.introspection.get_constraints(connection.cursor(), "library_book")
        with connection.schema_editor() as editor:
            if "library_book_pub_title" in live:
                editor.remove_index(Book, Book._meta.indexes[0])
            columns = [
                c.name
                for c in connection.introspection.get_table_description(
                    connection.cursor(), "library_book"
                )
            ]
            if "published" in columns:
                editor.remove_field(Book, Book._meta.get_field("published"))

    def add_published_column(self) -> None:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {quote('library_book')} ADD COLUMN {quote('published')} date NULL"
            )

    def test_first_operation_applied(self, library_at_0001):
        self.add_published_column()

        assert half_applied_findings() == [
            {
                "kind": "half-applied",
                "message": (
                    "Migration library.0002_book_published is half-applied: 1 of 3 operations "
                    "already in the database (Add field published to book), still to run: "
                    "Create index library_book_pub_title on field(s) published, title of "
                    "model book; Create constraint library_book_pages_sane on model book. "
                    "Run the remaining operations' SQL by hand (`sqlmigrate library "
                    "0002_book_published` shows it), then `migrate library "
                    "0002_book_published --fake`; or undo the applied ones by hand and run "
                    "`migrate` again."
                ),
                "app_label": "library",
                "subject": "library.0002_book_published",
                "detail": {
                    "applied_operations": LIBRARY_0002_OPERATIONS[:1],
                    "remaining_operations": LIBRARY_0002_OPERATIONS[1:],
                    "tables": ["library_author", "library_book"],
                },
            }
        ]

    def test_two_operations_applied(self, library_at_0001):
        self.add_published_column()
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE INDEX {quote('library_book_pub_title')} ON {quote('library_book')} "
                f"({quote('published')}, {quote('title')})"
            )

        [finding] = half_applied_findings()
        assert (finding["kind"], finding["subject"]) == (
            "half-applied",
            "library.0002_book_published",
        )
        assert finding["detail"]["applied_operations"] == LIBRARY_0002_OPERATIONS[:2]
        assert finding["detail"]["remaining_operations"] == LIBRARY_0002_OPERATIONS[2:]

    def test_unrelated_drift_is_not_mistaken_for_a_half_applied_migration(self, library_at_0001):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {quote('library_book')} ADD COLUMN {quote('notes')} date NULL"
            )
        try:
            findings = half_applied_findings()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {quote('library_book')} DROP COLUMN {quote('notes')}")
        assert [(f["kind"], f["detail"]["difference"]) for f in findings] == [
            ("schema-drift", "extra-column")
        ]

    def test_whole_migration_applied_but_not_recorded(self):
        from django.db.migrations.recorder import MigrationRecorder

        MigrationRecorder(connection).record_unapplied("shop", "0002_order_customer")
        out, err, code = run_command("plan_upgrade", "--check")
        assert out == (
            "Planned operations on database 'default':\n"
            "  Apply shop.0002_order_customer\n"
            "    Add field customer to order\n"
            "To roll back after the upgrade:\n"
            "  migrate shop 0001_initial (unapplies shop.0002_order_customer)\n"
            "Findings:\n"
            "  [half-applied] Migration shop.0002_order_customer is in the database but not "
            "recorded as applied (all 1 operation found); record it with "
            "`migrate shop 0002_order_customer --fake`.\n"
            "1 migration planned, 1 finding.\n"
        )
        assert (err, code) == ("1 pending migration and 1 finding.", 1)
        # What the diagnosis says to do really completes the history.
        call_command("migrate", "shop", "0002_order_customer", fake=True, verbosity=0)
        assert run_command("plan_upgrade", "--check") == (CLEAN_TEXT, "", 0)


def sqlmigrate_output(app_label: str, name: str, *, backwards: bool = False) -> str:
    out = StringIO()
    call_command("sqlmigrate", app_label, name, backwards=backwards, stdout=out, no_color=True)
    return out.getvalue()


@pytest.mark.django_db(databases=["default", "other"])
class TestFailOn:
    def test_matched_classes_fail_with_the_migrations_named(self):
        out, err, code = run_command(
            "plan_upgrade", "legacy", "0001", fail_on="irreversible,destructive,long-lock"
        )
        assert out.startswith("Planned operations on database 'default':\n")
        assert (err, code) == (
            "--fail-on matched irreversible "
            "(legacy.0002_seed_tags_squashed_0003_club_membership), destructive "
            "(shop.0002_order_customer, legacy.0004_customer_email, "
            "legacy.0002_seed_tags_squashed_0003_club_membership).",
            1,
        )

    def test_no_match_exits_0(self):
        assert run_command("plan_upgrade", "--fail-on", "destructive,findings") == (
            CLEAN_TEXT,
            "",
            0,
        )

    def test_unknown_class_is_a_usage_error(self):
        out, err, code = run_command("plan_upgrade", "--fail-on", "destructive,scary")
        assert (out, code) == ("", 2)
        assert err == (
            "Unknown --fail-on class 'scary'; choose from: destructive, irreversible, data, "
            "non-atomic, table-rebuild, long-lock, cross-app-spill, breaks-running-code, "
            "findings, rehearsal."
        )

    def test_json_lists_risks_per_operation(self):
        out, _, _ = run_command("plan_upgrade", "legacy", "0001", format="json")
        document = json.loads(out)
        assert document["risk_classes"][:2] == ["destructive", "irreversible"]
        [*_, squash] = document["migrations"]
        assert squash["operations"][-1] == {
            "description": "Raw Python operation",
            "reversible": False,
            "risks": [
                {
                    "class": "irreversible",
                    "reason": "RunPython seed_tags has no reverse_code: unapplying migration "
                    "legacy.0002_seed_tags_squashed_0003_club_membership fails before it "
                    "changes anything.",
                    "table": None,
                }
            ],
            "sql": None,
            "sql_unavailable": None,
        }


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
@pytest.mark.usefixtures("restore_migrations")
class TestSQL:
    # transaction=True: SQLite's schema editor cannot collect SQL inside a transaction.

    def test_sql_of_a_forward_plan_equals_sqlmigrate(self):
        call_command("migrate", "shop", "zero", verbosity=0)
        out, err, code = run_command("plan_upgrade", "--sql", format="json")
        assert (err, code) == ("", 0)
        migrations = json.loads(out)["migrations"]
        assert [m["name"] for m in migrations] == [
            "0001_initial",
            "0002_order_customer",
            "0001_initial",
        ]
        for m in migrations:
            assert "\n".join(m["sql"]) + "\n" == sqlmigrate_output(m["app_label"], m["name"])
            assert all(op["sql"] is not None for op in m["operations"])

    def test_sql_of_a_backward_plan_equals_sqlmigrate_backwards(self):
        out, _, _ = run_command("plan_upgrade", "shop", "zero", "--sql", format="json")
        for m in json.loads(out)["migrations"]:
            assert "\n".join(m["sql"]) + "\n" == sqlmigrate_output(
                m["app_label"], m["name"], backwards=True
            )

    def test_text_output_shows_the_sql_block(self):
        call_command("migrate", "shop", "0001", verbosity=0)
        out, _, _ = run_command("plan_upgrade", "--sql")
        block = out.split("    SQL:\n", 1)[1].split("To roll back after the upgrade:\n")[0]
        expected = sqlmigrate_output("shop", "0002_order_customer")
        assert block == "".join(
            "      " + line.replace("\n", "\n      ") + "\n"
            for line in expected.rstrip("\n").split("\n")
        )
