"""The collector: the SQL of every operation of a plan, one schema editor per migration."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from migration_ops.core.operations import (
    model_tables,
    rebuilds_tables,
)
from migration_ops.core.sql.catalogue import Catalogue
from migration_ops.core.sql.field_copies import KEEPS_FIELDS, FieldCopies, Snapshot
from migration_ops.core.sql.follower import following
from migration_ops.core.sql.live_reads import LiveReads
from migration_ops.core.sql.process import (
    constraint_checking_off_once,
    older_objects_frozen,
    sqlite_rebuild_stand_in_skipped,
    state_model_exceptions_shared,
    swappable_names_cached,
    verbose_names_cached,
)
from migration_ops.core.sql.rendering import (
    AFTER_UNRENDERED,
    KNOWN,
    ONE_SIDED,
    derivable,
    derive_rendering,
    order_sensitive,
)
from migration_ops.core.sql.results import MigrationSQL, OperationSQL
from migration_ops.core.sql.selection import Rendered, Selection, Walker, covers
from migration_ops.core.states import (
    migrate_backward_states,
    plan_start_state,
    state_before_migration,
    unrendered_copy,
)

Reproduce = Literal["sqlmigrate", "collect_sql", "migrate"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Collector:
    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        loader: MigrationLoader,
        reproduce: Reproduce,
        check_live_reads: bool,
    ) -> None:
        self.connection = connection
        self.check_live_reads = check_live_reads
        self.loader = loader
        self.reproduce = reproduce
        # Whether Django's state would be rendered by now (see collect_plan_sql).
        self.rendered = reproduce == "migrate"
        # Recent states after an operation that got rendered.
        self.rendered_afters: deque[Rendered] = deque(maxlen=64)
        # Where SQLite-style table rebuilds mix fields of both sides, the order in which
        # the states are rendered shows in the SQL; elsewhere it cannot.
        self.order_matters = rebuilds_tables(connection)
        self.reads = LiveReads(connection)
        # Names of constraints on the tables the plan changes, as they will be.
        self.catalogue = Catalogue(connection, self.reads.read_constraints)
        if check_live_reads:
            self.reads.catalogue = self.catalogue
        self.copies = FieldCopies()
        # Tables the operations collected so far change: the live schema no longer tells
        # what a later operation will find there.
        self.changed: set[str] = set()

    @staticmethod
    def _tables(states: Sequence[ProjectState], selections: Sequence[Selection]) -> set[str]:
        """The tables of the models the selections say may change, in either state."""
        keys = {key for selection in selections for key in selection.changed}
        return {
            table
            for state in states
            for key in keys
            if key in state.models
            for table in model_tables(state.models[key])
        }

    def _run(
        self,
        editor: BaseDatabaseSchemaEditor,
        operation: Operation,
        method: Callable[..., None],
        arguments: tuple[Any, ...],
    ) -> OperationSQL:
        """Collect the SQL of one operation; on failure roll the editor back to before it."""
        description = operation.describe()
        collected = editor.collected_sql
        start = len(collected)
        deferred = list(editor.deferred_sql)
        self.reads.tables.clear()
        self.catalogue.uncertain_reads.clear()
        error: str | None = None
        try:
            method(*arguments)
        except Exception as exc:  # any failure costs this operation only
            error = f"SQL unavailable: {_first_line(exc)}"
        finally:
            if type(operation) not in KEEPS_FIELDS and type(operation) is not ops.RenameField:
                # It may advance clones of the states, which share their fields.
                self.copies.forget(None)
        stale = self._stale_read() if self.check_live_reads else None
        if stale:
            error = stale
        if error:
            del collected[start:]
            editor.deferred_sql = deferred
            return OperationSQL(description, (), unavailable=error)
        return OperationSQL(description, tuple(collected[start:]))

    def _stale_read(self) -> str | None:
        for table in dict.fromkeys(self.catalogue.uncertain_reads):
            return (
                f"SQL unavailable: it needs the name of a constraint of table {table} that "
                f"the database chooses when an earlier operation of this plan creates it."
            )
        for table in dict.fromkeys(self.reads.tables):
            if table in self.changed:
                return (
                    f"SQL unavailable: it depends on the live structure of table {table}, "
                    f"which an earlier operation of this plan changes first."
                )
            if table not in self.reads.live_tables():
                return (
                    f"SQL unavailable: it depends on the live structure of table {table}, "
                    f"which the database does not have yet."
                )
        return None

    def _fresh_in_django(self, operation: Operation) -> bool:
        """Whether the order of rendering must follow Django's rendering of fresh states
        (the state after first) for this operation."""
        return self.order_matters and not self.rendered and order_sensitive(operation)

    def _reuse_rendering(
        self,
        operation: Operation,
        before: ProjectState,
        selection: Selection,
        walker: Walker,
    ) -> Selection:
        """Give ``before`` the models rendered for an earlier state after an operation,
        when they cover it and none of them changed since. Django's rendered state does
        the same: its models before an operation were rendered after an earlier one.
        Return what ``before``'s rendering holds."""
        if self._fresh_in_django(operation):
            return selection  # Django would render this state fresh, after the other one
        for rendered in reversed(self.rendered_afters):
            if covers(rendered.selection, selection) and walker.still_valid(rendered):
                before.__dict__["apps"] = rendered.state.apps
                return rendered.selection
        return selection

    def _derive_after(
        self,
        operation: Operation,
        before: Snapshot,
        have: Selection,
        selected_before: Selection,
        after: Snapshot,
        need: Selection,
        walker: Walker,
    ) -> Selection:
        """Render ``after`` as Django does a state after an operation: a clone of the
        rendering before it, with the changed models rendered again. Return what it holds.

        Where Django renders fresh states (the state after first), the other way round:
        ``after`` fresh, then ``before`` derived from it. Skipped for an operation of
        unknown effect, and for a one-sided operation whose state before is not rendered
        already (rendering it would cost as much as it saves).
        """
        changed = walker.last_changed
        if changed is None or not derivable(operation):
            return need
        if self._fresh_in_django(operation):
            after.apps  # noqa: B018 - first, as in Django
            derive_rendering(after, need, before, selected_before, changed)
            return need
        if "apps" not in before.__dict__ and isinstance(operation, ONE_SIDED):
            return need
        return derive_rendering(before, have, after, need, changed)

    def _render_in_django_order(
        self, operation: Operation, before: ProjectState, rendered: bool
    ) -> None:
        """Render the state before ``operation`` first when Django's would be.

        A SQLite table rebuild lists its columns by the fields' creation order, mixing the
        model before an operation with a field after it. ``sqlmigrate`` renders fresh
        states on first use (the state after first, for most operations); ``migrate``
        keeps its state rendered, so the models before an operation are older.
        """
        if rendered and self.order_matters and not isinstance(operation, ONE_SIDED):
            before.apps  # noqa: B018 - rendering is the point

    @contextmanager
    def _editor(self, migration: Migration) -> Iterator[BaseDatabaseSchemaEditor]:
        # Not atomic: an editor that only collects runs nothing, and its transaction cost
        # a BEGIN and COMMIT per migration. The SQL shows migration.atomic (_result).
        editor = self.connection.schema_editor(collect_sql=True, atomic=False)
        if not self.check_live_reads:
            with editor:
                yield editor
            return
        # Followed until the editor has run its deferred statements, on exit.
        with following(self.catalogue, editor, self.reads.live_tables), editor:
            yield editor

    def _result(
        self,
        migration: Migration,
        backwards: bool,
        editor: BaseDatabaseSchemaEditor,
        operations: list[OperationSQL],
        end: int,
    ) -> MigrationSQL:
        features, sql_ops = self.connection.features, self.connection.ops
        wrapped = migration.atomic and features.can_rollback_ddl
        return MigrationSQL(
            app_label=migration.app_label,
            name=migration.name,
            backwards=backwards,
            operations=tuple(operations),
            deferred=tuple(editor.collected_sql[end:]),
            transaction=(
                (sql_ops.start_transaction_sql(), sql_ops.end_transaction_sql())
                if wrapped
                else None
            ),
        )

    def forwards(self, migration: Migration, walker: Walker) -> MigrationSQL:
        """Collect ``migration`` applied to the walker's state, and advance it past it."""
        app_label = migration.app_label
        operations: list[OperationSQL] = []
        if self.reproduce == "sqlmigrate":
            self.rendered = False  # sqlmigrate starts each migration from a fresh state
        with self._editor(migration) as editor:
            for operation in migration.operations:
                description = operation.describe()
                if not operation.reduces_to_sql:
                    # sqlmigrate skips the state change too, but RunPython has none and
                    # a custom operation's is better kept.
                    walker.advance(operation, app_label)
                    operations.append(OperationSQL(description, (), reduces_to_sql=False))
                    continue
                selected_before = walker.select(operation, app_label)
                before = walker.snapshot(selected_before, copy=True)
                before_contents = self._reuse_rendering(operation, before, selected_before, walker)
                walker.advance(operation, app_label)
                selected_after = walker.select(operation, app_label)
                # Not a copy: it is rendered and used before the state changes again.
                after = walker.snapshot(selected_after, copy=False)
                after_contents = self._derive_after(
                    operation,
                    before,
                    before_contents,
                    selected_before,
                    after,
                    selected_after,
                    walker,
                )
                self._render_in_django_order(operation, before, self.rendered)
                operations.append(
                    self._run(
                        editor,
                        operation,
                        operation.database_forwards,
                        (app_label, editor, before, after),
                    )
                )
                # As Django's state: rendered once an operation renders the state after it.
                if isinstance(operation, KNOWN):
                    self.rendered |= not isinstance(operation, AFTER_UNRENDERED)
                else:
                    self.rendered |= "apps" in after.__dict__
                if "apps" in after.__dict__:
                    self.rendered_afters.append(
                        Rendered(
                            after,
                            after_contents,
                            walker.version,
                            {
                                key: walker.stub_signature(key, names)
                                for key, names in after_contents.stubs.items()
                            },
                        )
                    )
                self.changed |= self._tables((before, after), (selected_before, selected_after))
            end = len(editor.collected_sql)
        return self._result(migration, False, editor, operations, end)

    def backwards(self, migration: Migration, start: ProjectState | None) -> MigrationSQL:
        """Collect ``migration`` unapplied from ``start`` (which it advances), or from the
        state ``sqlmigrate --backwards`` uses (its ancestors in the graph) if None."""
        app_label = migration.app_label
        if start is None:
            start = state_before_migration(self.loader, migration)
        walker = Walker(start, self.copies)
        # Phase 1, as Migration.unapply: the states around each operation, forwards.
        steps = []
        for operation in migration.operations:
            selected_before = walker.select(operation, app_label)
            before = walker.snapshot(selected_before, copy=True)
            walker.advance(operation, app_label)
            selected_after = walker.select(operation, app_label)
            after = walker.snapshot(selected_after, copy=True)
            changed = self._tables((before, after), (selected_before, selected_after))
            steps.append((operation, before, after, changed))
        # Phase 2: unapply in reverse order.
        operations: list[OperationSQL] = []
        with self._editor(migration) as editor:
            for operation, before, after, changed in reversed(steps):
                description = operation.describe()
                if not operation.reversible:
                    # migrate checks every operation first and refuses the migration.
                    operations.append(
                        OperationSQL(
                            description,
                            (),
                            unavailable=(
                                "SQL unavailable: this operation cannot be reversed, so "
                                "migrate refuses to unapply the migration."
                            ),
                            reduces_to_sql=operation.reduces_to_sql,
                        )
                    )
                    continue
                if not operation.reduces_to_sql:
                    operations.append(OperationSQL(description, (), reduces_to_sql=False))
                    continue
                # Unapplying renders fresh clones, except in migrate's rendered state.
                self._render_in_django_order(operation, before, self.reproduce == "migrate")
                operations.append(
                    self._run(
                        editor,
                        operation,
                        operation.database_backwards,
                        (app_label, editor, after, before),
                    )
                )
                self.changed |= changed
            end = len(editor.collected_sql)
        return self._result(migration, True, editor, operations, end)


