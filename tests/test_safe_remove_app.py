"""``safe_remove_app``: plan, refusals, both strategies, installed or not, interruptions,
backups, the lock, and a third-party app (django-taggit).

Every test that removes something restores the database afterwards (``restore_database``):
the rest of the session expects a fully migrated database, and MySQL DDL cannot be rolled
back. Data comes from factory-boy factories; "every other row unchanged" is checked by
comparing the rows of every table before and after.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from migration_ops.core.schema import ForeignKey, Schema, Table
from migration_ops.exceptions import LockHeld, MigrationOpsError
from migration_ops.introspection import get_introspector, snapshot
from migration_ops.introspection.sqlite_sql import without_foreign_key
from migration_ops.services.backup import restore_backup
from migration_ops.services.removal import (
    RemovalInterrupted,
    build_removal_plan,
    execute_removal,
)
from migration_ops.services.removal import execute as removal_execute
from tests import factories
from tests.utils import run_command

LEGACY_TABLES = {
    "legacy_club",
    "legacy_membership",
    "legacy_tag",
    "old_customer_records",
    "old_customer_records_tags",
}
SHOP_TABLES = {"shop_order", "shop_orderline", "shop_product"}
SHOP_REPORTS_TABLES = {"shop_reports_report"}
SCENARIO_TABLES = LEGACY_TABLES | SHOP_TABLES | SHOP_REPORTS_TABLES
SCENARIO_APPS = ("legacy", "shop", "shop_reports")
# What removing the three apps drops, referencing tables first (ties broken by name).
DROP_ORDER = [
    "legacy_membership",
    "old_customer_records_tags",
    "shop_orderline",
    "shop_reports_report",
    "legacy_club",
    "legacy_tag",
    "shop_order",
    "shop_product",
    "old_customer_records",
]

pytestmark = pytest.mark.django_db(transaction=True)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class State:
    """Everything in a database: its schema and the rows of every table."""

    schema: Schema
    columns: dict[str, tuple[str, ...]]
    rows: dict[str, list[tuple[Any, ...]]]

    @property
    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}


def database_state(alias: str = "default") -> State:
    connection = connections[alias]
    schema = snapshot(connection)
    quote = connection.ops.quote_name
    columns, rows = {}, {}
    with connection.cursor() as cursor:
        for table in schema.tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            columns[table] = tuple(c[0] for c in cursor.description)
            rows[table] = sorted(map(tuple, cursor.fetchall()), key=repr)
    return State(schema, columns, rows)


def without_apps(
    before: State, labels: set[str], dropped: set[str]
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows ``before`` should become once ``labels`` are removed: ``dropped`` tables
    gone, their content types, permissions, permission links and migration rows deleted,
    admin log entries about them kept with no content type; nothing else changed."""
    rows = {t: list(r) for t, r in before.rows.items() if t not in dropped}

    def col(table: str, name: str) -> int:
        return before.columns[table].index(name)

    ct = "django_content_type"
    content_types = {r[col(ct, "id")] for r in rows[ct] if r[col(ct, "app_label")] in labels}
    rows[ct] = [r for r in rows[ct] if r[col(ct, "id")] not in content_types]
    perm = "auth_permission"
    permissions = {
        r[col(perm, "id")] for r in rows[perm] if r[col(perm, "content_type_id")] in content_types
    }
    rows[perm] = [r for r in rows[perm] if r[col(perm, "id")] not in permissions]
    for link in ("auth_group_permissions", "auth_user_user_permissions"):
        rows[link] = [r for r in rows[link] if r[col(link, "permission_id")] not in permissions]
    log, i = "django_admin_log", col("django_admin_log", "content_type_id")
    rows[log] = sorted(
        ((*r[:i], None, *r[i + 1 :]) if r[i] in content_types else r for r in rows[log]), key=repr
    )
    migrations = "django_migrations"
    rows[migrations] = [r for r in rows[migrations] if r[col(migrations, "app")] not in labels]
    return rows


def assert_removed(
    before: State, labels: set[str], dropped: set[str], changed: dict[str, Table] | None = None
) -> None:
    """No table, row, content type or permission of ``labels`` is left, and everything else
    is as it was (the schema of the tables in ``changed`` excepted)."""
    after = database_state()
    assert set(after.schema.tables) == set(before.schema.tables) - dropped
    for name, table in after.schema.tables.items():
        assert table == (changed or {}).get(name, before.schema.tables[name]), name
    assert after.rows == without_apps(before, labels, dropped)


@dataclass(frozen=True)
class Footprint:
    schema: Schema
    migrations: frozenset[tuple[str, str]]
    content_types: frozenset[tuple[str, str]]


def footprint() -> Footprint:
    connection = connections["default"]
    ContentType.objects.clear_cache()
    return Footprint(
        snapshot(connection),
        frozenset(MigrationRecorder(connection).applied_migrations()),
        frozenset(ContentType.objects.values_list("app_label", "model")),
    )


@pytest.fixture
def restore_database() -> Iterator[None]:
    """Put back the tables, migration rows and content types the test removed, and remove
    the ones it added (extra apps, scratch tables)."""
    baseline = footprint()
    yield
    if footprint() == baseline:
        return
    connection = connections["default"]
    live = snapshot(connection)
    get_introspector(connection).drop_tables(
        live, [t for t in live.tables if t not in baseline.schema.tables or t in SCENARIO_TABLES]
    )
    recorder = MigrationRecorder(connection)
    recorder.migration_qs.filter(app__in=SCENARIO_APPS).delete()
    for app, name in set(recorder.applied_migrations()) - baseline.migrations:
        recorder.record_unapplied(app, name)
    for app_label, model in set(ContentType.objects.values_list("app_label", "model")) - set(
        baseline.content_types
    ):
        ContentType.objects.filter(app_label=app_label, model=model).delete()
    call_command("migrate", verbosity=0, interactive=False)
    restored = footprint()
    assert restored.schema == baseline.schema
    assert restored.migrations == baseline.migrations
    assert restored.content_types == baseline.content_types


@contextmanager
def installed(*extra: str) -> Iterator[None]:
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, *extra]):
        yield


@contextmanager
def uninstalled(*labels: str) -> Iterator[None]:
    with override_settings(INSTALLED_APPS=[a for a in settings.INSTALLED_APPS if a not in labels]):
        yield


