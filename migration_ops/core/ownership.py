"""Which app owns which table of a database.

A table belongs to the app whose model state names it (``_meta.db_table``, auto-created M2M
tables included), never to the app whose label happens to prefix it: ``shop_`` is a prefix of
``shop_reports_report``. Tables that no installed app claims are matched against "stale" apps,
labels that ``django_migrations`` or ``django_content_type`` still mention but that are no
longer installed. Whatever is left is an orphan.

Order of precedence, first match wins: Django's own ``django_migrations``; tables matched by
``MIGRATION_OPS["IGNORED_TABLES"]`` (never touched, even if a model names them); installed apps
(current models, then the state of the applied migrations, then the state at the leaves, then
the ``RunSQL`` of their migrations); stale apps (their migration files' models and ``RunSQL``,
then their content types, then auto-M2M naming); orphans.

Views, materialized views and free sequences (``Schema.objects``) are attributed the same way,
in :attr:`Ownership.objects`: to the app whose migration's ``RunSQL`` creates them (or whose
unmanaged model names them), else to none ("unowned").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from django.apps import apps as global_apps
from django.db.backends.utils import truncate_name
from django.db.migrations.exceptions import (
    BadMigrationError,
    CircularDependencyError,
    NodeNotFoundError,
)
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunSQL, SeparateDatabaseAndState
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from migration_ops.conf import conf
from migration_ops.core.stale_files import StaleAppsLoader, stale_app_migrations
from migration_ops.core.states import AdvancingState, advance, state_after, unrendered_copy
from migration_ops.core.tables import auto_m2m_tables, can_migrate, db_table
from migration_ops.introspection import snapshot
from migration_ops.text import count

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.migrations.migration import Migration

    from migration_ops.core.schema import Schema

# Stable reason codes of TableOwner.reason.
MODEL = "model"
AUTO_M2M = "auto-m2m"
UNMANAGED = "unmanaged"
STALE_MIGRATIONS = "stale-migrations"
STALE_CONTENT_TYPE = "stale-content-type"
STALE_M2M = "stale-m2m"
DJANGO = "django"
IGNORED = "ignored"
ORPHAN = "orphan"
# Created by the raw SQL of one of the app's migrations (a virtual table and its shadow
# tables, a table no model describes); migrate made it, but no model says what it holds.
RUNSQL = "runsql"

# CREATE statements of raw SQL, with the name they create.
_CREATE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?(?:TEMP(?:ORARY)?\s+)?"
    r"(?:UNLOGGED\s+)?(?P<kind>VIRTUAL\s+TABLE|TABLE|(?:MATERIALIZED\s+)?VIEW|SEQUENCE)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?:[\"`\[]?\w+[\"`\]]?\.)?[\"`\[]?(?P<name>\w+)[\"`\]]?"
    r"(?:\s+USING\s+(?P<module>\w+))?",
    re.IGNORECASE,
)
# The tables SQLite's virtual table modules keep a virtual table's data in.
_SHADOW_TABLES = {
    "fts5": ("config", "content", "data", "docsize", "idx"),
    "fts4": ("content", "segments", "segdir", "docsize", "stat"),
    "fts3": ("content", "segments", "segdir"),
    "rtree": ("node", "parent", "rowid"),
}

CONTENT_TYPE_TABLE = "django_content_type"

# What building a migration graph raises when files and dependencies don't fit together.
_GRAPH_ERRORS = (NodeNotFoundError, CircularDependencyError, BadMigrationError, ValueError)


@dataclass(frozen=True)
class TableOwner:
    table: str
    # None for orphans, ignored tables and Django's own django_migrations.
    app_label: str | None
    # "app_label.ModelName"; for an auto-created M2M table, the through model's label
    # ("legacy.Customer_tags"); "app_label.modelname" when only a content type names it;
    # None when nothing names it.
    model: str | None
    reason: str
    installed: bool  # app_label is in INSTALLED_APPS


@dataclass(frozen=True)
class StaleApp:
    app_label: str
    tables: tuple[str, ...]
    migration_rows: tuple[str, ...]  # migration names recorded in django_migrations
    content_types: tuple[str, ...]  # model names in django_content_type
    evidence: tuple[str, ...]  # human-readable, one sentence fragment each
    # The migrations package its tables were read from ("publishing.news.migrations").
    migrations_module: str | None = None


@dataclass(frozen=True)
class Ownership:
    alias: str
    owners: Mapping[str, TableOwner]  # every live table exactly once, sorted by name
    stale_apps: Mapping[str, StaleApp]  # by label, sorted
    # Every view, materialized view and free sequence (``Schema.objects``) once, sorted;
    # ``table`` is the object's name, reason ORPHAN for one that nothing owns.
    objects: Mapping[str, TableOwner] = field(default_factory=dict)

    def tables_of(self, app_label: str) -> tuple[str, ...]:
        return tuple(t for t, o in self.owners.items() if o.app_label == app_label)

    def objects_of(self, app_label: str) -> tuple[str, ...]:
        return tuple(t for t, o in self.objects.items() if o.app_label == app_label)

    @property
    def unowned_objects(self) -> tuple[str, ...]:
        return tuple(t for t, o in self.objects.items() if o.reason == ORPHAN)

    @property
    def orphans(self) -> tuple[str, ...]:
        return self._with_reason(ORPHAN)

    @property
    def ignored(self) -> tuple[str, ...]:
        return self._with_reason(IGNORED)

    def _with_reason(self, reason: str) -> tuple[str, ...]:
        return tuple(t for t, o in self.owners.items() if o.reason == reason)


# Named tuples, not frozen dataclasses: cheaper to create at import (see expected.py).
class _Claim(NamedTuple):
    """A model state's claim on a table name (not yet matched against the live tables)."""

    table: str
    app_label: str
    model: str
    reason: str


