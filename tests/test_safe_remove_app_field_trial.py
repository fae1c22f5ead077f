"""``safe_remove_app`` on what a field trial on real projects broke (issue 12): several labels
in processes with different hash seeds, multi-table inheritance into another app, references
left in settings and code, refusals that suggest the whole set, quiet plans, and apps whose
label is not their module path.

Apps that only these tests need are generated into ``tmp_path`` (module-scoped), put on
``sys.path`` and installed with ``override_settings``: the scenario project stays as it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.checks import WARNING, run_checks
from django.core.management import call_command
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from migration_ops.exceptions import MigrationOpsError
from migration_ops.management.commands import safe_remove_app as command
from migration_ops.services.backup import restore_backup
from migration_ops.services.removal import RemovalInterrupted, build_removal_plan
from tests.test_safe_remove_app import (  # noqa: F401 (fixtures)
    FILES,
    SCENARIO_TABLES,
    assert_removed,
    database_state,
    remove,
    restore_database,
    scenario_data,
    without_apps,
)
from tests.test_safe_remove_app import (
    installed as base_installed,
)
from tests.test_safe_remove_app import (
    uninstalled as base_uninstalled,
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


# --------------------------------------------------------------------------- generated apps


@contextmanager
def installed(*extra: str) -> Iterator[None]:
    """Apps added to INSTALLED_APPS. Django's registry forgets the models' cached relations
    only when an override ends, not when it starts: forget them here, or a model installed
    now would be missing from the reverse relations of the content types."""
    with base_installed(*extra):
        apps.clear_cache()
        yield


@contextmanager
def uninstalled(*labels: str) -> Iterator[None]:
    with base_uninstalled(*labels):
        apps.clear_cache()
        yield


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())


@pytest.fixture(scope="module")
def generated_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory on ``sys.path`` for the apps these tests generate; their modules are
    forgotten afterwards."""
    root = tmp_path_factory.mktemp("generated_apps")
    before = set(sys.modules)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        yield root
    for name in set(sys.modules) - before:
        if sys.modules[name].__file__ and str(root) in str(sys.modules[name].__file__):
            del sys.modules[name]


