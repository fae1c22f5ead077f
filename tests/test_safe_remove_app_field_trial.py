"""``safe_remove_app`` on what a field trial on real projects broke (issue 12): several labels
in processes with different hash seeds, multi-table inheritance into another app, references
left in settings and code, refusals that suggest the whole set, quiet plans, and apps whose
label is not their module path.

Apps that only these tests need are generated into ``tmp_path`` (module-scoped), put on
``sys.path`` and installed with ``override_settings``: the scenario project stays as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import pytest
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from migration_ops.exceptions import MigrationOpsError
from migration_ops.management.commands import safe_remove_app as command
from migration_ops.services.removal import RemovalInterrupted, build_removal_plan
from tests.test_safe_remove_app import (  # noqa: F401 (fixtures)
    assert_removed,
    database_state,
    remove,
    restore_database,
    scenario_data,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
REVIEWS_TABLES = {"reviews_review"}
SHOP_REPORTS_TABLES = {"shop_reports_report"}


def database_url(alias: str) -> str:
    """A ``DATABASE_URL`` for the test database of ``alias``, for a subprocess."""
    db = connections[alias].settings_dict
    vendor = connections[alias].vendor
    if vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[vendor]
    user = url_quote(db["USER"] or "")
    password = f":{url_quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"{scheme}://{user}{password}@{host}{port}/{db['NAME']}"


def manage(*args: str, hash_seed: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=database_url("default"),
        OTHER_DATABASE_URL=database_url("other"),
        PYTHONHASHSEED=str(hash_seed),
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "testproject")]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "testproject" / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


# --------------------------------------------------------------------------- item 3: order


# The set {"reviews", "shop_reports"} iterates in either order depending on the hash seed:
# HASH_SEEDS give both orders (the first test checks it).
HASH_SEEDS = (0, 1, 2, 3)
UNAPPLY_IN_ORDER = (
    "  1. Unapply migration reviews.0001_initial\n"
    "  2. Unapply migration shop_reports.0001_initial\n"
)


def test_the_hash_seeds_give_both_orders_of_a_set_of_the_labels():
    orders = {
        subprocess.run(
            [sys.executable, "-c", "print(list({'reviews', 'shop_reports'}))"],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in HASH_SEEDS
    }
    assert orders == {"['reviews', 'shop_reports']\n", "['shop_reports', 'reviews']\n"}


@pytest.mark.parametrize("hash_seed", HASH_SEEDS)
@pytest.mark.parametrize("labels", [("shop_reports", "reviews"), ("reviews", "shop_reports")])
@pytest.mark.usefixtures("scenario_data")
def test_several_labels_plan_and_run_in_the_same_order_whatever_the_hash_seed(labels, hash_seed):
    before = database_state()

    done = manage(
        "safe_remove_app", *labels, "--strategy", "migrate", "--noinput", hash_seed=hash_seed
    )

    assert (done.stderr, done.returncode) == ("", 0)
    assert UNAPPLY_IN_ORDER in done.stdout
    assert (
        "Removing:\n"
        "  Unapplied migration reviews.0001_initial.\n"
        "  Unapplied migration shop_reports.0001_initial.\n"
    ) in done.stdout
    assert_removed(before, set(labels), REVIEWS_TABLES | SHOP_REPORTS_TABLES)


@pytest.mark.usefixtures("scenario_data")
def test_a_stop_before_any_change_exits_2(monkeypatch):
    """Another deploy unapplies a migration between the plan and its execution: the
    removal stops before changing anything, with exit code 2."""
    connection = connections["default"]
    real = command.build_removal_plan

    def plan_then_someone_migrates(*args: Any, **kwargs: Any) -> Any:
        plan = real(*args, **kwargs)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE " + connection.ops.quote_name("reviews_review"))
        MigrationRecorder(connection).record_unapplied("reviews", "0001_initial")
        return plan

    monkeypatch.setattr(command, "build_removal_plan", plan_then_someone_migrates)
    before = database_state()

    out, err, code = remove("shop_reports", "reviews", strategy="migrate")

    assert code == 2
    assert err == (
        "The removal of 'shop_reports' and 'reviews' stopped before any change: the "
        "migrations to unapply changed since the plan was made. Nothing was changed; run the "
        "command again for a new plan."
    )
    assert out.endswith("Removing:\n")
    after = database_state()
    assert set(after.schema.tables) == set(before.schema.tables) - REVIEWS_TABLES
    assert {t: r for t, r in after.rows.items() if t != "django_migrations"} == {
        t: r for t, r in before.rows.items() if t not in {"django_migrations", "reviews_review"}
    }


@pytest.mark.usefixtures("scenario_data")
def test_an_interruption_message_ends_its_reason_with_one_full_stop():
    plan = build_removal_plan(["shop_reports", "reviews"], strategy="migrate")

    error = RemovalInterrupted(plan, (), MigrationOpsError("The server has gone away."))

    assert str(error).startswith(
        "The removal stopped after 0 steps of 5, at 'Unapply migration reviews.0001_initial': "
        "MigrationOpsError: The server has gone away. Not done: Unapply migration "
        "reviews.0001_initial; "
    )
