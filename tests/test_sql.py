"""``collect_plan_sql``: the SQL of a whole plan, per migration and per operation exactly
what ``sqlmigrate`` prints, collected in one pass.

Every test is ``transaction=True``: on SQLite a schema editor, even one that only collects
SQL, refuses to start inside a transaction (so does ``sqlmigrate``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.core.management import call_command
from django.db import NotSupportedError, connection, connections, transaction
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

from migration_ops.core.sql import MigrationSQL, OperationSQL, collect_plan_sql
from migration_ops.core.sql.selection import Walker
from migration_ops.core.states import plan_start_state
from tests.utils import run_command

pytestmark = pytest.mark.django_db(transaction=True)

Plan = list[tuple[Migration, bool]]
UNIQUE_TOGETHER = "risky.0009_alter_gadget_unique_together"


def label(migration: Migration) -> str:
    return f"{migration.app_label}.{migration.name}"


def sqlmigrate(migration: Migration, backwards: bool = False) -> str:
    args = ["sqlmigrate", migration.app_label, migration.name]
    out, err, code = run_command(*args, *(["--backwards"] if backwards else []))
    assert code == 0, err
    return out


def printed(result: MigrationSQL) -> str:
    """What sqlmigrate would print for ``result``."""
    return "".join(f"{line}\n" for line in result.statements)


def sqlmigrate_blocks(text: str, transaction: bool) -> list[tuple[str, str]]:
    """sqlmigrate's output cut at its "--/-- description/--" headers: (description, SQL)."""
    lines = text.split("\n")[:-1]
    if transaction and lines:
        lines = lines[1:-1]
    blocks: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(lines):
        if lines[i : i + 3][::2] == ["--", "--"] and lines[i + 1].startswith("-- "):
            blocks.append((lines[i + 1][3:], []))
            i += 3
        else:
            blocks[-1][1].append(lines[i])
            i += 1
    return [(description, now_free("\n".join(sql))) for description, sql in blocks]


def our_blocks(result: MigrationSQL) -> list[tuple[str, str]]:
    """Our result cut the same way; the deferred statements belong to the last block."""
    blocks = [(op.description, list(op.lines[3:])) for op in result.operations]
    if blocks:
        blocks[-1][1].extend(result.deferred)
    return [(description, now_free("\n".join(sql))) for description, sql in blocks]


def now_free(text: str) -> str:
    """``text`` with the timestamps Django evaluates for defaults such as ``timezone.now``
    (at a different instant for each run) blanked out."""
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", "<now>", text)


def assert_same_as_sqlmigrate(result: MigrationSQL, migration: Migration) -> None:
    text = now_free(sqlmigrate(migration, result.backwards))
    assert now_free(printed(result)) == text, label(migration)
    assert our_blocks(result) == sqlmigrate_blocks(text, result.transaction is not None)


def plan_from_empty(executor: MigrationExecutor) -> Plan:
    return executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)


def applied_state(loader: MigrationLoader) -> ProjectState:
    applied = [key for key in loader.applied_migrations if key in loader.graph.nodes]
    return loader.project_state(sorted(applied), at_end=True)


def without_app(plan: Plan, app_label: str) -> Plan:
    return [(m, b) for m, b in plan if m.app_label != app_label]


@pytest.fixture
def executor() -> MigrationExecutor:
    return MigrationExecutor(connection)


@pytest.fixture
def partly_migrated() -> Iterator[None]:
    call_command("migrate", "risky", "0004", verbosity=0)
    call_command("migrate", "shop_reports", "zero", verbosity=0)
    try:
        yield
    finally:
        call_command("migrate", verbosity=0)


# --------------------------------------------------------------------------- identity


