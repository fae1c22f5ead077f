"""The apps to remove: where their code lives and which distributions provide it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from contextlib import suppress
from typing import TYPE_CHECKING

from django.conf import settings

from migration_ops.core.ownership import Ownership
from migration_ops.services.removal.plan import (
    AppToRemove,
)

if TYPE_CHECKING:
    from django.apps import AppConfig


def app_to_remove(
    label: str, configs: dict[str, AppConfig], ownership: Ownership, removed: set[str]
) -> AppToRemove:
    config = configs.get(label)
    if config is not None:
        module = config.name.partition(".")[0]
        package: str | None = config.name
        entry = _installed_apps_entry(config)
        evidence: tuple[str, ...] = ()
    else:
        stale = ownership.stale_apps[label]
        # The label, or the package of the migration files found for it.
        package = label if _importable(label) else None
        if package is None and stale.migrations_module:
            package = stale.migrations_module.rpartition(".")[0]
        module = package.partition(".")[0] if package else None
        entry = None
        evidence = stale.evidence
    distributions: tuple[str, ...] = ()
    module_path = None
    if module is not None:
        distributions = tuple(sorted(set(_packages_distributions().get(module, ()))))
        with suppress(Exception):
            spec = importlib.util.find_spec(package or module)
            if spec is not None:
                locations = spec.submodule_search_locations
                module_path = locations[0] if locations else spec.origin
    shared = ()
    if distributions:
        shared = tuple(
            sorted(
                other.label
                for other in configs.values()
                if other.label not in removed
                and set(_packages_distributions().get(other.name.partition(".")[0], ()))
                & set(distributions)
            )
        )
    return AppToRemove(
        label=label,
        installed=config is not None,
        installed_apps_entry=entry,
        module=module,
        package=package,
        module_path=module_path,
        distributions=distributions,
        distribution_shared_with=shared,
        evidence=evidence,
    )


def _installed_apps_entry(config: AppConfig) -> str:
    config_path = f"{type(config).__module__}.{type(config).__qualname__}"
    for entry in settings.INSTALLED_APPS:
        if entry in (config.name, config_path):
            return str(entry)
    return config.name


def _importable(name: str) -> bool:
    if not name.isidentifier():
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


_DISTRIBUTIONS: dict[str, list[str]] | None = None


def _packages_distributions() -> dict[str, list[str]]:
    # Reads every installed distribution's metadata: once per process is enough.
    global _DISTRIBUTIONS
    if _DISTRIBUTIONS is None:
        _DISTRIBUTIONS = dict(importlib.metadata.packages_distributions())
    return _DISTRIBUTIONS
