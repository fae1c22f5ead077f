"""Per-vendor schema introspection, chosen by ``connection.vendor``.

All SQL that depends on the backend lives in this package; the rest of the engine talks
to an :class:`~migration_ops.introspection.base.Introspector`.
"""

from __future__ import annotations

from collections.abc import Collection
from importlib import import_module
from typing import TYPE_CHECKING, Any

from migration_ops.exceptions import UnsupportedDatabase
from migration_ops.introspection.base import Introspector

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.core.schema import Schema
    from migration_ops.introspection.copying import StructureCopier

# Each vendor's module is imported when a connection of that vendor first asks for it: a
# process plans for one backend, and the others' modules cost import time (MySQL's ~4 ms).
INTROSPECTORS: dict[str, str] = {
    "sqlite": "migration_ops.introspection.sqlite.SQLiteIntrospector",
    "mysql": "migration_ops.introspection.mysql.MySQLIntrospector",
    "postgresql": "migration_ops.introspection.postgresql.PostgreSQLIntrospector",
}


def get_introspector(connection: BaseDatabaseWrapper) -> Introspector:
    """The introspector for ``connection``'s vendor (sqlite, mysql or postgresql)."""
    try:
        path = INTROSPECTORS[connection.vendor]
    except KeyError:
        raise UnsupportedDatabase(
            f"Database {connection.alias!r} uses the {connection.vendor!r} backend, which "
            f"migration_ops does not support. Supported: {', '.join(sorted(INTROSPECTORS))}."
        ) from None
    module, name = path.rsplit(".", 1)
    introspector_class: type[Introspector] = getattr(import_module(module), name)
    return introspector_class(connection)


def snapshot(connection: BaseDatabaseWrapper, tables: Collection[str] | None = None) -> Schema:
    """The live, normalised schema of ``connection`` (only ``tables`` if given)."""
    return get_introspector(connection).snapshot(tables)


__all__ = [
    "INTROSPECTORS",
    "Introspector",
    "StructureCopier",
    "get_copier",
    "get_introspector",
    "snapshot",
]


def get_copier(live: BaseDatabaseWrapper, scratch: BaseDatabaseWrapper) -> StructureCopier:
    """The structure copier from ``live`` to ``scratch`` (same vendor)."""
    from migration_ops.introspection.copy_mysql import MySQLCopier
    from migration_ops.introspection.copy_postgresql import PostgreSQLCopier
    from migration_ops.introspection.copy_sqlite import SQLiteCopier

    copiers: dict[str, type[StructureCopier]] = {
        "sqlite": SQLiteCopier,
        "mysql": MySQLCopier,
        "postgresql": PostgreSQLCopier,
    }
    get_introspector(live)  # the same error as everywhere for an unsupported vendor
    return copiers[live.vendor](live, scratch)


def __getattr__(name: str) -> Any:
    # The copier's base class, imported only by the rehearsal that uses it.
    if name == "StructureCopier":
        from migration_ops.introspection.copying import StructureCopier

        return StructureCopier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
