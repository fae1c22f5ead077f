"""Risk classes of migration operations (``migration_ops.core.operations``).

The ``risky`` scenario app has one migration per risk class; the expected findings
depend on two database features only: whether it rebuilds tables for ALTERs (SQLite) and
whether it can roll back DDL (not MySQL/MariaDB).
"""

from __future__ import annotations

import pytest
from django.db import connection, connections, models
from django.db.migrations import (
    AddConstraint,
    AddField,
    AlterField,
    AlterModelTable,
    DeleteModel,
    RemoveConstraint,
    RemoveField,
    RenameModel,
)
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.state import ProjectState

from migration_ops.core.operations import (
    MigrationRisks,
    Risk,
    RiskFinding,
    classify_migration,
    classify_operation,
    classify_plan,
)
from migration_ops.core.sql import collect_plan_sql
from migration_ops.core.states import plan_start_state

GADGET, PART = "risky_gadget", "risky_part"
SIZES = {GADGET: (2_000_000, 300 * 1024 * 1024), PART: (10, 16_384)}
LIMITS = {"long_lock_rows": 1_000_000, "long_lock_bytes": 1024**3}
BIG = "about 2,000,000 rows and 300.0 MB"

D, IRREV, DATA = Risk.DESTRUCTIVE, Risk.IRREVERSIBLE, Risk.DATA
N, R, L, B = Risk.NON_ATOMIC, Risk.TABLE_REBUILD, Risk.LONG_LOCK, Risk.BREAKS_RUNNING_CODE


def rebuilds() -> bool:
    return connection.vendor == "sqlite"


def rebuild(table: str) -> list[RiskFinding]:
    reason = f"Rebuilds table {table} on this database: every row is copied into a new table."
    return [RiskFinding(R, reason, table)] if rebuilds() else []


def long_lock(table: str = GADGET) -> RiskFinding:
    return RiskFinding(L, f"Alters table {table} ({BIG}), which may lock it for long.", table)


def no_rollback(direction: str, label: str, count: int) -> list[RiskFinding]:
    if connection.features.can_rollback_ddl:
        return []
    reason = (
        f"This database cannot roll back schema changes and {direction} {label} runs {count} "
        f"operations: if one fails, those before it stay applied."
    )
    return [RiskFinding(N, reason)]


def drops_table(table: str) -> list[RiskFinding]:
    return [
        RiskFinding(D, f"Drops table {table} (and all its rows).", table),
        RiskFinding(B, f"Drops table {table}, which the running release queries.", table),
    ]


def drops_column(table: str, column: str) -> list[RiskFinding]:
    return [
        RiskFinding(D, f"Drops column {table}.{column} (and its data).", table),
        RiskFinding(B, f"Drops column {table}.{column}, which the running release queries.", table),
    ]


def not_null_column(table: str, column: str) -> RiskFinding:
    return RiskFinding(
        B,
        f"Adds NOT NULL column {table}.{column} without a database default: the running "
        f"release's INSERTs, which omit it, fail.",
        table,
    )


def shrinks(column: str, old: str, new: str) -> RiskFinding:
    return RiskFinding(
        D,
        f"Alters column {GADGET}.{column}: shrinks it from {old} to {new}: longer values are "
        f"cut or fail.",
        GADGET,
    )


SEED = "risky.0002_seed_gadgets"


