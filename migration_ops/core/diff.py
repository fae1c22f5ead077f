"""Structural diff of two normalised schemas: what the live database lacks or has in excess.

Both sides must come from the same backend and be normalised by its introspector
(``snapshot()`` and ``expected_schema()`` do that). Kinds are stable strings, used as-is in
JSON output; see :data:`KINDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from migration_ops.core.schema import ForeignKey, Schema, Table

# Order of the kinds within a table: the table itself, its columns, then its keys.
KINDS: tuple[str, ...] = (
    "missing-table",
    "extra-table",
    "missing-column",
    "extra-column",
    "column-type",
    "column-null",
    "primary-key",
    "missing-unique",
    "extra-unique",
    "missing-index",
    "extra-index",
    "missing-foreign-key",
    "extra-foreign-key",
    "foreign-key-on-delete",
    "missing-check",
)
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class SchemaDifference:
    """One difference. ``subject`` names what differs within ``table`` (the table itself,
    a column, ``"a, b"`` for a key's columns, a foreign key or a check's name);
    ``expected`` and ``actual`` describe each side, None where that side has nothing."""

    kind: str
    table: str
    subject: str
    expected: str | None
    actual: str | None

    def __post_init__(self) -> None:
        if self.kind not in _KIND_ORDER:
            raise ValueError(f"Unknown schema difference kind {self.kind!r}.")

    @property
    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (
            self.table,
            _KIND_ORDER[self.kind],
            self.subject,
            self.expected or "",
            self.actual or "",
        )

    @property
    def message(self) -> str:
        """One sentence for people, e.g. "Column library_book.pages is missing."."""
        t, s = self.table, self.subject
        return {
            "missing-table": f"Table {t} is missing.",
            "extra-table": f"Table {t} exists but no model expects it.",
            "missing-column": f"Column {t}.{s} is missing.",
            "extra-column": f"Column {t}.{s} exists but no field expects it.",
            "column-type": f"Column {t}.{s} has type {self.actual}, expected {self.expected}.",
            "column-null": (
                f"Column {t}.{s} allows NULL, expected NOT NULL."
                if self.actual == "NULL"
                else f"Column {t}.{s} is NOT NULL, expected it to allow NULL."
            ),
            "primary-key": (
                f"Table {t} has primary key {_parens(self.actual)}, "
                f"expected {_parens(self.expected)}."
            ),
            "missing-unique": f"Unique constraint on {t} ({s}) is missing.",
            "extra-unique": f"Unique constraint on {t} ({s}) exists but is not expected.",
            "missing-index": f"Index on {t} ({s}) is missing.",
            "extra-index": f"Index on {t} ({s}) exists but is not expected.",
            "missing-foreign-key": f"Foreign key on {t} ({s}) to {self.expected} is missing.",
            "extra-foreign-key": (
                f"Foreign key on {t} ({s}) to {self.actual} exists but is not expected."
            ),
            "foreign-key-on-delete": (
                f"Foreign key on {t} ({s}) has ON DELETE {self.actual} in the database, "
                f"expected {self.expected}."
            ),
            "missing-check": f"Check constraint {s} on {t} is missing.",
        }[self.kind]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the five fields plus ``message``."""
        return {
            "kind": self.kind,
            "table": self.table,
            "subject": self.subject,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
        }


@dataclass(frozen=True)
class SchemaDiff:
    """The differences, ordered by table, then kind (in :data:`KINDS` order), then subject."""

    differences: tuple[SchemaDifference, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.differences)

    def __len__(self) -> int:
        return len(self.differences)

    def __iter__(self) -> Iterator[SchemaDifference]:
        return iter(self.differences)

    @property
    def tables(self) -> tuple[str, ...]:
        """Tables with at least one difference, in order."""
        return tuple(dict.fromkeys(d.table for d in self.differences))

    def for_table(self, table: str) -> tuple[SchemaDifference, ...]:
        return tuple(d for d in self.differences if d.table == table)