@pytest.fixture
def scenario_data(restore_database: None) -> dict[str, Any]:
    """Rows in every scenario app, and users, groups and admin log entries that point at
    them (and at apps that stay)."""
    ContentType.objects.clear_cache()
    authors = factories.AuthorFactory.create_batch(3)
    books = [factories.BookFactory(author=authors[i % 3]) for i in range(4)]
    products = [factories.ProductFactory(book=books[0]), factories.ProductFactory(book=books[1])]
    gold, silver, vip = (factories.TagFactory(name=n) for n in ("gold", "silver", "vip"))
    customers = [
        factories.CustomerFactory(tags=[gold, vip]),
        factories.CustomerFactory(tags=[silver]),
        factories.CustomerFactory(),
    ]
    club = factories.ClubFactory()
    factories.MembershipFactory(customer=customers[0], club=club)
    factories.MembershipFactory(customer=customers[1], club=club)
    orders = [factories.OrderFactory(customer=customers[0]), factories.OrderFactory(customer=None)]
    factories.OrderLineFactory(order=orders[0], product=products[0])
    factories.OrderLineFactory(order=orders[0], product=products[1])
    factories.OrderLineFactory(order=orders[1], product=products[0])
    factories.ReportFactory(product=products[0])
    factories.GroupFactory(
        permissions=["legacy.view_customer", "shop.view_order", "library.view_book"]
    )
    editor = factories.UserFactory(permissions=["legacy.change_customer", "library.change_author"])
    for obj in (customers[0], books[0], orders[0]):
        factories.LogEntryFactory(obj=obj, user=editor)
    return {"authors": authors, "books": books, "customers": customers, "orders": orders}


@pytest.fixture
def archive(scenario_data: dict[str, Any]) -> Iterator[None]:
    """``legacy_archive`` installed and migrated, with rows: its label starts with
    ``legacy_``."""
    with installed("legacy_archive"):
        call_command("migrate", "legacy_archive", verbosity=0)
        entry = apps.get_model("legacy_archive", "Entry")
        for n, author in enumerate(scenario_data["authors"][:2]):
            entry.objects.create(
                title=f"Entry {n}", author=author, archived=datetime.date(2023, 5, n + 1)
            )
        yield


def remove(*args: str, **options: Any) -> tuple[str, str, int]:
    options.setdefault("interactive", False)
    return run_command("safe_remove_app", *args, **options)


def project_path(module: str) -> str:
    return str(Path(__import__(module).__file__).parent)


def left_to_do(*labels: str, installed: bool = True) -> str:
    lines = ["Left to do:\n"]
    for label in labels:
        if installed:
            lines.append(f"  Remove '{label}' from INSTALLED_APPS.\n")
        lines.append(
            f"  '{label}' is part of this project, not an installed distribution: delete its "
            f"code ({project_path(label)}) once nothing imports it.\n"
        )
    return "".join(lines)


INSTALLED = (
    "  legacy: installed ('legacy' in INSTALLED_APPS)\n"
    "  shop: installed ('shop' in INSTALLED_APPS)\n"
    "  shop_reports: installed ('shop_reports' in INSTALLED_APPS)\n"
)
NOT_INSTALLED = (
    "  legacy: not installed; found from 5 migrations recorded in django_migrations, 4 content"
    " types in django_content_type, migration files in module legacy.migrations\n"
    "  shop: not installed; found from 2 migrations recorded in django_migrations, 3 content"
    " types in django_content_type, migration files in module shop.migrations\n"
    "  shop_reports: not installed; found from 1 migration recorded in django_migrations, 1"
    " content type in django_content_type, migration files in module shop_reports.migrations\n"
)
IRREVERSIBLE = (
    "migration legacy.0002_seed_tags_squashed_0003_club_membership cannot be unapplied (Raw"
    " Python operation: no reverse code)"
)
TABLES_INSTALLED = """\
Tables to drop, referencing tables first (9 tables, 20 rows):
  legacy_membership          2 rows  legacy: model legacy.Membership
  old_customer_records_tags  3 rows  legacy: auto-created many-to-many table legacy.Customer_tags
  shop_orderline             3 rows  shop: model shop.OrderLine
  shop_reports_report         1 row  shop_reports: model shop_reports.Report
  legacy_club                 1 row  legacy: model legacy.Club
  legacy_tag                 3 rows  legacy: model legacy.Tag
  shop_order                 2 rows  shop: model shop.Order
  shop_product               2 rows  shop: model shop.Product
  old_customer_records       3 rows  legacy: model legacy.Customer, custom db_table
"""
FILES = "in the app's migration files"
TABLES_NOT_INSTALLED = f"""\
Tables to drop, referencing tables first (9 tables, 20 rows):
  legacy_membership          2 rows  legacy: model legacy.Membership {FILES}
  old_customer_records_tags  3 rows  legacy: model legacy.Customer_tags {FILES}
  shop_orderline             3 rows  shop: model shop.OrderLine {FILES}
  shop_reports_report         1 row  shop_reports: model shop_reports.Report {FILES}
  legacy_club                 1 row  legacy: model legacy.Club {FILES}
  legacy_tag                 3 rows  legacy: model legacy.Tag {FILES}
  shop_order                 2 rows  shop: model shop.Order {FILES}
  shop_product               2 rows  shop: model shop.Product {FILES}
  old_customer_records       3 rows  legacy: model legacy.Customer {FILES}, custom db_table
"""
NOTHING_REFERS = """\
Foreign keys into these tables from tables that stay:
  None.
Models of installed apps that stay and refer to these apps:
  None.
"""
DEPENDENTS_REMOVED_TOO = """\
Migrations of other apps that depend on these apps:
  shop.0002_order_customer on legacy.0004_customer_email (applied; removed too)
  shop_reports.0001_initial on shop.0001_initial (applied; removed too)
"""
ROWS_AND_CONTENT_TYPES = """\
Rows to delete from django_migrations (8):
  legacy: 0001_initial, 0002_seed_tags, 0002_seed_tags_squashed_0003_club_membership, \
0003_club_membership, 0004_customer_email
  shop: 0001_initial, 0002_order_customer
  shop_reports: 0001_initial
Content types to delete (8):
  legacy.club, legacy.customer, legacy.membership, legacy.tag, shop.order, shop.orderline, \
shop.product, shop_reports.report
  Deleted with them: 32 permissions (auth.Permission)
  Deleted with them: 2 group-permission relationships (auth.Group_permissions)
  Deleted with them: 1 user-permission relationship (auth.User_user_permissions)
  Kept, content_type set to NULL (on_delete=SET_NULL): 2 log entries (admin.LogEntry)
"""
CONTENT_TYPES_DELETED = (
    "8 content types, 32 permissions, 2 group-permission relationships and 1"
    " user-permission relationship; set content_type to NULL on 2 log entries"
)
DROP_STEPS = "".join(
    f"  {n}. Drop table {table}\n" for n, table in enumerate(DROP_ORDER, start=1)
) + (f"  10. Delete 8 rows from django_migrations\n  11. Delete {CONTENT_TYPES_DELETED}\n")
DROP_DONE = "".join(f"  Dropped table {table}.\n" for table in DROP_ORDER) + (
    f"  Deleted 8 rows from django_migrations.\n  Deleted {CONTENT_TYPES_DELETED}.\n"
)
REMOVED_ALL = (
    "Removed 'legacy', 'shop' and 'shop_reports' from database 'default': 9 tables (20 rows), "
    "8 migration rows, 8 content types.\n"
)
HEAD_ALL = "Plan to remove 'legacy', 'shop' and 'shop_reports' from database 'default':\n"


