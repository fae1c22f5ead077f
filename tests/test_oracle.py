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
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from benchmarks.generate import SETTINGS_PACKAGE, Params, generate
from tests.oracle import Comparison, run_in_project, run_python

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


# ------------------------------------------------------------------ migrate's backward states

TWO_APPS_SETTINGS = """
import environ

env = environ.Env()
SECRET_KEY = "oracle-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["migration_ops", "alpha", "beta"]
DATABASES = {"default": env.db_url("DATABASE_URL")}
"""
# alpha.Ref's foreign key names beta.Target.code, whose type beta.0002 changes; alpha.0001
# needs beta.0001 only. Leaf nodes sort alpha first, so migrate's full plan applies
# alpha.0001 before beta.0002: the state it unapplies beta.0002 from has alpha.Ref, whose
# foreign key is dropped and re-created (PostgreSQL, MySQL) or whose table is rebuilt too
# (SQLite).
TWO_APPS_MIGRATIONS = {
    "beta/migrations/0001_initial.py": """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            "Target",
            [
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("code", models.CharField(max_length=10, unique=True)),
            ],
        ),
    ]
""",
    "beta/migrations/0002_longer_code.py": """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("beta", "0001_initial")]
    operations = [
        migrations.AlterField("target", "code", models.CharField(max_length=20, unique=True)),
    ]
""",
    "alpha/migrations/0001_initial.py": """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("beta", "0001_initial")]
    operations = [
        migrations.CreateModel(
            "Ref",
            [
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "target",
                    models.ForeignKey("beta.target", models.CASCADE, to_field="code"),
                ),
            ],
        ),
    ]
""",
}


def two_apps(root: Path) -> Path:
    for app in ("alpha", "beta"):
        (root / app / "migrations").mkdir(parents=True)
        (root / app / "__init__.py").write_text("")
        (root / app / "migrations" / "__init__.py").write_text("")
    (root / "twoapps").mkdir()
    (root / "twoapps" / "__init__.py").write_text("")
    (root / "twoapps" / "settings.py").write_text(TWO_APPS_SETTINGS)
    for path, source in TWO_APPS_MIGRATIONS.items():
        (root / path).write_text(source)
    return root


def test_backwards_from_migrates_state_with_other_apps_applied_migrations(tmp_path, scratch_url):
    # sqlmigrate --backwards beta 0002 starts from beta.0001 alone, without alpha.Ref.
    project = two_apps(tmp_path / "project")
    result = run_in_project(
        project, "twoapps.settings", scratch_url, {"prepare": [[]], "targets": ["beta", "0001"]}
    )
    assert_matches(result)
    assert result.compared > 1


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


# --------------------------------------------------------------------------- fresh databases


def plan_on(project: Path, settings_module: str, url: str, *args: str) -> tuple[dict, str, int]:
    done = run_python(project, settings_module, url, "django", "plan_upgrade", *args)
    return json.loads(done.stdout), done.stderr, done.returncode


def test_a_fresh_database_of_a_generated_project_passes_fail_on_destructive(tmp_path, scratch_url):
    project = generate(SHAPES[150], tmp_path / "project")
    settings_module = f"{SETTINGS_PACKAGE}.settings"
    plan, err, code = plan_on(
        project.path, settings_module, scratch_url, "--format", "json", "--fail-on", "destructive"
    )
    assert (err, code) == ("", 0)
    assert plan["findings"] == []  # an empty database is not drift
    risks = {r["class"] for m in plan["migrations"] for o in m["operations"] for r in o["risks"]}
    # Its tables are all created by the plan: no running code queries them.
    assert risks & {"destructive", "breaks-running-code", "long-lock"} == set()


def test_a_fresh_database_of_the_test_project(scratch_url):
    plan, err, code = plan_on(
        TESTPROJECT,
        "testproject.settings",
        scratch_url,
        "--format",
        "json",
        "--fail-on",
        "destructive",
    )
    assert plan["findings"] == []
    found = {
        (f"{m['app_label']}.{m['name']}", r["class"])
        for m in plan["migrations"]
        for o in m["operations"]
        for r in o["risks"]
        if r["class"] in ("destructive", "breaks-running-code", "long-lock")
    }
    # risky.0002's RunPython inserts a row (get_or_create) into the tables created so far:
    # what drops or narrows them later destroys data. Nothing else.
    assert found == {
        ("risky.0005_remove_gadget_legacy_flag", "destructive"),
        ("risky.0008_alter_gadget_code", "destructive"),
        ("risky.0009_alter_gadget_unique_together", "destructive"),
        ("risky.0011_delete_obsolete", "destructive"),
    }
    assert code == 1
    assert err.strip().endswith(
        "--fail-on matched destructive (risky.0005_remove_gadget_legacy_flag, "
        "risky.0008_alter_gadget_code, risky.0009_alter_gadget_unique_together, "
        "risky.0011_delete_obsolete)."
    )
