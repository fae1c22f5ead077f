"""System checks: the ``MIGRATION_OPS`` setting, and references to apps that left
``INSTALLED_APPS`` (what ``safe_remove_app`` lists as left to do)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from migration_ops.conf import DEFAULTS, conf
from migration_ops.core.references import (
    installed_app_files,
    module_references,
    settings_references,
    uninstalled_app_packages,
)


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    value = getattr(settings, "MIGRATION_OPS", {})
    if not isinstance(value, dict):
        return [
            Error(
                f"MIGRATION_OPS should be a dict, not {type(value).__name__}.",
                hint="Set MIGRATION_OPS = {'IGNORED_TABLES': [...]} or remove the setting.",
                id="migration_ops.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for key in sorted(set(value) - set(DEFAULTS)):
        errors.append(
            Error(
                f"MIGRATION_OPS has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="migration_ops.E001",
            )
        )
    for key in ("LONG_LOCK_ROWS", "LONG_LOCK_BYTES"):
        threshold = value.get(key, DEFAULTS[key])
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            errors.append(
                Error(
                    f"MIGRATION_OPS[{key!r}] should be a whole number >= 0, not {threshold!r}.",
                    hint=f"The default is {DEFAULTS[key]}.",
                    id="migration_ops.E001",
                )
            )
    name = value.get("REHEARSAL_DATABASE_NAME")
    if name is not None and (not isinstance(name, str) or not name):
        errors.append(
            Error(
                "MIGRATION_OPS['REHEARSAL_DATABASE_NAME'] should be a database name (a file "
                f"on SQLite), not {name!r}.",
                hint="Leave it out for the default: the live name + '_rehearsal'.",
                id="migration_ops.E001",
            )
        )
    ignored = value.get("IGNORED_TABLES", ())
    if isinstance(ignored, str) or not all(isinstance(p, str) for p in ignored):
        errors.append(
            Error(
                "MIGRATION_OPS['IGNORED_TABLES'] should be a list of glob patterns (strings).",
                hint="For example: MIGRATION_OPS = {'IGNORED_TABLES': ['scheduler_*']}.",
                id="migration_ops.E001",
            )
        )
        return errors
    # An ignored table that a model owns would hide that model's drift and keep
    # removal commands away from it: almost always a pattern that is too wide.
    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if model._meta.managed and conf.is_ignored_table(table):
            errors.append(
                Warning(
                    f"MIGRATION_OPS['IGNORED_TABLES'] matches {table!r}, the table of "
                    f"{model._meta.label}.",
                    hint="Narrow the pattern: ignored tables are never checked or touched.",
                    obj=model,
                    id="migration_ops.W001",
                )
            )
    return errors


def check_references_to_removed_apps(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Settings and installed apps' modules that name a package of the project which looks
    like an app (models, migrations or an AppConfig) but is not in INSTALLED_APPS: typically
    what is left of an app removed with safe_remove_app."""
    packages = uninstalled_app_packages()
    if not packages:
        return []
    references = settings_references(packages) + module_references(packages, installed_app_files())
    return [
        Warning(
            f"{r.location} refers to '{r.package}', an app that is not in INSTALLED_APPS: "
            f"{r.text}.",
            hint="Remove the reference (what safe_remove_app listed as left to do), or put "
            "the app back in INSTALLED_APPS.",
            id="migration_ops.W002",
        )
        for r in references
    ]