# --------------------------------------------------------------------------- legacy, installed


@pytest.mark.parametrize(
    ("strategy", "strategy_line"),
    [
        ("auto", f"Strategy: drop (auto: {IRREVERSIBLE}).\n"),
        ("drop", "Strategy: drop.\n"),
    ],
)
def test_removes_installed_apps_by_dropping_their_tables(archive, strategy, strategy_line):
    before = database_state()

    out, err, code = remove(*SCENARIO_APPS, strategy=strategy)

    assert (err, code) == ("", 0)
    assert out == (
        HEAD_ALL
        + INSTALLED
        + strategy_line
        + TABLES_INSTALLED
        + NOTHING_REFERS
        + DEPENDENTS_REMOVED_TOO
        + ROWS_AND_CONTENT_TYPES
        + "Steps:\n"
        + DROP_STEPS
        + "Removing:\n"
        + DROP_DONE
        + REMOVED_ALL
        + left_to_do(*SCENARIO_APPS)
    )
    assert_removed(before, set(SCENARIO_APPS), SCENARIO_TABLES)
    # The label 'legacy' prefixes 'legacy_archive', whose table and rows stay.
    assert len(database_state().rows["legacy_archive_entry"]) == 2


def test_migrate_strategy_refuses_an_irreversible_migration(scenario_data):
    before = database_state()

    out, err, code = remove(*SCENARIO_APPS, strategy="migrate")

    assert code == 2
    assert err == (
        "Refusing to remove 'legacy', 'shop' and 'shop_reports' from database 'default'; "
        "nothing was changed.\n"
        "- --strategy migrate cannot remove 'legacy', 'shop' and 'shop_reports': "
        f"{IRREVERSIBLE}. Use --strategy drop (or auto, the default, which falls back to it)."
    )
    assert out == (
        HEAD_ALL
        + INSTALLED
        + f"Strategy: migrate, which cannot run: {IRREVERSIBLE}.\n"
        + TABLES_INSTALLED
        + NOTHING_REFERS
        + DEPENDENTS_REMOVED_TOO
        + ROWS_AND_CONTENT_TYPES
    )
    assert database_state() == before


# --------------------------------------------------------------------------- legacy, not installed


@pytest.mark.parametrize(
    ("strategy", "strategy_line"),
    [
        (
            "auto",
            "Strategy: drop (auto: 'legacy', 'shop' and 'shop_reports' are not in "
            "INSTALLED_APPS, so migrate cannot run their migrations).\n",
        ),
        ("drop", "Strategy: drop.\n"),
    ],
)
def test_removes_apps_no_longer_installed(archive, strategy, strategy_line):
    before = database_state()

    with uninstalled(*SCENARIO_APPS):
        out, err, code = remove(*SCENARIO_APPS, strategy=strategy)

    assert (err, code) == ("", 0)
    assert out == (
        HEAD_ALL
        + NOT_INSTALLED
        + strategy_line
        + TABLES_NOT_INSTALLED
        + NOTHING_REFERS
        # Their migration files are not loaded: no other app's files depend on them.
        + "Migrations of other apps that depend on these apps:\n  None.\n"
        + ROWS_AND_CONTENT_TYPES
        + "Steps:\n"
        + DROP_STEPS
        + "Removing:\n"
        + DROP_DONE
        + REMOVED_ALL
        + left_to_do(*SCENARIO_APPS, installed=False)
    )
    assert_removed(before, set(SCENARIO_APPS), SCENARIO_TABLES)
    assert len(database_state().rows["legacy_archive_entry"]) == 2


def test_migrate_strategy_refuses_apps_no_longer_installed(scenario_data):
    before = database_state()

    with uninstalled(*SCENARIO_APPS):
        out, err, code = remove(*SCENARIO_APPS, strategy="migrate")

    assert code == 2
    assert err == (
        "Refusing to remove 'legacy', 'shop' and 'shop_reports' from database 'default'; "
        "nothing was changed.\n"
        "- --strategy migrate cannot remove 'legacy', 'shop' and 'shop_reports': 'legacy', "
        "'shop' and 'shop_reports' are not in INSTALLED_APPS, so migrate cannot run their "
        "migrations. Use --strategy drop (or auto, the default, which falls back to it)."
    )
    assert out.startswith(HEAD_ALL + NOT_INSTALLED + "Strategy: migrate, which cannot run: ")
    assert database_state() == before


# --------------------------------------------------------------------------- strategy migrate


SHOP_PLAN = """\
Tables to drop, referencing tables first (4 tables, 8 rows):
  shop_orderline       3 rows  shop: model shop.OrderLine
  shop_reports_report   1 row  shop_reports: model shop_reports.Report
  shop_order           2 rows  shop: model shop.Order
  shop_product         2 rows  shop: model shop.Product
Foreign keys into these tables from tables that stay:
  None.
Models of installed apps that stay and refer to these apps:
  None.
Migrations of other apps that depend on these apps:
  shop_reports.0001_initial on shop.0001_initial (applied; removed too)
Migrations to unapply, in order:
  shop_reports.0001_initial
  shop.0002_order_customer
  shop.0001_initial
Rows to delete from django_migrations (3):
  shop: 0001_initial, 0002_order_customer
  shop_reports: 0001_initial
Content types to delete (4):
  shop.order, shop.orderline, shop.product, shop_reports.report
  Deleted with them: 16 permissions (auth.Permission)
  Deleted with them: 1 group-permission relationship (auth.Group_permissions)
  Kept, content_type set to NULL (on_delete=SET_NULL): 1 log entry (admin.LogEntry)
  Checked 4 relations: the one with no rows is not listed.
"""
SHOP_CONTENT_TYPES_DELETED = (
    "4 content types, 16 permissions and 1 group-permission relationship; set "
    "content_type to NULL on 1 log entry"
)


