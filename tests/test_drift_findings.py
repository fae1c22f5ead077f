"""Schema-drift findings of ``plan_upgrade`` name the app that owns the table and say what to do."""

from __future__ import annotations

import json

import pytest
from django.db import connection, models

from tests.ddl import (
    added_column,
    added_index,
    dropped_model,
    foreign_key_on_delete,
    removed_field,
)
from tests.utils import run_command

IGNORE = "ignore it (MIGRATION_OPS['IGNORED_TABLES'] or a `plan_upgrade --baseline` file)"


def drift_findings() -> list[dict]:
    out, err, code = run_command("plan_upgrade", format="json")
    assert (err, code) == ("", 0)
    return [f for f in json.loads(out)["findings"] if f["kind"] == "schema-drift"]


def missing_advice(app: str) -> str:
    return (
        f" App '{app}''s migrations built it: restore it in the database, or make the model "
        f"match the database and add a migration (`makemigrations {app}`, then "
        f"`migrate {app} --fake`: the database matches it already), or {IGNORE}."
    )


def extra_advice(app: str) -> str:
    return (
        f" App '{app}''s migrations do not build it: add it to the model and add a migration "
        f"(`makemigrations {app}`, then `migrate {app} --fake`: the database matches it "
        f"already), or drop it from the database, or {IGNORE}."
    )


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
class TestDriftOwner:
    def test_missing_column_names_the_app_and_what_to_do(self):
        from library.models import Author

        with removed_field(connection, Author, "born"):
            [finding] = drift_findings()
        assert finding["app_label"] == "library"
        assert finding["subject"] == "library_author"
        assert finding["message"] == "Column library_author.born is missing." + missing_advice(
            "library"
        )

    def test_extra_index_on_a_custom_db_table_belongs_to_its_app(self):
        from legacy.models import Customer

        index = models.Index(fields=["name"], name="mo_findings_customer_name")
        with added_index(connection, Customer, index):
            [finding] = drift_findings()
        assert (finding["app_label"], finding["subject"], finding["detail"]["difference"]) == (
            "legacy",
            "old_customer_records",
            "extra-index",
        )
        assert finding["message"] == (
            "Index on old_customer_records (name) exists but is not expected."
            + extra_advice("legacy")
        )

    def test_prefix_colliding_label_owns_its_table(self):
        from shop_reports.models import Report

        with added_column(connection, Report, "notes"):
            [finding] = drift_findings()
        assert (finding["app_label"], finding["detail"]["difference"]) == (
            "shop_reports",
            "extra-column",
        )
        assert finding["message"] == (
            "Column shop_reports_report.notes exists but no field expects it."
            + extra_advice("shop_reports")
        )

    def test_missing_table_is_owned_through_the_applied_migrations(self):
        from shop_reports.models import Report

        with dropped_model(connection, Report):
            [finding] = drift_findings()
        assert (finding["app_label"], finding["subject"], finding["detail"]["difference"]) == (
            "shop_reports",
            "shop_reports_report",
            "missing-table",
        )
        assert finding["message"] == "Table shop_reports_report is missing." + missing_advice(
            "shop_reports"
        )

    def test_a_foreign_key_deleting_in_the_database_is_drift(self):
        from library.models import Book

        with foreign_key_on_delete(connection, Book, "author", "CASCADE"):
            [finding] = drift_findings()
        assert (finding["app_label"], finding["subject"], finding["detail"]["difference"]) == (
            "library",
            "library_book",
            "foreign-key-on-delete",
        )
        assert finding["message"] == (
            "Foreign key on library_book (author_id) has ON DELETE CASCADE in the database, "
            "expected NO ACTION." + missing_advice("library")
        )
        assert drift_findings() == []  # made again as Django makes it

    def test_text_output_carries_the_advice(self):
        from library.models import Author

        with removed_field(connection, Author, "born"):
            out, err, code = run_command("plan_upgrade", "--check")
        assert out == (
            "Planned operations on database 'default':\n"
            "  No planned migration operations.\n"
            "Findings:\n"
            "  [schema-drift] Column library_author.born is missing."
            + missing_advice("library")
            + "\n0 migrations planned, 1 finding.\n"
        )
        assert (err, code) == ("0 pending migrations and 1 finding.", 1)
