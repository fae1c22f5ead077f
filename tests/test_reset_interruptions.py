"""``reset_migrations`` interrupted at any write event: a re-run finishes the reset (issue 13).

As ``tests/test_interruptions.py`` does for ``safe_remove_app``: killed (SIGKILL) and
interrupted (SIGINT) at every write event of a traced run (each SQL statement that writes,
each commit, each file move or write), then run again; the files and django_migrations must
end exactly as after an uninterrupted reset, the lock free, and one more run must change
nothing. The migrations are copies in a temporary package, as in test_reset_migrations.py.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import Pristine, converge

pytestmark = pytest.mark.django_db(transaction=True)

TESTPROJECT = Path(__file__).resolve().parent.parent / "testproject"


@pytest.fixture
def project(tmp_path: Path, settings) -> Iterator[Path]:
    """A project root with a package holding copies of the migrations of ``journal`` and
    ``reviews``; yields the root (the backup folder is ``tmp_path / "backup"``)."""
    package = "mo_reset_fault_" + re.sub(r"\W", "_", tmp_path.name)
    root = tmp_path / "project"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").touch()
    for app in ("journal", "reviews"):
        shutil.copytree(
            TESTPROJECT / app / "migrations",
            root / package / app,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    sys.path.insert(0, str(root))
    settings.BASE_DIR = root
    settings.MIGRATION_MODULES = {"journal": f"{package}.journal", "reviews": f"{package}.reviews"}
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]


def files(*directories: Path) -> dict[str, bytes]:
    """Every file under ``directories`` but byte code: what a reset moves and writes."""
    return {
        str(path): path.read_bytes()
        for directory in directories
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("mode", ["replace", "clean-slate"])
def test_reset_migrations_converges(project: Path, tmp_path: Path, mode: str):
    backup = tmp_path / "backup"
    pristine = Pristine("default", directories=[project, backup])
    pristine.save()
    try:
        argv = [
            "reset_migrations",
            "journal",
            "--noinput",
            "--mode",
            mode,
            "--backup-dir",
            str(backup),
            "--skip-checks",
        ]
        result = converge(
            f"reset_migrations --mode {mode}",
            argv,
            pristine=pristine,
            done="Nothing to do.",
            files=lambda: files(project, backup),
            fresh_migrations=True,
        )
    finally:
        pristine.restore()
        pristine.discard()
    assert result.trials > 0
    assert not result.failures, result.report()
