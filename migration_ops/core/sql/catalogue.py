"""The virtual catalogue: constraint and index names as the database will have them when
each operation of the plan runs.

With ``collect_sql=True`` the schema editor still asks the database for the names of a
table's constraints (``_constraint_names``: dropping a foreign key, a unique constraint or
an index, removing a ``unique_together``). Once an earlier operation of the plan created
or changed that table, the database's answer is not what ``migrate`` will find. So the
tables the plan creates or changes are followed here, as the schema editor changes them:

- the first time a table that exists in the database is changed, its constraints are
  taken from the database (what it says is right until then), read for every live table at
  once at the first need (:class:`~migration_ops.core.sql.live_reads.LiveReads`): no
  catalogue queries per table;
- statements the schema editor builds as :class:`~django.db.backends.ddl_references.Statement`
  objects (every index, foreign key, unique, check and primary key it creates, drops or
  renames by a name of its own) are applied as they are collected, with their names;
- what a ``CREATE TABLE`` or ``ADD COLUMN`` declares inline is added after
  ``create_model``/``add_field`` (:mod:`~migration_ops.core.sql.follower`), under the name
  the database gives it (PostgreSQL's
  ``<table>_pkey``, ``<table>_<column>_key``, ``<table>_<column>_check``; MySQL's
  ``PRIMARY`` and the column's name for a unique key, and the implicit index of a foreign
  key); renaming a table or a column and dropping them are followed too.

A name this cannot tell (a check constraint MySQL names by counting, SQLite's inline
constraints) is kept as *uncertain*: an operation whose SQL needs one is reported
unavailable, as before. Reads of tables nothing changed get the database's answer, from the
same batched read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Index

Constraints = dict[str, dict[str, Any]]

# PostgreSQL's NAMEDATALEN - 1.
_PG_MAX_NAME = 63


def _pg_object_name(name1: str, name2: str | None, label: str) -> str:
    """The name PostgreSQL chooses for an unnamed constraint (``makeObjectName``)."""
    overhead = len(label) + 1 + (1 if name2 else 0)
    available = _PG_MAX_NAME - overhead
    n1, n2 = len(name1), len(name2 or "")
    while n1 + n2 > available:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    parts = [name1[:n1]] + ([name2[:n2]] if name2 else []) + [label]
    return "_".join(parts)


def unquoted(name: object) -> str:
    text = str(name)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"`'":
        return text[1:-1]
    return text


def make_entry(
    columns: list[str],
    *,
    primary_key: bool = False,
    unique: bool = False,
    index: bool = False,
    check: bool = False,
    foreign_key: tuple[str, str] | None = None,
    uncertain: bool = False,
) -> dict[str, Any]:
    return {
        "columns": list(columns),
        "primary_key": primary_key,
        "unique": unique,
        "index": index,
        "check": check,
        "foreign_key": foreign_key,
        "type": Index.suffix if index else None,
        "uncertain": uncertain,
    }


class Catalogue:
    """The constraints of the tables the plan changed so far, by table and name."""

    def __init__(
        self, connection: BaseDatabaseWrapper, read_live: Callable[[str], Constraints]
    ) -> None:
        self.connection = connection
        self.vendor = connection.vendor
        self._read_live = read_live
        self.tables: dict[str, Constraints] = {}
        # Tables that have (or had) a foreign key into a table, by that table: the few to
        # look at when it is dropped or renamed, of the hundreds followed. A superset.
        self._referrers: dict[str, set[str]] = {}
        self._uncertain = 0
        # Tables whose uncertain names an operation's SQL used (the collector clears it).
        self.uncertain_reads: list[str] = []

    # ------------------------------------------------------------------ reads

    def knows(self, table: str) -> bool:
        return table in self.tables

    def constraints(self, table: str) -> Constraints:
        return copy.deepcopy(self.tables[table])

    def uncertain(self, table: str, names: list[str]) -> bool:
        known = self.tables.get(table, {})
        return any(known.get(name, {}).get("uncertain") for name in names)

    # ------------------------------------------------------------------ changes

    def follow(self, table: str, live: set[str]) -> Constraints | None:
        """The followed constraints of ``table``, read from the database first if it has
        the table and it is not followed yet; None for a table neither the database nor
        the plan so far has (its reads stay the database's, and fail as they will)."""
        found = self.tables.get(table)
        if found is None and table in live:
            found = self.tables[table] = {
                name: {**c, "uncertain": False} for name, c in self._read_live(table).items()
            }
            for entry in found.values():
                self._note_reference(table, entry)
        return found

    def _note_reference(self, table: str, entry: dict[str, Any]) -> None:
        fk = entry["foreign_key"]
        if fk:
            self._referrers.setdefault(fk[0], set()).add(table)

    def _referring(self, table: str) -> Iterator[Constraints]:
        """The constraints of the followed tables that may have a foreign key into it."""
        for source in sorted(self._referrers.get(table, ())):
            constraints = self.tables.get(source)
            if constraints is not None:
                yield constraints

    def uncertain_name(self) -> str:
        self._uncertain += 1
        return f"<unnamed {self._uncertain}>"

    def add(self, table: str, name: str, entry: dict[str, Any]) -> None:
        constraints = self.tables.setdefault(table, {})
        if self.vendor == "mysql" and entry["foreign_key"] and not entry["index"]:
            # MySQL indexes a foreign key itself, under its name, unless an index starts
            # with its column.
            column = entry["columns"][0]
            if not any(c["index"] and c["columns"][:1] == [column] for c in constraints.values()):
                entry = {**entry, "index": True, "type": Index.suffix, "implicit": True}
        if self.vendor == "mysql" and entry["index"] and not entry["foreign_key"]:
            # A new index that starts with a foreign key's column replaces its implicit one.
            for other in constraints.values():
                if other.get("implicit") and other["columns"][:1] == entry["columns"][:1]:
                    other.update(index=False, type=None, implicit=False)
        constraints[name] = entry
        self._note_reference(table, entry)

    def drop(self, table: str, name: str) -> None:
        constraints = self.tables.get(table, {})
        entry = constraints.get(name)
        if entry is None:
            return
        if self.vendor == "mysql" and entry["foreign_key"] and entry["index"]:
            # Dropping the foreign key leaves its index.
            entry.update(foreign_key=None, implicit=False)
            return
        del constraints[name]

    def drop_primary_key(self, table: str) -> None:
        for name, entry in list(self.tables.get(table, {}).items()):
            if entry["primary_key"]:
                del self.tables[table][name]

    def rename(self, table: str, old: str, new: str) -> None:
        constraints = self.tables.get(table, {})
        if old in constraints:
            constraints[new] = constraints.pop(old)

    def drop_table(self, table: str) -> None:
        self.tables.pop(table, None)
        for constraints in self._referring(table):
            for name, entry in list(constraints.items()):
                if entry["foreign_key"] and entry["foreign_key"][0] == table:
                    del constraints[name]  # CASCADE on PostgreSQL; refused elsewhere

    def rename_table(self, old: str, new: str) -> None:
        if old in self.tables:
            self.tables[new] = self.tables.pop(old)
        referrers = self._referrers
        for sources in referrers.values():
            if old in sources:
                sources.add(new)  # its own foreign keys now leave from the new name
        if old in referrers:
            referrers.setdefault(new, set()).update(referrers[old])
        for constraints in self._referring(new):
            for entry in constraints.values():
                fk = entry["foreign_key"]
                if fk and fk[0] == old:
                    entry["foreign_key"] = (new, fk[1])

    def rename_column(self, table: str, old: str, new: str) -> None:
        for entry in self.tables.get(table, {}).values():
            entry["columns"] = [new if c == old else c for c in entry["columns"]]
        for constraints in self._referring(table):
            for entry in constraints.values():
                if entry["foreign_key"] == (table, old):
                    entry["foreign_key"] = (table, new)

    def drop_column(self, table: str, column: str) -> None:
        constraints = self.tables.get(table, {})
        for name, entry in list(constraints.items()):
            if column not in entry["columns"]:
                continue
            if self.vendor == "mysql" and len(entry["columns"]) > 1 and entry["index"]:
                entry["columns"] = [c for c in entry["columns"] if c != column]
            else:
                del constraints[name]

    # ------------------------------------------------------------------ inline SQL

    def inline_primary_key(self, table: str, columns: list[str]) -> None:
        if self.vendor == "postgresql":
            name, uncertain = _pg_object_name(table, None, "pkey"), False
        elif self.vendor == "mysql":
            name, uncertain = "PRIMARY", False
        else:
            name, uncertain = self.uncertain_name(), True
        index = self.vendor == "mysql"
        self.add(
            table,
            name,
            make_entry(columns, primary_key=True, unique=True, index=index, uncertain=uncertain),
        )

    def inline_unique(self, table: str, column: str) -> None:
        constraints = self.tables.setdefault(table, {})
        if self.vendor == "postgresql":
            name = _pg_object_name(table, column, "key")
            uncertain = name in constraints
            self.add(table, name, make_entry([column], unique=True, uncertain=uncertain))
        elif self.vendor == "mysql":
            name, n = column, 2
            while name in constraints:
                name, n = f"{column}_{n}", n + 1
            self.add(table, name, make_entry([column], unique=True, index=True))
        else:
            self.add(
                table, self.uncertain_name(), make_entry([column], unique=True, uncertain=True)
            )

    def inline_check(self, table: str, column: str) -> None:
        if self.vendor == "postgresql":
            name = _pg_object_name(table, column, "check")
            uncertain = name in self.tables.get(table, {})
        else:
            name, uncertain = self.uncertain_name(), True
        self.add(table, name, make_entry([column], check=True, uncertain=uncertain))