def test_every_migration_forwards_from_an_empty_database_is_what_sqlmigrate_prints(executor):
    plan = plan_from_empty(executor)
    results = collect_plan_sql(connection, executor.loader, plan)

    assert [r.label for r in results] == [label(m) for m, _ in plan]
    assert [r.label for r in results if r.unavailable] == []
    for result, (migration, _) in zip(results, plan, strict=True):
        if result.label == UNIQUE_TOGETHER:
            # It reads the name of a constraint the plan creates first: the virtual catalogue
            # names it as the plan's own AlterUniqueTogether did. sqlmigrate reads this
            # database, which is past 0009 already, and fails.
            (drop,) = result.operations[0].statements
            assert connection.ops.quote_name("risky_gadget_name_code_fb25914b_uniq") in drop
        else:
            assert_same_as_sqlmigrate(result, migration)


def test_replaced_migrations_are_what_sqlmigrate_prints():
    # sqlmigrate loads the graph without replacing squashed migrations.
    loader = MigrationLoader(connection, replace_migrations=False)
    club = loader.graph.nodes["legacy", "0003_club_membership"]
    (result,) = collect_plan_sql(connection, loader, [(club, False)])
    assert_same_as_sqlmigrate(result, club)
    # sqlmigrate cannot name 0002_seed_tags (a prefix of the squashed migration's name):
    # compare with what it would collect.
    seed = loader.graph.nodes["legacy", "0002_seed_tags"]
    (result,) = collect_plan_sql(connection, loader, [(seed, False)])
    assert list(body(result)) == loader.collect_sql([(seed, False)])


def test_every_migration_backwards_is_what_sqlmigrate_prints(executor):
    loader = executor.loader
    irreversible = set()
    for key in sorted(loader.graph.nodes):
        migration = loader.graph.nodes[key]
        (result,) = collect_plan_sql(connection, loader, [(migration, True)])
        if result.unavailable:
            irreversible.add(result.label)
            with pytest.raises(IrreversibleError):
                call_command("sqlmigrate", *key, backwards=True, verbosity=0)
        else:
            assert_same_as_sqlmigrate(result, migration)
    assert irreversible == {
        "legacy.0002_seed_tags_squashed_0003_club_membership",
        "risky.0002_seed_gadgets",
    }


def test_a_partly_migrated_database(executor, partly_migrated):
    executor.loader.build_graph()
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    assert [(label(m), backwards) for m, backwards in plan] == [
        ("risky.0005_remove_gadget_legacy_flag", False),
        ("risky.0006_alter_gadget_name", False),
        ("risky.0007_rename_gadget_notes", False),
        ("risky.0008_alter_gadget_code", False),
        (UNIQUE_TOGETHER, False),
        ("risky.0010_alter_gadget_nickname", False),
        ("risky.0011_delete_obsolete", False),
        ("shop_reports.0001_initial", False),
    ]
    # The default start state (the plan's applied ancestors) and migrate's own (every
    # applied migration) give the same SQL.
    default = collect_plan_sql(connection, executor.loader, plan)
    applied = collect_plan_sql(
        connection, executor.loader, plan, start_state=applied_state(executor.loader)
    )
    assert default == applied
    # 0005 rebuilds or alters risky_gadget before 0009 reads its unique constraint's name:
    # the virtual catalogue follows it from the live table (the name survives).
    assert [r.label for r in default if r.unavailable] == []
    for result, (migration, _) in zip(default, plan, strict=True):
        assert_same_as_sqlmigrate(result, migration)


def test_whole_plan_as_django_collects_it(executor):
    # risky.0009 cannot be collected by Django on this database (its constraint is gone).
    plan = without_app(plan_from_empty(executor), "risky")
    results = collect_plan_sql(
        connection, executor.loader, plan, reproduce="collect_sql", check_live_reads=False
    )
    ours = [line for r in results for line in body(r)]
    assert ours == executor.loader.collect_sql(plan)


def test_whole_plan_as_migrate_runs_it(executor):
    plan = without_app(plan_from_empty(executor), "risky")
    results = collect_plan_sql(
        connection, executor.loader, plan, reproduce="migrate", check_live_reads=False
    )
    ours = [line for r in results for line in body(r)]
    assert ours == migrate_sql(executor.loader, plan)