@pytest.mark.parametrize(
    ("strategy", "strategy_line"),
    [
        (
            "auto",
            "Strategy: migrate (auto: the migrations of 'shop' and 'shop_reports' can run "
            "backwards).\n",
        ),
        ("migrate", "Strategy: migrate.\n"),
    ],
)
def test_migrate_strategy_unapplies_the_migrations(scenario_data, strategy, strategy_line):
    before = database_state()

    out, err, code = remove("shop", "shop_reports", strategy=strategy)

    assert (err, code) == ("", 0)
    assert out == (
        "Plan to remove 'shop' and 'shop_reports' from database 'default':\n"
        "  shop: installed ('shop' in INSTALLED_APPS)\n"
        "  shop_reports: installed ('shop_reports' in INSTALLED_APPS)\n"
        + strategy_line
        + SHOP_PLAN
        + "Steps:\n"
        "  1. Unapply migration shop_reports.0001_initial\n"
        "  2. Unapply migration shop.0002_order_customer\n"
        "  3. Unapply migration shop.0001_initial\n"
        "  4. Drop the tables of these apps that the reverse migrations left, if any\n"
        "  5. Delete 3 rows from django_migrations\n"
        f"  6. Delete {SHOP_CONTENT_TYPES_DELETED}\n"
        "Removing:\n"
        "  Unapplied migration shop_reports.0001_initial.\n"
        "  Unapplied migration shop.0002_order_customer.\n"
        "  Unapplied migration shop.0001_initial.\n"
        "  Dropped the tables of these apps that were left, if any.\n"
        "  Deleted 3 rows from django_migrations.\n"
        f"  Deleted {SHOP_CONTENT_TYPES_DELETED}.\n"
        "Removed 'shop' and 'shop_reports' from database 'default': 4 tables (8 rows), "
        "3 migration rows, 4 content types.\n" + left_to_do("shop", "shop_reports")
    )
    assert_removed(before, {"shop", "shop_reports"}, SHOP_TABLES | SHOP_REPORTS_TABLES)


# --------------------------------------------------------------------------- refusals


SHOP_REFUSAL = (
    "Refusing to remove 'shop' from database 'default'; nothing was changed.\n"
    "- Models of installed apps that stay refer to models of 'shop': "
    "shop_reports.Report.product -> shop.Product. Their code would break: remove those "
    "fields (and migrate) first, or remove these apps in the same run: safe_remove_app shop "
    "shop_reports.\n"
    "- Migrations of apps that stay depend on migrations of 'shop': shop_reports.0001_initial "
    "on shop.0001_initial. `migrate shop zero` would unapply them, and without 'shop' their "
    "migration graph cannot be built: edit those dependencies out of their migration files "
    "first, or remove these apps in the same run: safe_remove_app shop shop_reports.\n"
    "- Tables that stay have foreign keys into tables to drop: shop_reports_report.product_id "
    "-> shop_product.id (app 'shop_reports'). Pass --drop-incoming-constraints to drop these "
    "constraints and keep those tables, or remove the apps that own them in the same run."
)
SHOP_TABLES_PLAN = """\
Tables to drop, referencing tables first (3 tables, 7 rows):
  shop_orderline  3 rows  shop: model shop.OrderLine{files}
  shop_order      2 rows  shop: model shop.Order{files}
  shop_product    2 rows  shop: model shop.Product{files}
Foreign keys into these tables from tables that stay:
  shop_reports_report.product_id -> shop_product.id (app 'shop_reports')
Models of installed apps that stay and refer to these apps:
  shop_reports.Report.product -> shop.Product
Migrations of other apps that depend on these apps:
  shop_reports.0001_initial on shop.0001_initial (applied; stays)
"""


@pytest.mark.parametrize("shop_installed", [True, False])
def test_removing_a_prefix_of_an_installed_app_leaves_it_alone(scenario_data, shop_installed):
    """'shop' prefixes 'shop_reports', which refers to it: the plan names only shop's
    tables, and the removal is refused while shop_reports stays."""
    before = database_state()

    if shop_installed:
        out, err, code = remove("shop")
    else:
        with uninstalled("shop"):
            out, err, code = remove("shop")

    assert (err, code) == (SHOP_REFUSAL, 2)
    files = "" if shop_installed else f" {FILES}"
    head, tables_onwards = out.split("Tables to drop", 1)
    assert ("Tables to drop" + tables_onwards).startswith(SHOP_TABLES_PLAN.format(files=files))
    assert head.startswith("Plan to remove 'shop' from database 'default':\n")
    assert database_state() == before


LEGACY_REFUSAL = (
    "Refusing to remove 'legacy' from database 'default'; nothing was changed.\n"
    "- Models of installed apps that stay refer to models of 'legacy': shop.Order.customer -> "
    "legacy.Customer. Their code would break: remove those fields (and migrate) first, or "
    "remove these apps in the same run: safe_remove_app legacy shop shop_reports.\n"
    "- Migrations of apps that stay depend on migrations of 'legacy': shop.0002_order_customer "
    "on legacy.0004_customer_email. `migrate legacy zero` would unapply them, and without "
    "'legacy' their migration graph cannot be built: edit those dependencies out of their "
    "migration files first, or remove these apps in the same run: safe_remove_app legacy "
    "shop shop_reports.\n"
    "- Tables that stay have foreign keys into tables to drop: shop_order.customer_id -> "
    "old_customer_records.id (app 'shop'). Pass --drop-incoming-constraints to drop these "
    "constraints and keep those tables, or remove the apps that own them in the same run."
)


def test_cross_app_dependency_is_named_and_nothing_is_unapplied(scenario_data):
    before = database_state()

    out, err, code = remove("legacy")

    assert (err, code) == (LEGACY_REFUSAL, 2)
    assert (
        "Migrations of other apps that depend on these apps:\n"
        "  shop.0002_order_customer on legacy.0004_customer_email (applied; stays)\n"
    ) in out
    assert database_state() == before