def attribute_tables(
    connection: BaseDatabaseWrapper,
    *,
    schema: Schema | None = None,
    loader: MigrationLoader | None = None,
    applied_state: ProjectState | None = None,
) -> Ownership:
    """Attribute every table of ``connection`` to exactly one app, or to none.

    Queries: the snapshot (unless ``schema`` is given), django_migrations and
    django_content_type once each, and the migration loader's read of django_migrations
    (unless a ``loader`` for ``connection`` is given). ``applied_state``, the project state
    of ``loader``'s applied migrations, saves replaying them.
    """
    if schema is None:
        schema = snapshot(connection)
    fold = _name_folder(connection)
    max_length = connection.ops.max_name_length()
    # Tables and the other objects share one namespace on every backend: claimed alike,
    # told apart at the end.
    live = {fold(name): name for name in [*schema.tables, *schema.objects]}
    owners: dict[str, TableOwner] = {}

    def claim(claims: Iterable[_Claim], *, installed: bool) -> None:
        for c in claims:
            name = live.get(fold(c.table))
            if name is not None and name not in owners:
                owners[name] = TableOwner(name, c.app_label, c.model, c.reason, installed)

    recorder_table = live.get(fold(MigrationRecorder.Migration._meta.db_table))
    if recorder_table is not None:
        owners[recorder_table] = TableOwner(recorder_table, None, None, DJANGO, False)
    for name in live.values():
        if name not in owners and conf.is_ignored_table(name):
            owners[name] = TableOwner(name, None, None, IGNORED, False)

    claim(_current_model_claims(), installed=True)
    if any(name not in owners for name in live.values()):
        # Replaying the history only helps with tables still unclaimed (none on an empty
        # database).
        claim(
            _installed_state_claims(connection, max_length, loader, applied_state),
            installed=True,
        )

    memory = _Memory.read(connection, recorder_table, live.get(fold(CONTENT_TYPE_TABLE)))
    stale = memory.stale_labels()
    evidence = {label: memory.evidence(label) for label in stale}
    # 1. Migration files still on disk give the exact tables.
    from_files = _stale_migration_claims(stale, memory.migrations, max_length)
    for label, (module_name, claims) in from_files.items():
        claim(claims, installed=False)
        evidence[label].append(f"migration files in module {module_name}")
    # 2. Content types give model names, hence default table names.
    claim(
        (
            _Claim(
                truncate_name(f"{label}_{model}", max_length),
                label,
                f"{label}.{model}",
                STALE_CONTENT_TYPE,
            )
            for label in stale
            for model in sorted(memory.content_types.get(label, ()))
        ),
        installed=False,
    )
    # 3. Auto-created M2M tables of the stale tables found so far: named
    # "<table>_<field>", with a foreign key back to <table>.
    stale_tables = {fold(t): o for t, o in owners.items() if o.app_label in evidence}
    for name in sorted(live.values()):
        if name in owners or name not in schema.tables:
            continue
        parents = [
            stale_tables[fold(fk.to_table)]
            for fk in schema.tables[name].foreign_keys
            if fold(fk.to_table) in stale_tables and fold(name).startswith(fold(fk.to_table) + "_")
        ]
        if parents:
            parent = max(parents, key=lambda o: len(o.table))
            owners[name] = TableOwner(name, parent.app_label, None, STALE_M2M, False)

    for name in live.values():
        owners.setdefault(name, TableOwner(name, None, None, ORPHAN, False))
    return Ownership(
        alias=connection.alias,
        owners={name: owners[name] for name in sorted(owners) if name in schema.tables},
        objects={name: owners[name] for name in sorted(owners) if name not in schema.tables},
        stale_apps={
            label: StaleApp(
                app_label=label,
                tables=tuple(sorted(t for t, o in owners.items() if o.app_label == label)),
                migration_rows=tuple(sorted(memory.migrations.get(label, ()))),
                content_types=tuple(sorted(memory.content_types.get(label, ()))),
                evidence=tuple(evidence[label]),
                migrations_module=from_files[label][0] if label in from_files else None,
            )
            for label in stale
        },
    )


