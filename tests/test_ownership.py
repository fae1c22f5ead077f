from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from migration_ops.core.ownership import Ownership, StaleApp, TableOwner, attribute_tables

CONTRIB = {
    "auth_group": ("auth", "model"),
    "auth_group_permissions": ("auth", "auto-m2m"),
    "auth_permission": ("auth", "model"),
    "auth_user": ("auth", "model"),
    "auth_user_groups": ("auth", "auto-m2m"),
    "auth_user_user_permissions": ("auth", "auto-m2m"),
    "django_admin_log": ("admin", "model"),
    "django_content_type": ("contenttypes", "model"),
    "django_migrations": (None, "django"),
    "django_session": ("sessions", "model"),
}
LIBRARY = {
    "library_author": ("library", "model"),
    "library_book": ("library", "model"),
}
SHOP = {
    "shop_order": ("shop", "model"),
    "shop_orderline": ("shop", "model"),
    "shop_product": ("shop", "model"),
}
SHOP_REPORTS = {"shop_reports_report": ("shop_reports", "model")}
LEGACY = {
    "legacy_club": ("legacy", "model"),
    "legacy_membership": ("legacy", "model"),
    "legacy_tag": ("legacy", "model"),
    "old_customer_records": ("legacy", "model"),
    "old_customer_records_tags": ("legacy", "auto-m2m"),
}
UNMIGRATED = {"unmigrated_note": ("unmigrated", "model")}
# reset_migrations' scenario apps.
JOURNAL = {
    "journal_category": ("journal", "model"),
    "journal_entry": ("journal", "model"),
    "reviews_review": ("reviews", "model"),
}
# plan_upgrade's risk scenario app.
RISKY = {"risky_gadget": ("risky", "model"), "risky_part": ("risky", "model")}
SCENARIO = {**LIBRARY, **SHOP, **SHOP_REPORTS, **LEGACY, **UNMIGRATED, **JOURNAL, **RISKY}
APPS = {"library": LIBRARY, "shop": SHOP, "shop_reports": SHOP_REPORTS, "legacy": LEGACY}

LEGACY_MODELS = {
    "legacy_club": "legacy.Club",
    "legacy_membership": "legacy.Membership",
    "legacy_tag": "legacy.Tag",
    "old_customer_records": "legacy.Customer",
    "old_customer_records_tags": "legacy.Customer_tags",
}
LEGACY_ROWS = (
    "0001_initial",
    "0002_seed_tags",
    "0002_seed_tags_squashed_0003_club_membership",
    "0003_club_membership",
    "0004_customer_email",
)


def summary(ownership: Ownership) -> dict[str, tuple[str | None, str]]:
    return {table: (o.app_label, o.reason) for table, o in ownership.owners.items()}


def execute(alias: str, *statements: str) -> None:
    with connections[alias].cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def create_table(alias: str, table: str, *, references: str | None = None) -> None:
    quote = connections[alias].ops.quote_name
    columns = [f"{quote('id')} bigint PRIMARY KEY"]
    if references:
        # A table-level constraint: MySQL ignores a column-level REFERENCES.
        columns += [
            f"{quote('parent_id')} bigint NOT NULL",
            f"FOREIGN KEY ({quote('parent_id')}) REFERENCES {quote(references)} ({quote('id')})",
        ]
    execute(alias, f"CREATE TABLE {quote(table)} ({', '.join(columns)})")


def drop_tables(alias: str, *tables: str) -> None:
    """Drop ``tables`` that exist, referencing tables first."""
    connection = connections[alias]
    existing = set(connection.introspection.table_names())
    for table in tables:
        if table in existing:
            execute(alias, f"DROP TABLE {connection.ops.quote_name(table)}")


@pytest.fixture
def scratch_tables() -> Iterator[list[str]]:
    """Names appended here are dropped from the default database after the test, in
    reverse order of creation."""
    tables: list[str] = []
    try:
        yield tables
    finally:
        drop_tables("default", *reversed(tables))


