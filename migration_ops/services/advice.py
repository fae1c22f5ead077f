"""What to do about a finding: the sentences ``plan_upgrade`` appends to its messages."""

from __future__ import annotations

from migration_ops.core.diff import SchemaDifference

IGNORE = "ignore it (MIGRATION_OPS['IGNORED_TABLES'] or a `plan_upgrade --baseline` file)"

# Differences where the live database has something the applied migrations do not build;
# every other kind is something they built that is missing or different.
EXTRA_KINDS = frozenset(
    {"extra-table", "extra-column", "extra-unique", "extra-index", "extra-foreign-key"}
)


def drift_advice(difference: SchemaDifference, app_label: str | None) -> str:
    """One sentence: who owns what differs and the ways out (a migration, the model, ignoring)."""
    app = f"App {app_label!r}'s" if app_label else "The"
    makemigrations = f"makemigrations {app_label}" if app_label else "makemigrations"
    fake = f"migrate {app_label} --fake" if app_label else "migrate --fake"
    migration = f"(`{makemigrations}`, then `{fake}`: the database matches it already)"
    if difference.kind in EXTRA_KINDS:
        return (
            f"{app} migrations do not build it: add it to the model and add a migration "
            f"{migration}, or drop it from the database, or {IGNORE}."
        )
    return (
        f"{app} migrations built it: restore it in the database, or make the model match "
        f"the database and add a migration {migration}, or {IGNORE}."
    )
