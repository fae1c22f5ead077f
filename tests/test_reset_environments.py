"""A clean-slate reset deployed to another environment before its command ran there
(issue #12, item 9): ``plan_upgrade`` recognises the reset's files from their provenance
(``clean_slate_replaces``) and reports one finding with the command, nothing misleading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.test_plan_upgrade_schema import validated
from tests.test_reset_migrations import (
    ALIASES,
    JOURNAL_OLD,
    Project,
    app_rows,
    migrate_plan,
    reset,
    temporary_project,
)
from tests.utils import run_command

pytestmark = pytest.mark.django_db(databases=list(ALIASES), transaction=True)


@pytest.fixture
def project(tmp_path: Path, settings) -> Iterator[Project]:
    with temporary_project(tmp_path, settings) as created:
        yield created


OLD_LABELS = [f"journal.{name}" for name in JOURNAL_OLD]


def finding(database: str, new: list[str], command: list[str]) -> dict:
    stand = "stands" if len(new) == 1 else "stand"
    return {
        "kind": "pending-reset",
        "message": (
            "The migrations of app 'journal' were reset with `reset_migrations --mode "
            f"clean-slate` ({', '.join(new)} {stand} in for 12 migrations recorded here), and "
            f"database '{database}' still records the old history. Run `{' '.join(command)}` "
            "here before `migrate`: it verifies the schema and records the new migrations in "
            "place of the old rows."
        ),
        "app_label": "journal",
        "subject": "journal",
        "detail": {
            "apps": ["journal"],
            "command": command,
            "new_migrations": new,
            "old_migrations": OLD_LABELS,
        },
    }


@pytest.mark.parametrize("keep", [False, True])
def test_database_with_the_tables_gets_one_finding_with_the_command(project: Project, keep):
    # The reset is made on 'other' (which has no journal tables): 'default' is the
    # environment where the new files arrive with its tables and the old rows.
    reset_args = ("journal", "--mode", "clean-slate")
    assert reset(project, *reset_args, database="other", keep_data_migrations=keep)[1:] == ("", 0)
    new = ["journal.0001_reset", "journal.0002_reset_data"] if keep else ["journal.0001_reset"]
    command = ["python", "manage.py", "reset_migrations", "journal", "--mode", "clean-slate"]
    command.append("--noinput")

    document = validated(database="default")
    assert document["findings"] == [finding("default", new, command)]
    assert document["migrations"] == []
    assert document["rollback"] == []
    out, err, code = run_command("plan_upgrade", "--check", database="default")
    assert (err, code) == ("0 pending migrations and 1 finding.", 1)
    assert out == (
        "Planned operations on database 'default':\n"
        "  No planned migration operations.\n"
        "Findings:\n"
        f"  [pending-reset] {finding('default', new, command)['message']}\n"
        "0 migrations planned, 1 finding.\n"
    )

    # The command it names is the one that works, and then nothing is left.
    assert reset(project, *reset_args, database="default")[1:] == ("", 0)
    assert app_rows("default", "journal") == [name.split(".")[1] for name in new]
    assert run_command("plan_upgrade", "--check", database="default")[1:] == ("", 0)
    assert migrate_plan() == "Planned operations:\n  No planned migration operations.\n"


def test_second_alias_gets_the_command_with_its_database(project: Project):
    assert reset(project, "journal", mode="clean-slate")[1:] == ("", 0)
    assert app_rows("other", "journal") == list(JOURNAL_OLD)
    command = ["python", "manage.py", "reset_migrations", "journal", "--mode", "clean-slate"]
    command += ["--noinput", "--database", "other"]
    document = validated(database="other")
    assert document["findings"] == [finding("other", ["journal.0001_reset"], command)]
    assert document["migrations"] == []
    assert reset(project, "journal", "--mode", "clean-slate", database="other")[1:] == ("", 0)
    assert validated(database="other")["findings"] == []


def test_replace_mode_files_are_not_a_pending_reset(project: Project):
    # Replace mode needs no command: `migrate` records the new migrations.
    assert reset(project, "journal", database="other")[1:] == ("", 0)
    call_command("migrate", database="other", verbosity=0)
    document = json.loads(run_command("plan_upgrade", database="default", format="json")[0])
    assert [f["kind"] for f in document["findings"]] == []