def expected_forwards(name: str) -> list[RiskFinding]:
    label = f"risky.{name}"
    return {
        "0001_initial": no_rollback("applying", label, 3),
        "0002_seed_gadgets": [
            RiskFinding(
                IRREV,
                f"RunPython seed_gadgets has no reverse_code: migration {SEED} cannot be "
                f"unapplied once applied.",
            ),
            RiskFinding(
                DATA,
                "Runs Python function seed_gadgets: its duration and effect depend on the data.",
            ),
        ],
        "0003_uppercase_gadget_names": [
            RiskFinding(
                DATA,
                "Runs raw SQL (UPDATE risky_gadget SET name = UPPER(name)): its duration and "
                "effect depend on the data.",
            )
        ],
        "0004_part_position": [
            RiskFinding(
                N,
                f"Migration {label} declares atomic = False: if applying it fails midway, the "
                f"operations already run stay applied.",
            ),
            not_null_column(PART, "position"),
            *rebuild(PART),
        ],
        "0005_remove_gadget_legacy_flag": [*drops_column(GADGET, "legacy_flag"), long_lock()],
        "0006_alter_gadget_name": [*rebuild(GADGET), long_lock()],
        "0007_rename_gadget_notes": [
            RiskFinding(
                B,
                f"Renames column {GADGET}.notes to description, which the running release "
                f"still calls notes.",
                GADGET,
            )
        ],
        "0008_alter_gadget_code": [
            shrinks("code", "varchar(20)", "varchar(12)"),
            *rebuild(GADGET),
            long_lock(),
        ],
        "0009_alter_gadget_unique_together": [
            RiskFinding(
                D,
                f"Drops the unique constraint (name, code) of table {GADGET}: duplicates "
                f"become possible, and re-adding it then fails.",
                GADGET,
            )
        ],
        "0010_alter_gadget_nickname": [
            RiskFinding(
                B,
                f"Makes column {GADGET}.nickname NOT NULL without a database default: the "
                f"running release may still write NULL there.",
                GADGET,
            ),
            *rebuild(GADGET),
            long_lock(),
        ],
        "0011_delete_obsolete": drops_table("risky_obsolete"),
    }[name]


def expected_backwards(name: str) -> list[RiskFinding]:
    label = f"risky.{name}"
    return {
        "0001_initial": [
            *no_rollback("unapplying", label, 3),
            *drops_table(PART),
            *drops_table("risky_obsolete"),
            *drops_table(GADGET),
        ],
        "0002_seed_gadgets": [
            RiskFinding(
                IRREV,
                f"RunPython seed_gadgets has no reverse_code: unapplying migration {SEED} fails "
                f"before it changes anything.",
            )
        ],
        "0003_uppercase_gadget_names": [],  # its reverse is a no-op
        "0004_part_position": [
            RiskFinding(
                N,
                f"Migration {label} declares atomic = False: if unapplying it fails midway, the "
                f"operations already run stay applied.",
            ),
            *drops_column(PART, "position"),
        ],
        "0005_remove_gadget_legacy_flag": [
            not_null_column(GADGET, "legacy_flag"),
            *rebuild(GADGET),
            long_lock(),
        ],
        "0006_alter_gadget_name": [
            shrinks("name", "varchar(120)", "varchar(100)"),
            *rebuild(GADGET),
            long_lock(),
        ],
        "0007_rename_gadget_notes": [
            RiskFinding(
                B,
                f"Renames column {GADGET}.description to notes, which the running release "
                f"still calls description.",
                GADGET,
            )
        ],
        "0008_alter_gadget_code": [*rebuild(GADGET), long_lock()],
        "0009_alter_gadget_unique_together": [long_lock()],  # re-adds the constraint
        "0010_alter_gadget_nickname": [*rebuild(GADGET), long_lock()],
        "0011_delete_obsolete": [],  # creates a table
    }[name]


RISKY = [
    "0001_initial",
    "0002_seed_gadgets",
    "0003_uppercase_gadget_names",
    "0004_part_position",
    "0005_remove_gadget_legacy_flag",
    "0006_alter_gadget_name",
    "0007_rename_gadget_notes",
    "0008_alter_gadget_code",
    "0009_alter_gadget_unique_together",
    "0010_alter_gadget_nickname",
    "0011_delete_obsolete",
]


@pytest.fixture(scope="module")
def loader() -> MigrationLoader:
    return MigrationLoader(None)