def test_incoming_foreign_keys_are_refused_even_with_the_flag_when_code_refers(scenario_data):
    before = database_state()

    out, err, code = remove("legacy", drop_incoming_constraints=True)

    # The constraint could go, but shop's code and migrations would still break.
    assert code == 2
    assert err == LEGACY_REFUSAL.rsplit("\n- Tables that stay", 1)[0]
    assert "  shop_order.customer_id -> old_customer_records.id (app 'shop'; " in out
    assert database_state() == before


def test_unknown_label():
    assert remove("legacy", "nope") == (
        "",
        "No installed or removed app with label 'nope': it is not in INSTALLED_APPS, and "
        "database 'default' has no migration rows or content types of it. Check the spelling "
        "(labels are the last part of the module name unless the AppConfig sets one).",
        2,
    )


def test_unknown_database():
    out, err, code = remove("legacy", database="nope")
    assert (out, code) == ("", 2)
    assert err.startswith("Unknown database alias 'nope'; DATABASES defines: ")


def test_json_needs_noinput_or_dry_run():
    assert remove("legacy", format="json", interactive=True) == (
        "",
        "--format json needs --noinput or --dry-run: a script cannot answer the confirmation "
        "prompt.",
        2,
    )


# --------------------------------------------------------------------------- incoming foreign keys


def drop_fk_done(vendor: str, table: str, label: str) -> str:
    if vendor == "sqlite":  # no DROP CONSTRAINT: the table is rebuilt without it
        return f"Rebuilt table {table} without foreign key {label}."
    return f"Dropped foreign key {label}."


def test_foreign_key_from_an_app_that_stays(scenario_data, vendor):
    """shop is not installed any more but stays in the database (not removed): its table
    shop_order has a foreign key into legacy's old_customer_records."""
    before = database_state()
    label = "shop_order.customer_id -> old_customer_records.id"

    with uninstalled(*SCENARIO_APPS):
        out, err, code = remove("legacy")

    assert code == 2
    assert err == (
        "Refusing to remove 'legacy' from database 'default'; nothing was changed.\n"
        f"- Tables that stay have foreign keys into tables to drop: {label} (app 'shop', not "
        "installed). Pass --drop-incoming-constraints to drop these constraints and keep "
        "those tables, or remove the apps that own them in the same run."
    )
    assert (
        "Foreign keys into these tables from tables that stay:\n"
        f"  {label} (app 'shop', not installed)\n"
    ) in out
    assert database_state() == before

    with uninstalled(*SCENARIO_APPS):
        out, err, code = remove("legacy", drop_incoming_constraints=True)

    assert (err, code) == ("", 0)
    action = "table rebuilt without it" if vendor == "sqlite" else "constraint dropped"
    assert f"  {label} (app 'shop', not installed; {action})\n" in out
    assert f"Removing:\n  {drop_fk_done(vendor, 'shop_order', label)}\n" in out
    order = before.schema.tables["shop_order"]
    assert_removed(
        before,
        {"legacy"},
        LEGACY_TABLES,
        changed={"shop_order": replace(order, foreign_keys=frozenset())},
    )


@pytest.fixture
def orphan_table(scenario_data) -> str:
    """A table no app owns, with a foreign key into legacy's customers and a row."""
    connection = connections["default"]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote('crm_notes')} ({quote('id')} integer NOT NULL PRIMARY KEY, "
            f"{quote('customer_id')} bigint NOT NULL, {quote('text')} varchar(50) NOT NULL, "
            f"CONSTRAINT {quote('crm_notes_customer_fk')} FOREIGN KEY ({quote('customer_id')}) "
            f"REFERENCES {quote('old_customer_records')} ({quote('id')}))"
        )
        cursor.execute(
            f"INSERT INTO {quote('crm_notes')} VALUES (1, %s, 'call back')",
            [scenario_data["customers"][0].pk],
        )
    return "crm_notes"


def test_foreign_key_from_a_table_no_app_owns(orphan_table, vendor):
    before = database_state()
    label = "crm_notes.customer_id -> old_customer_records.id"

    out, err, code = remove(*SCENARIO_APPS)

    assert code == 2
    assert err == (
        "Refusing to remove 'legacy', 'shop' and 'shop_reports' from database 'default'; "
        "nothing was changed.\n"
        f"- Tables that stay have foreign keys into tables to drop: {label} (no app owns it). "
        "Pass --drop-incoming-constraints to drop these constraints and keep those tables, or "
        "remove the apps that own them in the same run."
    )
    assert database_state() == before

    out, err, code = remove(*SCENARIO_APPS, drop_incoming_constraints=True)

    assert (err, code) == ("", 0)
    assert f"Removing:\n  {drop_fk_done(vendor, 'crm_notes', label)}\n" in out
    notes = before.schema.tables["crm_notes"]
    assert_removed(
        before,
        set(SCENARIO_APPS),
        SCENARIO_TABLES,
        changed={"crm_notes": replace(notes, foreign_keys=frozenset())},
    )
    assert database_state().rows["crm_notes"] == before.rows["crm_notes"]


# --------------------------------------------------------------------------- interruptions


class PowerCut(Exception):
    pass


SHOP_AND_REPORTS = ("shop", "shop_reports")
INTERRUPTIONS = [
    *((SCENARIO_APPS, "drop", SCENARIO_TABLES, n) for n in range(11)),
    *((SHOP_AND_REPORTS, "migrate", SHOP_TABLES | SHOP_REPORTS_TABLES, n) for n in range(6)),
]


@pytest.mark.parametrize(("labels", "strategy", "dropped", "stop_after"), INTERRUPTIONS)
def test_an_interruption_after_any_step_is_completed_by_a_rerun(
    scenario_data, labels, strategy, dropped, stop_after
):
    before = database_state()
    plan = build_removal_plan(labels, strategy=strategy)
    assert len(plan.steps) == len([i for i in INTERRUPTIONS if i[1] == strategy])
    reported: list[str] = []

    def progress(message: str) -> None:
        reported.append(message)
        if len(reported) == stop_after + 1:
            raise PowerCut("the power went out")

    with pytest.raises(RemovalInterrupted) as interrupted:
        execute_removal(plan, progress=progress)

    done = tuple(step.done for step in plan.steps[: stop_after + 1])
    assert interrupted.value.done == done
    assert interrupted.value.not_done == tuple(s.description for s in plan.steps[stop_after + 1 :])

    out, err, code = remove(*labels, strategy=strategy)

    assert (err, code) == ("", 0)
    if stop_after == len(plan.steps) - 1:  # everything was done already
        assert "Nothing to remove: database 'default' has no tables, migration rows or" in out
    assert_removed(before, set(labels), dropped)


