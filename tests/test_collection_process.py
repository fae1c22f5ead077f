"""What a collection changes in the process while it runs, and how it derives renderings:
no transactions, verbose names derived once, state registries cloned as Django does."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

from migration_ops.core.sql import collect_plan_sql, rendering
from migration_ops.core.sql.process import verbose_names_cached


@pytest.fixture
def executor() -> MigrationExecutor:
    return MigrationExecutor(connection)


def plan_from_empty(executor: MigrationExecutor) -> list:
    return executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)


@pytest.mark.django_db(transaction=True)
def test_collection_opens_no_transaction(executor, monkeypatch):
    """A schema editor that only collects runs nothing: collecting opens no transaction
    (a BEGIN and a COMMIT per migration), and the SQL still shows migrate's."""
    entered = []
    enter = transaction.Atomic.__enter__

    def counting(self):
        entered.append(self.using)
        return enter(self)

    monkeypatch.setattr(transaction.Atomic, "__enter__", counting)
    plan = plan_from_empty(executor)
    with CaptureQueriesContext(connection) as queries:
        results = collect_plan_sql(connection, executor.loader, plan, reproduce="migrate")
    assert entered == []
    sent = [q["sql"].upper() for q in queries.captured_queries]
    assert [sql for sql in sent if sql.startswith(("BEGIN", "COMMIT", "SAVEPOINT"))] == []
    wrapped = [(r.app_label, r.name) for r in results if r.transaction]
    atomic = [(m.app_label, m.name) for m, _ in plan if m.atomic]
    assert wrapped == (atomic if connection.features.can_rollback_ddl else [])
    assert 0 < len(atomic) < len(plan) or not connection.features.can_rollback_ddl


def test_verbose_names_are_derived_once_only_while_collecting(monkeypatch):
    from django.db.models import options

    derived = []
    original = options.camel_case_to_spaces

    def counting(value):
        derived.append(value)
        return original(value)

    monkeypatch.setattr(options, "camel_case_to_spaces", counting)
    state = ProjectState.from_apps(apps)
    with verbose_names_cached():
        first = state.clone().apps.get_model("shop", "Order")
        second = state.clone().apps.get_model("shop", "Order")
        assert first is not second
        assert derived.count("Order") == 1
        assert first._meta.verbose_name == second._meta.verbose_name == "order"
    assert options.camel_case_to_spaces is counting
    state.clone().apps.get_model("shop", "Order")
    assert derived.count("Order") == 2


def test_registries_are_cloned_as_django_clones_them():
    state = ProjectState.from_apps(apps)
    source = state.clone().apps
    ours, django = rendering.clone_registry(source), source.clone()
    assert type(ours) is type(django)
    assert set(vars(ours)) == set(vars(django))
    assert dict(ours.all_models) == dict(django.all_models)  # the same classes
    assert ours.all_models is not source.all_models
    assert all(ours.all_models[a] is not source.all_models[a] for a in source.all_models)
    assert list(ours.app_configs) == list(django.app_configs)
    assert all(c.apps is ours for c in ours.app_configs.values())
    assert ours.real_models is source.real_models
    assert ours.get_model("shop", "Order") is source.get_model("shop", "Order")
    # Changes to the clone stay in it.
    ours.unregister_model("shop", "order")
    assert "order" in source.all_models["shop"]
    with pytest.raises(LookupError):
        ours.get_model("shop", "Order")


def test_registries_of_unknown_shape_are_cloned_by_django(monkeypatch):
    source = ProjectState.from_apps(apps).clone().apps
    monkeypatch.setattr(rendering, "_empty_registry", lambda: None)
    cloned = []
    monkeypatch.setattr(type(source), "clone", lambda self: cloned.append(self) or "django's")
    assert rendering.clone_registry(source) == "django's"
    assert cloned == [source]
