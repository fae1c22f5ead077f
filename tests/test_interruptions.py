"""Interrupted at any write event, a re-run finishes the job (issue 13).

Each test kills the command (SIGKILL) and, separately, interrupts it (SIGINT, as Ctrl-C does)
at every write event of a traced run (``tests/faults.py``), then checks that a re-run reaches
exactly the state of an uninterrupted run, that the lock is free and that a third run changes
nothing. The scenario is small on purpose: one child process per kill point.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import ProgrammingError, connections

from migration_ops.introspection import get_introspector
from migration_ops.services.common import LOCK_NAME
from tests import factories
from tests.faults import (
    WAITING,
    Convergence,
    DatabaseState,
    Fault,
    Pristine,
    converge,
    database_state,
    json_files,
    lock_is_free,
    run_child,
)
from tests.utils import run_command

TESTPROJECT = Path(__file__).resolve().parent.parent / "testproject"

pytestmark = pytest.mark.django_db(transaction=True)
# A child runs the command as manage.py does, system checks included, and Django 6.1's
# checks read every alias (on MySQL/MariaDB they connect): such tests touch "other" too.
runs_checks = pytest.mark.django_db(databases=["default", "other"], transaction=True)

REMOVE = ["safe_remove_app", "shop", "shop_reports"]
SHOP_TABLES = {"shop_order", "shop_orderline", "shop_product", "shop_reports_report"}


@pytest.fixture
def shop_data() -> None:
    """A few rows in the apps to remove, and permissions linked to them."""
    ContentType.objects.clear_cache()
    books = factories.BookFactory.create_batch(2)
    products = [factories.ProductFactory(book=b) for b in books]
    order = factories.OrderFactory(customer=factories.CustomerFactory())
    factories.OrderLineFactory(order=order, product=products[0])
    factories.ReportFactory(product=products[1])
    factories.GroupFactory(permissions=["shop.view_order", "library.view_book"])
    factories.UserFactory(permissions=["shop_reports.change_report"])


@pytest.fixture
def pristine(tmp_path: Path, shop_data: None) -> Iterator[Pristine]:
    saved = Pristine("default", directories=[tmp_path / "backup"])
    saved.save()
    try:
        yield saved
    finally:
        saved.restore()
        saved.discard()


def shop_removed(before: DatabaseState) -> Callable[[DatabaseState], None]:
    def check(after: DatabaseState) -> None:
        assert set(after.rows) == set(before.rows) - SHOP_TABLES
        bookkeeping = {
            "django_migrations",
            "django_content_type",
            "auth_permission",
            "auth_group_permissions",
            "auth_user_user_permissions",
        }
        for table in set(after.rows) - bookkeeping:
            assert after.rows[table] == before.rows[table], table
        ContentType.objects.clear_cache()
        assert not ContentType.objects.filter(app_label__in=["shop", "shop_reports"]).exists()

    return check


def assert_converged(result: Convergence) -> None:
    assert result.trials > 0
    assert not result.failures, result.report()


@pytest.mark.parametrize("backup", [False, True], ids=["no-backup", "backup"])
@pytest.mark.parametrize("strategy", ["drop", "migrate"])
def test_safe_remove_app_converges(pristine: Pristine, tmp_path: Path, strategy, backup, vendor):
    # The system checks only read, and cost a third of a run: skipped.
    argv = [*REMOVE, "--noinput", "--strategy", strategy, "--skip-checks"]
    if backup:
        argv += ["--backup", str(tmp_path / "backup")]
    result = converge(
        f"safe_remove_app --strategy {strategy}{' --backup' if backup else ''}",
        argv,
        pristine=pristine,
        done="Nothing to remove",
        # On the servers, to keep CI short: the --backup runs have every database event of
        # these, with both signals; these get SIGKILL only.
        signals=("kill", "int") if backup or vendor == "sqlite" else ("kill",),
        check_reference=shop_removed(database_state()),
        files=lambda: json_files(tmp_path / "backup"),
    )
    assert_converged(result)


# --------------------------------------------------------------------------- no tracebacks


def assert_nothing_changed(before: DatabaseState) -> None:
    assert before.differences(database_state()) == []
    assert lock_is_free()


@runs_checks
def test_prompt_with_standard_input_closed_is_refused(pristine: Pristine):
    before = database_state()
    run = run_child(REMOVE)
    assert run.returncode == 2, run.describe()
    assert run.stdout.endswith(
        "This removes 'shop' and 'shop_reports' from database 'default' and cannot be "
        "undone.\nType 'yes' to continue, or 'no' to cancel: \n"
    )
    assert run.stderr == (
        "CommandError: Standard input is closed, so the confirmation cannot be asked; nothing "
        "was changed. Pass --noinput to run without it (as a deploy script must).\n"
    )
    assert run.events == ()
    assert_nothing_changed(before)


@runs_checks
def test_ctrl_c_at_the_prompt(pristine: Pristine):
    before = database_state()
    run = run_child(REMOVE, stdin=WAITING, interrupt_on_output="Type 'yes' to continue")
    assert run.returncode == 130, run.describe()
    assert run.stderr == "CommandError: Cancelled at the prompt (Ctrl-C); nothing was changed.\n"
    assert run.events == ()
    assert_nothing_changed(before)


@runs_checks
def test_ctrl_c_while_planning(pristine: Pristine):
    """SIGINT at SQL statements spread over the planning (reads only): exit 130, a sentence,
    nothing changed, the lock free."""
    argv = [*REMOVE, "--noinput"]
    traced = run_child([*REMOVE, "--dry-run"], fault=Fault(10**9, signal.SIGINT, all_sql=True))
    assert traced.returncode == 0, traced.describe()
    planning = len(traced.events)
    assert planning > 20
    before = database_state()
    points = sorted({1, 2, planning // 3, planning // 2, planning - 1})
    for point in points:
        run = run_child(argv, fault=Fault(point, signal.SIGINT, all_sql=True))
        assert run.returncode == 130, run.describe()
        assert (
            run.stderr
            == "CommandError: Interrupted (Ctrl-C) while planning; nothing was changed.\n"
        )
        assert_nothing_changed(before)


@runs_checks
def test_ctrl_c_while_removing_says_what_was_done_and_not_done(pristine: Pristine):
    argv = [*REMOVE, "--noinput", "--strategy", "drop"]
    traced = run_child(argv, fault=Fault(10**9, signal.SIGINT))
    pristine.restore()
    second_drop = next(
        n for n, e in enumerate(traced.events, 1) if e.detail.startswith("DROP TABLE") and n > 1
    )
    run = run_child(argv, fault=Fault(second_drop, signal.SIGINT))
    assert run.returncode == 130, run.describe()
    assert run.stderr == (
        "CommandError: Interrupted (Ctrl-C) after 1 step of 6.\n"
        "Done:\n"
        "  Dropped table shop_orderline.\n"
        "Not done:\n"
        "  Drop table shop_reports_report\n"
        "  Drop table shop_order\n"
        "  Drop table shop_product\n"
        "  Delete 3 rows from django_migrations\n"
        "  Delete 4 content types, 16 permissions, 1 group-permission relationship and 1 "
        "user-permission relationship\n"
        "Run the same command again to complete the removal.\n"
    )
    assert not run.traceback


@pytest.mark.parametrize(
    "argv",
    [["safe_remove_app", "shop"], ["reset_migrations", "journal"], ["plan_upgrade"]],
    ids=lambda argv: argv[0],
)
def test_ctrl_c_during_the_system_checks(monkeypatch, argv: list[str]):
    """Django 6.1's checks connect to every alias on MySQL/MariaDB: a Ctrl-C can come while
    they wait for a server."""

    def interrupted_checks(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("django.core.checks.run_checks", interrupted_checks)
    assert run_command(*argv, skip_checks=False) == (
        "",
        "Interrupted (Ctrl-C) during the system checks; nothing was changed.",
        130,
    )


def test_lock_release_failure_does_not_hide_the_interruption(monkeypatch):
    """A Ctrl-C can leave the session unusable (MySQL: "Commands out of sync"): the release
    fails, the Ctrl-C is what comes out, and the lock is free all the same."""
    introspector = get_introspector(connections["default"])

    def out_of_sync(name: str, token: object) -> None:
        raise ProgrammingError(2014, "Commands out of sync; you can't run this command now")

    monkeypatch.setattr(introspector, "release_lock", out_of_sync)
    with pytest.raises(KeyboardInterrupt), introspector.lock(LOCK_NAME):
        raise KeyboardInterrupt
    monkeypatch.undo()
    assert lock_is_free()


def test_lock_release_on_a_mysql_session_out_of_sync(vendor: str):
    if vendor != "mysql":
        # The same path is taken on every backend by the test above, with the failure made up.
        assert vendor in ("sqlite", "postgresql")
        return
    connection = connections["default"]
    introspector = get_introspector(connection)
    import MySQLdb.cursors

    with pytest.raises(KeyboardInterrupt), introspector.lock(LOCK_NAME):
        # An unbuffered result not read to the end: the session's next query fails with
        # "Commands out of sync", as after a Ctrl-C in the middle of reading one.
        unread = connection.connection.cursor(MySQLdb.cursors.SSCursor)
        unread.execute("SELECT 1 UNION SELECT 2")
        raise KeyboardInterrupt
    assert connection.connection is None  # closed: that freed the lock
    assert lock_is_free()


def _bad_url(problem: str) -> str:
    """A ``DATABASE_URL`` for the current backend whose database cannot be reached."""
    database = settings.DATABASES["default"]
    engine = database["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return "sqlite:////nonexistent-directory-migration-ops/db.sqlite3"
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[engine]
    user = database["USER"]
    if problem == "unknown-name":
        return f"{scheme}://{user}@{database['HOST']}:{database['PORT']}/no_such_db_interrupt"
    return f"{scheme}://{user}@127.0.0.1:9/whatever"  # the discard port: nothing listens


@pytest.mark.parametrize("problem", ["unknown-name", "unreachable"])
@pytest.mark.parametrize(
    "argv",
    [
        ["safe_remove_app", "shop", "--noinput"],
        ["reset_migrations", "journal", "--noinput"],
        ["plan_upgrade"],
    ],
    ids=lambda argv: argv[0],
)
def test_database_that_cannot_be_reached(argv: list[str], problem: str):
    url = _bad_url(problem)
    env = {**os.environ, "DATABASE_URL": url, "OTHER_DATABASE_URL": url}
    run = subprocess.run(
        [sys.executable, str(TESTPROJECT / "manage.py"), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTPROJECT,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    if url.startswith("sqlite"):
        assert run.stderr == (
            "CommandError: Cannot connect to database 'default' (sqlite database "
            "'/nonexistent-directory-migration-ops/db.sqlite3'): unable to open database file. "
            "Check that the server is running and that DATABASES['default'] names an existing "
            "database and a user that may connect.\n"
        )
    else:
        assert run.stderr.startswith("CommandError: Cannot connect to database 'default' (")
        assert run.stderr.endswith(
            "Check that the server is running and that DATABASES['default'] names an existing "
            "database and a user that may connect.\n"
        )


# --------------------------------------------------------------------------- item by item


@runs_checks
def test_rerun_finishes_a_migration_whose_reverse_was_committed_but_not_recorded(
    pristine: Pristine,
):
    """Killed between a reverse migration's DDL and the deletion of its django_migrations
    row (Django records the unapply outside the schema transaction): the re-run finds the
    reverse in effect, records the migration as unapplied and goes on, saying so."""
    argv = [*REMOVE, "--noinput", "--strategy", "migrate"]
    traced = run_child(argv)
    pristine.restore()
    record = next(
        n
        for n, e in enumerate(traced.events, 1)
        if e.detail.startswith("DELETE") and "django_migrations" in e.detail
    )
    killed = run_child(argv, fault=Fault(record, signal.SIGKILL))
    assert killed.signal == signal.SIGKILL
    rerun = run_child(argv)
    assert rerun.returncode == 0, rerun.describe()
    found = (
        "  Migration shop_reports.0001_initial was being unapplied when an earlier run stopped: "
        "the reverse of 1 of its 1 operation is already in the database (Undo Create model "
        "Report); it is only recorded as unapplied.\n"
    )
    assert found in rerun.stdout
    assert "  1. Finish unapplying migration shop_reports.0001_initial\n" in rerun.stdout
    assert "  Finished unapplying migration shop_reports.0001_initial.\n" in rerun.stdout
    assert "  Unapplied migration shop.0002_order_customer.\n" in rerun.stdout


@runs_checks
def test_done_and_not_done_are_read_back_from_the_database(pristine: Pristine, vendor: str):
    """Ctrl-C at the commit of the content-type deletion: MySQL and SQLite commit when
    autocommit is turned back on, PostgreSQL rolls back; the report says which happened."""
    argv = [*REMOVE, "--noinput", "--strategy", "drop"]
    traced = run_child(argv)
    pristine.restore()
    delete = next(
        n
        for n, e in enumerate(traced.events, 1)
        if e.detail.startswith("DELETE") and "django_content_type" in e.detail.split()[2]
    )
    assert traced.events[delete].kind == "commit"
    run = run_child(argv, fault=Fault(delete + 1, signal.SIGINT))
    assert run.returncode == 130, run.describe()
    ContentType.objects.clear_cache()
    left = ContentType.objects.filter(app_label__in=["shop", "shop_reports"]).count()
    step = (
        "4 content types, 16 permissions, 1 group-permission relationship and 1 "
        "user-permission relationship"
    )
    if vendor == "postgresql":
        assert left == 4
        assert run.stderr.endswith(
            f"Not done:\n  Delete {step}\nRun the same command again to complete the removal.\n"
        )
        assert "CommandError: Interrupted (Ctrl-C) after 5 steps of 6.\n" in run.stderr
    else:
        assert left == 0
        assert run.stderr.startswith(
            "CommandError: Interrupted (Ctrl-C) after the last of its 6 steps: the removal is "
            "done.\n"
        )
        assert run.stderr.endswith(f"  Deleted {step}.\n")


def test_the_hint_to_remove_apps_together_is_not_refused_itself(shop_data: None):
    """``legacy`` is needed by ``shop``, which ``shop_reports`` needs: the hint names all
    three, and that removal is accepted (a dry run shows it)."""
    before = database_state()
    _, err, code = run_command("safe_remove_app", "legacy", interactive=False)
    assert code == 2
    hints = set(re.findall(r"in the same run: safe_remove_app ([\w ]+)\.", err))
    assert hints == {"legacy shop shop_reports"}
    out, err, code = run_command("safe_remove_app", *hints.pop().split(), dry_run=True)
    assert (err, code) == ("", 0)
    assert out.endswith("Dry run: nothing was changed.\n")
    assert before.differences(database_state()) == []
