"""The operations of old migrations that regenerated migrations lose, and the copies that
``reset_migrations --keep-data-migrations`` carries into a follow-up migration.

The autodetector only writes model and field operations, so RunPython, RunSQL and other
operations with an effect on the database are *special*: each is listed with what happens to
it. A carried RunPython keeps its functions in a ``_kept_<migration>`` module written next to
the new migrations (the old migration's source without its ``Migration`` class).
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.migrations.migration import Migration
from django.db.migrations.operations import RunPython, RunSQL, SeparateDatabaseAndState
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.fields import FieldOperation
from django.db.migrations.operations.models import IndexOperation, ModelOperation
from django.db.migrations.writer import OperationWriter

MigrationKey = tuple[str, str]

# Prefix of the modules that keep the functions of carried RunPython operations; the
# loader skips modules whose name starts with "_".
KEPT_MODULE_PREFIX = "_kept_"


@dataclass(frozen=True)
class SpecialOperation:
    """An operation of an old migration whose effect on the database the regenerated
    migrations don't have (the autodetector only writes model and field operations)."""

    app_label: str
    migration: str
    position: int  # 1-based, among the migration's top-level operations
    kind: str  # "RunPython", "RunSQL", or the operation's class name
    description: str
    elidable: bool
    # True when --keep-data-migrations carries it into the follow-up migration.
    carried: bool
    note: str  # what happens to it, one sentence

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.migration}"


def is_special(operation: Operation) -> bool:
    if isinstance(operation, (ModelOperation, FieldOperation, IndexOperation)):
        return False
    if isinstance(operation, SeparateDatabaseAndState):
        return bool(operation.database_operations)
    return True


def _describe(operation: Operation) -> str:
    if isinstance(operation, RunSQL):
        sql = (
            operation.sql if isinstance(operation.sql, str) else "; ".join(map(str, operation.sql))
        )
        text = " ".join(str(sql).split())
        return f"Raw SQL: {text[:120]}{'...' if len(text) > 120 else ''}"
    if isinstance(operation, RunPython):
        code = operation.code
        name = getattr(code, "__qualname__", None) or repr(code)
        return f"Raw Python: {name}()"
    return str(operation.describe())


@dataclass(frozen=True)
class KeptOperations:
    """What ``--keep-data-migrations`` carries for one app, in the old history's order."""

    app_label: str
    operations: tuple[Operation, ...]
    origins: tuple[MigrationKey, ...]  # the old migrations they come from
    # Modules to write: dotted name -> (path, source) (functions of carried RunPython).
    modules: Mapping[str, tuple[Path, str]]


def special_operations(
    history: Sequence[tuple[MigrationKey, Migration]],
    *,
    keep: bool,
    reset_modules: Mapping[str, Path],
) -> tuple[list[SpecialOperation], dict[str, KeptOperations]]:
    """The special operations of ``history`` (old migrations of the reset apps, in order),
    and what ``keep`` carries: non-elidable RunPython and RunSQL whose code can be written.

    ``reset_modules`` maps each old migration's module name to its file; a RunPython
    function defined there moves to a ``_kept_<migration>`` module next to it.
    """
    found: list[SpecialOperation] = []
    kept: dict[str, list[tuple[MigrationKey, Operation]]] = {}
    modules: dict[str, dict[str, tuple[Path, str]]] = {}
    for key, migration in history:
        for position, operation in enumerate(migration.operations, start=1):
            if not is_special(operation):
                continue
            kind = type(operation).__name__
            elidable = bool(getattr(operation, "elidable", False))
            carried, note = False, _lost_note(operation, elidable, keep)
            if keep and not elidable and isinstance(operation, (RunPython, RunSQL)):
                copy, extra, problem = _carried_copy(operation, reset_modules)
                if problem is None:
                    carried, note = True, "Carried: new databases run it once the schema exists."
                    kept.setdefault(key[0], []).append((key, copy))
                    modules.setdefault(key[0], {}).update(extra)
                else:
                    note = f"Not carried: {problem}; copy it into a new migration by hand."
            found.append(
                SpecialOperation(
                    key[0], key[1], position, kind, _describe(operation), elidable, carried, note
                )
            )
    return found, {
        app: KeptOperations(
            app,
            tuple(op for _, op in items),
            tuple(dict.fromkeys(origin for origin, _ in items)),
            modules.get(app, {}),
        )
        for app, items in kept.items()
    }