# A page tree (another app's concrete model, with a foreign key to the content types, as in a
# CMS) and a page type of it in the app to remove: multi-table inheritance across apps.
PAGE_TREE = {
    "pagetree/__init__.py": "",
    "pagetree/models.py": """
        from django.db import models


        class Page(models.Model):
            title = models.CharField(max_length=50)
            content_type = models.ForeignKey(
                "contenttypes.ContentType", on_delete=models.CASCADE, related_name="+"
            )


        class HomePage(Page):
            headline = models.CharField(max_length=50)


        class Revision(models.Model):
            page = models.ForeignKey(Page, on_delete=models.PROTECT)
            note = models.CharField(max_length=50)


        class Redirect(models.Model):
            old_path = models.CharField(max_length=100, primary_key=True)
            page = models.ForeignKey(Page, on_delete=models.CASCADE)


        class Link(models.Model):
            from_type = models.ForeignKey(
                "contenttypes.ContentType", on_delete=models.CASCADE, related_name="+"
            )
            to_type = models.ForeignKey(
                "contenttypes.ContentType", on_delete=models.CASCADE, related_name="+"
            )
    """,
    "pagetree/migrations/__init__.py": "",
    "pagetree/migrations/0001_initial.py": """
        from django.db import migrations, models
        from django.db.models import CASCADE, PROTECT


        class Migration(migrations.Migration):
            initial = True
            dependencies = [("contenttypes", "0002_remove_content_type_name")]
            operations = [
                migrations.CreateModel(
                    name="Page",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("title", models.CharField(max_length=50)),
                        ("content_type", models.ForeignKey(
                            on_delete=CASCADE, related_name="+", to="contenttypes.contenttype"
                        )),
                    ],
                ),
                migrations.CreateModel(
                    name="HomePage",
                    fields=[
                        ("page_ptr", models.OneToOneField(
                            auto_created=True, on_delete=CASCADE, parent_link=True,
                            primary_key=True, serialize=False, to="pagetree.page",
                        )),
                        ("headline", models.CharField(max_length=50)),
                    ],
                    bases=("pagetree.page",),
                ),
                migrations.CreateModel(
                    name="Revision",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("note", models.CharField(max_length=50)),
                        ("page", models.ForeignKey(on_delete=PROTECT, to="pagetree.page")),
                    ],
                ),
                migrations.CreateModel(
                    name="Redirect",
                    fields=[
                        ("old_path", models.CharField(max_length=100, primary_key=True)),
                        ("page", models.ForeignKey(on_delete=CASCADE, to="pagetree.page")),
                    ],
                ),
                migrations.CreateModel(
                    name="Link",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("from_type", models.ForeignKey(
                            on_delete=CASCADE, related_name="+", to="contenttypes.contenttype"
                        )),
                        ("to_type", models.ForeignKey(
                            on_delete=CASCADE, related_name="+", to="contenttypes.contenttype"
                        )),
                    ],
                ),
            ]
    """,
    "blog/__init__.py": "",
    "blog/models.py": """
        from django.db import models

        from pagetree.models import Page


        class BlogPage(Page):
            body = models.TextField()
    """,
    "blog/migrations/__init__.py": "",
    "blog/migrations/0001_initial.py": """
        from django.db import migrations, models
        from django.db.models import CASCADE, PROTECT


        class Migration(migrations.Migration):
            initial = True
            dependencies = [("pagetree", "0001_initial")]
            operations = [
                migrations.CreateModel(
                    name="BlogPage",
                    fields=[
                        ("page_ptr", models.OneToOneField(
                            auto_created=True, on_delete=CASCADE, parent_link=True,
                            primary_key=True, serialize=False, to="pagetree.page",
                        )),
                        ("body", models.TextField()),
                    ],
                    bases=("pagetree.page",),
                ),
            ]
    """,
}


@pytest.fixture
def page_tree(generated_root: Path, restore_database: None) -> Iterator[dict[str, Any]]:  # noqa: F811
    """``pagetree`` and ``blog`` installed and migrated: a home page with a revision, two blog
    pages and one with the plain page type, one plain page, a redirect to the home page and
    one to a blog page, links between page types."""
    write_files(generated_root, PAGE_TREE)
    with installed("pagetree", "blog"):
        call_command("migrate", verbosity=0)
        from blog.models import BlogPage
        from pagetree.models import HomePage, Link, Page, Redirect, Revision

        ContentType.objects.clear_cache()
        home = HomePage.objects.create(
            title="Home",
            headline="Welcome",
            content_type=ContentType.objects.get_for_model(HomePage),
        )
        Revision.objects.create(page=home, note="first")
        blog_type = ContentType.objects.get_for_model(BlogPage)
        posts = [
            BlogPage.objects.create(title=f"Post {n}", body="...", content_type=blog_type)
            for n in (1, 2)
        ]
        page_type = ContentType.objects.get_for_model(Page)
        Page.objects.create(title="About", content_type=page_type)
        # Imported with the parent's content type: deleting blog's does not reach it.
        BlogPage.objects.create(title="Imported post", body="...", content_type=page_type)
        Redirect.objects.create(old_path="/old-home/", page=home)
        Redirect.objects.create(old_path="/2019/post-1/", page=posts[0])
        # Two foreign keys to the content types: three links have blog's at one end or both.
        for from_type, to_type in [
            (blog_type, page_type),
            (page_type, blog_type),
            (blog_type, blog_type),
            (page_type, page_type),
        ]:
            Link.objects.create(from_type=from_type, to_type=to_type)
        yield {"home": home, "posts": posts, "revision_model": Revision}


# --------------------------------------------------------------------------- item 2: inheritance


def column(state: Any, table: str, name: str) -> int:
    return state.columns[table].index(name)


