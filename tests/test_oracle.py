"""``plan_upgrade --sql`` against the execution oracle: what a real ``migrate`` executed
(recorded with ``connection.execute_wrapper``, see ``tests/oracle.py``), statement for
statement and in order, per migration.

Each case runs in a subprocess on a scratch database of its own (a file in ``tmp_path``
on SQLite, a database named after ``TEST_DB_SUFFIX`` on the servers), so that the plan
can start from an empty database: the test database has migrations that cannot be
unapplied. The subprocess plans first, then migrates for real.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from benchmarks.generate import SETTINGS_PACKAGE, Params, generate
from tests.oracle import Comparison, run_in_project

pytestmark = pytest.mark.django_db(transaction=True)

TESTPROJECT = Path(__file__).resolve().parent.parent / "testproject"
SUFFIX = os.environ.get("TEST_DB_SUFFIX", "")


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on the test database's server."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'oracle.sqlite3'}"
        return
    name = f"test_oracle{SUFFIX}"
    quoted = connection.ops.quote_name(name)
    create = f"CREATE DATABASE {quoted}"
    if connection.vendor == "mysql":
        create += " CHARACTER SET utf8mb4"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
        cursor.execute(create)
    db = connection.settings_dict
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[connection.vendor]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    try:
        yield f"{scheme}://{auth}@{db['HOST'] or 'localhost'}:{db['PORT']}/{name}"
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # the subprocess's sessions are gone
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            else:
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")


def assert_matches(result: Comparison, unavailable: tuple[str, ...] = ()) -> None:
    """Every statement shown is one migrate ran, in its place; nothing is missing but the
    SQL of the operations ``unavailable`` names."""
    assert result.compared > 0
    assert result.unavailable == unavailable
    broken = {label.split(":", 1)[0] for label in unavailable}
    wrong = {label: result.details[label] for label in result.mismatched if label not in broken}
    assert wrong == {}
    assert set(result.mismatched) == broken


def in_test_project(url: str, **request: object) -> Comparison:
    return run_in_project(TESTPROJECT, "testproject.settings", url, request)


# --------------------------------------------------------------------------- test project


def test_test_project_from_an_empty_database(scratch_url):
    assert_matches(in_test_project(scratch_url, targets=[]))


def test_test_project_partly_migrated(scratch_url):
    result = in_test_project(
        scratch_url, prepare=[["risky", "0004"], ["journal", "0003"]], targets=[]
    )
    assert_matches(result)


@pytest.mark.parametrize(
    "target",
    [["library", "zero"], ["risky", "0002"], ["journal", "zero"], ["shop", "zero"]],
    ids=" ".join,
)
def test_test_project_backwards(scratch_url, target):
    assert_matches(in_test_project(scratch_url, prepare=[[]], targets=target))


# --------------------------------------------------------------------------- generated projects


# The servers migrate slower: 450 migrations run on SQLite only (CI time).
SERVER = os.environ.get("DATABASE_URL", "").startswith(("mysql", "postgres"))
SHAPES = {150: Params(apps=8, models=50, migrations=150), 450: Params(migrations=450)}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("size", [150] if SERVER else [150, 450])
def test_generated_project_from_an_empty_database(tmp_path, scratch_url, size, seed):
    params = dataclasses.replace(SHAPES[size], seed=seed)
    project = generate(params, tmp_path / "project")
    result = run_in_project(project.path, f"{SETTINGS_PACKAGE}.settings", scratch_url, {})
    assert_matches(result)