class _Memory(NamedTuple):
    """What the database remembers of apps: django_migrations and django_content_type rows."""

    migrations: Mapping[str, frozenset[str]]  # app label -> migration names
    content_types: Mapping[str, frozenset[str]]  # app label -> model names

    @classmethod
    def read(
        cls,
        connection: BaseDatabaseWrapper,
        recorder_table: str | None,
        content_type_table: str | None,
    ) -> _Memory:
        return cls(
            _select_grouped(connection, recorder_table, ("app", "name")),
            _select_grouped(connection, content_type_table, ("app_label", "model")),
        )

    def stale_labels(self) -> list[str]:
        installed = {config.label for config in global_apps.get_app_configs()}
        return sorted((set(self.migrations) | set(self.content_types)) - installed)

    def evidence(self, label: str) -> list[str]:
        evidence = []
        if label in self.migrations:
            evidence.append(
                f"{count(len(self.migrations[label]), 'migration')} recorded in django_migrations"
            )
        if label in self.content_types:
            types = count(len(self.content_types[label]), "content type")
            evidence.append(f"{types} in {CONTENT_TYPE_TABLE}")
        return evidence


def _name_folder(connection: BaseDatabaseWrapper) -> Callable[[str], str]:
    """How the backend compares table names: as stored, folded where it ignores case."""
    convert = connection.introspection.identifier_converter
    if getattr(connection.features, "ignores_table_name_case", False):
        return lambda name: convert(name).casefold()
    return convert


def _select_grouped(
    connection: BaseDatabaseWrapper, table: str | None, columns: tuple[str, str]
) -> dict[str, frozenset[str]]:
    """``{first column: {second column, ...}}`` of ``table``; empty if it doesn't exist."""
    if table is None:
        return {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(columns[0])}, {quote(columns[1])} FROM {quote(table)}")
        rows = cursor.fetchall()
    grouped: dict[str, set[str]] = {}
    for key, value in rows:
        grouped.setdefault(key, set()).add(value)
    return {key: frozenset(values) for key, values in grouped.items()}


def _current_model_claims() -> Iterator[_Claim]:
    for model in global_apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.proxy:
            continue
        # An unmanaged model's table is its app's even though migrate never creates it:
        # reporting it as an orphan would invite dropping a table that code reads.
        reason = UNMANAGED if not opts.managed else AUTO_M2M if opts.auto_created else MODEL
        yield _Claim(opts.db_table, opts.app_label, opts.label, reason)


def _installed_state_claims(
    connection: BaseDatabaseWrapper,
    max_length: int | None,
    loader: MigrationLoader | None,
    applied_state: ProjectState | None,
) -> list[_Claim]:
    """Tables of the applied migrations' state, then of the state at the disk leaves.

    The first covers a table that a pending migration will delete; the second one that a
    pending migration will create (and that exists already). Empty when the graph can't be
    built, e.g. when an app that migrations depend on was removed. ``applied_state`` (the
    caller's, for ``loader``) saves replaying the applied history; it is not modified.
    """
    if loader is None:
        try:
            loader = MigrationLoader(connection, ignore_no_migrations=True)
        except _GRAPH_ERRORS:
            return []
    claims: list[_Claim] = []
    graph = loader.graph
    plan: dict[tuple[str, str], None] = {}
    for leaf in graph.leaf_nodes():
        plan.update(dict.fromkeys(graph.forwards_plan(leaf)))
    applied = [key for key in plan if key in loader.applied_migrations]
    # Operations of any kind run here, on a history that may be inconsistent: a failure
    # only means that this source of evidence is unavailable.
    state: ProjectState | None = applied_state
    if state is None:
        with suppress(Exception):
            state = advance(AdvancingState(), loader, applied)
    if state is None:
        return claims
    claims.extend(_state_claims(state, max_length))
    claims.extend(_runsql_claims(graph.nodes[key] for key in plan))
    pending = [key for key in plan if key not in loader.applied_migrations]
    if pending:
        # Advance a copy through the pending migrations only, not the whole history again.
        with suppress(Exception):
            leaves = advance(unrendered_copy(state), loader, pending)
            claims.extend(_state_claims(leaves, max_length))
    return claims