def test_a_failed_step_says_what_was_done_and_a_rerun_completes(scenario_data, monkeypatch):
    before = database_state()
    real = removal_execute._run_statements

    def failing(connection, statements):
        raise MigrationOpsError("the server has gone away")

    monkeypatch.setattr(removal_execute, "_run_statements", failing)
    out, err, code = remove(*SCENARIO_APPS)

    assert code == 1
    assert err == (
        "The removal stopped after 9 steps of 11, at 'Delete 8 rows from django_migrations': "
        "MigrationOpsError: the server has gone away. Not done: Delete 8 rows from "
        f"django_migrations; Delete {CONTENT_TYPES_DELETED}. Run the same command again to "
        "complete the removal."
    )
    assert out.endswith("Removing:\n" + "".join(f"  Dropped table {t}.\n" for t in DROP_ORDER))

    monkeypatch.setattr(removal_execute, "_run_statements", real)
    out, err, code = remove(*SCENARIO_APPS)

    assert (err, code) == ("", 0)
    assert "Tables to drop, referencing tables first (0 tables, 0 rows):\n  None.\n" in out
    assert_removed(before, set(SCENARIO_APPS), SCENARIO_TABLES)


# --------------------------------------------------------------------------- dry run, prompt


def dry_run_sql(vendor: str) -> str:
    quote = connections["default"].ops.quote_name
    off, on = {
        "sqlite": (["PRAGMA foreign_keys = OFF;"], ["PRAGMA foreign_keys = ON;"]),
        "mysql": (["SET FOREIGN_KEY_CHECKS = 0;"], ["SET FOREIGN_KEY_CHECKS = 1;"]),
        "postgresql": ([], []),
    }[vendor]
    apps_in = "('legacy', 'shop', 'shop_reports')"
    content_types = (
        f"SELECT {quote('id')} FROM {quote('django_content_type')} WHERE "
        f"{quote('app_label')} IN {apps_in}"
    )
    permissions = (
        f"SELECT {quote('id')} FROM {quote('auth_permission')} WHERE "
        f"{quote('content_type_id')} IN ({content_types})"
    )
    lines = [
        *off,
        *(f"DROP TABLE {quote(t)};" for t in DROP_ORDER),
        *on,
        f"DELETE FROM {quote('django_migrations')} WHERE {quote('app')} IN {apps_in};",
        f"DELETE FROM {quote('auth_group_permissions')} WHERE {quote('permission_id')} IN "
        f"({permissions});",
        f"DELETE FROM {quote('auth_user_user_permissions')} WHERE {quote('permission_id')} IN "
        f"({permissions});",
        f"DELETE FROM {quote('auth_permission')} WHERE {quote('content_type_id')} IN "
        f"({content_types});",
        f"UPDATE {quote('django_admin_log')} SET {quote('content_type_id')} = NULL WHERE "
        f"{quote('content_type_id')} IN ({content_types});",
        f"DELETE FROM {quote('django_content_type')} WHERE {quote('app_label')} IN {apps_in};",
    ]
    return "".join(f"  {line}\n" for line in lines)


def test_dry_run_shows_the_plan_and_the_sql_and_changes_nothing(scenario_data, vendor):
    before = database_state()

    out, err, code = remove(*SCENARIO_APPS, dry_run=True, interactive=True)

    assert (err, code) == ("", 0)
    assert out == (
        HEAD_ALL
        + INSTALLED
        + f"Strategy: drop (auto: {IRREVERSIBLE}).\n"
        + TABLES_INSTALLED
        + NOTHING_REFERS
        + DEPENDENTS_REMOVED_TOO
        + ROWS_AND_CONTENT_TYPES
        + "Steps:\n"
        + DROP_STEPS
        + "SQL:\n"
        + dry_run_sql(vendor)
        + "Dry run: nothing was changed.\n"
    )
    after = database_state()
    assert after.schema == before.schema
    assert after.counts == before.counts
    assert after == before


def test_dry_run_of_the_migrate_strategy_shows_the_reverse_migrations_sql(scenario_data):
    before = database_state()

    out, err, code = remove("shop", "shop_reports", dry_run=True)

    assert (err, code) == ("", 0)
    sql = out.split("SQL:\n", 1)[1]
    expected = []
    for migration in ("shop_reports.0001_initial", "shop.0002_order_customer", "shop.0001_initial"):
        app, _, name = migration.partition(".")
        out_sql = io_command("sqlmigrate", app, name, backwards=True)
        expected += [
            f"  {line}\n"
            for line in out_sql.splitlines()
            if line.strip() and line not in ("BEGIN;", "COMMIT;")
        ]
    assert sql.startswith("".join(expected) + "  -- Then any table of these apps that is left")
    assert sql.endswith("Dry run: nothing was changed.\n")
    assert database_state() == before


def io_command(*args: str, **options: Any) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, no_color=True, **options)
    return out.getvalue()


PROMPT = (
    "This removes 'legacy', 'shop' and 'shop_reports' from database 'default' and cannot be "
    "undone.\nType 'yes' to continue, or 'no' to cancel: "
)


@pytest.mark.parametrize("answer", ["no", "", "y"])
def test_anything_but_yes_at_the_prompt_cancels(scenario_data, monkeypatch, answer):
    before = database_state()
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or answer)

    out, err, code = remove(*SCENARIO_APPS, interactive=True)

    assert (err, code) == ("", 0)
    assert prompts == [PROMPT]
    assert out.endswith(DROP_STEPS + "Cancelled; nothing was changed.\n")
    assert database_state() == before


def test_yes_at_the_prompt_removes(scenario_data, monkeypatch):
    before = database_state()
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "yes")

    out, err, code = remove(*SCENARIO_APPS, interactive=True)

    assert (err, code) == ("", 0)
    assert prompts == [PROMPT]
    assert out.endswith(
        DROP_STEPS + "Removing:\n" + DROP_DONE + REMOVED_ALL + left_to_do(*SCENARIO_APPS)
    )
    assert_removed(before, set(SCENARIO_APPS), SCENARIO_TABLES)


# --------------------------------------------------------------------------- lock


@pytest.mark.parametrize("dry_run", [False, True])
def test_refuses_while_another_session_holds_the_lock(scenario_data, dry_run):
    before = database_state()
    other = connections.create_connection("default")
    try:
        with get_introspector(other).lock("migration_ops"):
            out, err, code = remove(*SCENARIO_APPS, dry_run=dry_run)
    finally:
        other.close()

    assert (out, err, code) == (
        "",
        "Another session holds the 'migration_ops' lock on database 'default': a command of "
        "migration_ops is already running on it. Wait for it to finish, then run this command "
        "again.",
        2,
    )
    assert database_state() == before
    # Released: the same command now runs.
    assert remove(*SCENARIO_APPS, dry_run=True)[1:] == ("", 0)