@pytest.mark.django_db
def test_fresh_database_attributes_every_table():
    ownership = attribute_tables(connections["default"])

    assert ownership.alias == "default"
    assert summary(ownership) == {**CONTRIB, **SCENARIO}
    assert ownership.orphans == ()
    assert ownership.ignored == ()
    assert ownership.stale_apps == {}
    assert list(ownership.owners) == sorted(ownership.owners)


@pytest.mark.django_db
def test_prefix_collision_and_custom_tables():
    ownership = attribute_tables(connections["default"])

    assert ownership.tables_of("shop") == ("shop_order", "shop_orderline", "shop_product")
    assert ownership.tables_of("shop_reports") == ("shop_reports_report",)
    assert ownership.tables_of("legacy") == tuple(sorted(LEGACY))
    assert ownership.owners["old_customer_records"] == TableOwner(
        "old_customer_records", "legacy", "legacy.Customer", "model", installed=True
    )
    assert ownership.owners["old_customer_records_tags"] == TableOwner(
        "old_customer_records_tags", "legacy", "legacy.Customer_tags", "auto-m2m", installed=True
    )
    assert ownership.owners["legacy_membership"] == TableOwner(
        "legacy_membership", "legacy", "legacy.Membership", "model", installed=True
    )
    assert ownership.owners["shop_reports_report"] == TableOwner(
        "shop_reports_report", "shop_reports", "shop_reports.Report", "model", installed=True
    )
    assert ownership.owners["unmigrated_note"] == TableOwner(
        "unmigrated_note", "unmigrated", "unmigrated.Note", "model", installed=True
    )
    assert ownership.owners["django_migrations"] == TableOwner(
        "django_migrations", None, None, "django", installed=False
    )


@pytest.mark.django_db(databases=["default", "other"])
def test_other_alias_has_only_the_routed_app():
    ownership = attribute_tables(connections["other"])

    assert ownership.alias == "other"
    assert summary(ownership) == {**LIBRARY, "django_migrations": (None, "django")}
    assert ownership.stale_apps == {}


@pytest.mark.django_db(transaction=True)
def test_orphan_and_ignored_tables(scratch_tables):
    scratch_tables += ["shop_archive", "scheduler_jobs", "shop_order_notes"]
    create_table("default", "shop_archive")
    create_table("default", "scheduler_jobs")
    # An FK into an installed app's table and its name do not make it that app's.
    create_table("default", "shop_order_notes", references="shop_order")

    ownership = attribute_tables(connections["default"])

    assert summary(ownership) == {
        **CONTRIB,
        **SCENARIO,
        "scheduler_jobs": (None, "ignored"),
        "shop_archive": (None, "orphan"),
        "shop_order_notes": (None, "orphan"),
    }
    assert ownership.orphans == ("shop_archive", "shop_order_notes")
    assert ownership.ignored == ("scheduler_jobs",)
    assert ownership.owners["shop_archive"] == TableOwner(
        "shop_archive", None, None, "orphan", installed=False
    )
    assert ownership.tables_of("shop") == ("shop_order", "shop_orderline", "shop_product")


