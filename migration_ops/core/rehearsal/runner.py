"""Django's own executor on the scratch database, every statement recorded and timed.

The executor reports migrations through its progress callback; operations are timed by
wrapping the ``database_forwards``/``database_backwards`` of the plan's operation objects
for the duration of the run (the executor calls them by attribute, so nothing of Django's
is replaced). Statements come from ``connection.execute_wrapper``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from migration_ops.core.tables import db_table

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.migrations.operations.base import Operation

MigrationKey = tuple[str, str]


@dataclass(frozen=True)
class OperationRun:
    description: str
    seconds: float
    statements: tuple[str, ...]
    table: str | None  # the model's table, when the operation is about one model
    error: str | None = None


@dataclass(frozen=True)
class MigrationRun:
    app_label: str
    name: str
    backwards: bool
    seconds: float
    operations: tuple[OperationRun, ...]
    # Every statement of the migration, the operations' and the recorder's, in order.
    statements: tuple[str, ...]
    error: str | None = None
    failed_operation: str | None = None
    # On failure: the operations that stay in the database (DDL that cannot be rolled back).
    left_applied: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    @property
    def key(self) -> MigrationKey:
        return (self.app_label, self.name)


@dataclass(frozen=True)
class Pass:
    """One run of the executor: ``forwards``, ``backwards`` or ``forwards again``."""

    name: str
    migrations: tuple[MigrationRun, ...]
    seconds: float

    @property
    def failure(self) -> MigrationRun | None:
        return next((m for m in self.migrations if m.error is not None), None)

    @property
    def completed(self) -> tuple[MigrationRun, ...]:
        return tuple(m for m in self.migrations if m.error is None)


@dataclass
class _Current:
    key: MigrationKey
    backwards: bool
    started: float
    statements: list[str] = field(default_factory=list)
    operations: list[OperationRun] = field(default_factory=list)
    operation_statements: list[str] | None = None


class _Recorder:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.current: _Current | None = None
        self.finished: list[MigrationRun] = []

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        try:
            return execute(sql, params, many, context)
        finally:
            if self.current is not None:
                text = _statement_text(self.connection, context.get("cursor"), sql, params, many)
                self.current.statements.append(text)
                if self.current.operation_statements is not None:
                    self.current.operation_statements.append(text)

    def progress(self, action: str, migration: Migration | None = None, fake: bool = False) -> None:
        if action in ("apply_start", "unapply_start") and migration is not None:
            self.current = _Current(
                (migration.app_label, migration.name),
                action == "unapply_start",
                time.perf_counter(),
            )
        elif action in ("apply_success", "unapply_success") and self.current is not None:
            self.finished.append(self._close())

    def _close(
        self, error: str | None = None, failed: str | None = None, left: tuple[str, ...] = ()
    ) -> MigrationRun:
        current = self.current
        assert current is not None
        self.current = None
        return MigrationRun(
            app_label=current.key[0],
            name=current.key[1],
            backwards=current.backwards,
            seconds=time.perf_counter() - current.started,
            operations=tuple(current.operations),
            statements=tuple(current.statements),
            error=error,
            failed_operation=failed,
            left_applied=left,
        )

    def wrap(self, migration: Migration, operation: Operation, method: str) -> Callable[..., Any]:
        original = getattr(operation, method)

        def timed(
            app_label: str, schema_editor: Any, from_state: ProjectState, to_state: ProjectState
        ) -> Any:
            current = self.current
            if current is None or current.operation_statements is not None:  # nested
                return original(app_label, schema_editor, from_state, to_state)
            current.operation_statements = []
            started = time.perf_counter()
            error = None
            try:
                return original(app_label, schema_editor, from_state, to_state)
            except BaseException as exc:
                error = _error_text(exc)
                raise
            finally:
                # Deferred statements (indexes, FKs) run at the migration's end: the
                # migration's own list has them.
                current.operations.append(
                    OperationRun(
                        description=_description(operation, current.backwards),
                        seconds=time.perf_counter() - started,
                        statements=tuple(current.operation_statements),
                        table=_table(operation, app_label, from_state, to_state),
                        error=error,
                    )
                )
                current.operation_statements = None

        return timed


class _LoadedExecutor(MigrationExecutor):
    """Django's executor over a loader built already, for a database whose recorded
    migrations are the same rows (the live one, copied whole): the graph is built once."""

    def __init__(
        self,
        connection: BaseDatabaseWrapper | None,
        loader: MigrationLoader,
        progress_callback: Callable[..., None] | None = None,
    ) -> None:
        self.connection = connection
        self.loader = loader
        self.recorder = MigrationRecorder(connection)
        self.progress_callback = progress_callback


def rendered_applied_state(loader: MigrationLoader) -> ProjectState:
    """The state ``migrate`` hands the executor for a forward plan: the applied migrations'
    (``_create_project_state(with_applied_migrations=True)``), rendered, as the command
    renders it before the pre-migrate signal. Touches no database."""
    state = _LoadedExecutor(None, loader)._create_project_state(with_applied_migrations=True)
    state.apps  # noqa: B018 (rendering is the point)
    return state


def run_pass(
    connection: BaseDatabaseWrapper,
    name: str,
    plan: Sequence[tuple[MigrationKey, bool]] | None,
    targets: Sequence[tuple[str, str | None]] = (),
    *,
    loader: MigrationLoader | None = None,
    state: ProjectState | None = None,
) -> Pass:
    """Run ``plan`` (keys and directions; None: the plan for ``targets``) with Django's
    executor on ``connection``; a failure ends the pass and is recorded, not raised.

    ``loader``: one built already for the same recorded migrations (else the executor
    builds its own from ``connection``); ``state``: the rendered start state of a forward
    plan, as ``migrate`` passes it (else the executor renders it).
    """
    recorder = _Recorder(connection)
    if loader is None:
        executor = MigrationExecutor(connection, progress_callback=recorder.progress)
    else:
        executor = _LoadedExecutor(connection, loader, progress_callback=recorder.progress)
    if plan is None:
        steps = executor.migration_plan(list(targets))
    else:
        nodes = executor.loader.graph.nodes
        steps = [(nodes[key], backwards) for key, backwards in plan]
    started = time.perf_counter()
    if steps:
        with _operations_timed(recorder, steps), connection.execute_wrapper(recorder):
            try:
                executor.migrate(list(targets), plan=steps, state=state)
            except Exception as exc:  # the rehearsal's finding: named, not raised
                if recorder.current is None:
                    raise
                recorder.finished.append(_failed(connection, recorder, steps, exc))
            except BaseException:
                recorder.current = None
                raise
    return Pass(name, tuple(recorder.finished), time.perf_counter() - started)


def _failed(
    connection: BaseDatabaseWrapper,
    recorder: _Recorder,
    steps: Sequence[tuple[Migration, bool]],
    exc: Exception,
) -> MigrationRun:
    current = recorder.current
    assert current is not None
    migration = next(m for m, _ in steps if (m.app_label, m.name) == current.key)
    done = [op for op in current.operations if op.error is None]
    failed = next((op.description for op in current.operations if op.error is not None), None)
    if failed is None and isinstance(exc, IrreversibleError):
        # Raised before any operation runs: name the first one that cannot be undone.
        failed = next(
            (_description(op, True) for op in migration.operations if not op.reversible), None
        )
    # What stays: nothing where the migration's transaction rolls the DDL back.
    rolled_back = connection.features.can_rollback_ddl and migration.atomic
    left = () if rolled_back else tuple(op.description for op in done)
    return recorder._close(_error_text(exc), failed, left)


@contextmanager
def _operations_timed(
    recorder: _Recorder, steps: Sequence[tuple[Migration, bool]]
) -> Iterator[None]:
    patched: list[tuple[Operation, str]] = []
    try:
        for migration, backwards in steps:
            method = "database_backwards" if backwards else "database_forwards"
            for operation in migration.operations:
                if method in vars(operation):
                    continue  # the same object in two migrations of the plan
                setattr(operation, method, recorder.wrap(migration, operation, method))
                patched.append((operation, method))
        yield
    finally:
        for operation, method in patched:
            delattr(operation, method)


def _description(operation: Operation, backwards: bool) -> str:
    description = operation.describe()
    if backwards and not hasattr(operation, "code") and not hasattr(operation, "sql"):
        return f"Undo {description}"
    return description


def _table(
    operation: Operation, app_label: str, from_state: ProjectState, to_state: ProjectState
) -> str | None:
    name = getattr(operation, "model_name_lower", None) or getattr(operation, "name_lower", None)
    if not name:
        return None
    for state in (from_state, to_state):
        model_state = state.models.get((app_label, name))
        if model_state is not None:
            return db_table(model_state)
    return None


def _error_text(exc: BaseException) -> str:
    message = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {' '.join(message.split())}"


def _statement_text(
    connection: BaseDatabaseWrapper, cursor: Any, sql: str, params: Any, many: bool
) -> str:
    if not params or many:
        return sql
    try:
        return str(connection.ops.last_executed_query(cursor, sql, params))
    except Exception:  # the statement ran; only its display failed
        return sql