def body(result: MigrationSQL) -> tuple[str, ...]:
    statements = result.statements
    return statements[1:-1] if result.transaction and statements else statements


def migrate_sql(loader: MigrationLoader, plan: Plan) -> list[str]:
    """The slow, straightforward way, as ``migrate`` runs a plan: one whole state,
    rendered before the first migration (``_migrate_all_forwards``), then advanced."""
    state = plan_start_state(loader, plan)
    state.apps  # noqa: B018
    return applied_sql(state, plan)


def applied_sql(state: ProjectState, plan: Plan) -> list[str]:
    """The SQL ``migration.apply`` collects for each migration of ``plan``, from ``state``."""
    statements: list[str] = []
    for migration, _ in plan:
        with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            state = migration.apply(state, editor, collect_sql=True)
        statements.extend(editor.collected_sql)
    return statements


# --------------------------------------------------------------------------- unavailable SQL


@pytest.fixture
def at_risky_0008() -> Iterator[None]:
    call_command("migrate", "risky", "0008", verbosity=0)
    try:
        yield
    finally:
        call_command("migrate", "risky", verbosity=0)


def test_unique_together_removal_reads_the_live_constraint_name(executor, at_risky_0008):
    executor.loader.build_graph()
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    assert [label(m) for m, _ in plan] == [
        UNIQUE_TOGETHER,
        "risky.0010_alter_gadget_nickname",
        "risky.0011_delete_obsolete",
    ]
    results = collect_plan_sql(connection, executor.loader, plan)

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "risky_gadget")
    (name,) = [
        n
        for n, c in constraints.items()
        if c["unique"] and not c["primary_key"] and c["columns"] == ["name", "code"]
    ]
    drop = results[0].operations[0]
    assert drop.unavailable is None
    assert len(drop.statements) == 1
    assert connection.ops.quote_name(name) in drop.statements[0]
    for result, (migration, _) in zip(results, plan, strict=True):
        assert_same_as_sqlmigrate(result, migration)


def test_sql_unavailable_when_django_cannot_find_the_constraint(executor):
    # The database is past 0009: the unique constraint 0009 drops is not there.
    loader = executor.loader
    plan = [(loader.graph.nodes["risky", name], False) for name in unique_together_and_next()]
    results = collect_plan_sql(connection, loader, plan)

    assert results[0].operations == (
        OperationSQL(
            "Alter unique_together for gadget (0 constraint(s))",
            (),
            unavailable=(
                "SQL unavailable: Found wrong number (0) of constraints for "
                "risky_gadget(name, code)"
            ),
        ),
    )
    assert printed(results[0]) == wrapped(
        results[0],
        "--",
        "-- Alter unique_together for gadget (0 constraint(s))",
        "--",
        "-- SQL unavailable: Found wrong number (0) of constraints for risky_gadget(name, code)",
    )
    with pytest.raises(ValueError, match=r"Found wrong number \(0\) of constraints"):
        call_command("sqlmigrate", "risky", plan[0][0].name, verbosity=0)
    # The rest of the plan goes on.
    assert results[1].unavailable == ()
    assert_same_as_sqlmigrate(results[1], plan[1][0])


def test_sql_unavailable_when_the_table_is_not_in_the_database(executor):
    loader = executor.loader
    plan = [(loader.graph.nodes["risky", name], False) for name in unique_together_and_next()]
    # A database that drifted: the model's table is not there under its name.
    start = loader.project_state(("risky", plan[0][0].name), at_end=False)
    start.models["risky", "gadget"].options["db_table"] = "risky_gadget_elsewhere"
    before = start.clone()
    results = collect_plan_sql(connection, loader, plan, start_state=start)

    assert results[0].unavailable == (
        "SQL unavailable: it depends on the live structure of table "
        "risky_gadget_elsewhere, which the database does not have yet.",
    )
    assert start == before  # the caller's state is not modified


def unique_together_and_next() -> tuple[str, str]:
    return UNIQUE_TOGETHER.split(".")[1], "0010_alter_gadget_nickname"