@pytest.mark.django_db
@override_settings(MIGRATION_OPS={"IGNORED_TABLES": ["library_*"]})
def test_ignored_pattern_wins_over_a_model():
    ownership = attribute_tables(connections["default"])

    assert ownership.ignored == ("library_author", "library_book")
    assert ownership.tables_of("library") == ()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "removed",
    [
        # legacy alone: shop's migrations depend on it, so the installed apps' graph
        # is broken (NodeNotFoundError) and only the current models count.
        ("legacy",),
        # shop and legacy: shop_reports' migrations still depend on shop.
        ("legacy", "shop"),
        # A consistent graph again.
        ("legacy", "shop", "shop_reports"),
    ],
)
def test_removed_apps_are_stale_with_their_migration_files(removed):
    installed = [app for app in settings.INSTALLED_APPS if app not in removed]
    with override_settings(INSTALLED_APPS=installed):
        ownership = attribute_tables(connections["default"])

    expected = {**CONTRIB, **SCENARIO}
    for app in removed:
        expected.update({table: (app, "stale-migrations") for table in APPS[app]})
    assert summary(ownership) == expected
    assert ownership.orphans == ()
    assert set(ownership.stale_apps) == set(removed)
    assert ownership.stale_apps["legacy"] == StaleApp(
        app_label="legacy",
        tables=tuple(sorted(LEGACY)),
        migration_rows=LEGACY_ROWS,
        content_types=("club", "customer", "membership", "tag"),
        evidence=(
            "5 migrations recorded in django_migrations",
            "4 content types in django_content_type",
            "migration files in module legacy.migrations",
        ),
        migrations_module="legacy.migrations",
    )
    assert {t: o.model for t, o in ownership.owners.items() if o.app_label == "legacy"} == (
        LEGACY_MODELS
    )
    assert not any(o.installed for o in ownership.owners.values() if o.app_label in removed)
    if "shop" in removed:
        assert ownership.stale_apps["shop"] == StaleApp(
            app_label="shop",
            tables=("shop_order", "shop_orderline", "shop_product"),
            migration_rows=("0001_initial", "0002_order_customer"),
            content_types=("order", "orderline", "product"),
            evidence=(
                "2 migrations recorded in django_migrations",
                "3 content types in django_content_type",
                "migration files in module shop.migrations",
            ),
            migrations_module="shop.migrations",
        )


@pytest.mark.django_db
def test_stale_app_whose_files_lack_a_recorded_migration_falls_back_to_content_types():
    MigrationRecorder(connections["default"]).record_applied("legacy", "0005_not_on_disk")
    installed = [app for app in settings.INSTALLED_APPS if app != "legacy"]
    with override_settings(INSTALLED_APPS=installed):
        ownership = attribute_tables(connections["default"])

    # Content types name the models, hence their default table names; a custom db_table
    # and its M2M table can't be recovered from them.
    assert {t: o for t, o in summary(ownership).items() if t in LEGACY} == {
        "legacy_club": ("legacy", "stale-content-type"),
        "legacy_membership": ("legacy", "stale-content-type"),
        "legacy_tag": ("legacy", "stale-content-type"),
        "old_customer_records": (None, "orphan"),
        "old_customer_records_tags": (None, "orphan"),
    }
    assert ownership.owners["legacy_club"] == TableOwner(
        "legacy_club", "legacy", "legacy.club", "stale-content-type", installed=False
    )
    assert ownership.stale_apps["legacy"].evidence == (
        "6 migrations recorded in django_migrations",
        "4 content types in django_content_type",
    )


@pytest.mark.django_db(transaction=True)
def test_stale_app_known_only_from_content_types(scratch_tables):
    connection = connections["default"]
    scratch_tables += ["ghostapp_widget", "ghostapp_widget_parts", "ghostapp_unrelated"]
    try:
        create_table("default", "ghostapp_widget")
        create_table("default", "ghostapp_widget_parts", references="ghostapp_widget")
        create_table("default", "ghostapp_unrelated")
        ContentType.objects.create(app_label="ghostapp", model="widget")
        MigrationRecorder(connection).record_applied("ghostapp", "0001_initial")

        ownership = attribute_tables(connection)
    finally:
        MigrationRecorder(connection).record_unapplied("ghostapp", "0001_initial")
        ContentType.objects.filter(app_label="ghostapp").delete()

    assert summary(ownership) == {
        **CONTRIB,
        **SCENARIO,
        "ghostapp_unrelated": (None, "orphan"),
        "ghostapp_widget": ("ghostapp", "stale-content-type"),
        "ghostapp_widget_parts": ("ghostapp", "stale-m2m"),
    }
    assert ownership.owners["ghostapp_widget_parts"] == TableOwner(
        "ghostapp_widget_parts", "ghostapp", None, "stale-m2m", installed=False
    )
    assert ownership.stale_apps == {
        "ghostapp": StaleApp(
            app_label="ghostapp",
            tables=("ghostapp_widget", "ghostapp_widget_parts"),
            migration_rows=("0001_initial",),
            content_types=("widget",),
            evidence=(
                "1 migration recorded in django_migrations",
                "1 content type in django_content_type",
            ),
        )
    }
    assert ownership.orphans == ("ghostapp_unrelated",)


