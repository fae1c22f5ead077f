"""Schema model shared by the whole engine: a live snapshot and an expected schema use the
same frozen dataclasses, normalised the same way, so that ``diff()`` compares like with like.

Normalisation rules (applied to both sides, per backend, by ``introspection``):
- column types are lower-case canonical spellings (``Introspector.normalise_type``);
- unique constraints and indexes are compared by their columns, never by name;
- a non-unique index whose columns are a leading prefix of the primary key, a unique
  constraint or another index is redundant and dropped (backends create such indexes
  implicitly, e.g. MySQL for foreign keys, PostgreSQL ``*_like`` pattern indexes);
- check constraints are compared by name, and only the ones a model declares by name;
- foreign keys are compared by columns, target and ``ON DELETE`` action, never by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # normalised, e.g. "varchar(100)", "integer", "bigint"
    null: bool


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]
    name: str | None = field(default=None, compare=False)
    # What the database does to the rows when the row they reference is deleted: "NO
    # ACTION" (Django's own foreign keys: on_delete runs in Python), "CASCADE", "SET NULL",
    # "SET DEFAULT" (Django 6.1's DB_CASCADE, ...) or "RESTRICT" (MySQL's RESTRICT is its
    # NO ACTION, and reads as that).
    on_delete: str = "NO ACTION"


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]
    unique: bool
    name: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    # Unique constraints and unique indexes (not the primary key), by columns.
    uniques: frozenset[tuple[str, ...]] = frozenset()
    # Non-unique indexes, by columns, after the redundancy rule above.
    indexes: frozenset[tuple[str, ...]] = frozenset()
    foreign_keys: frozenset[ForeignKey] = frozenset()
    checks: frozenset[str] = frozenset()  # check constraint names
    # Approximate size from the catalogue; None when unknown (and in expected schemas).
    rows: int | None = field(default=None, compare=False)
    bytes: int | None = field(default=None, compare=False)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class IncomingForeignKey:
    from_table: str
    foreign_key: ForeignKey


# Kinds of DatabaseObject.
VIEW = "view"
MATERIALIZED_VIEW = "materialized-view"
SEQUENCE = "sequence"
OBJECT_NOUNS = {VIEW: "view", MATERIALIZED_VIEW: "materialized view", SEQUENCE: "sequence"}


@dataclass(frozen=True)
class DatabaseObject:
    """A named object of the schema that is not a table and that no model describes: a
    view, a materialized view, a sequence no column owns (serial and identity sequences
    belong to their tables)."""

    name: str
    kind: str  # VIEW, MATERIALIZED_VIEW or SEQUENCE
    # The tables and objects its definition reads (views; empty for sequences).
    depends_on: frozenset[str] = frozenset()
    # The tables whose column defaults call it (sequences: nextval).
    used_by: frozenset[str] = frozenset()

    @property
    def noun(self) -> str:
        return OBJECT_NOUNS[self.kind]


@dataclass(frozen=True)
class Schema:
    vendor: str
    tables: Mapping[str, Table]
    # Views, materialized views and free sequences, by name (empty in expected schemas).
    objects: Mapping[str, DatabaseObject] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables.values())

    def __contains__(self, table: object) -> bool:
        return table in self.tables

    def incoming_foreign_keys(self, table: str) -> list[IncomingForeignKey]:
        """Foreign keys of any table (itself included) that point at ``table``."""
        return [
            IncomingForeignKey(t.name, fk)
            for t in self.tables.values()
            for fk in sorted(t.foreign_keys, key=lambda fk: (fk.columns, fk.to_table))
            if fk.to_table == table
        ]

    def restricted_to(self, names: set[str] | frozenset[str]) -> Schema:
        return Schema(
            self.vendor,
            {n: t for n, t in self.tables.items() if n in names},
            {n: o for n, o in self.objects.items() if n in names},
        )

    def dependents(self, names: set[str] | frozenset[str]) -> list[DatabaseObject]:
        """The objects (views) whose definitions read any of ``names``, sorted by name."""
        return [o for o in self.objects.values() if o.depends_on & names]

    def sequence_users(self, names: set[str] | frozenset[str]) -> dict[str, frozenset[str]]:
        """``{sequence: tables whose defaults call it}`` for the sequences among ``names``
        that tables outside ``names`` use."""
        return {
            n: o.used_by - names
            for n, o in self.objects.items()
            if n in names and o.used_by - names
        }
