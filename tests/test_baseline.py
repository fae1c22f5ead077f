"""``plan_upgrade --write-baseline FILE`` / ``--baseline FILE``: known findings acknowledged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from django.db import connection, models
from django.db.migrations.recorder import MigrationRecorder
from jsonschema import Draft202012Validator

from tests.ddl import added_column, added_index, execute
from tests.utils import run_command

SCHEMA = json.loads(
    resources.files("migration_ops").joinpath("schemas/plan_upgrade.schema.json").read_text()
)
TESTPROJECT = Path(__file__).resolve().parent.parent / "testproject"
INDEX = models.Index(fields=["name"], name="mo_findings_author_name")


@pytest.fixture
def orphan_table() -> Iterator[str]:
    quote = connection.ops.quote_name
    execute(connection, f"CREATE TABLE {quote('shop_archive')} (id integer PRIMARY KEY)")
    yield "shop_archive"
    execute(connection, f"DROP TABLE {quote('shop_archive')}")


@pytest.fixture
def extra_index() -> Iterator[None]:
    from library.models import Author

    with added_index(connection, Author, INDEX):
        yield


@pytest.fixture
def stale_rows() -> Iterator[MigrationRecorder]:
    """Migration rows of an app that is not installed: a stale-app finding."""
    recorder = MigrationRecorder(connection)
    recorder.record_applied("gone", "0001_initial")
    yield recorder
    recorder.migration_qs.filter(app="gone").delete()


def entries(path: Path) -> list[dict]:
    document = json.loads(path.read_text())
    assert set(document) == {"schema_version", "generator", "findings"}
    assert document["schema_version"] == 1
    return document["findings"]


DRIFT_ENTRY = {
    "kind": "schema-drift",
    "subject": "library_author",
    "difference": "extra-index name",
}
ORPHAN_ENTRY = {"kind": "orphan-table", "subject": "shop_archive", "difference": ""}
STALE_ENTRY = {"kind": "stale-app", "subject": "gone", "difference": ""}


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
class TestWriteAndUse:
    def test_write_baseline_records_every_finding_sorted(self, tmp_path, orphan_table, extra_index):
        path = tmp_path / "baseline.json"
        out, err, code = run_command("plan_upgrade", "--check", write_baseline=str(path))
        assert (err, code) == ("", 0)
        assert out == (
            "Planned operations on database 'default':\n"
            "  No planned migration operations.\n"
            "Findings:\n"
            "  No new findings.\n"
            f"  Wrote 2 findings to the baseline {path}; --baseline {path} reports only new "
            "ones.\n"
            "0 migrations planned, 0 findings, 2 baselined.\n"
        )
        written = entries(path)
        # Sorted by kind, subject, difference: the file does not depend on the report's order.
        assert [{k: e[k] for k in ("kind", "subject", "difference")} for e in written] == [
            ORPHAN_ENTRY,
            DRIFT_ENTRY,
        ]
        assert written[1]["message"].startswith(
            "Index on library_author (name) exists but is not expected."
        )

    def test_baseline_reports_only_new_findings(self, tmp_path, orphan_table, extra_index):
        from library.models import Book

        path = tmp_path / "baseline.json"
        run_command("plan_upgrade", write_baseline=str(path))
        with added_column(connection, Book, "notes"):
            out, err, code = run_command("plan_upgrade", "--check", baseline=str(path))
        assert out == (
            "Planned operations on database 'default':\n"
            "  No planned migration operations.\n"
            "Findings:\n"
            "  [schema-drift] Column library_book.notes exists but no field expects it. App "
            "'library''s migrations do not build it: add it to the model and add a migration "
            "(`makemigrations library`, then `migrate library --fake`: the database matches it "
            "already), or drop it from the database, or ignore it "
            "(MIGRATION_OPS['IGNORED_TABLES'] or a `plan_upgrade --baseline` file).\n"
            f"  2 known findings are in the baseline {path} and not shown.\n"
            "0 migrations planned, 1 finding, 2 baselined.\n"
        )
        assert (err, code) == ("0 pending migrations and 1 finding.", 1)

    def test_everything_baselined_passes_check(self, tmp_path, orphan_table, extra_index):
        path = tmp_path / "baseline.json"
        run_command("plan_upgrade", write_baseline=str(path))
        out, err, code = run_command("plan_upgrade", "--check", baseline=str(path))
        assert (err, code) == ("", 0)
        assert out.endswith(
            "Findings:\n"
            "  No new findings.\n"
            f"  2 known findings are in the baseline {path} and not shown.\n"
            "0 migrations planned, 0 findings, 2 baselined.\n"
        )
        assert run_command("plan_upgrade", "--fail-on", "findings", baseline=str(path))[2] == 0

    def test_keys_ignore_order_and_counts(self, tmp_path, orphan_table, stale_rows):
        path = tmp_path / "baseline.json"
        run_command("plan_upgrade", write_baseline=str(path))
        assert [e["kind"] for e in entries(path)] == ["orphan-table", "stale-app"]
        # Reverse the file's order and let the stale app's counts and the table's rows change.
        document = json.loads(path.read_text())
        document["findings"].reverse()
        path.write_text(json.dumps(document))
        stale_rows.record_applied("gone", "0002_more")
        execute(connection, f"INSERT INTO {connection.ops.quote_name(orphan_table)} VALUES (1)")
        out, err, code = run_command("plan_upgrade", "--check", baseline=str(path))
        assert (err, code) == ("", 0)
        assert "2 known findings are in the baseline" in out
        # Written again, the keys are the same (only the stale app's message changed).
        again = tmp_path / "again.json"
        run_command("plan_upgrade", write_baseline=str(again))
        assert [{k: e[k] for k in ("kind", "subject", "difference")} for e in entries(again)] == [
            ORPHAN_ENTRY,
            STALE_ENTRY,
        ]

    def test_a_different_difference_on_the_same_table_is_new(self, tmp_path, extra_index):
        from library.models import Author

        path = tmp_path / "baseline.json"
        run_command("plan_upgrade", write_baseline=str(path))
        with added_column(connection, Author, "nickname"):
            out, err, code = run_command("plan_upgrade", format="json", baseline=str(path))
        assert (err, code) == ("", 0)
        findings = json.loads(out)["findings"]
        assert [(f["subject"], f["detail"]["difference"]) for f in findings] == [
            ("library_author", "extra-column")
        ]

    def test_findings_gone_since_the_baseline_are_reported(self, tmp_path, extra_index):
        path = tmp_path / "baseline.json"
        quote = connection.ops.quote_name
        execute(connection, f"CREATE TABLE {quote('shop_archive')} (id integer PRIMARY KEY)")
        try:
            run_command("plan_upgrade", write_baseline=str(path))
        finally:
            execute(connection, f"DROP TABLE {quote('shop_archive')}")
        out, err, code = run_command("plan_upgrade", "--check", baseline=str(path))
        assert (err, code) == ("", 0)
        assert out.endswith(
            "Findings:\n"
            "  No new findings.\n"
            f"  1 known finding is in the baseline {path} and not shown.\n"
            f"  1 finding of the baseline is gone (orphan-table shop_archive); write it again "
            f"with --write-baseline {path}.\n"
            "0 migrations planned, 0 findings, 1 baselined.\n"
        )

    def test_history_findings_have_subjects_for_their_keys(self, tmp_path):
        recorder = MigrationRecorder(connection)
        recorder.record_applied("library", "0099_vanished")
        recorder.record_unapplied("library", "0001_initial")
        path = tmp_path / "baseline.json"
        try:
            run_command("plan_upgrade", write_baseline=str(path))
        finally:
            recorder.record_applied("library", "0001_initial")
            recorder.record_unapplied("library", "0099_vanished")
        assert [(e["kind"], e["subject"]) for e in entries(path)] == [
            ("existing-initial-tables", "library.0001_initial"),
            ("ghost-migration", "library.0099_vanished"),
            ("inconsistent-history", "library.0002_book_published"),
        ]

    def test_json_document(self, tmp_path, orphan_table, extra_index):
        from library.models import Book

        path = tmp_path / "baseline.json"
        run_command("plan_upgrade", write_baseline=str(path))
        execute(connection, f"DROP TABLE {connection.ops.quote_name(orphan_table)}")
        try:
            with added_column(connection, Book, "notes"):
                out, err, code = run_command("plan_upgrade", format="json", baseline=str(path))
        finally:
            execute(
                connection,
                f"CREATE TABLE {connection.ops.quote_name(orphan_table)} (id integer PRIMARY KEY)",
            )
        assert (err, code) == ("", 0)
        document = json.loads(out)
        assert [e.message for e in Draft202012Validator(SCHEMA).iter_errors(document)] == []
        assert [(f["kind"], f["subject"]) for f in document["findings"]] == [
            ("schema-drift", "library_book")
        ]
        assert document["baseline"] == {
            "file": str(path),
            "written": False,
            "baselined": 1,
            "gone": [ORPHAN_ENTRY],
        }

    def test_json_without_baseline_says_null(self):
        out, err, code = run_command("plan_upgrade", format="json")
        assert (err, code) == ("", 0)
        assert json.loads(out)["baseline"] is None

    def test_json_of_write_baseline(self, tmp_path, orphan_table):
        path = tmp_path / "baseline.json"
        out, err, code = run_command("plan_upgrade", format="json", write_baseline=str(path))
        assert (err, code) == ("", 0)
        document = json.loads(out)
        assert [e.message for e in Draft202012Validator(SCHEMA).iter_errors(document)] == []
        assert (document["findings"], document["baseline"]) == (
            [],
            {"file": str(path), "written": True, "baselined": 1, "gone": []},
        )


@pytest.mark.django_db(databases=["default", "other"])
class TestBadBaselineFiles:
    def refused(self, path: Path, **options: str) -> str:
        out, err, code = run_command("plan_upgrade", **options)
        assert (out, code) == ("", 2)
        return err

    def test_missing_file(self, tmp_path):
        path = tmp_path / "nope.json"
        assert self.refused(path, baseline=str(path)) == (
            f"Baseline file '{path}' does not exist; create it with "
            f"`plan_upgrade --write-baseline {path}`."
        )

    def test_invalid_json(self, tmp_path):
        path = tmp_path / "baseline.json"
        path.write_text('{"schema_version": 1, "findings": [')
        assert self.refused(path, baseline=str(path)) == (
            f"Baseline file '{path}' is not valid JSON (Expecting value: line 1 column 36 "
            f"(char 35)); write it again with `plan_upgrade --write-baseline {path}`."
        )

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "baseline.json"
        path.write_bytes(b"\xff\xfe{}")
        assert self.refused(path, baseline=str(path)).startswith(
            f"Baseline file '{path}' is not valid JSON ("
        )

    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            ("[]", "the document is not an object"),
            ('{"findings": []}', "schema_version is missing"),
            ('{"schema_version": 2, "findings": []}', "schema_version is 2, expected 1"),
            ('{"schema_version": 1}', "findings is not a list"),
            ('{"schema_version": 1, "findings": [3]}', "finding 1 is not an object"),
            (
                '{"schema_version": 1, "findings": [{"kind": "orphan-table", "subject": "t"}]}',
                "finding 1 has no string 'difference'",
            ),
        ],
    )
    def test_wrong_structure(self, tmp_path, content, problem):
        path = tmp_path / "baseline.json"
        path.write_text(content)
        assert self.refused(path, baseline=str(path)) == (
            f"Baseline file '{path}' is not a plan_upgrade baseline: {problem}; write it again "
            f"with `plan_upgrade --write-baseline {path}`."
        )

    def test_a_directory(self, tmp_path):
        assert self.refused(tmp_path, baseline=str(tmp_path)).startswith(
            f"Cannot read baseline file '{tmp_path}': "
        )

    def test_write_into_a_missing_directory(self, tmp_path):
        path = tmp_path / "no" / "such" / "baseline.json"
        err = self.refused(path, write_baseline=str(path))
        assert err.startswith(f"Cannot write baseline file '{path}': ")
        assert not path.parent.exists()

    def test_both_options(self, tmp_path):
        path = tmp_path / "baseline.json"
        path.write_text('{"schema_version": 1, "findings": []}')
        assert self.refused(path, baseline=str(path), write_baseline=str(path)) == (
            "--baseline and --write-baseline cannot be combined: --write-baseline records "
            "every current finding, then reports against it."
        )


def test_corrupt_baseline_exits_2_from_manage_py(tmp_path):
    """The real process: a CommandError with status 2, no traceback."""
    path = tmp_path / "baseline.json"
    path.write_text("not json")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTPROJECT.parent), str(TESTPROJECT)]),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "plan_upgrade", "--baseline", str(path)],
        cwd=TESTPROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"CommandError: Baseline file '{path}' is not valid JSON (Expecting value: line 1 "
        f"column 1 (char 0)); write it again with `plan_upgrade --write-baseline {path}`.\n"
    )
