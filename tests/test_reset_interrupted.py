"""``reset_migrations`` interrupted at any moment (issue #13, items 2, 3 and 8): a kill at
each file operation and around the recording's commit, or a Ctrl-C at the commit, leaves a
state that the same command completes or rolls back, saying which; never a ghost row or a
double row."""

from __future__ import annotations

import builtins
import importlib
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import ProgrammingError

from tests.faults import Pristine, converge
from tests.test_reset_migrations import (
    ALIASES,
    JOURNAL_OLD,
    Project,
    all_rows,
    app_rows,
    assert_unchanged,
    forget,
    migrate_plan,
    reset,
    restore_rows,
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


# --------------------------------------------------------------------------- SIGKILL anywhere


def run_killed(
    args: tuple[str, ...],
    backup: Path,
    kill_at: int | None,
    signum: int = signal.SIGKILL,
    options: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Run ``reset_migrations *args`` in a forked child that sends itself ``signum`` just
    before its ``kill_at``-th write event (file operation or commit); return (events seen,
    the signal that ended it, or minus the exit code: -130 for a handled Ctrl-C)."""
    connections.close_all()  # the child opens its own sessions
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.close(read)
            seen = [0]

            def event() -> None:
                seen[0] += 1
                os.write(write, b".")
                if seen[0] == kill_at:
                    os.kill(os.getpid(), signum)

            def hooked(original: Callable) -> Callable:
                def call(*a: Any, **k: Any) -> Any:
                    if not str(a[0]).endswith(".migration_ops.lock"):
                        event()
                    return original(*a, **k)

                return call

            for name in ("rename", "replace", "unlink", "mkdir", "rmdir"):
                setattr(os, name, hooked(getattr(os, name)))
            real_open = builtins.open

            def open_(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
                if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+"):
                    event()
                return real_open(file, mode, *a, **k)

            builtins.open = open_
            real_commit = BaseDatabaseWrapper.commit

            def commit(self: BaseDatabaseWrapper) -> None:
                event()
                real_commit(self)

            BaseDatabaseWrapper.commit = commit  # type: ignore[method-assign]
            from io import StringIO

            from django.core.management import CommandError

            try:
                call_command(
                    "reset_migrations",
                    *args,
                    interactive=False,
                    backup_dir=str(backup),
                    stdout=StringIO(),
                    stderr=StringIO(),
                    **(options or {}),
                )
                code = 0
            except CommandError as exc:
                code = exc.returncode
            except BaseException:
                code = 99  # what would be a traceback
        finally:
            os._exit(code)
    os.close(write)
    events = 0
    while chunk := os.read(read, 4096):
        events += len(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    return events, os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)


def files_state(project: Project) -> dict[str, str]:
    """Every file of the project and the backup folder, Django's dated header left out."""
    state = {}
    for root, prefix in ((project.root, "project"), (project.backup, "backup")):
        for path in sorted(root.rglob("*")) if root.exists() else ():
            if path.is_file() and "__pycache__" not in path.parts:
                text = path.read_text()
                state[f"{prefix}/{path.relative_to(root)}"] = "\n".join(
                    line for line in text.splitlines() if not line.startswith("# Generated by")
                )
    return state


def fresh_imports(project: Project) -> None:
    forget(project.package)
    importlib.invalidate_caches()


@pytest.mark.parametrize(
    ("mode", "signum"),
    [("replace", signal.SIGKILL), ("clean-slate", signal.SIGKILL), ("clean-slate", signal.SIGINT)],
    ids=["replace-SIGKILL", "clean-slate-SIGKILL", "clean-slate-SIGINT"],
)
def test_killed_at_every_event_the_same_command_finishes_the_reset(project: Project, mode, signum):
    args = ("journal", "--mode", mode)
    pristine = project.root.parent / "pristine"
    shutil.copytree(project.root, pristine, ignore=shutil.ignore_patterns("__pycache__"))
    rows = all_rows("default")

    def start_over() -> None:
        shutil.rmtree(project.root)
        shutil.copytree(pristine, project.root)
        with suppress(FileNotFoundError):
            shutil.rmtree(project.backup)
        restore_rows("default", rows)
        fresh_imports(project)

    total, ended = run_killed(args, project.backup, None)
    assert ended == 0, "the traced run failed"
    expected_files, expected_rows = files_state(project), all_rows("default")
    assert row_count("journal", "0001_reset") == 1
    assert total > 20  # every move, write, marker and the commit

    outcomes: dict[str, int] = {}
    for at in range(1, total + 1):
        start_over()
        _, ended = run_killed(args, project.backup, at, signum)
        if signum == signal.SIGKILL:
            assert ended == signal.SIGKILL, f"event {at}: the child was not killed"
        else:  # a Ctrl-C: stopped with exit 130 and a message, never a traceback
            assert ended == -130, f"event {at}: the child ended with {ended}"
        fresh_imports(project)
        out, err, code = reset(project, *args)
        assert (err, code) == ("", 0), f"event {at}: {out}"
        first = out.splitlines()[0] if out else ""
        outcome = (
            "completed" if "so it was complete" in first
            else "rolled back" if "so it was rolled back" in first
            else "not started"
        )  # fmt: skip
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert files_state(project) == expected_files, f"event {at} ({outcome})"
        assert all_rows("default") == expected_rows, f"event {at} ({outcome})"
        assert row_count("journal", "0001_reset") == 1
        assert leftovers(project) == []
        fresh_imports(project)
        assert migrate_plan() == NO_PLAN
        out, err, code = reset(project, *args)
        assert (err, code, out.splitlines()[-1]) == ("", 0, "Nothing to do."), f"event {at}"
    name = signal.Signals(signum).name
    print(f"reset_migrations --mode {mode}, {name}: {total} points, outcomes {outcomes}")
    # Each side is reached: kills before the journal, during the moves, after the commit (a
    # Ctrl-C undoes the files itself, so its re-runs find no journal to roll back).
    sides = {"not started", "rolled back", "completed"}
    if signum == signal.SIGINT:
        sides = {"not started", "completed"}
    assert set(outcomes) == sides, outcomes
    assert sum(outcomes.values()) == total


def test_dry_run_after_a_kill_says_what_a_run_would_do(project: Project):
    args = ("journal", "--mode", "clean-slate")
    # Killed between the first and the second move of an old file.
    _, ended = run_killed(args, project.backup, 10)
    assert ended == signal.SIGKILL
    assert len(project.files("journal")) == len(JOURNAL_OLD) - 1
    fresh_imports(project)
    state, rows = files_state(project), all_rows("default")
    manifest = project.backup.resolve() / "reset-manifest.json"

    out, err, code = reset(project, *args, dry_run=True)
    assert (out, code) == ("", 2)
    assert err == (
        f"An interrupted reset of journal left its journal {manifest}; its new migrations are "
        "not recorded: a run rolls its file changes back, then plans again. Dry run: nothing "
        "was changed."
    )
    assert (files_state(project), all_rows("default")) == (state, rows)

    out, err, code = reset(project, *args)
    assert (err, code) == ("", 0)
    assert out.splitlines()[0] == (
        f"Found an interrupted reset of journal (journal {manifest}): its new migrations are "
        "not recorded on database 'default', so it was rolled back: 14 file changes undone, "
        "the old migration files are back in place."
    )
    assert project.files("journal") == ["0001_reset.py"]
    assert app_rows("default", "journal") == ["0001_reset"]
    assert leftovers(project) == []


# --------------------------------------------------------------------------- tests/faults.py

# A re-run records its rows at its own time, and with ids that depend on how many inserts
# an interrupted run used up (MySQL and PostgreSQL never hand an id out twice).
RECORDING_DETAILS = {"django_migrations": ("id", "applied")}


def test_ctrl_c_at_every_event_of_a_replace_mode_reset_converges(project: Project):
    """Through tests/faults.py: Ctrl-C at each write event of a replace-mode reset (at every
    database event, and the first and last of each run of file events on the servers), then
    the same command again reaches the uninterrupted run's rows, schema and files."""
    argv = [
        *("reset_migrations", "journal", "--mode", "replace", "--noinput"),
        *("--backup-dir", str(project.backup), "--skip-checks"),
    ]
    pristine = Pristine("default", directories=[project.root, project.backup])
    pristine.save()
    try:
        result = converge(
            "reset_migrations --mode replace",
            argv,
            pristine=pristine,
            done="Nothing to do.",
            signals=("int",),
            files=lambda: files_state(project),
            fresh_migrations=True,
            ignore_columns=RECORDING_DETAILS,
        )
    finally:
        pristine.restore()
        pristine.discard()
    assert result.trials > 0
    assert not result.failures, result.report()