def _raw_sql(operations: Iterable[Any]) -> Iterator[str]:
    for operation in operations:
        if isinstance(operation, RunSQL):
            sql = operation.sql
            for item in [sql] if isinstance(sql, str) else sql or ():
                yield item if isinstance(item, str) else str(item[0]) if item else ""
        elif isinstance(operation, SeparateDatabaseAndState):
            yield from _raw_sql(operation.database_operations)


def runsql_tables(sql: str) -> Iterator[str]:
    """The tables, views and sequences a raw SQL text creates (a virtual table's shadow
    tables included)."""
    for match in _CREATE.finditer(sql):
        name = match["name"]
        yield name
        module = (match["module"] or "").lower()
        if match["kind"].upper().startswith("VIRTUAL"):
            yield from (f"{name}_{suffix}" for suffix in _SHADOW_TABLES.get(module, ()))


def _runsql_claims(migrations: Iterable[Migration]) -> Iterator[_Claim]:
    """The database objects the RunSQL of ``migrations`` creates, for their apps."""
    for migration in migrations:
        for sql in _raw_sql(migration.operations):
            for name in runsql_tables(sql):
                yield _Claim(name, migration.app_label, None, RUNSQL)


def state_table_owners(state: ProjectState, connection: BaseDatabaseWrapper) -> dict[str, str]:
    """``{table: app label}`` for the tables that ``migrate`` creates for ``state``'s models.

    Covers tables that do not exist (yet), which :func:`attribute_tables` cannot attribute.
    """
    max_length = connection.ops.max_name_length()
    return {claim.table: claim.app_label for claim in _state_claims(state, max_length)}


def _state_claims(
    state: ProjectState, max_length: int | None, app_label: str | None = None
) -> Iterator[_Claim]:
    """The tables that ``migrate`` creates for the models of ``state``.

    Read from the model states' options without rendering them (rendering a whole project
    state is slow and fails on references the state cannot resolve); the names follow
    ``Options.contribute_to_class`` and ``ManyToManyField._get_m2m_db_table``.
    """
    for (label, _), model_state in sorted(state.models.items()):
        if app_label is not None and label != app_label:
            continue
        if not can_migrate(model_state):
            continue
        table = db_table(model_state, max_length)
        yield _Claim(table, label, f"{label}.{model_state.name}", MODEL)
        for name, m2m_table in auto_m2m_tables(model_state, max_length):
            yield _Claim(m2m_table, label, f"{label}.{model_state.name}_{name}", AUTO_M2M)


def _stale_migration_claims(
    labels: Iterable[str], recorded: Mapping[str, frozenset[str]], max_length: int | None
) -> dict[str, tuple[str, list[_Claim]]]:
    """Claims of each stale app whose migration files are still importable
    (:func:`stale_app_migrations`). The app's final state is built from a graph of the
    installed apps' migrations plus the stale apps' ones, restricted to what the app depends
    on, without registering the app anywhere."""
    found = stale_app_migrations(labels, recorded)
    extra = {key: m for _, migrations in found.values() for key, m in migrations.items()}
    result: dict[str, tuple[str, list[_Claim]]] = {}
    for label, (module_name, _) in found.items():
        try:
            loader = StaleAppsLoader(extra, root=label)
            state = state_after(loader, loader.graph.leaf_nodes(label))
            claims = [
                _Claim(c.table, c.app_label, c.model, STALE_MIGRATIONS)
                for c in _state_claims(state, max_length, app_label=label)
            ]
            claims += _runsql_claims(m for (app, _), m in extra.items() if app == label)
        except Exception:  # any import or operation in an uninstalled app's old files
            continue
        result[label] = (module_name, claims)
    return result
