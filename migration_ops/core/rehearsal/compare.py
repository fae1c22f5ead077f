"""The rehearsal's proofs: two moments of a database's structure, compared.

The engine's :func:`~migration_ops.core.diff.diff` compares tables, columns and keys by
their columns; the catalogue objects (every index and constraint with its name and
definition, as the backend's copier lists them) add what ``diff`` leaves out on purpose:
names. Both directions are compared. Tables in ``IGNORED_TABLES`` are never reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migration_ops.conf import conf
from migration_ops.core.diff import diff
from migration_ops.introspection import snapshot

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from migration_ops.core.schema import Schema
    from migration_ops.introspection.copying import CatalogueObject, StructureCopier


@dataclass(frozen=True)
class Picture:
    """A database's structure at one moment."""

    schema: Schema
    objects: frozenset[CatalogueObject]


@dataclass(frozen=True)
class StructureDifference:
    # A diff kind ("missing-index", ...), "extra-check", or for named catalogue objects
    # "missing-object", "extra-object", "object-definition".
    kind: str
    table: str
    subject: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "subject": self.subject,
            "message": self.message,
        }


def picture(copier: StructureCopier, connection: BaseDatabaseWrapper) -> Picture:
    return Picture(snapshot(connection), copier.catalogue_objects(connection))


def compare(actual: Picture, expected: Picture) -> tuple[StructureDifference, ...]:
    """What ``actual`` lacks or has in excess compared to ``expected``."""
    # A foreign key's actions are the catalogue objects' to compare (ON UPDATE too): diff's
    # ON DELETE difference would say the same twice.
    found = [
        StructureDifference(d.kind, d.table, d.subject, d.message)
        for d in diff(actual.schema, expected.schema)
        if d.kind != "foreign-key-on-delete"
    ]
    # Checks are compared one way by diff (backends add their own); here both ways, by name.
    for table in actual.schema.tables.keys() & expected.schema.tables.keys():
        for check in actual.schema.tables[table].checks - expected.schema.tables[table].checks:
            found.append(
                StructureDifference(
                    "extra-check", table, check, f"Check constraint {check} on {table} is extra."
                )
            )
    found += _object_differences(actual.objects, expected.objects)
    kept = [d for d in found if not conf.is_ignored_table(d.table)]
    return tuple(sorted(set(kept), key=lambda d: (d.table, d.kind, d.subject)))


def _object_differences(
    actual: frozenset[CatalogueObject], expected: frozenset[CatalogueObject]
) -> list[StructureDifference]:
    by_name_actual = {(t, k, n): d for t, k, n, d in actual}
    by_name_expected = {(t, k, n): d for t, k, n, d in expected}
    found = []
    for key in sorted(by_name_expected.keys() | by_name_actual.keys()):
        table, kind, name = key
        want, have = by_name_expected.get(key), by_name_actual.get(key)
        if want == have:
            continue
        if have is None:
            found.append(
                StructureDifference(
                    "missing-object",
                    table,
                    name,
                    f"The {kind} {name} of {table} is missing ({want}).",
                )
            )
        elif want is None:
            found.append(
                StructureDifference(
                    "extra-object", table, name, f"The {kind} {name} of {table} is extra ({have})."
                )
            )
        else:
            found.append(
                StructureDifference(
                    "object-definition",
                    table,
                    name,
                    f"The {kind} {name} of {table} is {have}, expected {want}.",
                )
            )
    return found