@pytest.mark.parametrize("blog_installed", [True, False])
def test_a_page_type_subclassing_another_apps_page_is_removed_with_its_parent_rows(
    page_tree, blog_installed
):
    """The content-type cascade reaches the parent rows (pagetree.Page rows of blog pages)
    and what refers to them, through the parent's own relations; rows of the parent table
    whose child rows go are counted, deleted or staying."""
    before = database_state()
    page_ids = {p.pk for p in page_tree["posts"]}
    files = "" if blog_installed else f" {FILES}"

    if blog_installed:
        document = json.loads(remove("blog", format="json", dry_run=True)[0])
        assert document["parent_rows"] == [
            {
                "table": "pagetree_page",
                "model": "pagetree.Page",
                "child_table": "blog_blogpage",
                "column": "page_ptr_id",
                "rows": 3,
                "deleted": 2,
            }
        ]
        out, err, code = remove("blog")
    else:
        with uninstalled("blog"):
            out, err, code = remove("blog")

    assert (err, code) == ("", 0)
    assert (
        "Tables to drop, referencing tables first (1 table, 3 rows):\n"
        f"  blog_blogpage  3 rows  blog: model blog.BlogPage{files}\n"
        "Rows of tables that stay whose child rows go (multi-table inheritance):\n"
        "  3 rows of pagetree_page (pagetree.Page), parents of the rows of blog_blogpage: 2 "
        "deleted with the content types, 1 stays without its child row\n"
    ) in out
    # Only what has rows (item 6): Link's two foreign keys merged, a link counted once.
    assert (
        "Content types to delete (1):\n"
        "  blog.blogpage\n"
        "  Deleted with them: 4 permissions (auth.Permission)\n"
        "  Deleted with them: 2 pages (pagetree.Page)\n"
        "  Deleted with them: 1 redirect (pagetree.Redirect)\n"
        "  Deleted with them: 3 links (pagetree.Link, through from_type and to_type)\n"
        "  Checked 10 relations: the 5 with no rows are not listed.\n"
        "Steps:\n"
    ) in out
    assert ". Delete 1 content type, 4 permissions, 2 pages, 1 redirect and 3 links\n" in out
    expected = without_apps(before, {"blog"}, {"blog_blogpage"})
    page_id = column(before, "pagetree_page", "id")
    expected["pagetree_page"] = [r for r in expected["pagetree_page"] if r[page_id] not in page_ids]
    redirect_page = column(before, "pagetree_redirect", "page_id")
    expected["pagetree_redirect"] = [
        r for r in expected["pagetree_redirect"] if r[redirect_page] not in page_ids
    ]
    page_type = ContentType.objects.get(app_label="pagetree", model="page").pk
    ends = (
        column(before, "pagetree_link", "from_type_id"),
        column(before, "pagetree_link", "to_type_id"),
    )
    expected["pagetree_link"] = [
        r for r in expected["pagetree_link"] if r[ends[0]] == r[ends[1]] == page_type
    ]
    after = database_state()
    assert set(after.schema.tables) == set(before.schema.tables) - {"blog_blogpage"}
    assert after.rows == expected
    # What stays: the home page (and its own table's row), the plain page, the imported post's
    # parent row, the home page's revision and redirect.
    titles = sorted(r[column(after, "pagetree_page", "title")] for r in after.rows["pagetree_page"])
    assert titles == ["About", "Home", "Imported post"]
    assert len(after.rows["pagetree_homepage"]) == 1
    assert len(after.rows["pagetree_revision"]) == 1
    assert len(after.rows["pagetree_redirect"]) == 1


def test_a_parent_app_that_protects_the_parent_rows_is_a_refusal(page_tree):
    page_tree["revision_model"].objects.create(page=page_tree["posts"][1], note="draft")
    before = database_state()

    out, err, code = remove("blog")

    assert code == 2
    assert err == (
        "Refusing to remove 'blog' from database 'default'; nothing was changed.\n"
        "- Rows that protect the content types of these apps from deletion: 1 pagetree.Revision "
        "(pagetree_revision.page_id). Delete them, or change their on_delete, first."
    )
    assert "  Protected by: 1 revision (pagetree.Revision)\n" in out
    assert database_state() == before


