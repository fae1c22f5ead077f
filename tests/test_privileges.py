"""Missing privileges are found while planning (issue 13, item 5): exit 2, what is missing
on which tables and what grants it, and nothing changed; with the privileges, the same
command goes through.

MySQL/MariaDB and PostgreSQL: real users of the test server with every privilege but the
ones dropping the apps' tables needs. SQLite: a read-only connection (``PRAGMA query_only``;
the tests run as root, for whom a read-only file is still writable).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections

from migration_ops.introspection import get_introspector
from migration_ops.services.privileges import statement_needs
from tests import factories
from tests.checksums import table_checksums
from tests.faults import Pristine
from tests.restricted import restricted_alias, restricted_user
from tests.test_reset_migrations import temporary_project
from tests.utils import run_command

pytestmark = pytest.mark.django_db(transaction=True)

# Users are server-wide: parallel runs (TEST_DB_SUFFIX) need names of their own.
USER = f"mo_restricted{os.environ.get('TEST_DB_SUFFIX', '')}".lower()
ALIAS = "restricted"
REMOVE = ["safe_remove_app", "shop", "shop_reports", "--database", ALIAS]
SHOP_TABLES = ["shop_order", "shop_orderline", "shop_product", "shop_reports_report"]
# Everything but DROP (PostgreSQL: not the tables' owner).
GRANTS = {
    "mysql": [
        "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES "
        "ON {database}.* TO {user}"
    ],
    "postgresql": [
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user}",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {user}",
    ],
}
# What makes the removal possible after GRANTS.
ENOUGH = {
    "mysql": ["GRANT DROP ON {database}.* TO {user}"],
    "postgresql": ["GRANT postgres TO {user}"],
}


@pytest.fixture
def shop_data() -> None:
    ContentType.objects.clear_cache()
    product = factories.ProductFactory(book=factories.BookFactory())
    factories.ReportFactory(product=product)
    factories.GroupFactory(permissions=["shop.view_order", "library.view_book"])


@pytest.fixture
def restricted(shop_data: None, vendor: str) -> Iterator[str]:
    """The alias of a connection that may do everything the removal needs but drop the
    apps' tables."""
    if vendor == "sqlite":
        settings_dict = {
            **connection.settings_dict,
            "OPTIONS": {
                **connection.settings_dict["OPTIONS"],
                "init_command": "PRAGMA query_only = ON",
            },
        }
        with restricted_alias(ALIAS, settings_dict) as alias:
            yield alias
        return
    with (
        restricted_user(USER, GRANTS[vendor]) as settings_dict,
        restricted_alias(ALIAS, settings_dict) as alias,
    ):
        yield alias


def missing(vendor: str) -> str:
    """What the introspector says the restricted connection lacks."""
    if vendor == "sqlite":
        return "the connection is read-only (PRAGMA query_only is on: connect without it)"
    tables = "shop_order, shop_orderline, shop_product and shop_reports_report"
    if vendor == "postgresql":
        return (
            f"role '{USER}' does not own {tables}, which only their owner (postgres), a member "
            f'of its role or a superuser may drop or alter (GRANT "postgres" TO "{USER}" '
            "gives it)"
        )
    database = connection.settings_dict["NAME"]
    grants = "; ".join(f"GRANT DROP ON `{database}`.`{t}` TO '{USER}'@'%'" for t in SHOP_TABLES)
    return f"user {USER}@% lacks DROP on {tables} ({grants} give them)"


def refusal(vendor: str) -> str:
    return (
        f"Refusing to remove 'shop' and 'shop_reports' from database '{ALIAS}'; nothing was "
        f"changed.\n- The connection to database '{ALIAS}' may not make these changes: "
        f"{missing(vendor)}."
    )


@pytest.mark.parametrize("backup", [False, True], ids=["no-backup", "backup"])
@pytest.mark.parametrize("strategy", ["drop", "migrate"])
def test_removal_refused_while_planning(restricted, tmp_path: Path, strategy, backup, vendor):
    argv = [*REMOVE, "--noinput", "--strategy", strategy]
    if backup:
        argv += ["--backup", str(tmp_path / "backup")]
    before = table_checksums(connections["default"])
    out, err, code = run_command(*argv)
    assert (err, code) == (refusal(vendor), 2)
    assert "Tables to drop, referencing tables first (4 tables" in out
    assert table_checksums(connections["default"]) == before
    assert not (tmp_path / "backup").exists()


