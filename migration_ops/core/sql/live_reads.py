"""The schema editor's reads of the live database during collection, watched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

if TYPE_CHECKING:
    from migration_ops.core.sql.catalogue import Catalogue

# Introspection methods through which a schema editor reads one table's live structure.
_TABLE_READS = (
    "get_constraints",
    "get_sequences",
    "get_relations",
    "get_primary_key_column",
    "get_primary_key_columns",
)


class LiveReads:
    """Records the tables whose structure the schema editor reads from the database.

    A read inside a transaction runs in a savepoint, so that a failing catalogue query
    (PostgreSQL aborts the whole transaction on any error) costs one operation, not the
    rest of the migration.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.tables: list[str] = []
        self._live: set[str] | None = None
        # Tables whose constraints the plan changed: answered from here, not the database.
        self.catalogue: Catalogue | None = None
        self._originals: dict[str, Callable[..., Any]] = {}

    def read_constraints(self, table: str) -> dict[str, dict[str, Any]]:
        """The database's constraints of ``table``, as a read that is not watched."""
        method = self._originals.get(
            "get_constraints", self.connection.introspection.get_constraints
        )
        with self.connection.cursor() as cursor:
            if self.connection.in_atomic_block:
                with transaction.atomic(using=self.connection.alias):
                    return method(cursor, table)
            return method(cursor, table)

    def live_tables(self) -> set[str]:
        if self._live is None:
            self._live = set(self.connection.introspection.table_names())
        return self._live

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def read(cursor: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            catalogue = self.catalogue
            if name == "get_constraints" and catalogue is not None and catalogue.knows(table_name):
                return catalogue.constraints(table_name)
            self.tables.append(table_name)
            if self.connection.in_atomic_block:
                with transaction.atomic(using=self.connection.alias):
                    return method(cursor, table_name, *args, **kwargs)
            return method(cursor, table_name, *args, **kwargs)

        return read

    @contextmanager
    def watching(self) -> Iterator[None]:
        introspection = self.connection.introspection
        wrapped = []
        for name in _TABLE_READS:
            method = getattr(introspection, name, None)
            if method is not None and name not in vars(introspection):
                self._originals[name] = method
                setattr(introspection, name, self._wrap(name, method))
                wrapped.append(name)
        try:
            yield
        finally:
            for name in wrapped:
                delattr(introspection, name)
            self._originals.clear()
