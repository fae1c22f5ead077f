"""What still names a package: settings whose values are dotted paths into it, and modules of
installed apps that import it or name it in a string (``include("blog.urls")``).

Used by ``safe_remove_app`` to list what is left to do after a removal, and by the system
check ``migration_ops.W002`` to find the same references once the app has left
``INSTALLED_APPS``. Reads source files with :mod:`ast`; imports nothing of what it scans.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Collection, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings

# Settings that name apps by label or are handled on their own.
_SKIPPED_SETTINGS = frozenset({"INSTALLED_APPS", "SETTINGS_MODULE"})


@dataclass(frozen=True)
class Reference:
    package: str  # the package named: "newsletter"
    location: str  # "settings.MIDDLEWARE[2]", "portal/apps.py:9"
    text: str  # what names it: "'newsletter.middleware.Tracking'", "import newsletter.signals"

    @property
    def sentence(self) -> str:
        return f"{self.location} refers to '{self.package}': {self.text}"


def names_package(value: str, package: str) -> bool:
    """Whether ``value`` is ``package`` or a dotted path inside it."""
    return value == package or value.startswith(package + ".")


def settings_references(packages: Collection[str]) -> list[Reference]:
    """Settings (other than ``INSTALLED_APPS``) whose values name one of ``packages``, with
    the line of the settings file where the value is written, when it is there."""
    found: list[Reference] = []
    file, lines = _settings_lines()
    for name in sorted(set(dir(settings))):  # an override lists its settings twice
        if not name.isupper() or name in _SKIPPED_SETTINGS:
            continue
        with suppress(Exception):  # a lazy setting that cannot be read is not ours to report
            value = getattr(settings, name)
            for path, text in _strings(value, name):
                for package in packages:
                    if names_package(text, package):
                        line = next(
                            (n for n, line in lines if repr(text) in line or f'"{text}"' in line),
                            None,
                        )
                        where = f" ({file}:{line})" if line is not None and file else ""
                        found.append(Reference(package, f"settings.{path}{where}", repr(text)))
    return found


def module_references(packages: Collection[str], files: Iterable[Path]) -> list[Reference]:
    """Imports of ``packages`` in ``files``, and string constants that are dotted paths into
    them (a module path in a string, as ``include()`` and settings-like lists take)."""
    found: list[Reference] = []
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not any(package in source for package in packages):
            continue
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            for package, text in _node_references(node, packages):
                found.append(Reference(package, f"{_display(path)}:{node.lineno}", text))
    return sorted(found, key=lambda r: (r.location.rsplit(":", 1)[0], _line(r), r.text))


def installed_app_files(exclude: Collection[str] = ()) -> list[Path]:
    """The Python files of the installed apps (except Django's own and the apps whose module
    is in ``exclude``), their migrations left out, and the ``ROOT_URLCONF`` module."""
    import django

    django_root = Path(django.__file__).parent
    roots: list[Path] = []
    for config in global_apps.get_app_configs():
        if any(names_package(config.name, package) for package in exclude):
            continue
        root = Path(config.path)
        if root == django_root or django_root in root.parents:
            continue
        roots.append(root)
    files: dict[Path, None] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "migrations" not in path.relative_to(root).parts:
                files[path] = None
    urlconf = getattr(settings, "ROOT_URLCONF", None)
    if isinstance(urlconf, str):
        with suppress(Exception):
            spec = importlib.util.find_spec(urlconf)
            if spec is not None and spec.origin:
                files[Path(spec.origin)] = None
    return list(files)


def uninstalled_app_packages() -> list[str]:
    """Packages of the project (on ``sys.path``, outside the installed distributions) that
    look like Django apps (``models.py``, ``apps.py`` or ``migrations/``) but are not in
    ``INSTALLED_APPS``."""
    installed = {config.name for config in global_apps.get_app_configs()}
    found: set[str] = set()
    for entry in sys.path:
        directory = Path(entry or ".")
        if not directory.is_dir() or {"site-packages", "dist-packages"} & set(directory.parts):
            continue
        if (directory / "os.py").exists():  # the standard library
            continue
        with suppress(OSError):
            for child in directory.iterdir():
                name = child.name
                if not name.isidentifier() or not (child / "__init__.py").exists():
                    continue
                looks_like_app = (
                    (child / "models.py").exists()
                    or (child / "apps.py").exists()
                    or (child / "migrations" / "__init__.py").exists()
                )
                if looks_like_app and name not in installed:
                    found.add(name)
    return sorted(found)


def _settings_lines() -> tuple[str | None, list[tuple[int, str]]]:
    """The settings file, as displayed, and its numbered lines."""
    module = sys.modules.get(getattr(settings, "SETTINGS_MODULE", None) or "")
    path = getattr(module, "__file__", None)
    if path:
        with suppress(OSError, UnicodeDecodeError):
            text = Path(path).read_text(encoding="utf-8")
            return _display(Path(path)), list(enumerate(text.splitlines(), start=1))
    return None, []


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}[{key!r}]")


def _node_references(node: ast.AST, packages: Collection[str]) -> Iterator[tuple[str, str]]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            for package in packages:
                if names_package(alias.name, package):
                    yield package, f"import {alias.name}"
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
        for package in packages:
            if names_package(node.module, package):
                names = ", ".join(alias.name for alias in node.names)
                yield package, f"from {node.module} import {names}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        for package in packages:
            if _module_path(node.value, package):
                yield package, repr(node.value)


def _module_path(value: str, package: str) -> bool:
    """A dotted path into ``package`` whose next part is a module name (lower case): not a
    model label such as "blog.Post"."""
    if not value.startswith(package + "."):
        return False
    parts = value[len(package) + 1 :].split(".")
    return all(p.isidentifier() for p in parts) and parts[0].islower()


def _display(path: Path) -> str:
    with suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _line(reference: Reference) -> int:
    return int(reference.location.rsplit(":", 1)[1])