PENDING_MIGRATIONS = {
    "0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            operations = [
                migrations.CreateModel(
                    "Temp", [("id", models.AutoField(primary_key=True))]
                ),
            ]
    """,
    "0002_swap.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("unmigrated", "0001_initial")]
            operations = [
                migrations.DeleteModel("Temp"),
                migrations.CreateModel(
                    "Later",
                    [
                        ("id", models.AutoField(primary_key=True)),
                        ("tags", models.ManyToManyField("library.Author")),
                    ],
                    options={"db_table": "later_things"},
                ),
            ]
    """,
}


@pytest.mark.django_db(transaction=True)
def test_tables_of_applied_and_pending_migrations_are_owned(tmp_path, monkeypatch, scratch_tables):
    """A table that the applied state has and a pending migration deletes, and one that a
    pending migration creates (and exists already), belong to the installed app."""
    package = tmp_path / "pending_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in PENDING_MIGRATIONS.items():
        (package / name).write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    connection = connections["default"]
    scratch_tables += ["unmigrated_temp", "later_things", "later_things_tags"]
    try:
        create_table("default", "unmigrated_temp")
        create_table("default", "later_things")
        create_table("default", "later_things_tags", references="later_things")
        MigrationRecorder(connection).record_applied("unmigrated", "0001_initial")
        with override_settings(MIGRATION_MODULES={"unmigrated": "pending_migrations"}):
            ownership = attribute_tables(connection)
    finally:
        MigrationRecorder(connection).record_unapplied("unmigrated", "0001_initial")

    assert summary(ownership) == {
        **CONTRIB,
        **SCENARIO,
        "later_things": ("unmigrated", "model"),
        "later_things_tags": ("unmigrated", "auto-m2m"),
        "unmigrated_temp": ("unmigrated", "model"),
    }
    assert ownership.owners["later_things_tags"].model == "unmigrated.Later_tags"
    assert ownership.owners["unmigrated_temp"].model == "unmigrated.Temp"


@pytest.mark.django_db
def test_constant_number_of_queries(vendor):
    connection = connections["default"]
    from migration_ops.introspection import snapshot

    schema = snapshot(connection)
    attribute_tables(connection, schema=schema)  # backend settings read once per connection
    with CaptureQueriesContext(connection) as queries:
        attribute_tables(connection, schema=schema)

    # django_migrations and django_content_type: the current models claim every table, so
    # the migration history (and the loader's queries) is not needed.
    assert len(queries) == 2


@pytest.mark.django_db(transaction=True)
def test_constant_number_of_queries_with_unclaimed_tables(scratch_tables):
    scratch_tables += ["shop_archive"]
    create_table("default", "shop_archive")
    connection = connections["default"]
    from migration_ops.introspection import snapshot

    schema = snapshot(connection)
    attribute_tables(connection, schema=schema)
    with CaptureQueriesContext(connection) as queries:
        ownership = attribute_tables(connection, schema=schema)

    # An unclaimed table makes it read the history: plus the migration loader's own check
    # for django_migrations and read of it.
    assert len(queries) == 4
    assert ownership.orphans == ("shop_archive",)


@pytest.mark.django_db(transaction=True)
def test_unmanaged_model_table_belongs_to_its_app():
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {quote('unmigrated_note_summary')} (id integer PRIMARY KEY)")
    try:
        ownership = attribute_tables(connection)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quote('unmigrated_note_summary')}")
    assert ownership.owners["unmigrated_note_summary"] == TableOwner(
        "unmigrated_note_summary", "unmigrated", "unmigrated.NoteSummary", "unmanaged", True
    )
    assert ownership.orphans == ()