# --------------------------------------------------------------------------- item 5: the whole set


@pytest.mark.usefixtures("scenario_data")
def test_a_refusal_suggests_every_app_to_remove_together_and_that_set_is_accepted():
    """shop refers to legacy, shop_reports to shop: the suggestion is all three at once,
    not shop first and shop_reports at the next refusal."""
    before = database_state()

    _, err, code = remove("legacy")

    assert code == 2
    assert err.count("or remove these apps in the same run: safe_remove_app legacy shop ") == 2
    assert err.count("safe_remove_app legacy shop shop_reports.") == 2
    assert json.loads(remove("legacy", format="json", dry_run=True)[0])["remove_together"] == [
        "legacy",
        "shop",
        "shop_reports",
    ]
    assert database_state() == before

    _, err, code = remove("legacy", "shop", "shop_reports")

    assert (err, code) == ("", 0)
    assert_removed(before, {"legacy", "shop", "shop_reports"}, SCENARIO_TABLES)


@pytest.mark.usefixtures("scenario_data")
def test_the_migrate_zero_in_a_refusal_names_the_given_labels_others_depend_on():
    before = database_state()

    _, err, code = remove("shop_reports", "legacy")

    assert code == 2
    assert err == (
        "Refusing to remove 'shop_reports' and 'legacy' from database 'default'; nothing was "
        "changed.\n"
        "- Models of installed apps that stay refer to models of 'shop_reports' and 'legacy': "
        "shop.Order.customer -> legacy.Customer. Their code would break: remove those fields "
        "(and migrate) first, or remove these apps in the same run: safe_remove_app "
        "shop_reports legacy shop.\n"
        "- Migrations of apps that stay depend on migrations of 'shop_reports' and 'legacy': "
        "shop.0002_order_customer on legacy.0004_customer_email. `migrate legacy zero` would "
        "unapply them, and without 'shop_reports' and 'legacy' their migration graph cannot be "
        "built: edit those dependencies out of their migration files first, or remove these "
        "apps in the same run: safe_remove_app shop_reports legacy shop.\n"
        "- Tables that stay have foreign keys into tables to drop: shop_order.customer_id -> "
        "old_customer_records.id (app 'shop'). Pass --drop-incoming-constraints to drop these "
        "constraints and keep those tables, or remove the apps that own them in the same run."
    )
    assert database_state() == before


# --------------------------------------------------------------------------- item 6: quiet backups


@pytest.mark.usefixtures("scenario_data")
def test_a_backup_writes_no_file_for_a_table_without_rows_and_still_restores(tmp_path):
    """reviews has no rows, nor do the permission links and log entries of its content
    type: only its content type and permissions get a file; the restore brings back every
    row all the same."""
    before = database_state()
    directory = tmp_path / "backup"

    out, err, code = remove("reviews", backup=str(directory))

    assert (err, code) == ("", 0)
    assert f"  Backed up 5 rows of 6 tables to {directory}.\n" in out
    assert sorted(p.name for p in directory.iterdir()) == [
        "001-django_content_type.jsonl",
        "002-auth_permission.jsonl",
        "manifest.json",
    ]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert [(t["table"], t["file"], t["rows"]) for t in manifest["tables"]] == [
        ("django_content_type", "001-django_content_type.jsonl", 1),
        ("auth_permission", "002-auth_permission.jsonl", 4),
        ("django_admin_log", None, 0),
        ("auth_group_permissions", None, 0),
        ("auth_user_user_permissions", None, 0),
        ("reviews_review", None, 0),
    ]
    assert_removed(before, {"reviews"}, REVIEWS_TABLES)

    call_command("migrate", verbosity=0)
    result = restore_backup(directory)

    assert result.rows == 5
    after = database_state()
    assert after.schema == before.schema
    assert {t for t, r in after.rows.items() if r != before.rows[t]} == {"django_migrations"}