def test_dry_run_shows_the_plan_and_the_finding(restricted, vendor):
    before = table_checksums(connections["default"])
    out, err, code = run_command(*REMOVE, "--dry-run")
    assert (err, code) == (refusal(vendor), 2)
    assert out.startswith(f"Plan to remove 'shop' and 'shop_reports' from database '{ALIAS}':\n")
    assert "Delete 1 row from django_migrations" not in out  # the plan, not a result
    assert table_checksums(connections["default"]) == before


@pytest.mark.usefixtures("shop_data")
def test_removal_goes_through_with_the_privileges(tmp_path: Path, vendor):
    if vendor == "sqlite":
        pytest.skip("SQLite has no privileges: a writable connection is the ordinary one.")
    pristine = Pristine("default")
    pristine.save()
    try:
        with (
            restricted_user(USER, GRANTS[vendor] + ENOUGH[vendor]) as settings_dict,
            restricted_alias(ALIAS, settings_dict),
        ):
            out, err, code = run_command(*REMOVE, "--noinput", "--strategy", "drop")
        assert (err, code) == ("", 0)
        assert "  Dropped table shop_product.\n" in out
        tables = set(connection.introspection.table_names())
        assert not tables & set(SHOP_TABLES)
        assert not ContentType.objects.filter(app_label__in=["shop", "shop_reports"]).exists()
    finally:
        pristine.restore()
        pristine.discard()


