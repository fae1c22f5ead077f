"""Risk classes of migration operations, worked out from operation objects and model states.

Nothing here reads SQL text: an operation is turned into *schema effects* ("drops column
``t.c``", "alters column ``t.c`` from this field to that one") by looking at the operation
and the model states before and after it, and the effects are classified. Unapplying an
operation has the inverse effects, so the backward direction is classified by inverting
them (unapplying ``CreateModel`` drops a table).

Decisions worth knowing:

- ``destructive``: a table or column is dropped, a column is narrowed (shorter
  ``max_length``, fewer decimal digits, a smaller integer type, text to a bounded type),
  its type changes in a way not known to be widening, or a unique constraint is dropped
  (the guarantee is lost, and re-adding it fails once duplicates exist), or a foreign key
  gains ``ON DELETE CASCADE`` in the database (Django 6.1's ``DB_CASCADE``); gaining
  ``DB_SET_NULL``/``DB_SET_DEFAULT`` is ``data``, losing any of them breaks running code.
  Making a column NOT NULL is *not* destructive (no value is lost; the migration fails or
  fills in the default) but it *breaks running code*.
- ``breaks-running-code``: the release still running during a rolling deploy queries the
  old schema: dropped or renamed tables and columns, a column made NOT NULL, or a NOT NULL
  column added, without a database default (its INSERTs omit the column).
- ``irreversible``: flagged in both directions; forwards it says the migration cannot be
  unapplied later, backwards that unapplying it fails.
- ``table-rebuild``: on backends whose schema editor copies a whole table for ALTERs it
  cannot do in place (SQLite's ``_remake_table``); the rules mirror that schema editor and
  a test checks them against it. A primary key whose column type changes is a rebuild on
  every backend: the table and the foreign key columns to it are rewritten.
- ``long-lock``: a change to an existing table whose size, given by the caller, exceeds
  the thresholds. Renames and drops of indexes or constraints are metadata-only and never
  count; table creation and removal neither.
- ``non-atomic`` and ``cross-app-spill`` are migration-level (:func:`classify_migration`).
"""

from migration_ops.core.operations.classify import (
    classify_migration,
    classify_operation,
    classify_plan,
)
from migration_ops.core.operations.findings import MigrationRisks, Risk, RiskFinding
from migration_ops.core.operations.rebuilds import rebuilds_tables
from migration_ops.core.operations.references import (
    base_references,
    field_references,
    model_references,
    referenced_models,
    reverse_relation_models,
    touched_models,
)
from migration_ops.core.states import ModelKey
from migration_ops.core.tables import db_table, model_tables

__all__ = [
    "MigrationRisks",
    "ModelKey",
    "Risk",
    "RiskFinding",
    "base_references",
    "classify_migration",
    "classify_operation",
    "classify_plan",
    "db_table",
    "field_references",
    "model_references",
    "model_tables",
    "rebuilds_tables",
    "referenced_models",
    "reverse_relation_models",
    "touched_models",
]
