"""plan_upgrade against a real third-party app: django-taggit's database built by an older
release's migrations (1.5.1, fetched from the package index), then the installed release's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from tests.oracle import compare, record_migrate
from tests.test_plan_upgrade import migrate_plan_output, plan_upgrade_listing
from tests.utils import run_command

OLD_RELEASE = ("django-taggit", "1.5.1")
NEW_MIGRATIONS = [
    "taggit.0004_alter_taggeditem_content_type_alter_taggeditem_tag",
    "taggit.0005_auto_20220424_2025",
    "taggit.0006_rename_taggeditem_content_type_object_id_taggit_tagg_content_8fc721_idx",
]


@pytest.fixture(scope="session")
def old_release_wheel() -> Path:
    """The older release's wheel, downloaded once into a cache kept between runs."""
    name, version = OLD_RELEASE
    cache = Path(
        os.environ.get("MIGRATION_OPS_TEST_CACHE", Path.home() / ".cache" / "migration-ops-tests")
    )
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if not list(cache.glob(pattern)):
        cache.mkdir(parents=True, exist_ok=True)
        download = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"),
                *("--dest", str(cache), f"{name}=={version}"),
            ],
            capture_output=True,
            text=True,
        )
        assert download.returncode == 0, f"could not fetch {name}=={version}:\n{download.stderr}"
    [wheel] = cache.glob(pattern)
    return wheel


@pytest.fixture
def old_release_migrations(
    tmp_path: Path, old_release_wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The older release's ``taggit/migrations`` as an importable package under tmp_path."""
    package = tmp_path / "taggit_1_5_1"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").touch()
    with zipfile.ZipFile(old_release_wheel) as wheel:
        for member in wheel.namelist():
            if member.startswith("taggit/migrations/") and member.endswith(".py"):
                (package / "migrations" / Path(member).name).write_bytes(wheel.read(member))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "taggit_1_5_1.migrations"


@pytest.fixture
def taggit_at_old_release(old_release_migrations: str) -> Iterator[None]:
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "taggit"]):
        with override_settings(MIGRATION_MODULES={"taggit": old_release_migrations}):
            call_command("migrate", "taggit", verbosity=0)
        # The upgrade: the installed (newer) release's migrations replace the old ones.
        yield
        # taggit rewrote its history after 1.5.1 (0002 now adds a *named* index), so the new
        # files cannot unapply what the old ones did: drop the tables instead.
        _, err, code = run_command("safe_remove_app", "taggit", "--noinput", strategy="drop")
        assert (err, code) == ("", 0)


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
@pytest.mark.usefixtures("taggit_at_old_release")
class TestUpgradeOfAThirdPartyApp:
    def test_pending_migrations_equal_migrate_plan(self):
        listing = plan_upgrade_listing()
        assert listing == migrate_plan_output()
        assert [label for label, _ in listing] == NEW_MIGRATIONS

    def test_check_reports_only_the_pending_migrations(self):
        out, err, code = run_command("plan_upgrade", "taggit", "--check", format="json")
        assert (err, code) == ("3 pending migrations and 0 findings.", 1)
        document = json.loads(out)
        assert document["findings"] == []
        assert [f"{m['app_label']}.{m['name']}" for m in document["migrations"]] == NEW_MIGRATIONS

    def test_sql_is_what_migrate_executes(self):
        out, err, code = run_command("plan_upgrade", "taggit", "--sql", format="json")
        assert (err, code) == ("", 0)
        plan = json.loads(out)
        assert [f"{m['app_label']}.{m['name']}" for m in plan["migrations"]] == NEW_MIGRATIONS
        # 0006 renames the index it finds by its columns, on a table 0004 alters first: the
        # virtual catalogue follows the table from its live constraints.
        executed = record_migrate(connection, "taggit")
        result = compare(plan, executed)
        assert (result.mismatched, result.unavailable) == ((), ())
        assert result.compared == sum(len(e.statements) for e in executed) > 0