def classify(loader: MigrationLoader, name: str, backwards: bool) -> tuple[RiskFinding, ...]:
    key = ("risky", name)
    return classify_migration(
        loader.graph.nodes[key],
        from_state=loader.project_state(key, at_end=False),
        backwards=backwards,
        connection=connection,
        target_app_labels={"risky"},
        table_sizes=SIZES,
        **LIMITS,
    )


@pytest.mark.parametrize("name", RISKY)
def test_risky_migration_forwards(loader, name):
    assert list(classify(loader, name, backwards=False)) == expected_forwards(name)


@pytest.mark.parametrize("name", RISKY)
def test_risky_migration_backwards(loader, name):
    assert list(classify(loader, name, backwards=True)) == expected_backwards(name)


def test_every_risk_class_has_a_scenario(loader):
    found = {
        finding.risk
        for name in RISKY
        for backwards in (False, True)
        for finding in classify(loader, name, backwards)
    }
    expected = set(Risk) - {Risk.CROSS_APP_SPILL}  # a property of a plan: see below
    if not rebuilds():
        expected.discard(Risk.TABLE_REBUILD)
    assert found == expected


def test_without_table_sizes_nothing_is_a_long_lock(loader):
    key = ("risky", "0006_alter_gadget_name")
    findings = classify_migration(
        loader.graph.nodes[key],
        from_state=loader.project_state(key, at_end=False),
        backwards=False,
        connection=connection,
        **LIMITS,
    )
    assert list(findings) == rebuild(GADGET)


def test_classifying_leaves_the_state_alone(loader):
    key = ("risky", "0005_remove_gadget_legacy_flag")
    state = loader.project_state(key, at_end=False)
    before = state.clone()
    classify(loader, key[1], backwards=False)
    classify_migration(
        loader.graph.nodes[key],
        from_state=state,
        backwards=True,
        connection=connection,
        **LIMITS,
    )
    assert state == before
    assert "apps" not in state.__dict__


# --------------------------------------------------------------------------- plans


@pytest.mark.django_db
def test_plan_start_state_is_the_graphs(loader):
    executor = MigrationExecutor(connection)
    whole = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    for plan in (whole, [(m, b) for m, b in whole if m.app_label in ("shop", "shop_reports")]):
        keys = [(m.app_label, m.name) for m, _ in plan]
        assert plan_start_state(loader, plan) == loader.project_state(keys, at_end=False)


@pytest.mark.django_db
def test_unapplying_a_dependency_spills_into_other_apps():
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan([("library", "0001_initial")])
    risks = classify_plan(
        connection, executor.loader, plan, target_app_labels={"library"}, **LIMITS
    )
    spills = {
        f"{r.app_label}.{r.name}": [f.reason for f in r.findings if f.risk is Risk.CROSS_APP_SPILL]
        for r in risks
    }
    spill = (
        "Unapplies {0} of app {1}, which was not targeted (target: library), because it "
        "depends on a migration being unapplied."
    )
    assert spills == {
        "shop_reports.0001_initial": [spill.format("shop_reports.0001_initial", "shop_reports")],
        "shop.0002_order_customer": [spill.format("shop.0002_order_customer", "shop")],
        "shop.0001_initial": [spill.format("shop.0001_initial", "shop")],
        "library.0002_book_published": [],
    }
    assert all(r.backwards for r in risks)


@pytest.mark.django_db
def test_a_plan_is_classified_like_its_migrations(loader):
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    # risky's tables exist before the plan (risky.0001 is applied; the plan starts from
    # its ancestors' state): a table the plan creates would have other findings (below).
    plan = [(m, b) for m, b in plan if (m.app_label, m.name) != ("risky", "0001_initial")]
    risks = classify_plan(connection, executor.loader, plan, table_sizes=SIZES, **LIMITS)
    assert [(r.app_label, r.name) for r in risks] == [(m.app_label, m.name) for m, _ in plan]
    by_name = {r.name: r for r in risks if r.app_label == "risky"}
    assert sorted(by_name) == RISKY[1:]
    for name in RISKY[1:]:
        risks_of = by_name[name]
        assert isinstance(risks_of, MigrationRisks)
        assert list(risks_of.findings) == expected_forwards(name)
        assert risks_of.risks == {f.risk for f in expected_forwards(name)}


