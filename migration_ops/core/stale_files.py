"""The migration files of apps that are no longer installed ("stale" apps): where they are,
whether they are the version ``django_migrations`` recorded, and a loader that builds their
graph beside the installed apps' without registering them anywhere.
"""

from __future__ import annotations

import pkgutil
import sys
from collections.abc import Iterable, Mapping
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from django.apps import apps as global_apps
from django.conf import settings
from django.db.migrations.loader import MIGRATIONS_MODULE_NAME, MigrationLoader

if TYPE_CHECKING:
    from django.db.migrations.migration import Migration

Migrations = dict[tuple[str, str], "Migration"]


def stale_app_migrations(
    labels: Iterable[str], recorded: Mapping[str, frozenset[str]]
) -> dict[str, tuple[str, Migrations]]:
    """``{label: (module name, migrations)}`` for each of ``labels`` whose migration files
    are importable and include every migration that django_migrations ``recorded`` for the
    app (otherwise they describe another version of it)."""
    found: dict[str, tuple[str, Migrations]] = {}
    for label in labels:
        names = recorded.get(label, frozenset())
        module_name = _migrations_module(label)
        migrations = _load_migrations(label, module_name) if module_name is not None else None
        if not migrations and module_name == f"{label}.{MIGRATIONS_MODULE_NAME}":
            # The label is not the module path ("allauth.socialaccount" is "socialaccount"):
            # look for the files by the names django_migrations recorded.
            module_name = _find_migrations_module(label, names)
            if module_name is None:
                continue
            migrations = _load_migrations(label, module_name)
        if migrations and names <= {name for _, name in migrations}:
            found[label] = (module_name, migrations)
    return found


def _migrations_module(label: str) -> str | None:
    # MigrationLoader.migrations_module() needs an installed app; this is its fallback.
    if not label.isidentifier():
        return None  # not an app label: nothing to import
    modules = getattr(settings, "MIGRATION_MODULES", {})
    if label in modules:
        return modules[label]  # None disables migrations for the app
    return f"{label}.{MIGRATIONS_MODULE_NAME}"


def _find_migrations_module(label: str, recorded: frozenset[str]) -> str | None:
    """The module path of a migrations package on ``sys.path`` (up to three packages deep)
    whose files include every migration ``recorded`` for ``label``, and that no installed
    app uses: the package named after the label first, then, when the recorded names are
    distinctive (more than an initial migration), any package."""
    if not recorded:
        return None
    installed = {f"{c.name}.{MIGRATIONS_MODULE_NAME}" for c in global_apps.get_app_configs()}
    named_after_label: list[str] = []
    others: list[str] = []
    for entry in sys.path:
        directory = Path(entry or ".")
        if not directory.is_dir():
            continue
        for pattern in ("*/migrations", "*/*/migrations", "*/*/*/migrations"):
            for package in sorted(directory.glob(pattern)):
                parts = package.relative_to(directory).parts
                if not all(p.isidentifier() for p in parts):
                    continue
                if not all(
                    (directory.joinpath(*parts[: i + 1]) / "__init__.py").exists()
                    for i in range(len(parts))
                ):
                    continue
                module_name = ".".join(parts)
                if module_name in installed:
                    continue
                stems = {p.stem for p in package.glob("*.py")}
                if not recorded <= stems:
                    continue
                (named_after_label if parts[-2] == label else others).append(module_name)
    if named_after_label:
        return named_after_label[0]
    if others and recorded - {"0001_initial"}:
        return others[0]
    return None


def _load_migrations(label: str, module_name: str) -> Migrations | None:
    try:
        module = import_module(module_name)
    except Exception:  # gone, or can't be imported without its app installed
        return None
    if not isinstance(getattr(module, "__path__", None), list):
        return None  # a plain module or a namespace package: not a migrations package
    migrations = {}
    for _, name, is_pkg in pkgutil.iter_modules(module.__path__):
        if is_pkg or name[0] in "_~":
            continue
        try:
            migration_class = import_module(f"{module_name}.{name}").Migration
        except Exception:
            return None
        migrations[label, name] = migration_class(name, label)
    return migrations


class StaleAppsLoader(MigrationLoader):
    """The installed apps' migrations plus ``extra`` ones of uninstalled apps, restricted to
    the apps that ``root`` depends on (so that an unrelated broken dependency elsewhere
    does not matter). Reads no database."""

    def __init__(self, extra: Mapping[tuple[str, str], Migration], root: str) -> None:
        self._extra = dict(extra)
        self._root = root
        super().__init__(None, ignore_no_migrations=True)

    def load_disk(self) -> None:
        super().load_disk()
        self.disk_migrations.update(self._extra)
        self.migrated_apps.update(label for label, _ in self._extra)
        needed = _dependency_closure(self.disk_migrations, self._root)
        self.disk_migrations = {
            key: migration for key, migration in self.disk_migrations.items() if key[0] in needed
        }
        self.migrated_apps &= needed


def _dependency_closure(migrations: Mapping[tuple[str, str], Migration], root: str) -> set[str]:
    """Labels of the apps whose migrations ``root``'s migrations need, ``root`` included."""
    by_app: dict[str, list[Migration]] = {}
    for (label, _), migration in migrations.items():
        by_app.setdefault(label, []).append(migration)
    needed = {root}
    todo = [root]
    while todo:
        for migration in by_app.get(todo.pop(), []):
            # run_before adds an edge into the other app: its migrations must be there too.
            for label, _ in [*migration.dependencies, *migration.run_before]:
                if label not in needed:
                    needed.add(label)
                    todo.append(label)
    return needed
