"""``reset_migrations``: replace apps' migration histories by regenerated migrations.

Two steps, as ``migrate`` has a plan and an executor:

- :func:`plan_reset` checks the preconditions (refusing with :class:`ResetRefused`), runs
  Django's autodetector in memory and returns a :class:`ResetPlan`: files to move and to
  write, rows to change, other apps' migrations that depend on the reset ones, and every
  operation whose effect the new migrations lack. It changes nothing.
- :func:`apply_reset` moves the old files to the backup folder, writes the new ones,
  verifies them (the graph loads, ``makemigrations`` finds nothing, their schema equals the
  live one) and records them in one transaction. Anything failing before the end puts the old
  files back and leaves django_migrations untouched (:class:`ResetFailed`).

An app whose files are already the result of a reset (the new migrations name the old ones in
``replaces`` or in the clean-slate marker) while the database still records the old
history is *transitioned*: verified and recorded, no file written. That is what running the
same command on another environment does, and why running it twice changes nothing.

Modules: :mod:`.plan` (the dataclasses), :mod:`.planner` (:func:`plan_reset`),
:mod:`.preconditions`, :mod:`.regeneration`, :mod:`.apply` (:func:`apply_reset`),
:mod:`.verification`, :mod:`.recording`, :mod:`.measurement`, :mod:`.recovery`.
"""

from migration_ops.services.reset.apply import apply_reset
from migration_ops.services.reset.plan import (
    CLEAN_SLATE,
    DONE,
    MODES,
    REMAPPED,
    REPLACE,
    RESET,
    REWRITTEN,
    TRANSITION,
    AppReset,
    DependentMigration,
    Measurement,
    NewMigration,
    ResetPlan,
    ResetResult,
)
from migration_ops.services.reset.planner import plan_reset
from migration_ops.services.reset.recovery import Recovery, recover_interrupted_reset

__all__ = [
    "CLEAN_SLATE",
    "DONE",
    "MODES",
    "REMAPPED",
    "REPLACE",
    "RESET",
    "REWRITTEN",
    "TRANSITION",
    "AppReset",
    "DependentMigration",
    "Measurement",
    "NewMigration",
    "Recovery",
    "ResetPlan",
    "ResetResult",
    "apply_reset",
    "plan_reset",
    "recover_interrupted_reset",
]