@pytest.mark.django_db(databases=["default", "other"])
def test_operations_a_router_keeps_off_the_database_have_no_risks(loader):
    # The router lets only `library` migrate on `other`.
    key = ("risky", "0011_delete_obsolete")
    findings = classify_migration(
        loader.graph.nodes[key],
        from_state=loader.project_state(key, at_end=False),
        backwards=False,
        connection=connections["other"],
        **LIMITS,
    )
    assert findings == ()


# --------------------------------------------------------------------------- operations


def one(loader: MigrationLoader, app_label: str, operation: object, backwards: bool = False):
    return list(
        classify_operation(
            operation,
            app_label=app_label,
            from_state=loader.project_state(),
            backwards=backwards,
            connection=connection,
            table_sizes={"library_book": (5_000_000, None)},
            **LIMITS,
        )
    )


BOOK = "library_book"
BOOK_LOCK = RiskFinding(
    L, f"Alters table {BOOK} (about 5,000,000 rows), which may lock it for long.", BOOK
)


def db_type(field: models.Field) -> str:
    return field.db_type(connection)


def test_narrowing_an_integer(loader):
    new = models.PositiveSmallIntegerField(default=0)
    old = models.PositiveIntegerField(default=0)
    assert one(loader, "library", AlterField("book", "pages", new)) == [
        RiskFinding(
            D,
            f"Alters column {BOOK}.pages: shrinks it from {db_type(old)} to {db_type(new)}: "
            f"large values fail.",
            BOOK,
        ),
        *[RiskFinding(R, f.reason, BOOK) for f in rebuild(BOOK)],
        BOOK_LOCK,
    ]


def test_dropping_a_unique_column_constraint(loader):
    assert one(loader, "library", AlterField("book", "isbn", models.CharField(max_length=13))) == [
        RiskFinding(D, f"Drops the unique constraint of column {BOOK}.isbn.", BOOK),
        *rebuild(BOOK),
        BOOK_LOCK,
    ]


def test_removing_a_check_constraint_is_not_destructive(loader):
    assert one(loader, "library", RemoveConstraint("book", "library_book_pages_sane")) == [
        *rebuild(BOOK),
        *([BOOK_LOCK] if rebuilds() else []),  # only a rebuild locks: a drop is metadata
    ]


def test_adding_a_unique_constraint_to_a_big_table(loader):
    unique = models.UniqueConstraint(fields=["title"], name="library_book_title_uniq")
    assert one(loader, "library", AddConstraint("book", unique)) == [*rebuild(BOOK), BOOK_LOCK]
    assert one(loader, "library", AddConstraint("book", unique), backwards=True) == [
        RiskFinding(
            D,
            f"Drops the unique constraint library_book_title_uniq of table {BOOK}: duplicates "
            f"become possible, and re-adding it then fails.",
            BOOK,
        ),
        *rebuild(BOOK),
        *([BOOK_LOCK] if rebuilds() else []),
    ]


def test_adding_a_nullable_column(loader):
    field = models.CharField(max_length=10, null=True)
    assert one(loader, "library", AddField("author", "nick", field)) == []


def test_removing_an_auto_created_many_to_many_drops_its_table(loader):
    table = "old_customer_records_tags"
    assert one(loader, "legacy", RemoveField("customer", "tags")) == drops_table(table)


def test_deleting_a_model_drops_its_many_to_many_tables_too(loader):
    assert one(loader, "legacy", DeleteModel("Customer")) == [
        *drops_table("old_customer_records"),
        *drops_table("old_customer_records_tags"),
    ]


