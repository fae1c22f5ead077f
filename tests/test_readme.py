"""The README's quick start: the commands it shows are the ones CI runs, and the console session
of the main job is what the command really prints."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.rst").read_text()
CI = (ROOT / ".ci" / "run").read_text()
VENV_PYTHON = "../.venv/bin/python"


def quick_start_sessions() -> list[tuple[str, list[str]]]:
    """``[(command, output lines)]`` of the console blocks of the Quick start section."""
    section = README.split("\nQuick start\n===========\n", 1)[1].split("\nRequirements\n", 1)[0]
    sessions: list[tuple[str, list[str]]] = []
    for line in section.splitlines():
        if line.startswith("    $ "):
            sessions.append((line[len("    $ ") :], []))
        elif line.startswith("    ") and sessions and not line.startswith("    .. "):
            sessions[-1][1].append(line[4:])
        elif sessions and sessions[-1][1] and not line.strip():
            sessions.append(("", []))  # a blank line ends a session's output
    return [(command, output) for command, output in sessions if command]


def main_job() -> tuple[str, list[str]]:
    [job] = [s for s in quick_start_sessions() if "plan_upgrade" in s[0]]
    return job


def test_ci_runs_the_readme_test_command():
    [test_command] = [
        c for c, _ in quick_start_sessions() if c.startswith("python3 -m venv") and "pytest" in c
    ]
    assert test_command == (
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
        ".venv/bin/python -m pytest"
    )
    assert test_command in CI


def test_main_job_is_one_command_from_a_clean_checkout():
    command, output = main_job()
    steps = command.split(" && ")
    assert steps[:3] == [
        "python3 -m venv .venv",
        ".venv/bin/pip install -q -e '.[test]'",
        "cd testproject",
    ]
    assert all(step.startswith(f"{VENV_PYTHON} manage.py ") for step in steps[3:])
    assert steps[-1] == f"{VENV_PYTHON} manage.py plan_upgrade"
    assert output[-1].endswith(" migrations planned, 0 findings.")
    assert output[-1] != "0 migrations planned, 0 findings."


def run_main_job(project: Path) -> str:
    """The main job's manage.py steps, in ``project``, with this interpreter."""
    command, _ = main_job()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "OTHER_DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["PYTHONPATH"] = str(ROOT)  # what `pip install -e .` gives the virtualenv
    result = None
    for step in command.split(" && ")[3:]:
        argv = shlex.split(step)
        assert argv[0] == VENV_PYTHON
        result = subprocess.run(
            [sys.executable, *argv[1:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (result.returncode, result.stderr) == (0, ""), step
    assert result is not None
    return result.stdout


@pytest.mark.parametrize("runs", [1, 2], ids=["fresh", "run-again"])
def test_main_job_prints_the_readme_session(tmp_path, runs):
    """On a clean copy of the scenario project (no database yet), and run a second time."""
    project = tmp_path / "testproject"
    shutil.copytree(
        ROOT / "testproject",
        project,
        ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", "*.sqlite3-journal"),
    )
    for _ in range(runs):
        out = run_main_job(project)
    _, session = main_job()
    assert out.splitlines() == session
    assert "To roll back after the upgrade:" in session
    assert any("[destructive]" in line for line in session)