def wrapped(result: MigrationSQL, *lines: str) -> str:
    if result.transaction:
        lines = (result.transaction[0], *lines, result.transaction[1])
    return "".join(f"{line}\n" for line in lines)


def test_irreversible_operations_backwards(executor):
    migration = executor.loader.graph.nodes["risky", "0002_seed_gadgets"]
    (result,) = collect_plan_sql(connection, executor.loader, [(migration, True)])
    assert result.operations == (
        OperationSQL(
            "Raw Python operation",
            (),
            unavailable=(
                "SQL unavailable: this operation cannot be reversed, so migrate refuses to "
                "unapply the migration."
            ),
            reduces_to_sql=False,
        ),
    )
    assert result.operations[0].lines[-1] == (
        "-- SQL unavailable: this operation cannot be reversed, so migrate refuses to "
        "unapply the migration."
    )


# --------------------------------------------------------------------------- shape


def test_runpython_and_runsql_and_no_op_lines(executor):
    loader = executor.loader
    plan = [
        (loader.graph.nodes["risky", name], False)
        for name in ("0002_seed_gadgets", "0003_uppercase_gadget_names")
    ]
    seed, upper = collect_plan_sql(connection, loader, plan)
    assert seed.operations == (OperationSQL("Raw Python operation", (), reduces_to_sql=False),)
    assert seed.operations[0].lines == (
        "--",
        "-- Raw Python operation",
        "--",
        "-- THIS OPERATION CANNOT BE WRITTEN AS SQL",
    )
    assert upper.operations == (
        OperationSQL("Raw SQL operation", ("UPDATE risky_gadget SET name = UPPER(name);",)),
    )
    assert OperationSQL("Alter field x on y", ()).lines[-1] == "-- (no-op)"


def test_transaction_lines_follow_sqlmigrate(executor):
    loader = executor.loader
    atomic = loader.graph.nodes["risky", "0005_remove_gadget_legacy_flag"]
    not_atomic = loader.graph.nodes["risky", "0004_part_position"]
    first, second = collect_plan_sql(connection, loader, [(not_atomic, False), (atomic, False)])
    assert first.transaction is None
    if connection.features.can_rollback_ddl:
        assert second.transaction == ("BEGIN;", "COMMIT;")
        assert second.statements[0] == "BEGIN;"
        assert second.statements[-1] == "COMMIT;"
    else:
        assert second.transaction is None


