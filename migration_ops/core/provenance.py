"""Migration files that come from ``reset_migrations --mode clean-slate``, on a database
where the reset has not been recorded yet.

The files say where they come from: each new migration names the old ones it stands in for
in its ``clean_slate_replaces`` attribute (Django ignores it). Deployed to another database
before the printed command ran there, they look like a broken history to anything that reads
them as Django does (the old rows are ghosts, a dependent app's row is inconsistent, the new
initial migration's tables exist). They are one thing: a reset waiting for its command.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.loader import MigrationLoader

# Attribute that marks a migration written by a clean-slate reset (Django ignores it): the
# old migrations whose rows other environments must replace by this migration's row.
# Defined here, not in core.regenerate: reading it needs neither the autodetector nor the writer.
CLEAN_SLATE_ATTRIBUTE = "clean_slate_replaces"

MigrationKey = tuple[str, str]


@dataclass(frozen=True)
class PendingTransition:
    """An app whose files are a clean-slate reset while this database records its old
    history (none of the new migrations recorded, some old one recorded)."""

    app_label: str
    new_migrations: tuple[str, ...]  # names, in the graph
    old_migrations: tuple[str, ...]  # names the new ones stand in for (files gone)
    recorded_old: tuple[str, ...]  # of those, the ones recorded here

    @property
    def new_keys(self) -> frozenset[MigrationKey]:
        return frozenset((self.app_label, name) for name in self.new_migrations)

    @property
    def old_keys(self) -> frozenset[MigrationKey]:
        return frozenset((self.app_label, name) for name in self.old_migrations)


def pending_transitions(
    loader: MigrationLoader, applied: Collection[MigrationKey]
) -> tuple[PendingTransition, ...]:
    """The apps of ``loader``'s files that wait for a clean-slate reset's command on the
    database whose rows are ``applied``, by app label."""
    members: dict[str, dict[str, tuple[str, ...]]] = {}
    for (app, name), migration in loader.disk_migrations.items():
        old = tuple(
            str(n) for a, n in getattr(migration, CLEAN_SLATE_ATTRIBUTE, None) or () if a == app
        )
        if old:
            members.setdefault(app, {})[name] = old
    found = []
    for app, new in sorted(members.items()):
        old = sorted({n for names in new.values() for n in names})
        if any((app, n) in loader.disk_migrations for n in old):
            continue  # the old files are still there: not a reset's result
        if any((app, n) in applied for n in new):
            continue  # recorded: the command ran here (or is half-way, its own business)
        recorded = [n for n in old if (app, n) in applied]
        if recorded:
            found.append(PendingTransition(app, tuple(sorted(new)), tuple(old), tuple(recorded)))
    return tuple(found)


def transition_command(app_labels: Iterable[str], database: str) -> tuple[str, ...]:
    """The command that records the reset on ``database``, as ``reset_migrations`` prints
    it for the other environments."""
    command = ("python", "manage.py", "reset_migrations", *app_labels)
    command += ("--mode", "clean-slate", "--noinput")
    if database != DEFAULT_DB_ALIAS:
        command += ("--database", database)
    return command
