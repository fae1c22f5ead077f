"""Where in the source files a migration, one of its operations, or a model is defined.

Used to point annotations (``plan_upgrade --format github``) at a file and a line. Reads the
files with ``ast``; imports nothing that the migration loader or the app registry has not
imported already.
"""

from __future__ import annotations

import ast
import inspect
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.apps import apps as global_apps
from django.db.migrations.loader import MigrationLoader


@dataclass(frozen=True)
class SourceLocation:
    path: Path
    line: int


def migration_module_file(app_label: str, name: str) -> Path | None:
    """The file of migration ``app_label.name`` once loaded, or None."""
    package, _explicit = MigrationLoader.migrations_module(app_label)
    if package is None:
        return None
    module = sys.modules.get(f"{package}.{name}")
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve() if filename else None


def migration_location(
    app_label: str, name: str, operation: int | None = None
) -> SourceLocation | None:
    """The line of ``class Migration`` in the migration's file, or of its ``operation``-th
    operation (0-based, in the file's order) when the ``operations`` list is literal."""
    path = migration_module_file(app_label, name)
    if path is None:
        return None
    class_line, operation_lines = _migration_lines(path)
    if operation is not None and 0 <= operation < len(operation_lines):
        return SourceLocation(path, operation_lines[operation])
    return SourceLocation(path, class_line)


@lru_cache(maxsize=256)
def _migration_lines(path: Path) -> tuple[int, tuple[int, ...]]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return 1, ()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            operations = sequence_attribute(node, "operations")
            if operations is None:
                return node.lineno, ()
            return node.lineno, tuple(element.lineno for element in operations.elts)
    return 1, ()


def sequence_attribute(node: ast.ClassDef, name: str) -> ast.List | ast.Tuple | None:
    """The literal list or tuple assigned to ``name`` in the body of the class ``node``
    (``operations = [...]``, ``dependencies: list = [...]``), or None. The last assignment
    wins, as when Python runs the class body."""
    found = None
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and isinstance(
            statement.value, ast.List | ast.Tuple
        ):
            found = statement.value
    return found


def model_location(app_label: str, table: str) -> SourceLocation | None:
    """Where the installed model of ``app_label`` whose table is ``table`` is defined; for an
    auto-created many-to-many table, the model that declares the field."""
    folded = table.casefold()
    for model in global_apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.app_label != app_label or opts.db_table.casefold() != folded:
            continue
        owner = opts.auto_created or model
        try:
            filename = inspect.getsourcefile(owner)
            _, line = inspect.getsourcelines(owner)
        except (OSError, TypeError):
            return None
        return SourceLocation(Path(filename).resolve(), line) if filename else None
    return None
