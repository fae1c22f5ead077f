"""The vendor-neutral part of the introspector: normalisation and the snapshot skeleton.

A vendor module subclasses :class:`Introspector` and implements :meth:`read_tables`, which
returns the tables as the catalogue describes them (raw type spellings, every index).
:meth:`Introspector.normalise_table` then applies the rules documented in
``migration_ops.core.schema``; the expected schema goes through the very same method, so
both sides of a diff are normalised alike.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import transaction

from migration_ops.core.schema import (
    MATERIALIZED_VIEW,
    SEQUENCE,
    VIEW,
    Column,
    DatabaseObject,
    ForeignKey,
    Schema,
    Table,
)
from migration_ops.exceptions import LockHeld

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

_SPACES = re.compile(r"\s+")
# Spaces next to the punctuation of a type's parameters: "numeric(10, 2)" -> "numeric(10,2)".
_PARAM_SPACES = re.compile(r"\s*([(),])\s*")


# Django's ``introspection.get_constraints`` of one table: {name: {columns, primary_key, ...}}.
Constraints = dict[str, dict[str, Any]]


class Introspector:
    """Reads one database connection's schema; one subclass per ``connection.vendor``.

    Methods that need SQL live on the vendor subclasses; everything else (normalisation, the
    redundancy rule) is here so that the expected schema can use it without a database.
    """

    vendor: ClassVar[str] = ""
    # Canonical spellings of type names (the part before any parameters), after
    # lower-casing; a key matches a whole word prefix: "character varying(10)".
    type_aliases: ClassVar[Mapping[str, str]] = {}

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        # A project has thousands of columns and a few dozen distinct type spellings.
        self._normalised_types: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} alias={self.connection.alias!r}>"

    def read_constraints(self, tables: Collection[str]) -> dict[str, Constraints]:
        """Django's ``get_constraints`` of each of ``tables`` (present in the database), in a
        constant number of queries; a table the database lacks gets ``{}``."""
        raise NotImplementedError

    def read_sequences(self, tables: Collection[str]) -> dict[str, list[dict[str, str]]] | None:
        """Django's ``get_sequences`` of each of ``tables`` in a constant number of
        queries, where the schema editor reads sequences (PostgreSQL); None elsewhere."""
        return None

    def read_storage_engines(self) -> dict[str, str | None] | None:
        """Django's ``get_storage_engine`` of every table of the database in one query,
        where the schema editor reads it (MySQL/MariaDB); None elsewhere."""
        return None

    # Snapshot -------------------------------------------------------------------------

    def snapshot(self, tables: Collection[str] | None = None) -> Schema:
        """The live schema: every base table of the current database/schema, normalised,
        and the views and free sequences (``Schema.objects``).

        ``tables`` restricts the snapshot to those names (unknown names are ignored).
        """
        wanted = None if tables is None else frozenset(tables)
        if wanted is not None and not wanted:
            return Schema(self.connection.vendor, {})
        with self.connection.cursor() as cursor:
            raw = self.read_tables(cursor, wanted)
            objects = self.read_objects(cursor, wanted)
        schema = self.make_schema(raw)
        # What a view reads, among the names of this snapshot (compared as the catalogue
        # or the definition's text spells them, ignoring case).
        known = {name.casefold(): name for name in [*schema.tables, *(o.name for o in objects)]}
        return Schema(
            schema.vendor,
            schema.tables,
            {
                o.name: replace(
                    o,
                    depends_on=frozenset(
                        known[d.casefold()]
                        for d in o.depends_on
                        if d.casefold() in known and known[d.casefold()] != o.name
                    ),
                    used_by=frozenset(
                        known[t.casefold()] for t in o.used_by if t.casefold() in known
                    ),
                )
                for o in objects
            },
        )

    def read_objects(
        self, cursor: CursorWrapper, names: frozenset[str] | None
    ) -> list[DatabaseObject]:
        """The views, materialized views and sequences no column owns, sorted by name, in
        one catalogue query (``names``: None for all, or the names to read).

        ``depends_on`` may hold any identifiers of a view's definition (:func:`identifiers`):
        :meth:`snapshot` keeps those that name a table or object of the snapshot.
        """
        return []

    def read_tables(self, cursor: CursorWrapper, tables: frozenset[str] | None) -> list[Table]:
        """The tables as the catalogue describes them, before normalisation.

        ``tables`` is None for all tables, or the names to read. Implementations on
        client/server databases must use a constant number of queries.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement read_tables().")

    def refresh_estimates(self, tables: Collection[str]) -> None:
        """Ask the database to recompute the statistics behind ``Table.rows`` (ANALYZE)."""
        with self.connection.cursor() as cursor:
            for table in sorted(tables):
                cursor.execute(f"ANALYZE {self.connection.ops.quote_name(table)}")

    def make_schema(self, tables: Iterable[Table]) -> Schema:
        """A :class:`Schema` of ``tables`` normalised, ordered by name."""
        normalised = sorted((self.normalise_table(t) for t in tables), key=lambda t: t.name)
        return Schema(self.connection.vendor, {t.name: t for t in normalised})

    # Normalisation --------------------------------------------------------------------

    def normalise_type(self, raw: str) -> str:
        """The canonical spelling of a column type (idempotent).

        Lower-case, single spaces, no spaces around parameters, aliases resolved, then
        :meth:`normalise_vendor_type` for what only one backend needs.
        """
        known = self._normalised_types.get(raw)
        if known is None:
            known = self._normalised_types[raw] = self._normalise_type(raw)
        return known

    def _normalise_type(self, raw: str) -> str:
        value = _SPACES.sub(" ", raw.strip().lower())
        value = _PARAM_SPACES.sub(r"\1", value)
        # A space before "(" went away above; put back the one after ")": "int(10)unsigned".
        value = re.sub(r"\)(?=[a-z])", ") ", value)
        suffix = ""
        while value.endswith("[]"):  # arrays: normalise the element type
            value, suffix = value[:-2], suffix + "[]"
        value = self._resolve_alias(value)
        return self.normalise_vendor_type(value) + suffix

    def _resolve_alias(self, value: str) -> str:
        match = _alias_pattern(tuple(self.type_aliases)).match(value)
        if match is None:
            return value
        return self.type_aliases[match[1]] + value[match.end(1) :]

    def normalise_vendor_type(self, value: str) -> str:
        """Hook for a backend's own spellings; ``value`` is already cleaned up."""
        return value

    def implicit_indexes(self, table: Table) -> frozenset[tuple[str, ...]]:
        """Indexes the backend creates by itself for ``table`` (e.g. for foreign keys)."""
        return frozenset()

    def creates_field_index(self, column_type: str) -> bool:
        """Whether Django creates the index of a ``db_index`` field of this (raw) type."""
        return True

    def normalise_table(self, table: Table) -> Table:
        """``table`` with normalised column types and the redundancy rule applied.

        Primary-key columns are never NULL (SQLite reports a PK declared without NOT NULL
        as nullable). A non-unique index is dropped when its columns are a leading prefix
        of the primary key or a unique constraint, or a strict leading prefix of another
        index. Idempotent: normalising a normalised table changes nothing.
        """
        pk = set(table.primary_key)
        # Most columns are normalised already: they (and then the table) are kept as they are.
        columns = tuple(
            c
            if (type_ := self.normalise_type(c.type)) == c.type and not (c.null and c.name in pk)
            else Column(c.name, type_, c.null and c.name not in pk)
            for c in table.columns
        )
        indexes = set(table.indexes) | self.implicit_indexes(table)
        covering = {table.primary_key, *table.uniques}
        kept = frozenset(
            index
            for index in indexes
            if not any(_is_prefix(index, other) for other in covering)
            and not any(len(other) > len(index) and _is_prefix(index, other) for other in indexes)
        )
        if columns == table.columns and kept == table.indexes:
            return table
        return replace(table, columns=columns, indexes=kept)

    # Removal: row counts, foreign-key checks, constraint and table drops, locks ----------

    def count_rows(self, tables: Iterable[str]) -> dict[str, int]:
        """Exact row counts of ``tables`` (one ``COUNT(*)`` each; estimates are in snapshots)."""
        quote = self.connection.ops.quote_name
        counts = {}
        with self.connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
                counts[table] = int(cursor.fetchone()[0])
        return counts

    def foreign_key_checks_sql(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The statements :meth:`foreign_key_checks_disabled` runs before and after its body,
        as shown in a dry run."""
        return (), ()

    @contextmanager
    def foreign_key_checks_disabled(self) -> Iterator[None]:
        """Foreign-key checks off for this session, restored to their previous value on exit,
        even on error.

        Nothing to do here: PostgreSQL cannot turn them off, so its callers drop incoming
        constraints explicitly and drop tables referencing ones first.
        """
        yield

    def drop_foreign_key_sql(self, table: str, foreign_key: ForeignKey) -> list[str]:
        """The statements that drop ``foreign_key`` of ``table`` and nothing else."""
        raise NotImplementedError(f"{type(self).__name__} must implement drop_foreign_key_sql().")

    @property
    def drop_foreign_key_rebuilds_table(self) -> bool:
        """Whether :meth:`drop_foreign_key` rebuilds the whole table (SQLite)."""
        return False

    def drop_foreign_key(self, table: str, foreign_key: ForeignKey) -> None:
        """Drop ``foreign_key`` of ``table`` (inside :meth:`foreign_key_checks_disabled`)."""
        self.execute_statements(self.drop_foreign_key_sql(table, foreign_key))

    def execute_statements(self, statements: Iterable[str]) -> None:
        """Run parameterless statements in one transaction (where the backend has DDL ones)."""
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def drop_order(self, schema: Schema, tables: Collection[str]) -> list[tuple[str, ...]]:
        """``tables`` in groups, referencing tables before the tables they reference.

        Self-references don't count. When the rest reference each other in a cycle, they
        form one last group (each group sorted by name).
        """
        remaining = set(tables)
        referenced_by: dict[str, set[str]] = {name: set() for name in remaining}
        for name in remaining:
            table = schema.tables.get(name)
            for fk in table.foreign_keys if table is not None else ():
                if fk.to_table in remaining and fk.to_table != name:
                    referenced_by[fk.to_table].add(name)
        groups: list[tuple[str, ...]] = []
        while remaining:
            free = sorted(t for t in remaining if not referenced_by[t] & remaining)
            if not free:
                groups.append(tuple(sorted(remaining)))
                break
            groups.extend((t,) for t in free)
            remaining.difference_update(free)
        return groups

    def drop_tables_sql(
        self, schema: Schema, tables: Collection[str]
    ) -> list[tuple[tuple[str, ...], str]]:
        """``(tables dropped, statement)`` pairs in :meth:`drop_order`; never ``CASCADE``."""
        quote = self.connection.ops.quote_name
        return [
            ((table,), f"DROP TABLE {quote(table)}")
            for group in self.drop_order(schema, tables)
            for table in group
        ]

    def drop_objects_sql(
        self, schema: Schema, names: Collection[str]
    ) -> list[tuple[tuple[str, ...], str]]:
        """``(names dropped, statement)`` pairs that drop the objects and tables ``names``
        (described by ``schema``), never with ``CASCADE``: views first, those that read
        other views before them, then the tables in :meth:`drop_order`, then sequences (a
        column default may use one)."""
        quote = self.connection.ops.quote_name
        views = [n for n in names if n in schema.objects and schema.objects[n].kind != SEQUENCE]
        sequences = sorted(
            n for n in names if n in schema.objects and schema.objects[n].kind == SEQUENCE
        )
        statements = [
            ((name,), f"DROP {_DROP_KEYWORDS[schema.objects[name].kind]} {quote(name)}")
            for name in _dependents_first(schema, views)
        ]
        statements += self.drop_tables_sql(schema, [n for n in names if n in schema.tables])
        statements += [((name,), f"DROP SEQUENCE {quote(name)}") for name in sequences]
        return statements

    def drop_tables(
        self,
        schema: Schema,
        tables: Collection[str],
        on_dropped: Callable[[tuple[str, ...]], None] | None = None,
    ) -> None:
        """Drop ``tables`` (described by ``schema``) with foreign-key checks off, calling
        ``on_dropped`` after each statement. Foreign keys into them from other tables must
        be gone first."""
        with self.foreign_key_checks_disabled():
            for dropped, statement in self.drop_tables_sql(schema, tables):
                self.execute_statements([statement])
                if on_dropped is not None:
                    on_dropped(dropped)

    def reset_sequences(self, tables: Iterable[str]) -> None:
        """Move the primary-key sequences of ``tables`` past their largest value, after rows
        were inserted with explicit keys. Nothing to do where the counter follows by itself
        (MySQL's AUTO_INCREMENT, SQLite's AUTOINCREMENT)."""

    # Scratch databases (plan_upgrade --rehearse) ---------------------------------------

    def database_exists(self, name: str) -> bool:
        """Whether a database ``name`` exists on this connection's server."""
        return False

    def missing_database_privileges(self, name: str) -> str | None:
        """What this connection's user lacks to create and drop database ``name`` (None:
        nothing). Read from the catalogue: nothing is tried."""
        return None

    # Privileges (checked while planning, so that a refusal comes before any change) -----

    def missing_table_privileges(self, needs: Mapping[str, Collection[str]]) -> str | None:
        """What this connection's user lacks of ``needs`` (``{table: privileges}``, among
        ``TABLE_PRIVILEGES``), as a phrase that says what to grant (None: nothing). Read
        from the catalogue: nothing is tried."""
        return None

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the advisory lock ``name`` on this database for the duration of the block.

        Raises :class:`~migration_ops.exceptions.LockHeld` at once when another session
        holds it. Re-entrant within one connection.
        """
        held = _HELD_LOCKS.setdefault(self.connection, {})
        entry = held.get(name)
        if entry is None:
            token = self.acquire_lock(name)
            if token is None:
                raise LockHeld(
                    f"Another session holds the {name!r} lock on database "
                    f"{self.connection.alias!r}: a command of migration_ops is already running "
                    "on it. Wait for it to finish, then run this command again."
                )
            entry = held[name] = _HeldLock(token)
        entry.depth += 1
        try:
            yield
        except BaseException:
            entry.depth -= 1
            if entry.depth == 0:
                del held[name]
                # An interrupted query can leave the session unusable (MySQL: "Commands out
                # of sync"): the error that got us here matters, not the release's. Closing
                # the session frees a session lock all the same.
                try:
                    self.release_lock(name, entry.token)
                except Exception:
                    with suppress(Exception):
                        self.abandon_lock(name, entry.token)
            raise
        else:
            entry.depth -= 1
            if entry.depth == 0:
                del held[name]
                self.release_lock(name, entry.token)

    def acquire_lock(self, name: str) -> object | None:
        """Try once to take the lock ``name``: a token for :meth:`release_lock`, or None
        when another session holds it."""
        raise NotImplementedError(f"{type(self).__name__} must implement acquire_lock().")

    def release_lock(self, name: str, token: object) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement release_lock().")

    def abandon_lock(self, name: str, token: object) -> None:
        """Free the lock when :meth:`release_lock` failed: closing the session frees a
        session-level lock (MySQL's ``GET_LOCK``, PostgreSQL's advisory locks)."""
        self.connection.close()


@functools.cache
def _alias_pattern(aliases: tuple[str, ...]) -> re.Pattern[str]:
    """Matches the longest alias that is a whole-word prefix: "character varying(10)"."""
    if not aliases:
        return re.compile(r"(?!)")
    names = "|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True))
    return re.compile(rf"^({names})(?=$|[( ])")


class _HeldLock:
    def __init__(self, token: object) -> None:
        self.token = token
        self.depth = 0


# Locks this process holds, per connection (a connection is one database session).
_HELD_LOCKS: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[str, _HeldLock]] = (
    weakref.WeakKeyDictionary()
)


# Identifiers of an SQL text: quoted ("", ``, []) or bare words; string literals skipped.
_IDENTIFIER = re.compile(r"""'(?:[^']|'')*'|"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|\[([^\]]*)\]|(\w+)""")