def diff(actual: Schema, expected: Schema) -> SchemaDiff:
    """What ``actual`` (the live database) lacks or has in excess compared to ``expected``.

    Column order, index and constraint names and table sizes are not compared; check
    constraints are compared by name and only the expected ones (backends add their own).
    """
    if actual.vendor != expected.vendor:
        raise ValueError(
            f"Cannot compare a {actual.vendor} schema with a {expected.vendor} schema."
        )
    found: list[SchemaDifference] = []
    for name in expected.tables.keys() - actual.tables.keys():
        found.append(SchemaDifference("missing-table", name, name, name, None))
    for name in actual.tables.keys() - expected.tables.keys():
        found.append(SchemaDifference("extra-table", name, name, None, name))
    for name in actual.tables.keys() & expected.tables.keys():
        found.extend(_table_differences(actual.tables[name], expected.tables[name]))
    return SchemaDiff(tuple(sorted(found, key=lambda d: d.sort_key)))


def _table_differences(actual: Table, expected: Table) -> Iterator[SchemaDifference]:
    t = expected.name
    actual_columns = {c.name: c for c in actual.columns}
    expected_columns = {c.name: c for c in expected.columns}
    for name, column in expected_columns.items():
        live = actual_columns.get(name)
        if live is None:
            yield SchemaDifference("missing-column", t, name, column.type, None)
            continue
        if live.type != column.type:
            yield SchemaDifference("column-type", t, name, column.type, live.type)
        if live.null != column.null:
            yield SchemaDifference("column-null", t, name, _null(column.null), _null(live.null))
    for name in actual_columns.keys() - expected_columns.keys():
        yield SchemaDifference("extra-column", t, name, None, actual_columns[name].type)
    if actual.primary_key != expected.primary_key:
        yield SchemaDifference(
            "primary-key",
            t,
            "primary key",
            _columns(expected.primary_key) or None,
            _columns(actual.primary_key) or None,
        )
    yield from _sets("unique", t, actual.uniques, expected.uniques)
    yield from _sets("index", t, actual.indexes, expected.indexes)
    yield from _foreign_keys(t, actual.foreign_keys, expected.foreign_keys)
    for check in expected.checks - actual.checks:
        yield SchemaDifference("missing-check", t, check, check, None)


def _foreign_keys(
    table: str, actual: frozenset[ForeignKey], expected: frozenset[ForeignKey]
) -> Iterator[SchemaDifference]:
    """Foreign keys missing, extra, or there with another ON DELETE action."""
    extra: dict[tuple[Any, ...], list[ForeignKey]] = {}
    for fk in sorted(actual - expected, key=lambda fk: fk.on_delete):
        extra.setdefault((fk.columns, fk.to_table, fk.to_columns), []).append(fk)
    for fk in expected - actual:
        twins = extra.get((fk.columns, fk.to_table, fk.to_columns))
        subject = _columns(fk.columns)
        if twins:
            live = twins.pop(0)
            yield SchemaDifference(
                "foreign-key-on-delete", table, subject, fk.on_delete, live.on_delete
            )
        else:
            yield SchemaDifference("missing-foreign-key", table, subject, _fk_target(fk), None)
    for fk in (fk for twins in extra.values() for fk in twins):
        yield SchemaDifference(
            "extra-foreign-key", table, _columns(fk.columns), None, _fk_target(fk)
        )


def _sets(
    noun: str, table: str, actual: Iterable[tuple[str, ...]], expected: Iterable[tuple[str, ...]]
) -> Iterator[SchemaDifference]:
    actual_set, expected_set = set(actual), set(expected)
    for columns in expected_set - actual_set:
        yield SchemaDifference(f"missing-{noun}", table, _columns(columns), _columns(columns), None)
    for columns in actual_set - expected_set:
        yield SchemaDifference(f"extra-{noun}", table, _columns(columns), None, _columns(columns))


def _columns(columns: tuple[str, ...]) -> str:
    return ", ".join(columns)


def _parens(columns: str | None) -> str:
    return f"({columns})" if columns else "(none)"


def _null(null: bool) -> str:
    return "NULL" if null else "NOT NULL"


def _fk_target(fk: ForeignKey) -> str:
    return f"{fk.to_table} ({_columns(fk.to_columns)})"