def test_lock_is_reentrant_within_a_session_and_exclusive_across_sessions(db):
    introspector = get_introspector(connections["default"])
    other = connections.create_connection("default")
    try:
        with introspector.lock("migration_ops"), introspector.lock("migration_ops"):
            with pytest.raises(LockHeld), get_introspector(other).lock("migration_ops"):
                pass
            # Another name is another lock.
            with get_introspector(other).lock("something_else"):
                pass
        with get_introspector(other).lock("migration_ops"):
            pass
    finally:
        other.close()


# --------------------------------------------------------------------------- backup


def test_backup_is_written_first_and_restores_every_row(scenario_data, tmp_path):
    before = database_state()
    directory = tmp_path / "backup"

    out, err, code = remove(*SCENARIO_APPS, backup=str(directory))

    assert (err, code) == ("", 0)
    assert (
        "Steps:\n  1. Back up the rows of 9 tables and of the content types to "
        f"{directory}\n  2. Drop table legacy_membership\n"
    ) in out
    # 20 rows of the apps' tables, 8 content types, 32 permissions, 3 permission links and
    # 2 log entries' content types.
    assert f"Removing:\n  Backed up 65 rows of 14 tables to {directory}.\n" in out
    assert_removed(before, set(SCENARIO_APPS), SCENARIO_TABLES)

    # Reinstalling the apps (migrate) recreates empty tables, fresh content types and
    # permissions; the backup then brings back every row, with its primary key.
    call_command("migrate", verbosity=0)
    result = restore_backup(directory)

    assert result.rows == 65
    after = database_state()
    assert after.schema == before.schema
    # migrate recorded the migrations again (new ids and times); every other row is back.
    assert {t: r for t, r in after.rows.items() if r != before.rows[t]}.keys() == {
        "django_migrations"
    }
    assert footprint().migrations == {
        (app, name) for _, app, name, _ in before.rows["django_migrations"]
    }


def test_backup_directory_must_be_new_or_empty(scenario_data, tmp_path):
    before = database_state()
    (tmp_path / "old.txt").write_text("an earlier backup")

    _, err, code = remove(*SCENARIO_APPS, backup=str(tmp_path))

    assert (err, code) == (
        "Refusing to remove 'legacy', 'shop' and 'shop_reports' from database 'default'; "
        f"nothing was changed.\n- Backup directory '{tmp_path}' is not empty; pass a new or "
        "empty directory (an earlier backup there may hold rows that are gone from the "
        "database).",
        2,
    )
    assert database_state() == before


# --------------------------------------------------------------------------- JSON


def test_json_document(scenario_data):
    out, err, code = remove(*SCENARIO_APPS, format="json", dry_run=True)

    assert (err, code) == ("", 0)
    document = json.loads(out)
    assert list(document) == [
        "schema_version",
        "database",
        "vendor",
        "apps",
        "strategy",
        "tables",
        "objects",
        "incoming_foreign_keys",
        "code_references",
        "dependent_migrations",
        "unapply",
        "migration_rows",
        "content_types",
        "cascades",
        "remove_together",
        "parent_rows",
        "steps",
        "refusals",
        "sql",
        "dry_run",
        "completed",
        "done",
        "backup",
        "left_to_do",
        "partly_unapplied",
    ]
    assert document["partly_unapplied"] is None
    assert document["strategy"] == {
        "requested": "auto",
        "chosen": "drop",
        "migrate_blocker": IRREVERSIBLE,
    }
    assert [t["name"] for t in document["tables"]] == DROP_ORDER
    assert document["tables"][1] == {
        "name": "old_customer_records_tags",
        "app_label": "legacy",
        "model": "legacy.Customer_tags",
        "reason": "auto-m2m",
        "attribution": "auto-created many-to-many table legacy.Customer_tags",
        "rows": 3,
    }
    assert document["apps"][0] == {
        "label": "legacy",
        "installed": True,
        "installed_apps_entry": "legacy",
        "module": "legacy",
        "distributions": [],
        "evidence": [],
    }
    assert document["cascades"][-1] == {
        "model": "admin.LogEntry",
        "table": "django_admin_log",
        "action": "set-null",
        "field": "content_type",
        "column": "content_type_id",
        "rows": 2,
        "protected": False,
    }
    assert document["remove_together"] == list(SCENARIO_APPS)
    assert document["parent_rows"] == []
    assert len(document["steps"]) == 11
    assert (document["dry_run"], document["completed"], document["done"]) == (True, False, [])
    assert document["refusals"] == []
    assert document["sql"][-1].startswith("DELETE FROM ")

    out, err, code = remove(*SCENARIO_APPS, format="json")

    assert (err, code) == ("", 0)
    document = json.loads(out)
    assert (document["completed"], len(document["done"])) == (True, 11)
    assert document["done"][-1] == f"Deleted {CONTENT_TYPES_DELETED}."


def test_json_refusal_prints_the_document_and_exits_2(scenario_data):
    out, err, code = remove("legacy", format="json")

    assert (err, code) == (LEGACY_REFUSAL, 2)
    assert json.loads(out)["refusals"] == LEGACY_REFUSAL.split("\n- ")[1:]


# --------------------------------------------------------------------------- a third-party app


def fill_taggit(scenario_data) -> None:
    call_command("migrate", "taggit", verbosity=0)
    tag, tagged_item = apps.get_model("taggit", "Tag"), apps.get_model("taggit", "TaggedItem")
    fiction = tag.objects.create(name="fiction", slug="fiction")
    poetry = tag.objects.create(name="poetry", slug="poetry")
    author_type = ContentType.objects.get_for_model(scenario_data["authors"][0])
    for author, tags in zip(
        scenario_data["authors"], ([fiction, poetry], [poetry], []), strict=True
    ):
        for t in tags:
            tagged_item.objects.create(tag=t, content_type=author_type, object_id=author.pk)


TAGGIT_TABLES = {"taggit_tag", "taggit_taggeditem"}