def test_sqlite_checks_foreign_keys_not_once_per_migration(executor):
    """SQLite's schema editors turn foreign-key checking off and on, and check the whole
    database, per migration: collecting SQL changes nothing, so it is turned off once."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's schema editor and its foreign-key pragmas.")
    plan = plan_from_empty(executor)
    assert len(plan) > 20
    with CaptureQueriesContext(connection) as queries:
        collect_plan_sql(connection, executor.loader, plan)
    pragmas = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("PRAGMA")]
    assert pragmas == [
        "PRAGMA foreign_keys = OFF",
        "PRAGMA foreign_keys",
        "PRAGMA foreign_keys = ON",
    ]
    assert "check_constraints" not in vars(connections["default"])
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_sqlite_collection_refused_inside_a_transaction(executor):
    if connection.vendor != "sqlite":
        pytest.skip("Only SQLite's schema editor refuses to start inside a transaction.")
    plan = plan_from_empty(executor)
    with transaction.atomic(), pytest.raises(NotSupportedError, match="outside any transaction"):
        collect_plan_sql(connection, executor.loader, plan)
    assert not {"disable_constraint_checking", "check_constraints"} & set(
        vars(connections["default"])
    )


def test_rendered_models_share_their_exception_classes_only_while_collecting():
    from django.apps import apps
    from django.db.models import base

    from migration_ops.core.sql.process import state_model_exceptions_shared

    state = ProjectState.from_apps(apps)
    original = base.subclass_exception
    with state_model_exceptions_shared():
        first = state.clone().apps.get_model("shop", "Order")
        second = state.clone().apps.get_model("shop", "Order")
        assert first is not second
        assert first.DoesNotExist is second.DoesNotExist
        assert first.DoesNotExist.__qualname__ == "Order.DoesNotExist"
        # The global registry's models keep exceptions of their own.
        order = apps.get_model("shop", "Order")
        made = [
            base.subclass_exception("DoesNotExist", (ObjectDoesNotExist,), "shop.models", order)
            for _ in range(2)
        ]
        assert made[0] is not made[1]
    assert base.subclass_exception is original
    third = state.clone().apps.get_model("shop", "Order")
    assert third.DoesNotExist is not first.DoesNotExist


def test_sqlite_rebuilds_build_the_self_reference_stand_in_only_when_needed(monkeypatch):
    """SQLite's table rebuild builds a model under the table's own name for self-references
    to resolve to: skipped while collecting where the model has none, with the same SQL."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's table rebuilds.")
    from django.db import models
    from django.db.backends.sqlite3 import schema
    from django.db.migrations import operations as ops
    from django.db.migrations.state import ModelState

    built: list[list[str]] = []

    class RecordingApps(schema.Apps):
        def register_model(self, app_label: str, model: type) -> None:
            if not built or built[-1][-1].startswith("New"):
                built.append([])
            built[-1].append(model.__name__)
            super().register_model(app_label, model)

    state = ProjectState()
    for name, parent in (("Plain", None), ("Tree", "selfref.Tree")):
        fields = [("id", models.AutoField(primary_key=True)), ("n", models.IntegerField())]
        if parent:
            fields.append(("parent", models.ForeignKey(parent, models.CASCADE, null=True)))
        state.add_model(ModelState("selfref", name, fields))
    migration = Migration("0002_change", "selfref")
    migration.operations = [
        ops.AlterField(name, "n", models.IntegerField(null=True)) for name in ("Plain", "Tree")
    ]

    def django_sql() -> list[str]:
        after = state.clone()
        with connection.schema_editor(collect_sql=True) as editor:
            migration.apply(after, editor, collect_sql=True)
        return [line for line in editor.collected_sql if not line.startswith("--")]

    monkeypatch.setattr(schema, "Apps", RecordingApps)
    expected = django_sql()
    assert built == [["Plain", "NewPlain"], ["Tree", "NewTree"]]
    built.clear()
    (result,) = collect_plan_sql(connection, None, [(migration, False)], start_state=state)
    assert built == [["NewPlain"], ["Tree", "NewTree"]]
    assert [line for op in result.operations for line in op.statements] == expected
    assert any(line.startswith('CREATE TABLE "new__selfref_tree"') for line in expected)


def test_migration_without_operations():
    empty = Migration("0099_nothing", "library")
    (result,) = collect_plan_sql(
        connection, MigrationLoader(connection), [(empty, False)], start_state=ProjectState()
    )
    assert result == MigrationSQL("library", "0099_nothing", False, (), (), result.transaction)
    assert result.statements == ()  # sqlmigrate prints nothing either


def test_empty_plan():
    assert collect_plan_sql(connection, MigrationLoader(connection), []) == ()


def test_start_state_is_not_modified(executor):
    plan = plan_from_empty(executor)
    start = plan_start_state(executor.loader, plan)
    before = start.clone()
    collect_plan_sql(connection, executor.loader, plan, start_state=start)
    assert start == before
    assert "apps" not in start.__dict__


# --------------------------------------------------------------------------- what is rendered


def selection(walker: Walker, app_label: str, operation: object) -> tuple[set, dict]:
    chosen = walker.select(operation, app_label)
    return set(chosen.keys), {key: set(names) for key, names in chosen.stubs.items()}


def test_an_operation_renders_its_model_and_stubs_of_what_it_points_at(executor):
    loader = executor.loader
    migration = loader.graph.nodes["library", "0002_book_published"]
    walker = Walker(loader.project_state(("library", migration.name), at_end=False))
    add_field = migration.operations[0]
    assert selection(walker, "library", add_field) == (
        {("library", "book")},
        {("library", "author"): {"id"}},
    )


