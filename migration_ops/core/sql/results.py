"""The SQL of a plan's migrations and operations, as ``sqlmigrate`` prints it."""

from __future__ import annotations

from dataclasses import dataclass

CANNOT_BE_SQL = "THIS OPERATION CANNOT BE WRITTEN AS SQL"  # sqlmigrate's words
NO_OP = "(no-op)"


@dataclass(frozen=True)
class OperationSQL:
    """The SQL of one operation, as the schema editor collected it.

    ``statements`` may include statements the schema editor deferred from earlier
    operations and flushed here (SQLite's table rebuilds do). ``unavailable`` is a
    one-line reason when the SQL could not be produced. ``reduces_to_sql`` is False for
    ``RunPython``, which has no SQL.
    """

    description: str
    statements: tuple[str, ...]
    unavailable: str | None = None
    reduces_to_sql: bool = True

    @property
    def lines(self) -> tuple[str, ...]:
        """This operation as ``sqlmigrate`` prints it, comment header included."""
        head = ("--", f"-- {self.description}", "--")
        if self.unavailable:
            return (*head, f"-- {self.unavailable}")
        if not self.reduces_to_sql:
            return (*head, f"-- {CANNOT_BE_SQL}")
        return (*head, *(self.statements or (f"-- {NO_OP}",)))


@dataclass(frozen=True)
class MigrationSQL:
    app_label: str
    name: str
    backwards: bool
    operations: tuple[OperationSQL, ...]
    # Statements the schema editor deferred to the end of the migration (foreign keys,
    # indexes of new tables), as sqlmigrate prints them after the last operation.
    deferred: tuple[str, ...] = ()
    # (BEGIN, COMMIT) when sqlmigrate wraps the migration in a transaction: an atomic
    # migration on a database that can roll back DDL.
    transaction: tuple[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{self.app_label}.{self.name}"

    @property
    def body(self) -> tuple[str, ...]:
        """The statements without the transaction around them (as ``collect_sql`` has them)."""
        return (*(line for op in self.operations for line in op.lines), *self.deferred)

    @property
    def statements(self) -> tuple[str, ...]:
        """Everything as ``sqlmigrate`` prints it, one item per printed statement."""
        body = self.body
        if not body or self.transaction is None:
            return body
        return (self.transaction[0], *body, self.transaction[1])

    @property
    def unavailable(self) -> tuple[str, ...]:
        return tuple(op.unavailable for op in self.operations if op.unavailable)