def collect_plan_sql(
    connection: BaseDatabaseWrapper,
    loader: MigrationLoader,
    plan: Sequence[tuple[Migration, bool]],
    *,
    start_state: ProjectState | None = None,
    reproduce: Reproduce = "sqlmigrate",
    check_live_reads: bool = True,
) -> tuple[MigrationSQL, ...]:
    """The SQL of every step of ``plan`` (``(migration, backwards)`` pairs, in order).

    Forward steps advance one state from ``start_state`` (default: the state of the
    plan's applied ancestors, :func:`~migration_ops.core.states.plan_start_state`);
    ``start_state`` is not modified. A backward step starts from the state ``migrate``
    unapplies it from with ``reproduce="migrate"`` and a loader built on a connection
    (:func:`~migration_ops.core.states.migrate_backward_states`: the applied migrations
    that come first in the full plan of all leaf nodes, other apps' included), else from
    the state ``sqlmigrate --backwards`` gives it (its ancestors in the graph). Plans are
    all forwards or all backwards, as ``migrate`` makes them.

    ``reproduce`` picks whose SQL to reproduce where Django's own tools disagree, which
    is only the column order of SQLite table rebuilds: ``"sqlmigrate"`` (each migration
    as ``sqlmigrate`` prints it, the default), ``"collect_sql"`` (as
    ``MigrationLoader.collect_sql(plan)`` collects the whole plan) or ``"migrate"`` (as
    ``migrate`` runs it, its state rendered from the start, and its backward states).

    ``check_live_reads=False`` keeps the SQL of operations that read the live structure
    of a table the plan changes first, or that the database lacks: it is then what
    Django prints, not what ``migrate`` will run.

    On SQLite, call it outside any transaction: the schema editor, even one that only
    collects SQL, refuses to start inside one (as ``sqlmigrate`` does).
    """
    if not plan:
        return ()
    state = (
        unrendered_copy(start_state) if start_state is not None else plan_start_state(loader, plan)
    )
    collector = _Collector(connection, loader, reproduce, check_live_reads)
    walker = Walker(state, collector.copies)
    backward_starts = {}
    if reproduce == "migrate" and loader.applied_migrations is not None:
        backward_starts = migrate_backward_states(loader, (m for m, b in plan if b))
    results = []
    with (
        constraint_checking_off_once(connection),
        collector.reads.watching(),
        swappable_names_cached(),
        older_objects_frozen(),
        state_model_exceptions_shared(),
        sqlite_rebuild_stand_in_skipped(connection),
        verbose_names_cached(),
    ):
        for migration, backwards in plan:
            if backwards:
                start = backward_starts.get((migration.app_label, migration.name))
                results.append(collector.backwards(migration, start))
            else:
                results.append(collector.forwards(migration, walker))
    return tuple(results)