# --------------------------------------------------------------------------- item 4: left to do


NEWSLETTER = {
    "newsletter/__init__.py": "",
    "newsletter/models.py": """
        from django.db import models


        class Subscriber(models.Model):
            email = models.EmailField()
    """,
    "newsletter/migrations/__init__.py": "",
    "newsletter/migrations/0001_initial.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            initial = True
            operations = [
                migrations.CreateModel(
                    name="Subscriber",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("email", models.EmailField(max_length=254)),
                    ],
                ),
            ]
    """,
    "newsletter/middleware.py": """
        class TrackingMiddleware:
            def __init__(self, get_response):
                self.get_response = get_response

            def __call__(self, request):
                return self.get_response(request)
    """,
    "newsletter/context_processors.py": """
        def subscription(request):
            return {}
    """,
    "newsletter/signals.py": "",
    # Another app, staying, whose ready() imports the app to remove.
    "portal/__init__.py": "",
    "portal/apps.py": """
        from django.apps import AppConfig


        class PortalConfig(AppConfig):
            name = "portal"

            def ready(self):
                import newsletter.signals  # noqa: F401
    """,
    "portal/views.py": """
        from django.urls import include, path

        urlpatterns = [path("news/", include("newsletter.urls"))]
    """,
}


@pytest.fixture
def newsletter(generated_root: Path, restore_database: None) -> Iterator[Path]:  # noqa: F811
    """``newsletter`` installed and migrated, named in MIDDLEWARE and TEMPLATES, imported by
    ``portal``'s ready() and included by its URLs."""
    write_files(generated_root, NEWSLETTER)
    templates = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {
                "context_processors": [
                    *settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
                    "newsletter.context_processors.subscription",
                ]
            },
        }
    ]
    with (
        override_settings(
            MIDDLEWARE=[*settings.MIDDLEWARE, "newsletter.middleware.TrackingMiddleware"],
            TEMPLATES=templates,
        ),
        installed("newsletter", "portal"),
    ):
        call_command("migrate", verbosity=0)
        yield generated_root


def test_left_to_do_lists_the_settings_and_modules_that_still_refer_to_the_app(newsletter):
    portal = newsletter / "portal"
    processors = "settings.TEMPLATES[0]['OPTIONS']['context_processors'][3]"
    references = [
        "settings.MIDDLEWARE[3] refers to 'newsletter', an app that is not in INSTALLED_APPS: "
        "'newsletter.middleware.TrackingMiddleware'.",
        f"{processors} refers to 'newsletter', an app that is not in INSTALLED_APPS: "
        "'newsletter.context_processors.subscription'.",
        f"{portal}/apps.py:8 refers to 'newsletter', an app that is not in INSTALLED_APPS: "
        "import newsletter.signals.",
        f"{portal}/views.py:3 refers to 'newsletter', an app that is not in INSTALLED_APPS: "
        "'newsletter.urls'.",
    ]
    # Installed, the app is not reported by the check.
    assert [m for m in run_checks() if m.id == "migration_ops.W002"] == []

    out, err, code = remove("newsletter")

    assert (err, code) == ("", 0)
    assert out.endswith(
        "Left to do:\n"
        "  Remove 'newsletter' from INSTALLED_APPS.\n"
        "  Remove what refers to 'newsletter' at settings.MIDDLEWARE[3]: "
        "'newsletter.middleware.TrackingMiddleware'.\n"
        f"  Remove what refers to 'newsletter' at {processors}: "
        "'newsletter.context_processors.subscription'.\n"
        f"  Remove what refers to 'newsletter' at {portal}/apps.py:8: "
        "import newsletter.signals.\n"
        f"  Remove what refers to 'newsletter' at {portal}/views.py:3: 'newsletter.urls'.\n"
        "  'newsletter' is part of this project, not an installed distribution: delete its "
        f"code ({newsletter / 'newsletter'}) once nothing imports it.\n"
    )

    # Taken out of INSTALLED_APPS as the plan said, the rest not done yet: the system check
    # reports the same references.
    with uninstalled("newsletter"):
        messages = [m for m in run_checks() if m.id == "migration_ops.W002"]
    assert [m.msg for m in messages] == references
    assert {m.level for m in messages} == {WARNING}