def identifiers(sql: str) -> frozenset[str]:
    """Every identifier of ``sql``, unquoted (keywords and column names included: callers
    keep the ones that name relations)."""
    return frozenset(
        next(group for group in match.groups() if group is not None)
        for match in _IDENTIFIER.finditer(sql)
        if any(group is not None for group in match.groups())
    )


_DROP_KEYWORDS = {VIEW: "VIEW", MATERIALIZED_VIEW: "MATERIALIZED VIEW", SEQUENCE: "SEQUENCE"}


def _dependents_first(schema: Schema, views: Collection[str]) -> list[str]:
    """``views`` ordered so that a view that reads another one comes before it (by name
    among equals; a cycle, which databases refuse anyway, keeps the name order)."""
    remaining = sorted(views)
    ordered: list[str] = []
    while remaining:
        read_by_others = {
            dependency
            for name in remaining
            for dependency in schema.objects[name].depends_on
            if dependency != name
        }
        free = [name for name in remaining if name not in read_by_others] or remaining
        ordered += free
        remaining = [name for name in remaining if name not in free]
    return ordered


def _is_prefix(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    return len(short) <= len(long) and long[: len(short)] == short


# What a removal or a reset may need of a table, in the order messages list them.
TABLE_PRIVILEGES = ("DROP", "ALTER", "INDEX", "INSERT", "UPDATE", "DELETE")


def missing_by_privileges(
    needs: Mapping[str, Collection[str]], granted: Callable[[str], Collection[str]]
) -> dict[tuple[str, ...], list[str]]:
    """``{missing privileges: [tables]}`` of ``needs``, given the privileges
    ``granted(table)`` of each table; privileges in ``TABLE_PRIVILEGES`` order, tables
    sorted."""
    missing: dict[tuple[str, ...], list[str]] = {}
    for table in sorted(needs):
        have = set(granted(table))
        lacking = tuple(p for p in TABLE_PRIVILEGES if p in needs[table] and p not in have)
        if lacking:
            missing.setdefault(lacking, []).append(table)
    return missing


def and_join(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def group_rows(rows: Iterable[tuple[Any, ...]]) -> dict[Any, list[tuple[Any, ...]]]:
    """``{first value: [rest of row, ...]}`` in the rows' order."""
    grouped: dict[Any, list[tuple[Any, ...]]] = {}
    for first, *rest in rows:
        grouped.setdefault(first, []).append(tuple(rest))
    return grouped
