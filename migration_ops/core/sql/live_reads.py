"""The schema editor's reads of the live database during collection, watched."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from migration_ops.introspection import get_introspector
from migration_ops.introspection.base import Constraints

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
        # Every live table's answer to a read, by read, once one is needed (None: the
        # read has no batched form on this backend).
        self._batches: dict[str, dict[str, Any] | None] = {}

    def _batch(self, name: str) -> dict[str, Any] | None:
        """Every live table's answer to the read ``name``, read at its first use in the
        constant number of queries of the introspector's batched form: nothing writes to
        the database during collection, so the answers hold to the end."""
        if name not in self._batches:
            introspector = get_introspector(self.connection)
            reader = {
                "get_constraints": introspector.read_constraints,
                "get_sequences": introspector.read_sequences,
            }.get(name)
            batch = None
            if reader is not None:
                live = sorted(self.live_tables())
                if self.connection.in_atomic_block:
                    with transaction.atomic(using=self.connection.alias):
                        batch = reader(live)
                else:
                    batch = reader(live)
            self._batches[name] = batch
        return self._batches[name]

    def read_constraints(self, table: str) -> Constraints:
        """The database's constraints of ``table`` (a live one), as a read that is not
        watched."""
        batch = self._batch("get_constraints")
        assert batch is not None
        return copy.deepcopy(batch.get(table, {}))

    def live_tables(self) -> set[str]:
        if self._live is None:
            self._live = set(self.connection.introspection.table_names())
        return self._live

    def _storage_engine(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """``get_storage_engine`` answered from one read of every table's engine. Not a
        read of the table's structure: an earlier operation does not change it."""
        engines: dict[str, str | None] | None = None
        folded: set[str] = set()

        def read(cursor: Any, table_name: str) -> Any:
            nonlocal engines
            if engines is None:
                engines = get_introspector(self.connection).read_storage_engines() or {}
                folded.update(name.lower() for name in engines)
            if table_name in engines:
                return engines[table_name]
            if table_name.lower() not in folded:
                # What Django's query answers for a table the database lacks.
                return self.connection.features._mysql_storage_engine
            return method(cursor, table_name)  # the server's collation decides

        return read

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def read(cursor: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            catalogue = self.catalogue
            if name == "get_constraints" and catalogue is not None and catalogue.knows(table_name):
                return catalogue.constraints(table_name)
            self.tables.append(table_name)
            if table_name in self.live_tables():
                batch = self._batch(name)
                if batch is not None:
                    return copy.deepcopy(batch.get(table_name))
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
        method = getattr(introspection, "get_storage_engine", None)
        if method is not None and "get_storage_engine" not in vars(introspection):
            introspection.get_storage_engine = self._storage_engine(method)
            wrapped.append("get_storage_engine")
        try:
            yield
        finally:
            for name in wrapped:
                delattr(introspection, name)
            self._originals.clear()