def test_mysql_privileges_of_a_role_on_a_database_pattern(vendor):
    """A privilege granted to the session's role, on a wildcard database name, counts; and
    the underscore of a pattern escaped with a backslash matches only an underscore."""
    if vendor != "mysql":
        pytest.skip("Roles and database patterns of MySQL/MariaDB grants.")
    name = connection.settings_dict["NAME"]
    # All but the name's last two characters, its underscores escaped (whatever the suffix).
    prefix = name[:-2].replace("_", "\\_")
    role = f"{USER}_role"
    needs = {"shop_order": {"DROP"}, "django_migrations": {"DELETE"}}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role}")
        cursor.execute(f"GRANT DROP ON `{prefix}%`.* TO {role}")
        cursor.execute(f"GRANT DELETE ON `{name}`.`django_migrations` TO {role}")
        # Matches nothing: "\_" is a literal underscore, not any character.
        cursor.execute(f"GRANT ALTER ON `{name[:-1]}\\_`.* TO {role}")
    grants = [
        "GRANT SELECT ON {database}.* TO {user}",
        f"GRANT {role} TO {{user}}",
        f"SET DEFAULT ROLE {role} FOR {{user}}",
    ]
    try:
        with (
            restricted_user(USER, grants) as settings_dict,
            restricted_alias(ALIAS, settings_dict) as alias,
        ):
            introspector = get_introspector(connections[alias])
            assert introspector.missing_table_privileges(needs) is None
            assert introspector.missing_table_privileges({"shop_order": {"ALTER"}}) == (
                f"user {USER}@% lacks ALTER on shop_order (GRANT ALTER ON `{name}`."
                f"`shop_order` TO '{USER}'@'%' gives it)"
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE {role}")


# Everything reset_migrations needs but INSERT on django_migrations.
RESET_GRANTS = {
    "mysql": ["GRANT SELECT, UPDATE, DELETE ON {database}.* TO {user}"],
    "postgresql": ["GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user}"],
}


@pytest.mark.django_db(databases=["default", "other"], transaction=True)
def test_reset_refused_while_planning(tmp_path: Path, settings, vendor):
    if vendor == "sqlite":
        settings_dict = {
            **connection.settings_dict,
            "OPTIONS": {
                **connection.settings_dict["OPTIONS"],
                "init_command": "PRAGMA query_only = ON",
            },
        }
        lacks = missing("sqlite")
    else:
        settings_dict = None
        recorder = "django_migrations"
        if vendor == "mysql":
            database = connection.settings_dict["NAME"]
            lacks = (
                f"user {USER}@% lacks INSERT on {recorder} (GRANT INSERT ON `{database}`."
                f"`{recorder}` TO '{USER}'@'%' gives it)"
            )
        else:
            lacks = (
                f"role '{USER}' lacks INSERT on {recorder} (GRANT INSERT ON \"{recorder}\" TO "
                f'"{USER}" gives it)'
            )
    with temporary_project(tmp_path, settings) as project, contextlib.ExitStack() as stack:
        if settings_dict is None:
            settings_dict = stack.enter_context(restricted_user(USER, RESET_GRANTS[vendor]))
        stack.enter_context(restricted_alias(ALIAS, settings_dict))
        contents, before = project.contents(), table_checksums(connections["default"])
        for dry_run in (True, False):
            out, err, code = run_command(
                "reset_migrations",
                "journal",
                database=ALIAS,
                backup_dir=str(project.backup),
                interactive=False,
                dry_run=dry_run,
            )
            assert (out, err, code) == (
                "",
                "Nothing was changed:\n- The connection to database 'restricted' may not make "
                f"these changes: {lacks}.",
                2,
            )
            assert project.contents() == contents
            assert not project.backup.exists()
            assert table_checksums(connections["default"]) == before


def test_statement_needs():
    assert statement_needs(
        [
            "ALTER TABLE `shop_order` DROP FOREIGN KEY `shop_order_fk`",
            'DROP TABLE "a", "b ""quoted"""',
            "  DELETE FROM `django_migrations` WHERE `app` IN ('shop')",
            'UPDATE "admin_log" SET "content_type_id" = NULL WHERE 1',
            "INSERT INTO `django_migrations` (`app`) VALUES ('shop')",
            "DROP INDEX `shop_idx` ON `shop_product`",
            "-- The SQL of shop.0001 cannot be shown",
            "CREATE TABLE `new` (`id` integer)",
            'DROP MATERIALIZED VIEW "shop_totals"',
            'DROP SEQUENCE "shop_numbers"',
        ]
    ) == {
        "shop_order": {"ALTER"},
        "a": {"DROP"},
        'b "quoted"': {"DROP"},
        "django_migrations": {"DELETE", "INSERT"},
        "admin_log": {"UPDATE"},
        "shop_product": {"INDEX"},
        "shop_totals": {"DROP"},
        "shop_numbers": {"DROP"},
    }


@pytest.mark.usefixtures("shop_data")
def test_mysql_delete_missing_on_the_bookkeeping_tables(vendor):
    """DROP granted, DELETE only on django_migrations: the content types, their permissions
    and the links to those are named (PostgreSQL: the owner has both)."""
    if vendor != "mysql":
        pytest.skip("PostgreSQL's owner and SQLite's file give DELETE with DROP.")
    grants = [
        "GRANT SELECT, INSERT, UPDATE, CREATE, DROP, ALTER, INDEX, REFERENCES "
        "ON {database}.* TO {user}",
        "GRANT DELETE ON {database}.`django_migrations` TO {user}",
    ]
    database = connection.settings_dict["NAME"]
    # Every table the deletion's statements name (the user-permission links have no rows, but
    # their DELETE runs all the same).
    tables = [
        "auth_group_permissions",
        "auth_permission",
        "auth_user_user_permissions",
        "django_content_type",
    ]
    statements = "; ".join(f"GRANT DELETE ON `{database}`.`{t}` TO '{USER}'@'%'" for t in tables)
    before = table_checksums(connections["default"])
    with (
        restricted_user(USER, grants) as settings_dict,
        restricted_alias(ALIAS, settings_dict),
    ):
        _, err, code = run_command(*REMOVE, "--noinput", "--strategy", "drop")
    assert (err, code) == (
        f"Refusing to remove 'shop' and 'shop_reports' from database '{ALIAS}'; nothing was "
        f"changed.\n- The connection to database '{ALIAS}' may not make these changes: user "
        f"{USER}@% lacks DELETE on auth_group_permissions, auth_permission, "
        f"auth_user_user_permissions and django_content_type ({statements} give them).",
        2,
    )
    assert table_checksums(connections["default"]) == before
