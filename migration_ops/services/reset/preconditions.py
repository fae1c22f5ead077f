"""What must hold before a reset: first-party apps, no conflicts, the database at the head
of the apps, no unmigrated model changes, and no drift between the live schema and what the
migrations describe. Each check returns the problems it found, as sentences."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from migration_ops import compat
from migration_ops.core.diff import SchemaDifference, diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.history import load_history
from migration_ops.core.locations import (
    migrations_directory,
    migrations_package,
    not_first_party_reason,
)
from migration_ops.core.ownership import attribute_tables
from migration_ops.core.plan import migration_plan
from migration_ops.core.regenerate import MigrationKey, unmigrated_changes
from migration_ops.core.schema import Schema
from migration_ops.core.states import applied_state, state_after
from migration_ops.introspection import snapshot
from migration_ops.text import count

Kind = tuple[str, str, dict[str, tuple[str, ...]]]  # (action, mode, {new: old names})


def not_first_party(app_label: str) -> str | None:
    """Why ``app_label``'s migrations are not the project's own, or None."""
    directory = migrations_directory(app_label)
    if directory is None:
        return f"its migrations package {migrations_package(app_label)} cannot be imported"
    return not_first_party_reason(directory)


def preflight(
    connection: BaseDatabaseWrapper,
    executor: MigrationExecutor,
    reset: Sequence[str],
    *,
    force: bool,
) -> list[str]:
    problems: list[str] = []
    loader = executor.loader
    for app in reset:
        reason = not_first_party(app)
        if reason is not None and not force:
            problems.append(
                f"App '{app}' is not first-party: {reason}. Its migrations belong to "
                "whoever ships it; pass --force to reset them anyway."
            )
    for app, leaves in sorted(loader.detect_conflicts().items()):
        if app in reset:
            problems.append(
                f"App '{app}' has conflicting leaf migrations {', '.join(leaves)}; merge "
                f"them with `makemigrations --merge {app}` first."
            )
    targets = [key for key in loader.graph.leaf_nodes() if key[0] in reset]
    pending = [step for step in migration_plan(executor, targets) if not step.backwards]
    if pending:
        names = ", ".join(f"{s.app_label}.{s.name}" for s in pending)
        problems.append(
            f"Database '{connection.alias}' is not at the head of "
            f"{apps_phrase(reset)}: {count(len(pending), 'migration')} "
            f"{'is' if len(pending) == 1 else 'are'} pending ({names}). Run `migrate` "
            "first, then reset."
        )
    history = load_history(connection, loader)
    # The loader counts such a squash as applied; only the rows tell.
    for key in sorted(loader.replacements):
        if (
            key[0] in reset
            and key not in history.applied
            and compat.all_replaced_applied(loader, key, history.applied)
        ):
            # migrate records it (check_replacements); the reset's replacement would list
            # it as replaced and not applied, which Django cannot load.
            problems.append(
                f"Squashed migration {key[0]}.{key[1]} is not recorded on database "
                f"'{connection.alias}', although every migration it replaces is: `migrate` "
                "records it. Run `migrate` first, then reset."
            )
    for problem in history.inconsistent:
        if problem.migration[0] in reset or problem.dependency[0] in reset:
            problems.append(problem.message)
    changes = unmigrated_changes(
        state_after(loader, loader.graph.leaf_nodes()), loader.graph, reset
    )
    for app, migrations in changes.items():
        operations = [str(op.describe()) for m in migrations for op in m.operations]
        problems.append(
            f"The models of '{app}' have changes that are not in migrations "
            f"({'; '.join(operations)}). Run `makemigrations {app}` and `migrate` first."
        )
    return problems


def check_drift(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    reset: Sequence[str],
    transition: Sequence[str],
    kinds: Mapping[str, Kind],
    report: Callable[[str], None],
) -> tuple[frozenset[str], list[str]]:
    """(tables compared, problems): the live tables of the apps against what their
    migrations (the applied ones, or the reset ones on disk) describe."""
    report("Reading the live schema")
    live = snapshot(connection)
    ownership = attribute_tables(connection, schema=live)
    checked = set(reset) | set(transition)
    nodes = [(app, name) for app in transition for name in kinds[app][2]]
    expected = _expected(connection, loader, reset, nodes)
    compared = frozenset(
        {t for t, owner in ownership.owners.items() if owner.app_label in checked}
        | set(expected.tables)
    )
    drift = diff(live.restricted_to(compared), expected)
    problems = [_drift_problem(drift.differences, checked)] if drift else []
    return compared, problems


def _expected(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    reset: Sequence[str],
    transition: Sequence[MigrationKey],
) -> Schema:
    tables = {}
    if reset:
        state = applied_state(connection, loader)
        tables.update(expected_schema(state, connection, app_labels=reset).tables)
    if transition:
        # The state of the reset migrations on disk (rows still name the old ones).
        state = state_after(loader, transition)
        apps = {app for app, _ in transition}
        tables.update(expected_schema(state, connection, app_labels=apps).tables)
    return Schema(connection.vendor, dict(sorted(tables.items())))


def backup_folder(backup_dir: Path | None) -> tuple[Path, list[str]]:
    """(the backup folder, problems): a new time-stamped one unless given."""
    if backup_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        directory = Path.cwd() / f"migrations-backup-{stamp}"
    else:
        directory = backup_dir
    directory = directory.resolve()
    problems = []
    if directory.exists() and not directory.is_dir():
        problems.append(
            f"The backup path {directory} is a file, not a folder; pass a folder that does "
            "not exist yet, or an empty one, to --backup-dir."
        )
    elif directory.exists() and any(directory.iterdir()):
        problems.append(
            f"The backup folder {directory} already exists and is not empty; pass "
            "another --backup-dir."
        )
    return directory, problems


def apps_phrase(app_labels: Sequence[str]) -> str:
    quoted = [f"'{app}'" for app in app_labels]
    return f"app {quoted[0]}" if len(quoted) == 1 else f"apps {', '.join(quoted)}"


def _drift_problem(differences: Iterable[SchemaDifference], apps: Collection[str]) -> str:
    lines = "\n".join(f"    {d.message}" for d in differences)
    return (
        f"The live schema of {apps_phrase(sorted(apps))} differs from what the migrations "
        "describe; regenerated migrations would hide this:\n"
        f"{lines}\n  Bring the database and the migrations back in line first (see "
        "`plan_upgrade`)."
    )
