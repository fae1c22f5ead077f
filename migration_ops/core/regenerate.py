"""New migrations for apps whose history is reset, made by Django's own autodetector.

The autodetector runs as ``makemigrations`` does for an app without migrations: from a state
in which the other installed apps already exist (``real_apps``) to the current models, with a
graph that has no node of the reset apps. So the reset apps get initial migrations, foreign
keys into other apps depend on those apps' latest migrations, and a cycle between reset apps
is split into several migrations exactly as ``makemigrations`` splits it.

Everything here is in memory: files are read (never written) and the results are
:class:`~django.db.migrations.Migration` objects and source texts.

Old migrations are mapped onto new ones in order (:func:`partition`): the first new migration
of an app stands in for all old migrations but the last few, each later one for one old
migration. In ``replace`` mode that mapping is the ``replaces`` of each new migration, so
Django's loader remaps dependencies on old migrations monotonically; ``clean-slate`` mode
uses the same mapping to rewrite other apps' dependencies.

The operations the new migrations lose (RunPython, RunSQL...) and the ones
``--keep-data-migrations`` carries are in :mod:`migration_ops.core.special_operations`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from django.apps import apps as global_apps
from django.core.management import get_commands, load_command_class
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.migration import Migration
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter

from migration_ops.core.provenance import CLEAN_SLATE_ATTRIBUTE
from migration_ops.core.sources import sequence_attribute

MigrationKey = tuple[str, str]


def label(key: MigrationKey) -> str:
    return f"{key[0]}.{key[1]}"


# --------------------------------------------------------------------------- old history


def old_history(disk_migrations: Mapping[MigrationKey, Migration], app_label: str) -> list[str]:
    """Names of every migration in ``app_label``'s history, in dependency order.

    That is the files on disk, squashes included, and the migrations squashes replace (their
    files may be gone), each replaced one before its squash. Ties are broken by name.
    """
    own = {key[1]: m for key, m in disk_migrations.items() if key[0] == app_label}
    names = set(own)
    after: dict[str, set[str]] = {}  # name -> names that must come before it

    def edge(before: str, later: str) -> None:
        if before in names and later in names and before != later:
            after.setdefault(later, set()).add(before)

    stand_in: dict[str, str] = {}  # replaced name -> its squash
    for name, migration in own.items():
        for app, replaced in migration.replaces or ():
            if app == app_label:
                names.add(replaced)
                stand_in[replaced] = name
    for name in names:
        after.setdefault(name, set())
    for name, migration in own.items():
        for app, dependency in migration.dependencies:
            if app == app_label:
                edge(dependency, name)
                # A migration that needs a replaced one comes after its squash too.
                squash = stand_in.get(dependency)
                if squash is not None and squash != name and name not in _replaced_by(own, squash):
                    edge(squash, name)
        for app, later in getattr(migration, "run_before", ()):
            if app == app_label:
                edge(name, later)
        for app, replaced in migration.replaces or ():
            if app == app_label:
                edge(replaced, name)
    order: list[str] = []
    ready = sorted(n for n, before in after.items() if not before)
    waiting = {n: set(before) for n, before in after.items() if before}
    while ready:
        name = ready.pop(0)
        order.append(name)
        for other in sorted(waiting):
            waiting[other].discard(name)
            if not waiting[other]:
                del waiting[other]
                ready.append(other)
        ready.sort()
    if waiting:  # a cycle: Django refuses such a graph anyway; keep every name
        order.extend(sorted(waiting))
    return order


def _replaced_by(own: Mapping[str, Migration], squash: str) -> set[str]:
    return {name for _, name in own[squash].replaces or ()}


# --------------------------------------------------------------------------- autodetector


def autodetector_class() -> type[MigrationAutodetector]:
    """The autodetector class ``makemigrations`` uses: Django 5.2 lets a project's own
    ``makemigrations`` command set ``autodetector``; older versions always use Django's."""
    app_name = get_commands().get("makemigrations")
    if app_name is None:
        return MigrationAutodetector
    command = load_command_class(app_name, "makemigrations")
    return getattr(command, "autodetector", MigrationAutodetector)  # type: ignore[no-any-return]


def _questioner(app_labels: Collection[str]) -> MigrationQuestioner:
    # The base questioner never prompts, prints or exits: it answers "no" to renames and
    # gives no default for new NOT NULL fields (a change is still detected).
    return MigrationQuestioner(specified_apps=set(app_labels), dry_run=True)


def unmigrated_changes(
    state: ProjectState, graph: MigrationGraph, app_labels: Collection[str]
) -> dict[str, list[Migration]]:
    """What ``makemigrations --check app_labels`` finds: model changes without migrations,
    from ``state`` (the migrations' state at their leaves) to the current models."""
    autodetector = autodetector_class()(
        state, ProjectState.from_apps(global_apps), _questioner(app_labels)
    )
    changes: dict[str, list[Migration]] = autodetector.changes(
        graph=graph, trim_to_apps=set(app_labels), convert_apps=set(app_labels)
    )
    return {app: migrations for app, migrations in sorted(changes.items()) if migrations}


def regenerate(
    app_labels: Collection[str], graph: MigrationGraph, migration_name: str
) -> dict[str, list[Migration]]:
    """Initial migrations of ``app_labels`` for the current models, named
    ``0001_<migration_name>``, ``0002_<migration_name>``... (several only where the
    autodetector splits a cycle). An app without models gets one empty migration."""
    chosen = set(app_labels)
    others = {config.label for config in global_apps.get_app_configs()} - chosen
    autodetector = autodetector_class()(
        ProjectState(real_apps=others), ProjectState.from_apps(global_apps), _questioner(chosen)
    )
    without = _graph_without(graph, chosen)
    changes: dict[str, list[Migration]] = autodetector.changes(
        graph=without, trim_to_apps=chosen, convert_apps=chosen, migration_name=migration_name
    )
    empty = {app: [Migration("empty", app)] for app in sorted(chosen - set(changes))}
    if empty:
        for migrations in autodetector.arrange_for_graph(empty, without, migration_name).values():
            for migration in migrations:
                migration.initial = True
        changes.update(empty)
    return {app: changes[app] for app in sorted(changes)}


