"""``plan_upgrade --rehearse``: the plan run for real on a scratch copy of the live database.

The copy is the live structure read from the catalogue (not the migrations' idea of it),
proved by comparing the two; ``--rows`` adds rows; Django's executor then runs the plan with
every statement recorded and timed, optionally backwards and forwards again. The live
database is only read: the scratch connection stands in for every alias while anything
runs (``core/rehearsal/isolation.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import ExitStack
from copy import deepcopy
from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from migration_ops.conf import conf
from migration_ops.core.diff import diff
from migration_ops.core.expected import expected_schema
from migration_ops.core.partial import HalfAppliedMigration, diagnose_half_applied
from migration_ops.core.plan import PlanStep, migration_plan
from migration_ops.core.rehearsal.compare import Picture, StructureDifference, compare, picture
from migration_ops.core.rehearsal.isolation import every_alias_on
from migration_ops.core.rehearsal.runner import Pass, rendered_applied_state, run_pass
from migration_ops.core.rehearsal.scratch import ScratchDatabase, scratch_database
from migration_ops.core.schema import Schema
from migration_ops.core.states import applied_state
from migration_ops.introspection import StructureCopier, get_copier, snapshot
from migration_ops.introspection.copying import Structure
from migration_ops.text import count

Progress = Callable[[str], None]
# (migration label, operation description) -> risk classes of the planned operation
OperationRisks = Mapping[tuple[str, str], tuple[str, ...]]


@dataclass(frozen=True)
class RehearsalOptions:
    rows: int | None = None  # rows per table to copy (None: structure only)
    rows_from_ignored: tuple[str, ...] = ()  # IGNORED_TABLES whose rows are copied anyway
    round_trip: bool = False
    scratch_alias: str | None = None
    keep_scratch: bool = False


@dataclass(frozen=True)
class Projection:
    """An operation's measured time scaled to its table's live size."""

    migration: str
    operation: str
    table: str
    seconds: float  # measured on the copy
    rows_copied: int
    live_rows: int  # the catalogue's estimate
    projected_seconds: float
    risk_classes: tuple[str, ...] = ()

    @property
    def basis(self) -> str:
        return (
            f"{self.seconds:.3f} s measured on {count(self.rows_copied, 'row')} of {self.table}, "
            f"scaled linearly to its ~{self.live_rows:,} live rows (catalogue estimate)"
        )


@dataclass(frozen=True)
class RoundTripDifference:
    after: str  # the pass after which the structure differs: "reverse" or "plan again"
    compared_with: str  # "the start" or "the first run"
    difference: StructureDifference


@dataclass(frozen=True)
class Rehearsal:
    scratch: str  # the scratch database's name (its file on SQLite)
    scratch_alias: str | None
    kept: bool
    connect_command: str | None  # how to open the kept scratch database
    leftover_removed: bool
    tables_copied: int
    # Rows copied per table (tables with rows only; django_migrations is always whole).
    rows_copied: Mapping[str, int]
    copy_seconds: float
    not_copied: tuple[str, ...]
    copy_differences: tuple[StructureDifference, ...]
    passes: tuple[Pass, ...]
    round_trip: bool
    round_trip_differences: tuple[RoundTripDifference, ...] = ()
    # The engine's half-applied diagnosis of the scratch database after a failure.
    half_applied: tuple[HalfAppliedMigration, ...] = ()
    projections: tuple[Projection, ...] = ()

    @property
    def failure(self) -> Pass | None:
        return next((p for p in self.passes if p.failure is not None), None)

    @property
    def failed(self) -> bool:
        return self.failure is not None or bool(self.round_trip_differences)


class PreparedScratch:
    """The scratch database created and given the live structure in a thread of its own,
    started before the plan is worked out, so that the server's work (most of a
    rehearsal's cost) overlaps the planning's. ``close()`` drops it, on every path.

    The thread has its own connection to the live database (Django's are bound to their
    thread); the scratch connection may be shared, and is used by one thread at a time:
    this one until ``result()`` returns, then the caller's.
    """

    def __init__(self, live: BaseDatabaseWrapper, options: RehearsalOptions) -> None:
        self.options = options
        self._stack = ExitStack()
        self._result: tuple[ScratchDatabase, Structure] | None = None
        self._error: BaseException | None = None
        self.seconds = 0.0  # reading and creating the structure
        self._start_state: _Background | None = None
        self._thread = threading.Thread(target=self._prepare, args=(live, options))
        self._thread.start()

    def _prepare(self, given: BaseDatabaseWrapper, options: RehearsalOptions) -> None:
        # The live catalogue is read while the server creates the database (PostgreSQL:
        # 0.2-0.3 s of file creation that the reading need not wait for).
        reading = _Thread(_read_structure, given)
        # Made here: a connection object belongs to the thread that creates it.
        live = type(given)(deepcopy(given.settings_dict), given.alias)
        try:
            scratch = self._stack.enter_context(
                scratch_database(live, alias=options.scratch_alias, keep=options.keep_scratch)
            )
            scratch.connection.inc_thread_sharing()
            started = time.perf_counter()  # the copy's time: from the database existing
            copier = get_copier(live, scratch.connection)
            structure = reading.result()
            # Calls by alias (the copy's transaction) must find the scratch connection.
            with every_alias_on(scratch.connection):
                copier.create(structure)
            self.seconds = time.perf_counter() - started
            self._result = (scratch, structure)
        except BaseException as exc:  # raised again by result(), in the caller's thread
            self._error = exc
        finally:
            reading.join()
            live.close()

    def render_start_state(self, loader: MigrationLoader, steps: Sequence[PlanStep]) -> None:
        """Render the executor's start state meanwhile (a forward plan's only)."""
        if steps and not any(step.backwards for step in steps):
            self._start_state = _Background(rendered_applied_state, loader)

    def result(self) -> tuple[ScratchDatabase, Structure]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def start_state(self) -> ProjectState | None:
        return self._start_state.result() if self._start_state is not None else None

    def close(self) -> None:
        """Drop (or empty) the scratch database, once the thread is done with it."""
        self._thread.join()
        self._stack.close()


def rehearse(
    connection: BaseDatabaseWrapper,
    steps: Sequence[PlanStep],
    live: Schema,
    options: RehearsalOptions,
    *,
    operation_risks: OperationRisks | None = None,
    progress: Progress | None = None,
    loader: MigrationLoader | None = None,
    recorded: Collection[tuple[str, str]] | None = None,
    prepared: PreparedScratch | None = None,
) -> Rehearsal:
    """Rehearse ``steps`` (the plan on ``connection``, whose snapshot is ``live``).

    ``loader`` and ``recorded``: the planning's loader and the ``django_migrations`` rows
    it was built from; the first run reuses them (and a start state rendered meanwhile)
    when the scratch copy holds the same rows. ``prepared``: the scratch database started
    earlier (the caller closes it); else one is prepared here.
    """
    report = progress or (lambda message: None)
    owned = prepared is None
    if prepared is None:
        report("Creating the scratch database")
        prepared = PreparedScratch(connection, options)
    try:
        if owned and loader is not None:
            prepared.render_start_state(loader, steps)
        return _rehearse(
            connection,
            steps,
            live,
            options,
            prepared,
            loader,
            recorded,
            operation_risks or {},
            report,
        )
    finally:
        if owned:
            prepared.close()


def _rehearse(
    connection: BaseDatabaseWrapper,
    steps: Sequence[PlanStep],
    live: Schema,
    options: RehearsalOptions,
    prepared: PreparedScratch,
    loader: MigrationLoader | None,
    recorded: Collection[tuple[str, str]] | None,
    operation_risks: OperationRisks,
    report: Progress,
) -> Rehearsal:
    report("Copying the live structure")
    # The live side of the proof is read while the server may still be building the copy.
    started = time.perf_counter()
    live_objects = get_copier(connection, connection).catalogue_objects(connection)
    waited = time.perf_counter()
    scratch, structure = prepared.result()
    copier = get_copier(connection, scratch.connection)
    live_picture = Picture(live, live_objects)
    started += time.perf_counter() - waited  # the wait is in prepared.seconds already
    with every_alias_on(scratch.connection) as isolation:
        limits = _row_limits(live, options)
        rows = copier.copy_rows(live, limits)
        start = picture(copier, scratch.connection)
        copy_seconds = prepared.seconds + time.perf_counter() - started
        copy_differences = compare(start, live_picture)
        with isolation.guard():
            return _run(
                scratch,
                copier,
                steps,
                live,
                options,
                rows,
                start,
                copy_seconds=copy_seconds,
                copy_differences=copy_differences,
                not_copied=_not_copied(structure.not_copied, live),
                operation_risks=operation_risks,
                report=report,
                reuse=_reusable(scratch.connection, loader, recorded, prepared.start_state()),
            )


def _run(
    scratch: ScratchDatabase,
    copier: StructureCopier,
    steps: Sequence[PlanStep],
    live: Schema,
    options: RehearsalOptions,
    rows: Mapping[str, int],
    start: Picture,
    *,
    copy_seconds: float,
    copy_differences: tuple[StructureDifference, ...],
    not_copied: tuple[str, ...],
    operation_risks: OperationRisks,
    report: Progress,
    reuse: tuple[MigrationLoader, ProjectState | None] | None = None,
) -> Rehearsal:
    connection = scratch.connection
    plan = [(step.key, step.backwards) for step in steps]
    report("Running the plan on the scratch database")
    loader, state = reuse or (None, None)
    passes = [run_pass(connection, "plan", plan, loader=loader, state=state)]
    half_applied: tuple[HalfAppliedMigration, ...] = ()
    differences: list[RoundTripDifference] = []
    failure = passes[0].failure
    if failure is not None:
        half_applied = _half_applied(connection, failure.key)
    elif options.round_trip and plan:
        after_plan = picture(copier, connection)
        reverse = [(m.key, not m.backwards) for m in reversed(passes[0].migrations)]
        report("Running the plan in reverse")
        passes.append(run_pass(connection, "reverse", reverse))
        if passes[-1].failure is None:
            differences += [
                RoundTripDifference("reverse", "the start", d)
                for d in compare(picture(copier, connection), start)
            ]
            report("Running the plan again")
            passes.append(run_pass(connection, "plan again", plan))
            if passes[-1].failure is None:
                differences += [
                    RoundTripDifference("plan again", "the first run", d)
                    for d in compare(picture(copier, connection), after_plan)
                ]
    return Rehearsal(
        scratch=scratch.name,
        scratch_alias=scratch.alias,
        kept=options.keep_scratch,
        connect_command=scratch.connect_command if options.keep_scratch else None,
        leftover_removed=scratch.leftover_removed,
        tables_copied=len(start.schema.tables),
        rows_copied={t: n for t, n in sorted(rows.items()) if n and t != "django_migrations"},
        copy_seconds=copy_seconds,
        not_copied=not_copied,
        copy_differences=copy_differences,
        passes=tuple(passes),
        round_trip=options.round_trip,
        round_trip_differences=tuple(differences),
        half_applied=half_applied,
        projections=_projections(passes[0], live, rows, operation_risks),
    )


def _read_structure(given: BaseDatabaseWrapper) -> Structure:
    """The live structure, read over a live connection of this thread's own (the copier
    reads only its live side)."""
    live = type(given)(deepcopy(given.settings_dict), given.alias)
    try:
        return get_copier(live, live).read_structure()
    finally:
        live.close()


class _Thread:
    """``function(*args)`` in a thread of its own; ``result()`` waits for it and returns
    its value or raises its error."""

    def __init__(self, function: Callable[..., Structure], *args: object) -> None:
        self._value: Structure | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, *args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[..., Structure], *args: object) -> None:
        try:
            self._value = function(*args)
        except BaseException as exc:  # raised again by result(), in the waiting thread
            self._error = exc

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Structure:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class _Background:
    """``function(*args)`` in a thread of its own; ``result()`` waits for it (None if it
    raised: the executor then does the work itself and meets the error its own way)."""

    def __init__(self, function: Callable[..., ProjectState], *args: object) -> None:
        self._result: ProjectState | None = None
        self._thread = threading.Thread(target=self._run, args=(function, *args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[..., ProjectState], *args: object) -> None:
        try:
            self._result = function(*args)
        except Exception:  # the executor renders again and reports the error its own way
            self._result = None

    def result(self) -> ProjectState | None:
        self._thread.join()
        return self._result


def _reusable(
    scratch: BaseDatabaseWrapper,
    loader: MigrationLoader | None,
    recorded: Collection[tuple[str, str]] | None,
    state: ProjectState | None,
) -> tuple[MigrationLoader, ProjectState | None] | None:
    """The planning's loader (and the state rendered from it) for the first run, if the
    scratch copy records exactly the migrations the loader was built from."""
    if loader is None or recorded is None:
        return None
    if set(MigrationRecorder(scratch).applied_migrations()) != set(recorded):
        return None  # the live history moved since the planning read it
    return loader, state


def _not_copied(said: tuple[str, ...], live: Schema) -> tuple[str, ...]:
    """The copier's sentences, and one for each view or sequence of the snapshot it did
    not mention (PostgreSQL's free sequences): the copy reproduces tables only."""
    mentioned = " ".join(said)
    return said + tuple(
        f"The {obj.noun} {obj.name} is not copied."
        for obj in live.objects.values()
        if f" {obj.name} is not copied." not in mentioned
    )


def _row_limits(live: Schema, options: RehearsalOptions) -> dict[str, int | None]:
    limits: dict[str, int | None] = {"django_migrations": None}  # the history, always whole
    if options.rows:
        for name in live.tables:
            if name == "django_migrations":
                continue
            if conf.is_ignored_table(name) and name not in options.rows_from_ignored:
                continue
            limits[name] = options.rows
    return limits


def _half_applied(
    connection: BaseDatabaseWrapper, key: tuple[str, str]
) -> tuple[HalfAppliedMigration, ...]:
    """The engine's diagnosis of the scratch database, for the migration that failed."""
    executor = MigrationExecutor(connection)
    state = applied_state(connection, executor.loader)
    schema = snapshot(connection)
    expected = expected_schema(state, connection)
    drift = diff(schema.restricted_to(set(expected.tables)), expected)
    forward = migration_plan(executor, executor.loader.graph.leaf_nodes())
    found = diagnose_half_applied(connection, executor.loader, state, schema, forward, drift.tables)
    return tuple(m for m in found if (m.app_label, m.name) == key)


def _projections(
    first: Pass, live: Schema, rows: Mapping[str, int], risks: OperationRisks
) -> tuple[Projection, ...]:
    found = []
    for migration in first.completed:
        for operation in migration.operations:
            table = operation.table
            copied = rows.get(table or "", 0)
            live_table = live.tables.get(table or "")
            if not table or not copied or live_table is None or not live_table.rows:
                continue
            live_rows = max(live_table.rows, copied)
            found.append(
                Projection(
                    migration=migration.label,
                    operation=operation.description,
                    table=table,
                    seconds=operation.seconds,
                    rows_copied=copied,
                    live_rows=live_rows,
                    projected_seconds=operation.seconds * live_rows / copied,
                    risk_classes=risks.get((migration.label, operation.description), ()),
                )
            )
    return tuple(found)
