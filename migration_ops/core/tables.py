"""The tables ``migrate`` creates for a model state, named as Django names them.

Read from the state's options without rendering it (rendering a project state is slow and
fails on references the state cannot resolve). The names follow
``Options.contribute_to_class`` (truncated for the *default* connection, whatever database
the migration runs on) and ``ManyToManyField._get_m2m_db_table``; what gets a table follows
``Options.can_migrate``.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import strip_quotes, truncate_name
from django.db.migrations.state import ModelState
from django.db.models import Field


def default_max_length() -> int | None:
    return connections[DEFAULT_DB_ALIAS].ops.max_name_length()


def db_table(model_state: ModelState, max_length: int | None = None) -> str:
    """The table of a model state, as ``Options`` would name it."""
    explicit = model_state.options.get("db_table")
    if explicit:
        return str(explicit)
    name = f"{model_state.app_label}_{model_state.name_lower}"
    length = default_max_length() if max_length is None else max_length
    # truncate_name's own test, first: the name has no namespace for it to split off.
    if length is None or len(name) <= length:
        return name
    return truncate_name(name, length)


def has_table(model_state: ModelState) -> bool:
    """Managed and concrete: proxies and unmanaged models get no table (nor M2M tables)."""
    options = model_state.options
    return bool(options.get("managed", True)) and not options.get("proxy", False)


def is_swapped(model_state: ModelState) -> bool:
    """``Options.swapped``: a swappable model replaced by another in the settings."""
    swappable = model_state.options.get("swappable")
    swapped_for = getattr(settings, swappable, None) if swappable else None
    if not swapped_for:
        return False
    app, _, model = swapped_for.partition(".")
    return f"{app}.{model.lower()}" != f"{model_state.app_label}.{model_state.name_lower}"


def can_migrate(model_state: ModelState, connection: BaseDatabaseWrapper | None = None) -> bool:
    """``Options.can_migrate``; the vendor and feature requirements need a ``connection``."""
    if not has_table(model_state) or is_swapped(model_state):
        return False
    if connection is None:
        return True
    options = model_state.options
    vendor = options.get("required_db_vendor")
    if vendor:
        return bool(vendor == connection.vendor)
    return all(
        getattr(connection.features, f, False) for f in options.get("required_db_features", ())
    )


def is_auto_m2m(field: Field) -> bool:
    return bool(field.many_to_many) and getattr(field.remote_field, "through", None) is None


def auto_m2m_table(
    model_state: ModelState, name: str, field: Field, max_length: int | None = None
) -> str:
    if getattr(field, "db_table", None):
        return str(field.db_table)
    table = f"{strip_quotes(db_table(model_state, max_length))}_{name}"
    return truncate_name(table, default_max_length() if max_length is None else max_length)


def auto_m2m_tables(
    model_state: ModelState, max_length: int | None = None
) -> Iterator[tuple[str, str]]:
    """``(field name, table)`` of each auto-created many-to-many table of the model."""
    for name, field in model_state.fields.items():
        if is_auto_m2m(field):
            yield name, auto_m2m_table(model_state, name, field, max_length)


def model_tables(model_state: ModelState) -> tuple[str, ...]:
    """The tables a model state has: its own and those of its auto-created M2M fields."""
    if not has_table(model_state):
        return ()
    return (db_table(model_state), *(table for _, table in auto_m2m_tables(model_state)))