def test_third_party_app_installed_migrated_filled_and_removed(scenario_data):
    with installed("taggit"):
        fill_taggit(scenario_data)
        before = database_state()
        assert (len(before.rows["taggit_tag"]), len(before.rows["taggit_taggeditem"])) == (2, 3)

        out, err, code = remove("taggit")

    assert (err, code) == ("", 0)
    assert out.startswith(
        "Plan to remove 'taggit' from database 'default':\n"
        "  taggit: installed ('taggit' in INSTALLED_APPS)\n"
        "Strategy: migrate (auto: the migrations of 'taggit' can run backwards).\n"
        "Tables to drop, referencing tables first (2 tables, 5 rows):\n"
        "  taggit_taggeditem  3 rows  taggit: model taggit.TaggedItem\n"
        "  taggit_tag         2 rows  taggit: model taggit.Tag\n"
    )
    assert out.endswith(
        "Removed 'taggit' from database 'default': 2 tables (5 rows), 6 migration rows, "
        "2 content types.\n"
        "Left to do:\n"
        "  Remove 'taggit' from INSTALLED_APPS.\n"
        "  Uninstall its distribution: pip uninstall django-taggit\n"
    )
    assert_removed(before, {"taggit"}, TAGGIT_TABLES)


def test_third_party_app_removed_after_it_left_installed_apps(scenario_data):
    with installed("taggit"):
        fill_taggit(scenario_data)
    before = database_state()

    out, err, code = remove("taggit")

    assert (err, code) == ("", 0)
    assert out.startswith(
        "Plan to remove 'taggit' from database 'default':\n"
        "  taggit: not installed; found from 6 migrations recorded in django_migrations, 2 "
        "content types in django_content_type, migration files in module taggit.migrations\n"
        "Strategy: drop (auto: 'taggit' is not in INSTALLED_APPS, so migrate cannot run its "
        "migrations).\n"
    )
    assert out.endswith("Left to do:\n  Uninstall its distribution: pip uninstall django-taggit\n")
    assert_removed(before, {"taggit"}, TAGGIT_TABLES)


# --------------------------------------------------------------------------- introspection


def test_foreign_key_checks_are_restored_even_on_error(db, vendor):
    connection = connections["default"]
    introspector = get_introspector(connection)
    query = {"sqlite": "PRAGMA foreign_keys", "mysql": "SELECT @@SESSION.foreign_key_checks"}

    def checks() -> int | None:
        if vendor not in query:
            return None
        with connection.cursor() as cursor:
            cursor.execute(query[vendor])
            return int(cursor.fetchone()[0])

    initially = checks()
    with pytest.raises(PowerCut), introspector.foreign_key_checks_disabled():
        assert checks() == (None if vendor == "postgresql" else 0)
        raise PowerCut
    assert checks() == initially


def test_drop_order_puts_referencing_tables_first_and_groups_cycles(db):
    introspector = get_introspector(connections["default"])

    def table(name: str, *references: str) -> Any:
        from migration_ops.core.schema import Column, Table

        return Table(
            name,
            (Column("id", "integer", False),),
            foreign_keys=frozenset(ForeignKey(("id",), r, ("id",)) for r in references),
        )

    schema = Schema(
        "test",
        {
            t.name: t
            for t in [
                table("a"),
                table("b", "a", "b"),  # and itself
                table("c", "b"),
                table("x", "y"),
                table("y", "x", "a"),
                table("outside"),
            ]
        },
    )
    assert introspector.drop_order(schema, ["a", "b", "c", "x", "y"]) == [
        ("c",),
        ("b",),
        ("a", "x", "y"),
    ]
    assert introspector.drop_order(schema, ["a", "b", "c"]) == [("c",), ("b",), ("a",)]


CUSTOMER_FK = ForeignKey(("customer_id",), "old_customer_records", ("id",))


@pytest.mark.parametrize(
    ("create", "expected"),
    [
        (
            'CREATE TABLE "shop_order" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
            '"customer_id" bigint NULL REFERENCES "old_customer_records" ("id") DEFERRABLE '
            "INITIALLY DEFERRED)",
            'CREATE TABLE "new" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
            '"customer_id" bigint NULL)',
        ),
        (
            "CREATE TABLE notes (id integer PRIMARY KEY, customer_id bigint NOT NULL, "
            "CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES old_customer_records (id) "
            "ON DELETE CASCADE, CHECK (id > 0))",
            'CREATE TABLE "new" (id integer PRIMARY KEY, customer_id bigint NOT NULL, '
            "CHECK (id > 0))",
        ),
        (
            "CREATE TABLE notes (FOREIGN KEY (customer_id) REFERENCES [old_customer_records], "
            "customer_id bigint CONSTRAINT other REFERENCES other_table (id))",
            'CREATE TABLE "new" (customer_id bigint CONSTRAINT other REFERENCES other_table (id))',
        ),
        (
            "CREATE TABLE notes (customer_id bigint CONSTRAINT fk REFERENCES "
            "Old_Customer_Records ON UPDATE SET NULL NOT DEFERRABLE UNIQUE)",
            'CREATE TABLE "new" (customer_id bigint UNIQUE)',
        ),
        # Not exactly one clause: refused.
        ("CREATE TABLE notes (customer_id bigint)", None),
        (
            "CREATE TABLE notes (customer_id bigint REFERENCES old_customer_records, "
            "FOREIGN KEY (customer_id) REFERENCES old_customer_records)",
            None,
        ),
    ],
)
def test_sqlite_create_table_without_a_foreign_key(create, expected):
    assert without_foreign_key(create, CUSTOMER_FK, '"new"') == expected


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_honours_the_router_of_another_database(scenario_data):
    """On 'other' only library has tables (the router): shop's migrations are merely
    recorded there, and there are no content types."""
    before, before_other = database_state(), database_state("other")
    try:
        out, err, code = remove("shop", "shop_reports", database="other")

        assert (err, code) == ("", 0)
        assert "Tables to drop, referencing tables first (0 tables, 0 rows):\n  None.\n" in out
        assert "Content types to delete (0):\n  None.\n" in out
        assert out.endswith(
            "Removed 'shop' and 'shop_reports' from database 'other': 0 tables (0 rows), "
            "3 migration rows, 0 content types.\n" + left_to_do("shop", "shop_reports")
        )
        after = database_state("other")
        app = before_other.columns["django_migrations"].index("app")
        assert after.schema == before_other.schema
        assert after.rows == {
            **before_other.rows,
            "django_migrations": [
                r
                for r in before_other.rows["django_migrations"]
                if r[app] not in {"shop", "shop_reports"}
            ],
        }
        assert database_state() == before
    finally:
        call_command("migrate", database="other", verbosity=0)