def test_renaming_tables(loader):
    renamed = RiskFinding(
        B,
        "Renames table library_author to library_writer, which the running release still "
        "calls library_author.",
        "library_author",
    )
    assert one(loader, "library", RenameModel("Author", "Writer")) == [renamed]
    assert one(loader, "library", AlterModelTable("author", "library_writer")) == [renamed]
    # A model with a db_table keeps its table when renamed.
    assert one(loader, "legacy", RenameModel("Customer", "Client")) == []


# --------------------------------------------------------------------------- table rebuilds


@pytest.mark.django_db(transaction=True)
def test_predicted_rebuilds_are_the_schema_editors(monkeypatch):
    """On a backend with table rebuilds, the tables the risk rules say are rebuilt are
    exactly those the schema editor rebuilds, migration by migration, both ways."""
    editor_class = connection.SchemaEditorClass
    if not rebuilds():
        assert not hasattr(editor_class, "_remake_table")
        return
    rebuilt: list[str] = []
    remake = editor_class._remake_table

    def recording(self, model, *args, **kwargs):
        rebuilt.append(model._meta.db_table)
        return remake(self, model, *args, **kwargs)

    monkeypatch.setattr(editor_class, "_remake_table", recording)
    executor = MigrationExecutor(connection)
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    checked = 0
    for backwards in (False, True):
        for migration, _ in plan:
            if backwards and not all(op.reversible for op in migration.operations):
                continue
            state = loader.project_state((migration.app_label, migration.name), at_end=False)
            findings = classify_migration(
                migration, from_state=state, backwards=backwards, connection=connection, **LIMITS
            )
            rebuilt.clear()
            (sql,) = collect_plan_sql(connection, loader, [(migration, backwards)])
            if sql.unavailable:
                continue
            predicted = [f.table for f in findings if f.risk is Risk.TABLE_REBUILD]
            assert sorted(set(predicted)) == sorted(set(rebuilt)), (migration, backwards)
            checked += bool(rebuilt)
    assert checked >= 10


# ------------------------------------------------------------------- tables the plan creates


def _insert_thing(apps, schema_editor):
    apps.get_model("freshapp", "Thing").objects.create(code="x")


def _backfill_things(apps, schema_editor):
    for thing in apps.get_model("freshapp", "Thing").objects.all():
        thing.save()


def fresh_plan(data_migration: object) -> list[tuple[Migration, bool]]:
    from django.db.migrations import CreateModel, RunPython

    first = Migration("0001_initial", "freshapp")
    first.operations = [
        CreateModel(
            "Thing",
            [
                ("id", models.AutoField(primary_key=True)),
                ("name", models.CharField(max_length=50)),
                ("code", models.CharField(max_length=20)),
            ],
        ),
    ]
    second = Migration("0002_change", "freshapp")
    second.operations = [
        AddField("thing", "flag", models.BooleanField()),
        RemoveField("thing", "name"),
        RunPython(data_migration),
        RemoveField("thing", "code"),
    ]
    return [(first, False), (second, False)]


def fresh_findings(data_migration: object) -> set[tuple[Risk, str]]:
    results = classify_plan(
        connection,
        MigrationLoader(connection),
        fresh_plan(data_migration),
        start_state=ProjectState(),
        table_sizes={"freshapp_thing": (5_000_000, 2 * 1024**3)},  # a live table's sizes
        **LIMITS,
    )
    return {(f.risk, f.reason) for r in results for f in r.findings if f.table}


@pytest.mark.django_db
def test_tables_the_plan_creates_have_no_running_code_and_no_rows():
    # Without the RunPython inserting rows, nothing is lost and nobody queries the table.
    assert {risk for risk, _ in fresh_findings(_backfill_things)} == ({R} if rebuilds() else set())


@pytest.mark.django_db
def test_rows_a_runpython_may_insert_make_later_drops_destructive():
    found = fresh_findings(_insert_thing)
    assert {(risk, reason) for risk, reason in found if risk is not R} == {
        (D, "Drops column freshapp_thing.code (and its data).")
    }