def test_altering_a_primary_key_renders_what_points_at_it(executor):
    from django.db import models
    from django.db.migrations import AlterField

    loader = executor.loader
    walker = Walker(loader.project_state())
    alter_pk = AlterField("author", "id", models.BigAutoField(primary_key=True))
    keys, stubs = selection(walker, "library", alter_pk)
    # Book's foreign key to Author follows its type; Book is rendered in full, and what it
    # points at (besides Author) as stubs.
    assert keys == {("library", "author"), ("library", "book")}
    assert stubs == {}


def test_altering_another_field_renders_nothing_pointing_at_it(executor):
    from django.db import models
    from django.db.migrations import AlterField

    walker = Walker(executor.loader.project_state())
    alter = AlterField("author", "name", models.CharField(max_length=150))
    assert selection(walker, "library", alter) == ({("library", "author")}, {})


def test_renames_render_the_models_pointing_at_the_renamed_model(executor):
    from django.db.migrations import RenameModel

    loader = executor.loader
    walker = Walker(loader.project_state())
    keys, stubs = selection(walker, "library", RenameModel("Book", "Volume"))
    assert keys == {("library", "book"), ("shop", "product")}  # Product points at Book
    assert stubs == {("library", "author"): {"id"}}


# --------------------------------------------------------------------------- rendering


def django_collected(plan: Plan, *, render_first: bool) -> list[str]:
    """Django's SQL for in-memory migrations applied to an empty state, as ``migrate``
    (state rendered first) or ``collect_sql`` (rendered on first use) collects it."""
    state = ProjectState()
    if render_first:
        state.apps  # noqa: B018
    return applied_sql(state, plan)


def renamed_to_field_plan() -> Plan:
    """A foreign key with ``to_field`` whose target field is renamed: ``RenameField``
    rewrites that foreign key in place (Django changes its ``to_field``, not the object)."""
    from django.db import models
    from django.db.migrations import AddField, AlterField, CreateModel, RenameField

    first = Migration("0001_initial", "tofield")
    first.operations = [
        CreateModel(
            "Author",
            [
                ("id", models.AutoField(primary_key=True)),
                ("code", models.CharField(max_length=10, unique=True)),
            ],
        ),
        CreateModel(
            "Book",
            [
                ("id", models.AutoField(primary_key=True)),
                (
                    "author",
                    models.ForeignKey(
                        "tofield.author", models.CASCADE, to_field="code", db_constraint=True
                    ),
                ),
            ],
        ),
        AddField("book", "title", models.CharField(max_length=20, default="")),
    ]
    second = Migration("0002_rename", "tofield")
    second.operations = [
        RenameField("author", "code", "ref"),
        # Renders Book again, with its foreign key to the renamed column (SQLite's table
        # rebuild names it).
        AddField("book", "pages", models.IntegerField(default=0)),
    ]
    if connection.vendor != "mysql":  # MySQL reads the foreign key's name from the table
        # Re-creates the foreign key pointing at the renamed column.
        second.operations.append(
            AlterField("author", "ref", models.CharField(max_length=30, unique=True))
        )
    return [(first, False), (second, False)]


@pytest.mark.parametrize("reproduce", ["collect_sql", "migrate"])
def test_fields_renamed_in_place_render_anew(reproduce):
    plan = renamed_to_field_plan()
    results = collect_plan_sql(
        connection,
        MigrationLoader(connection),
        plan,
        start_state=ProjectState(),
        reproduce=reproduce,
        check_live_reads=False,
    )
    assert not [r.unavailable for r in results if r.unavailable]
    ours = [line for r in results for line in body(r)]
    django = django_collected(renamed_to_field_plan(), render_first=reproduce == "migrate")
    assert ours == django
    if connection.vendor != "mysql":
        assert any('"ref")' in line for line in ours[-8:])