def _graph_without(graph: MigrationGraph, app_labels: Collection[str]) -> MigrationGraph:
    """A copy of ``graph`` without the nodes of ``app_labels`` (for naming and for the
    dependencies on other apps' latest migrations, the autodetector reads leaf nodes only)."""
    copy = MigrationGraph()
    for key, migration in graph.nodes.items():
        if key[0] not in app_labels:
            copy.add_node(key, migration)
    for key in copy.nodes:
        for parent in graph.node_map[key].parents:
            if parent.key in copy.nodes:
                copy.add_dependency(None, key, parent.key, skip_validation=True)
    return copy


def migration_name_for(old_names: Iterable[str]) -> str:
    """``"reset"``, or ``"reset_2"``... when an old migration already uses that suffix, so that
    no new migration has the name of an old one."""
    taken = {name.split("_", 1)[1] for name in old_names if "_" in name}
    base, n = "reset", 1
    while base in taken or f"{base}_data" in taken:
        n += 1
        base = f"reset_{n}"
    return base


def partition(old: Sequence[MigrationKey], count: int) -> list[tuple[MigrationKey, ...]]:
    """Split ``old`` (in order) into ``count`` non-empty consecutive groups: all but the last
    ``count - 1`` in the first, then one each."""
    if not 1 <= count <= len(old):
        raise ValueError(f"Cannot map {len(old)} old migrations onto {count} new ones.")
    head = len(old) - count + 1
    return [tuple(old[:head]), *((key,) for key in old[head:])]


# --------------------------------------------------------------------------- sources


def migration_source(
    migration: Migration, replaces: Sequence[MigrationKey], *, clean_slate: bool
) -> str:
    """The file text of a new migration, as ``makemigrations`` writes it, with ``replaces``
    (replace mode) or the clean-slate marker attribute naming ``replaces``."""
    migration.replaces = [tuple(key) for key in replaces]  # type: ignore[misc]
    try:
        text: str = MigrationWriter(migration, include_header=True).as_string()
        if clean_slate:
            listed = MigrationWriter.serialize(migration.replaces)[0]
            marker = (
                "\n    # Recorded by reset_migrations --mode clean-slate in place of these old\n"
                "    # migrations (Django ignores this attribute; reset_migrations reads it).\n"
                f"    {CLEAN_SLATE_ATTRIBUTE} = {listed}\n"
            )
            text = text.replace(f"\n    replaces = {listed}\n", marker, 1)
    finally:
        if clean_slate:
            migration.replaces = []
    return text


def stand_ins(migration: Migration) -> tuple[MigrationKey, ...]:
    """The old migrations a migration stands in for: ``replaces``, or the clean-slate marker."""
    keys = migration.replaces or getattr(migration, CLEAN_SLATE_ATTRIBUTE, None) or ()
    return tuple((str(app), str(name)) for app, name in keys)


def rewrite_dependencies(
    source: str, mapping: Mapping[MigrationKey, MigrationKey]
) -> tuple[str, set[MigrationKey]]:
    """``source`` of a migration with each ``(app, name)`` pair of its ``dependencies`` list
    that ``mapping`` names changed to the mapped key; and the keys it changed.

    Only literal pairs in ``Migration.dependencies`` are touched (found with ``ast``, edited
    at their exact positions); anything else in the file stays byte for byte.
    """
    tree = ast.parse(source)
    edits: list[tuple[ast.Constant, str]] = []
    done: set[MigrationKey] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == "Migration"):
            continue
        dependencies = sequence_attribute(node, "dependencies")
        if dependencies is not None:
            for element in dependencies.elts:
                pair = _literal_pair(element)
                if pair is None or pair not in mapping:
                    continue
                new = mapping[pair]
                assert isinstance(element, (ast.Tuple, ast.List))
                for constant, text in zip(element.elts, new, strict=True):
                    assert isinstance(constant, ast.Constant)
                    edits.append((constant, text))
                done.add(pair)
    lines = source.splitlines(keepends=True)
    encoded = [line.encode("utf-8") for line in lines]
    # Bottom-up, right to left, so that earlier positions stay valid.
    for constant, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        row = constant.lineno - 1
        assert constant.end_lineno == constant.lineno and constant.end_col_offset is not None
        line = encoded[row]
        old = line[constant.col_offset : constant.end_col_offset].decode("utf-8")
        quote = old[0] if old[:1] in ("'", '"') else '"'
        encoded[row] = (
            line[: constant.col_offset]
            + f"{quote}{text}{quote}".encode()
            + line[constant.end_col_offset :]
        )
    return b"".join(encoded).decode("utf-8"), done


def _literal_pair(node: ast.expr) -> MigrationKey | None:
    if not isinstance(node, (ast.Tuple, ast.List)) or len(node.elts) != 2:
        return None
    values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
    if not all(isinstance(v, str) for v in values):
        return None
    for element in node.elts:
        # A plain one-line string literal: we rewrite it in place.
        if element.end_lineno != element.lineno:
            return None
    return (str(values[0]), str(values[1]))


def module_file(migration: Migration) -> Path | None:
    """The file a migration class was loaded from."""
    module = sys.modules.get(type(migration).__module__)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve() if filename else None