def _lost_note(operation: Operation, elidable: bool, keep: bool) -> str:
    if elidable:
        return "Elidable: dropped (a fresh database will not run it)."
    if isinstance(operation, (RunPython, RunSQL)) and not keep:
        return "Dropped (a fresh database will not run it); --keep-data-migrations carries it."
    return "Dropped (a fresh database will not run it); copy it into a new migration by hand."


def _carried_copy(
    operation: RunPython | RunSQL, reset_modules: Mapping[str, Path]
) -> tuple[Operation, dict[str, tuple[Path, str]], str | None]:
    """A copy of ``operation`` for the follow-up migration, the modules it needs, and why it
    cannot be carried (None if it can)."""
    extra: dict[str, tuple[Path, str]] = {}
    copy: Operation
    if isinstance(operation, RunSQL):
        # The state part (if any) is in the regenerated migrations already.
        copy = RunSQL(operation.sql, operation.reverse_sql, hints=operation.hints)
    else:

        def moved(function: Callable[..., Any] | None) -> Callable[..., Any] | None:
            module = getattr(function, "__module__", None)
            if function is None or module not in reset_modules:
                return function
            package, _, name = module.rpartition(".")
            target = f"{package}.{KEPT_MODULE_PREFIX}{name}"
            path = reset_modules[module]
            extra[target] = (
                path.with_name(f"{KEPT_MODULE_PREFIX}{path.name}"),
                kept_module_source(path.read_text(encoding="utf-8"), module),
            )
            return _rebound(function, target)

        copy = RunPython(
            moved(operation.code),  # type: ignore[arg-type]
            moved(operation.reverse_code),
            atomic=operation.atomic,
            hints=operation.hints,
        )
    try:
        OperationWriter(copy).serialize()
    except ValueError as exc:
        return copy, {}, str(exc).rstrip(".")
    return copy, extra, None


def _rebound(function: Callable[..., Any], module: str) -> Callable[..., Any]:
    """``function`` as if defined in ``module`` (for the migration writer's import)."""
    if not isinstance(function, types.FunctionType):
        return function
    clone = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    clone.__kwdefaults__ = function.__kwdefaults__
    clone.__qualname__ = function.__qualname__
    clone.__module__ = module
    return clone


def kept_module_source(source: str, old_module: str) -> str:
    """``source`` of an old migration module without its ``Migration`` class: the functions
    (and imports, constants, helpers) its RunPython operations use."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            del lines[start : node.end_lineno]
    body = "".join(lines).rstrip() + "\n"
    header = (
        f"# Kept by reset_migrations from migration {old_module.rpartition('.')[2]}: the\n"
        "# functions of its RunPython operations, which a follow-up migration still runs.\n"
        "# Not a migration (the loader skips modules whose name starts with an underscore).\n"
    )
    return header + body


def follow_up_migration(
    app_label: str,
    number: int,
    migration_name: str,
    last: MigrationKey,
    kept: KeptOperations,
    old: Mapping[MigrationKey, Migration],
    new_leaves: Mapping[str, MigrationKey],
) -> Migration:
    """The migration that runs the carried operations after ``last`` (the app's last new
    migration), depending on what the old migrations they come from depended on."""
    migration = Migration(f"{number:04d}_{migration_name}_data", app_label)
    dependencies: dict[MigrationKey, None] = {last: None}
    for origin in kept.origins:
        for dependency in old[origin].dependencies:
            app = dependency[0]
            if app == app_label:
                continue
            # Another reset app: its last new migration has every model of its old ones.
            dependencies[new_leaves.get(app, dependency)] = None
    migration.dependencies = list(dependencies)
    migration.operations = list(kept.operations)
    return migration
