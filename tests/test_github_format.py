"""``plan_upgrade --format github``: GitHub Actions annotations for findings and failing risks."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from migration_ops.rendering.github import escape_data, escape_property, workflow_command
from migration_ops.services.annotations import Annotation
from tests.ddl import execute, removed_field
from tests.utils import run_command

TESTPROJECT = Path(__file__).resolve().parent.parent / "testproject"
SQUASH = "legacy/migrations/0002_seed_tags_squashed_0003_club_membership.py"
SHOP_0002 = "shop/migrations/0002_order_customer.py"


def line_of(relative: str, text: str) -> int:
    """The 1-based line of the first occurrence of ``text`` in a testproject file."""
    lines = (TESTPROJECT / relative).read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


@pytest.fixture(autouse=True)
def workspace(monkeypatch) -> Path:
    """Annotations are relative to the checkout; here the scenario project is it."""
    monkeypatch.setenv("GITHUB_WORKSPACE", str(TESTPROJECT))
    return TESTPROJECT


@pytest.fixture
def restore_migrations() -> Iterator[None]:
    yield
    for alias in ("default", "other"):
        call_command("migrate", database=alias, verbosity=0)


class TestEscaping:
    def test_message_escapes_percent_and_line_breaks_only(self):
        assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"

    def test_property_escapes_colon_and_comma_too(self):
        assert escape_property("a:b,c%d\ne\r") == "a%3Ab%2Cc%25d%0Ae%0D"

    def test_percent_is_escaped_first(self):
        # "%0A" in the text must not turn into a line break once GitHub unescapes it.
        assert escape_data("%0A\n") == "%250A%0A"

    def test_workflow_command(self):
        annotation = Annotation(
            "error", "plan_upgrade: data", "Line one\nline two 100%", "a,b/c:d.py", 12
        )
        assert workflow_command(annotation) == (
            "::error file=a%2Cb/c%3Ad.py,line=12,title=plan_upgrade%3A data"
            "::Line one%0Aline two 100%25"
        )

    def test_no_file_no_line(self):
        annotation = Annotation("warning", "t", "m", None, 3)
        assert workflow_command(annotation) == "::warning title=t::m"


@pytest.mark.django_db(databases=["default", "other"])
class TestRisks:
    def test_one_error_per_matched_risk_at_its_operation(self):
        out, err, code = run_command(
            "plan_upgrade",
            "legacy",
            "0001",
            "--fail-on",
            "irreversible,cross-app-spill",
            format="github",
        )
        assert out == (
            f"::error file={SHOP_0002},line={line_of(SHOP_0002, 'class Migration')},"
            "title=plan_upgrade%3A cross-app-spill::Unapply shop.0002_order_customer: "
            "Unapplies shop.0002_order_customer of app shop, which was not targeted (target: "
            "legacy), because it depends on a migration being unapplied.\n"
            f"::error file={SQUASH},line={line_of(SQUASH, 'migrations.RunPython(')},"
            "title=plan_upgrade%3A irreversible::Unapply "
            "legacy.0002_seed_tags_squashed_0003_club_membership, Raw Python operation: "
            "RunPython seed_tags has no reverse_code: unapplying migration "
            "legacy.0002_seed_tags_squashed_0003_club_membership fails before it changes "
            "anything.\n"
        )
        assert (err, code) == (
            "--fail-on matched irreversible (legacy.0002_seed_tags_squashed_0003_club_membership)"
            ", cross-app-spill (shop.0002_order_customer).",
            1,
        )

    def test_backward_operations_point_at_their_own_lines(self):
        out, err, code = run_command(
            "plan_upgrade", "legacy", "0001", "--fail-on", "destructive", format="github"
        )
        squash = [line for line in out.splitlines() if SQUASH in line]
        assert [line.split("::")[1].split(",")[1] for line in squash] == [
            f"line={line_of(SQUASH, 'CreateModel(') + 7}",  # Membership, undone first
            f"line={line_of(SQUASH, 'CreateModel(')}",  # Club
        ]
        assert "Undo Create model Membership: Drops table legacy_membership" in squash[0]
        assert (err.startswith("--fail-on matched destructive ("), code) == (True, 1)

    def test_unmatched_risks_and_a_clean_database_print_nothing(self):
        assert run_command("plan_upgrade", "--check", "--fail-on", "data", format="github") == (
            "",
            "",
            0,
        )
        out, err, code = run_command("plan_upgrade", "legacy", "0001", format="github")
        assert (out, err, code) == ("", "", 0)


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
class TestFindings:
    def test_finding_without_file_is_a_warning_unless_it_fails_the_run(self):
        table = connection.ops.quote_name("shop_100%_archive")
        # A cursor without parameters: the drivers would read "%_" as a placeholder.
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY)")
        try:
            warned = run_command("plan_upgrade", format="github")
            failed = run_command("plan_upgrade", "--fail-on", "findings", format="github")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {table}")
        message = (
            "Table 'shop_100%25_archive' belongs to no installed or removed app; drop it, or add "
            "it to MIGRATION_OPS['IGNORED_TABLES'] if another tool owns it.\n"
        )
        assert warned == ("::warning title=plan_upgrade%3A orphan-table::" + message, "", 0)
        assert failed == (
            "::error title=plan_upgrade%3A orphan-table::" + message,
            "--fail-on matched findings (1 finding).",
            1,
        )

    def test_drift_points_at_the_model(self):
        from library.models import Author

        with removed_field(connection, Author, "born"):
            out, err, code = run_command("plan_upgrade", "--check", format="github")
        assert out.startswith(
            f"::error file=library/models.py,line={line_of('library/models.py', 'class Author')},"
            "title=plan_upgrade%3A schema-drift::Column library_author.born is missing. App "
            "'library''s migrations built it"
        )
        assert out.count("\n") == 1
        assert (err, code) == ("0 pending migrations and 1 finding.", 1)

    def test_baselined_findings_are_not_annotated(self, tmp_path):
        from library.models import Author

        path = tmp_path / "baseline.json"
        with removed_field(connection, Author, "born"):
            run_command("plan_upgrade", write_baseline=str(path))
            result = run_command("plan_upgrade", "--check", format="github", baseline=str(path))
        assert result == ("", "", 0)

    @pytest.mark.usefixtures("restore_migrations")
    def test_half_applied_points_at_the_first_operation_still_to_run(self):
        from library.models import Book

        call_command("migrate", "library", "0001", verbosity=0)
        quote = connection.ops.quote_name
        execute(
            connection,
            f"ALTER TABLE {quote('library_book')} ADD COLUMN {quote('published')} date NULL",
        )
        try:
            out, err, code = run_command("plan_upgrade", format="github")
        finally:
            with connection.schema_editor() as editor:
                editor.remove_field(Book, Book._meta.get_field("published"))
        migration = "library/migrations/0002_book_published.py"
        assert out.startswith(
            f"::warning file={migration},line={line_of(migration, 'migrations.AddIndex(')},"
            "title=plan_upgrade%3A half-applied::Migration library.0002_book_published is "
            "half-applied: 1 of 3 operations"
        )
        assert (out.count("\n"), err, code) == (1, "", 0)


@pytest.fixture
def odd_migrations_dir(tmp_path, settings) -> Iterator[Path]:
    """shop's migrations, copied into a directory whose name needs escaping."""
    odd = tmp_path / "odd,dir:x"
    package = odd / "mo_findings_shop_migrations"
    shutil.copytree(TESTPROJECT / "shop" / "migrations", package)
    sys.path.insert(0, str(odd))
    settings.MIGRATION_MODULES = {"shop": "mo_findings_shop_migrations"}
    yield odd
    sys.path.remove(str(odd))
    for name in [m for m in sys.modules if m.startswith("mo_findings_shop_migrations")]:
        del sys.modules[name]


@pytest.mark.django_db(databases=["default", "other"])
def test_pending_migrations_with_check_and_escaped_paths(odd_migrations_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    out, err, code = run_command("plan_upgrade", "shop", "0001", "--check", format="github")
    line = line_of(SHOP_0002, "class Migration")
    assert out == (
        "::error file=odd%2Cdir%3Ax/mo_findings_shop_migrations/0002_order_customer.py,"
        f"line={line},title=plan_upgrade%3A pending migration::Unapply "
        "shop.0002_order_customer: pending on database 'default'.\n"
    )
    assert (err, code) == ("1 pending migration and 0 findings.", 1)


@pytest.mark.django_db(databases=["default", "other"])
def test_files_outside_the_workspace_get_no_path(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    out, err, code = run_command(
        "plan_upgrade", "legacy", "0001", "--fail-on", "irreversible", format="github"
    )
    assert out.startswith("::error title=plan_upgrade%3A irreversible::Unapply legacy.0002_")
    assert out.count("\n") == 1
    assert (err, code) == (
        "--fail-on matched irreversible (legacy.0002_seed_tags_squashed_0003_club_membership).",
        1,
    )