# -------------------------------------------------------------------------- item 7: label, module


NEWSROOM = {
    "publishing/__init__.py": "",
    "publishing/news/__init__.py": "",
    "publishing/news/apps.py": """
        from django.apps import AppConfig


        class NewsConfig(AppConfig):
            name = "publishing.news"
            label = "newsroom"
    """,
    "publishing/news/models.py": """
        from django.db import models


        class Category(models.Model):
            name = models.CharField(max_length=50)


        class Article(models.Model):
            title = models.CharField(max_length=50)
            lead = models.TextField(default="")
            category = models.ForeignKey(Category, on_delete=models.CASCADE)

            class Meta:
                db_table = "news_articles"
    """,
    "publishing/news/migrations/__init__.py": "",
    "publishing/news/migrations/0001_initial.py": """
        from django.db import migrations, models
        from django.db.models import CASCADE


        class Migration(migrations.Migration):
            initial = True
            operations = [
                migrations.CreateModel(
                    name="Category",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("name", models.CharField(max_length=50)),
                    ],
                ),
                migrations.CreateModel(
                    name="Article",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("title", models.CharField(max_length=50)),
                        ("category", models.ForeignKey(on_delete=CASCADE, to="newsroom.category")),
                    ],
                    options={"db_table": "news_articles"},
                ),
            ]
    """,
    "publishing/news/migrations/0002_article_lead.py": """
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [("newsroom", "0001_initial")]
            operations = [
                migrations.AddField("article", "lead", models.TextField(default="")),
            ]
    """,
}


@pytest.fixture
def newsroom(generated_root: Path, restore_database: None) -> Iterator[Path]:  # noqa: F811
    """App ``publishing.news``, label ``newsroom``, migrated with rows, then uninstalled."""
    write_files(generated_root, NEWSROOM)
    with installed("publishing.news"):
        call_command("migrate", verbosity=0)
        from publishing.news.models import Article, Category

        category = Category.objects.create(name="City")
        Article.objects.create(title="Flood", category=category)
        Article.objects.create(title="Fair", category=category)
        with uninstalled("publishing.news"):
            yield generated_root


def test_an_uninstalled_app_whose_label_is_not_its_module_is_found_by_its_migration_files(
    newsroom,
):
    """The label does not import: the migration files are found by the names recorded in
    django_migrations, so the custom db_table (which no content type names) goes too."""
    before = database_state()

    out, err, code = remove("newsroom")

    assert (err, code) == ("", 0)
    assert out.startswith(
        "Plan to remove 'newsroom' from database 'default':\n"
        "  newsroom: not installed; found from 2 migrations recorded in django_migrations, 2 "
        "content types in django_content_type, migration files in module "
        "publishing.news.migrations\n"
        "Strategy: drop (auto: 'newsroom' is not in INSTALLED_APPS, so migrate cannot run its "
        "migrations).\n"
        "Tables to drop, referencing tables first (2 tables, 3 rows):\n"
        f"  news_articles      2 rows  newsroom: model newsroom.Article {FILES}, custom db_table\n"
        f"  newsroom_category   1 row  newsroom: model newsroom.Category {FILES}\n"
    )
    assert out.endswith(
        "Left to do:\n"
        "  'publishing.news' is part of this project, not an installed distribution: delete its "
        f"code ({newsroom / 'publishing' / 'news'}) once nothing imports it.\n"
    )
    assert_removed(before, {"newsroom"}, {"news_articles", "newsroom_category"})
