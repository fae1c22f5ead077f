"""``reset_migrations`` interrupted at any moment (issue #13, items 2, 3 and 8): a kill at
each file operation and around the recording's commit, or a Ctrl-C at the commit, leaves a
state that the same command completes or rolls back, saying which; never a ghost row or a
double row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import ProgrammingError

from tests.test_reset_migrations import (
    ALIASES,
    JOURNAL_OLD,
    Project,
    all_rows,
    app_rows,
    assert_unchanged,
    migrate_plan,
    reset,
    temporary_project,
)

pytestmark = pytest.mark.django_db(databases=list(ALIASES), transaction=True)

NO_PLAN = "Planned operations:\n  No planned migration operations.\n"


@pytest.fixture
def project(tmp_path: Path, settings) -> Iterator[Project]:
    with temporary_project(tmp_path, settings) as created:
        yield created


def row_count(app: str, name: str) -> int:
    return MigrationRecorder(connections["default"]).migration_qs.filter(app=app, name=name).count()


def leftovers(project: Project) -> list[str]:
    """Journal files and temporary files anywhere in the project or the backup folder."""
    found = []
    for root in (project.root, project.backup):
        if root.exists():
            found += [
                str(p.relative_to(root))
                for p in root.rglob("*")
                if p.name.endswith((".mo-tmp", "reset-manifest.json", ".migration_ops_reset.json"))
            ]
    return sorted(found)


# --------------------------------------------------------------------------- Ctrl-C at commit


def interrupt_recording_commit(monkeypatch, *, after: bool, mask: bool = False) -> None:
    """A Ctrl-C at the commit of the recording transaction: just before the COMMIT reaches
    the server, or just after it did (before Python returns). ``mask``: the cleanup then
    fails as psycopg does ("can't change 'autocommit' now"), hiding the KeyboardInterrupt."""
    connection = connections["default"]
    recorded: list[str] = []
    real_record = MigrationRecorder.record_applied
    real_commit = connection._commit
    real_set_autocommit = connection.set_autocommit

    def record_applied(self: MigrationRecorder, app: str, name: str) -> None:
        recorded.append(name)
        real_record(self, app, name)

    def commit() -> None:
        if not recorded or recorded == ["done"]:
            return real_commit()
        recorded[:] = ["done"]
        if after:
            real_commit()
        raise KeyboardInterrupt

    def set_autocommit(autocommit: bool, **kwargs: Any) -> None:
        if mask and recorded == ["done"]:
            recorded.append("masked")
            raise ProgrammingError("can't change 'autocommit' now")
        return real_set_autocommit(autocommit, **kwargs)

    monkeypatch.setattr(MigrationRecorder, "record_applied", record_applied)
    monkeypatch.setattr(connection, "_commit", commit)
    monkeypatch.setattr(connection, "set_autocommit", set_autocommit)


@pytest.mark.parametrize("mode", ["replace", "clean-slate"])
def test_ctrl_c_after_the_commit_leaves_the_reset_complete(project, monkeypatch, mode):
    interrupt_recording_commit(monkeypatch, after=True)
    out, err, code = reset(project, "journal", mode=mode)
    monkeypatch.undo()
    assert code == 130
    assert err == (
        "Interrupted (Ctrl-C) after the new migrations were recorded: the reset is complete, "
        "files and rows. Nothing is left to do."
    )
    assert project.files("journal") == ["0001_reset.py"]
    assert row_count("journal", "0001_reset") == 1
    assert sorted(p.name for p in (project.backup / "journal").iterdir()) == [
        f"{name}.py" for name in JOURNAL_OLD
    ]
    assert leftovers(project) == []
    assert migrate_plan() == NO_PLAN
    # The same command again: nothing to do, and still one row.
    out, err, code = reset(project, "journal", mode=mode)
    assert (err, code) == ("", 0)
    assert out.endswith("Nothing to do.\n")
    assert row_count("journal", "0001_reset") == 1


@pytest.mark.parametrize("mask", [False, True])
def test_ctrl_c_before_the_commit_leaves_nothing_changed(project, monkeypatch, mask):
    contents, rows = project.contents(), all_rows("default")
    interrupt_recording_commit(monkeypatch, after=False, mask=mask)
    out, err, code = reset(project, "journal", mode="clean-slate")
    assert out.startswith("Reset plan for database 'default' (mode: clean-slate):\n")
    monkeypatch.undo()
    assert code == 130
    assert err == (
        "Interrupted before the new migrations were recorded: the old migration files are "
        "back in place and django_migrations is unchanged. Run the same command again to reset."
    )
    assert_unchanged(project, contents, rows)
    assert leftovers(project) == []
    assert reset(project, "journal", mode="clean-slate")[1:] == ("", 0)
    assert app_rows("default", "journal") == ["0001_reset"]
    assert row_count("journal", "0001_reset") == 1


# --------------------------------------------------------------------------- bad input


def test_backup_dir_that_is_a_file(project: Project):
    contents, rows = project.contents(), all_rows("default")
    project.backup.parent.mkdir(parents=True, exist_ok=True)
    project.backup.write_text("not a folder\n")
    out, err, code = reset(project, "journal")
    assert code == 2
    assert err == (
        "Nothing was changed:\n"
        f"- The backup path {project.backup} is a file, not a folder; pass a folder that does "
        "not exist yet, or an empty one, to --backup-dir."
    )
    assert out == ""
    assert project.contents() == contents
    assert all_rows("default") == rows
    assert project.backup.read_text() == "not a folder\n"
