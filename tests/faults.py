"""Fault injection: run a management command in a child process and kill it (SIGKILL) or
interrupt it (SIGINT, as Ctrl-C does) at its N-th write event, for every N of a traced run.

A *write event* is each SQL statement that writes (``INSERT``, ``UPDATE``, ``DELETE``,
``CREATE``, ``DROP``, ``ALTER``, ...), each commit of a transaction that wrote, and each file
operation (open for writing, create, rename, replace, delete, make or remove a directory).
The hook fires *before* the event runs: killed at event N, the child carried out events
1..N-1.

The child is a ``fork()`` of the test process, so it has the test database settings, the
test's ``settings`` overrides (``MIGRATION_MODULES``, temporary apps) and Django already set
up, and it starts in milliseconds; it then runs the command as ``manage.py`` does
(``ManagementUtility``: a ``CommandError`` becomes its message and exit code), with a fresh
view of every migrations package. POSIX only, as ``fork()`` is.

:func:`converge` drives the whole property: a traced run gives the events and the state the
command must reach; then for every event and signal, the database (and the files) go back
to the starting point, the command is killed there, the lock must be free, a re-run must
reach exactly the traced run's state, and a third run must change nothing.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from migration_ops.introspection import get_introspector, snapshot
from migration_ops.services.common import LOCK_NAME

WAITING = "<a terminal where nobody types>"
SIGNALS = {"kill": signal.SIGKILL, "int": signal.SIGINT}
_WRITE_SQL = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|RENAME|TRUNCATE)\b",
    re.IGNORECASE | re.DOTALL,
)
# Files nobody would call the command's work: SQLite's lock file of this package.
_IGNORED_SUFFIXES = (".migration_ops.lock",)
# Every run of every test module, for the summary at the end of the session.
SUMMARY: list[str] = []


# --------------------------------------------------------------------------- one child run


@dataclass(frozen=True)
class Event:
    kind: str  # "sql", "commit" or "file"
    detail: str
    # False for a write inside a transaction that is not committed by it (a kill just after
    # it leaves the same database as a kill just before it).
    durable: bool = True

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class ChildRun:
    argv: tuple[str, ...]
    returncode: int | None  # None when a signal ended the process
    signal: int | None
    stdout: str
    stderr: str
    events: tuple[Event, ...]

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr + self.stdout

    def describe(self) -> str:
        ending = f"signal {self.signal}" if self.signal else f"exit {self.returncode}"
        return (
            f"{' '.join(self.argv)} -> {ending}\n--- stdout\n{self.stdout}\n--- stderr\n"
            f"{self.stderr}"
        )


@dataclass(frozen=True)
class Fault:
    at: int  # 1-based number of the event to stop before
    signal: int
    kinds: frozenset[str] = frozenset({"sql", "commit", "file"})
    # Count every SQL statement (reads too): to interrupt during planning.
    all_sql: bool = False


def run_child(
    argv: Sequence[str],
    *,
    fault: Fault | None = None,
    stdin: str | None = None,
    interrupt_on_output: str | None = None,
    fresh_migrations: bool = False,
    timeout: float = 120,
) -> ChildRun:
    """Run ``manage.py *argv`` in a forked child; return how it ended and its events.

    ``stdin``: what standard input holds (None: closed, as under a deploy script without a
    terminal; ``WAITING``: a pipe nobody writes to, as a terminal where nobody types).
    ``interrupt_on_output``: send SIGINT once stdout contains this text (a Ctrl-C at a
    prompt). ``fresh_migrations``: import every migrations package afresh in the child, as a
    new process would (for commands that write migration files; it costs the import time).
    """
    with tempfile.TemporaryDirectory(prefix="mo_fault_") as scratch:
        out, err, trace, inp = (Path(scratch) / n for n in ("out", "err", "trace", "in"))
        if stdin == WAITING:
            os.mkfifo(inp)
            # Opened read-write, the pipe never reports end-of-file to the child.
            keep_open = os.open(inp, os.O_RDWR)
        elif stdin is not None:
            inp.write_text(stdin)
        connections.close_all()  # the child must not share the parent's sessions
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            _child(
                argv, fault, out, err, trace, inp if stdin is not None else None, fresh_migrations
            )
        deadline = time.monotonic() + timeout
        interrupted = False
        while True:
            finished, status = os.waitpid(pid, os.WNOHANG)
            if finished:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"{' '.join(argv)} did not finish in {timeout} s")
            if interrupt_on_output and not interrupted and interrupt_on_output in _read(out):
                time.sleep(0.05)
                os.kill(pid, signal.SIGINT)
                interrupted = True
            time.sleep(0.005)
        if stdin == WAITING:
            os.close(keep_open)
        events = tuple(
            Event(kind, detail, durable == "1")
            for kind, durable, detail in (
                line.split("\t", 2) for line in _read(trace).splitlines() if line.count("\t") > 1
            )
        )
        return ChildRun(
            argv=tuple(argv),
            returncode=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            stdout=_read(out),
            stderr=_read(err),
            events=events,
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _child(
    argv: Sequence[str],
    fault: Fault | None,
    out: Path,
    err: Path,
    trace: Path,
    stdin: Path | None,
    fresh_migrations: bool,
) -> None:  # pragma: no cover - runs in the forked process
    code = 1
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        os.dup2(os.open(out, flags, 0o600), 1)
        os.dup2(os.open(err, flags, 0o600), 2)
        os.dup2(os.open(stdin if stdin is not None else os.devnull, os.O_RDONLY), 0)
        trace_fd = os.open(trace, flags, 0o600)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if fresh_migrations:
            _forget_migration_modules()
        _install_hooks(_Tracer(trace_fd, fault))

        from django.core.management import ManagementUtility

        try:
            ManagementUtility(["manage.py", *argv]).execute()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:
            # What Python does with an uncaught Ctrl-C: a traceback, then death by SIGINT.
            traceback.print_exc()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:
            traceback.print_exc()
            code = 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _forget_migration_modules() -> None:  # pragma: no cover - child
    """A new process imports migration files afresh; so must the child (a command before it
    may have written, moved or rewritten them)."""
    import importlib

    from django.conf import settings

    packages = tuple(p for p in settings.MIGRATION_MODULES.values() if p)
    for name in list(sys.modules):
        ours = ".migrations" in name and not name.startswith("django.")
        if ours or name in packages or name.startswith(tuple(f"{p}." for p in packages)):
            del sys.modules[name]
    importlib.invalidate_caches()


class _Tracer:  # pragma: no cover - child
    def __init__(self, fd: int, fault: Fault | None) -> None:
        self.fd = fd
        self.fault = fault
        self.count = 0
        self.dirty: set[str] = set()  # aliases with writes not yet committed

    def event(self, kind: str, detail: str, durable: bool = True) -> None:
        if self.fault is not None and kind not in self.fault.kinds:
            return
        self.count += 1
        detail = " ".join(detail.split())[:300]
        os.write(self.fd, f"{kind}\t{int(durable)}\t{detail}\n".encode())
        if self.fault is not None and self.count == self.fault.at:
            os.kill(os.getpid(), self.fault.signal)
            time.sleep(1)  # SIGINT's KeyboardInterrupt is raised here


def _install_hooks(tracer: _Tracer) -> None:  # pragma: no cover - child
    def execute_wrapper(execute: Callable, sql: str, params: Any, many: bool, context: Any):
        connection = context["connection"]
        write = _WRITE_SQL.match(sql)
        if write:
            # MySQL commits before and after every DDL statement, in a transaction or not.
            ddl = write.group(1).upper() in ("CREATE", "DROP", "ALTER", "RENAME", "TRUNCATE")
            # A transaction is open inside an atomic block, or with autocommit off (reset's
            # recording manages its own).
            in_transaction = connection.in_atomic_block or not connection.get_autocommit()
            durable = not in_transaction or (ddl and not connection.features.can_rollback_ddl)
            if not durable:
                tracer.dirty.add(connection.alias)
            tracer.event("sql", sql, durable)
        elif tracer.fault is not None and tracer.fault.all_sql:
            tracer.event("sql", sql)
        return execute(sql, params, many, context)

    for alias in connections:
        connections[alias].execute_wrappers.append(execute_wrapper)

    original_commit = BaseDatabaseWrapper.commit

    def commit(self: BaseDatabaseWrapper) -> None:
        if self.alias in tracer.dirty:
            tracer.dirty.discard(self.alias)
            tracer.event("commit", self.alias)  # durable once it ran
        original_commit(self)

    original_rollback = BaseDatabaseWrapper.rollback

    def rollback(self: BaseDatabaseWrapper) -> None:
        tracer.dirty.discard(self.alias)
        original_rollback(self)

    BaseDatabaseWrapper.commit = commit  # type: ignore[method-assign]
    BaseDatabaseWrapper.rollback = rollback  # type: ignore[method-assign]

    def file_hook(name: str, original: Callable, paths: int = 1) -> Callable:
        def hooked(*args: Any, **kwargs: Any) -> Any:
            shown = [os.fspath(a) for a in args[:paths] if isinstance(a, (str, os.PathLike))]
            if shown and not any(str(p).endswith(_IGNORED_SUFFIXES) for p in shown):
                tracer.event("file", f"{name} {' -> '.join(str(p) for p in shown)}")
            return original(*args, **kwargs)

        return hooked

    for name, paths in (
        ("rename", 2),
        ("replace", 2),
        ("unlink", 1),
        ("remove", 1),
        ("mkdir", 1),
        ("rmdir", 1),
        ("symlink", 2),
    ):
        setattr(os, name, file_hook(name, getattr(os, name), paths))

    original_os_open = os.open
    writing_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & writing_flags and not str(os.fspath(path)).endswith(_IGNORED_SUFFIXES):
            tracer.event("file", f"open {os.fspath(path)}")
        return original_os_open(path, flags, *args, **kwargs)

    os.open = os_open  # type: ignore[assignment]
    original_open = builtins.open

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+"):
            tracer.event("file", f"open {os.fspath(file)}")
        return original_open(file, mode, *args, **kwargs)

    builtins.open = open_  # type: ignore[assignment]
    io.open = open_  # type: ignore[assignment]


# --------------------------------------------------------------------------- database state


@dataclass(frozen=True)
class DatabaseState:
    """A database's schema and every row of every table (sorted), for exact comparisons."""

    schema: Any
    rows: dict[str, tuple[tuple[Any, ...], ...]]

    def differences(self, other: DatabaseState) -> list[str]:
        found = []
        for table in sorted(set(self.rows) | set(other.rows)):
            if table not in other.rows:
                found.append(f"table {table} is gone")
            elif table not in self.rows:
                found.append(f"table {table} appeared")
            else:
                if self.schema.tables[table] != other.schema.tables[table]:
                    found.append(f"table {table}: schema differs")
                if self.rows[table] != other.rows[table]:
                    found.append(
                        f"table {table}: rows differ ({len(self.rows[table])} expected, "
                        f"{len(other.rows[table])} found)"
                    )
        return found


def database_state(
    alias: str = "default", ignore: Mapping[str, Collection[str]] | None = None
) -> DatabaseState:
    """``ignore``: ``{table: columns}`` whose values two correct runs may not share (the
    time a row was written, an id a sequence handed out)."""
    connection = connections[alias]
    schema = snapshot(connection)
    quote = connection.ops.quote_name
    rows = {}
    with connection.cursor() as cursor:
        for table in schema.tables:
            left_out = (ignore or {}).get(table, ())
            columns = ", ".join(
                quote(c.name) for c in schema.tables[table].columns if c.name not in left_out
            )
            cursor.execute(f"SELECT {columns} FROM {quote(table)}")
            rows[table] = tuple(sorted(map(tuple, cursor.fetchall()), key=repr))
    return DatabaseState(schema, rows)


def lock_is_free(alias: str = "default", wait: float = 5.0) -> bool:
    """True once the package's lock can be taken (a killed session's lock goes when the
    server notices the closed connection: give it ``wait`` seconds)."""
    from migration_ops.exceptions import LockHeld

    deadline = time.monotonic() + wait
    while True:
        try:
            with get_introspector(connections[alias]).lock(LOCK_NAME):
                return True
        except LockHeld:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


class Pristine:
    """A saved copy of a database (and of some directories) that trials go back to.

    SQLite: a copy of the file. PostgreSQL: a template database. MySQL/MariaDB: a copy
    database on the same server; a restore rebuilds only the tables that differ.
    """

    def __init__(self, alias: str = "default", directories: Sequence[Path] = ()) -> None:
        self.alias = alias
        self.connection = connections[alias]
        self.vendor = self.connection.vendor
        self.name = self.connection.settings_dict["NAME"]
        self.directories = [Path(d) for d in directories]
        self.copies: dict[Path, Path | None] = {}
        self.scratch = Path(tempfile.mkdtemp(prefix="mo_pristine_"))
        self.saved_ddl: dict[str, str] = {}
        self.saved_checks: dict[str, tuple[Any, ...]] = {}

    # The copy database's name carries the test database's (and so the helper's) name.
    @property
    def copy_name(self) -> str:
        return f"{self.name}_pristine"

    def save(self) -> None:
        for number, directory in enumerate(self.directories):
            if directory.exists():
                copy = self.scratch / f"dir{number}"
                shutil.copytree(directory, copy, symlinks=True)
                self.copies[directory] = copy
            else:
                self.copies[directory] = None
        connections.close_all()
        if self.vendor == "sqlite":
            shutil.copyfile(self.name, self.scratch / "db.sqlite3")
        elif self.vendor == "postgresql":
            with self._server() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.copy_name}"')
                cursor.execute(f'CREATE DATABASE "{self.copy_name}" TEMPLATE "{self.name}"')
        else:
            with self.connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.copy_name}`")
                cursor.execute(f"CREATE DATABASE `{self.copy_name}`")
                for table in self._mysql_tables(cursor, self.name):
                    cursor.execute(f"SHOW CREATE TABLE `{self.name}`.`{table}`")
                    self.saved_ddl[table] = cursor.fetchone()[1]
                    cursor.execute(
                        f"CREATE TABLE `{self.copy_name}`.`{table}` LIKE `{self.name}`.`{table}`"
                    )
                    cursor.execute(
                        f"INSERT INTO `{self.copy_name}`.`{table}` "
                        f"SELECT * FROM `{self.name}`.`{table}`"
                    )
                self.saved_checks = self._mysql_checks(cursor)
            connections.close_all()

    def restore(self) -> None:
        for directory, copy in self.copies.items():
            if directory.exists():
                shutil.rmtree(directory)
            if copy is not None:
                shutil.copytree(copy, directory, symlinks=True)
        connections.close_all()
        if self.vendor == "sqlite":
            for suffix in ("-journal", "-wal", "-shm"):
                Path(self.name + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.scratch / "db.sqlite3", self.name)
        elif self.vendor == "postgresql":
            with self._server() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                cursor.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.copy_name}"')
        else:
            with self.connection.cursor() as cursor:
                now = self._mysql_checks(cursor)
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                for table in sorted(set(now) - set(self.saved_checks)):
                    cursor.execute(f"DROP TABLE `{table}`")
                for table, check in self.saved_checks.items():
                    if now.get(table) == check:
                        continue
                    cursor.execute(f"DROP TABLE IF EXISTS `{table}`")
                    cursor.execute(self.saved_ddl[table])
                    cursor.execute(
                        f"INSERT INTO `{table}` SELECT * FROM `{self.copy_name}`.`{table}`"
                    )
                cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
            connections.close_all()

    def discard(self) -> None:
        connections.close_all()
        if self.vendor == "postgresql":
            with self._server() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.copy_name}" WITH (FORCE)')
        elif self.vendor == "mysql":
            with self.connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.copy_name}`")
            connections.close_all()
        shutil.rmtree(self.scratch, ignore_errors=True)

    @contextmanager
    def _server(self) -> Iterator[Any]:
        """A cursor on the server's maintenance database, outside any transaction."""
        wrapper = self.connection._nodb_cursor()
        with wrapper as cursor:
            yield cursor

    @staticmethod
    def _mysql_tables(cursor: Any, database: str) -> list[str]:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            [database],
        )
        return [row[0] for row in cursor.fetchall()]

    def _mysql_checks(self, cursor: Any) -> dict[str, tuple[Any, ...]]:
        """Per table: its definition and the checksum of its rows."""
        tables = self._mysql_tables(cursor, self.name)
        checks: dict[str, tuple[Any, ...]] = {}
        if not tables:
            return checks
        cursor.execute("CHECKSUM TABLE " + ", ".join(f"`{self.name}`.`{t}`" for t in tables))
        sums = {row[0].rsplit(".", 1)[-1]: row[1] for row in cursor.fetchall()}
        for table in tables:
            cursor.execute(f"SHOW CREATE TABLE `{table}`")
            ddl = re.sub(r" AUTO_INCREMENT=\d+", "", cursor.fetchone()[1])
            checks[table] = (ddl, sums[table])
        return checks


# --------------------------------------------------------------------------- the property


@dataclass
class Convergence:
    """The outcome of :func:`converge`: trials run, and what went wrong in each that failed."""

    name: str
    events: tuple[Event, ...]
    every_event: bool
    signals: tuple[str, ...] = ("kill", "int")
    trials: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def converged(self) -> int:
        return self.trials - len(self.failures)

    def summary(self) -> str:
        kinds = {k: sum(e.kind == k for e in self.events) for k in ("sql", "commit", "file")}
        vendor = connections["default"].vendor
        return (
            f"{self.name} on {vendor}: {len(self.events)} write events ({kinds['sql']} SQL, "
            f"{kinds['commit']} commits, {kinds['file']} file), "
            f"{'every event' if self.every_event else 'sampled'}: {self.trials} trials "
            f"({' and '.join(SIGNALS[s].name for s in self.signals)}), "
            f"{self.converged} converged"
        )

    def report(self) -> str:
        """The summary, one line per failed trial, then the first failures in full."""
        heads = "".join(f"\n  {f.splitlines()[0]} {f.splitlines()[1][:100]}" for f in self.failures)
        return self.summary() + heads + "".join(f"\n\n{f}" for f in self.failures[:3])


def converge(
    name: str,
    argv: Sequence[str],
    *,
    pristine: Pristine,
    done: str,
    signals: Sequence[str] = ("kill", "int"),
    check_reference: Callable[[DatabaseState], None] | None = None,
    files: Callable[[], Any] | None = None,
    every_event: bool | None = None,
    fresh_migrations: bool = False,
    ignore_columns: Mapping[str, Collection[str]] | None = None,
) -> Convergence:
    """Kill ``argv`` at every write event with each signal; after each, re-run it and check
    that it converges on the traced run's end state.

    ``every_event`` (default: on SQLite) tries both signals at every event. Otherwise, to
    keep the slower servers' runs short, SIGKILL skips the events that follow a write not
    yet committed (the kill leaves the same database as one before that write: every state
    the database can be left in is still tried), and of a run of consecutive file events
    only the first and the last are tried; SIGINT is tried at every database event.

    ``done``: text a run after the work is done must print (it changes nothing).
    ``files``: what the files the command writes look like, compared like the database.
    ``pristine`` has been saved. ``ignore_columns``: as for :func:`database_state`.

    The "third run changes nothing" check runs once, on the traced run's end state: a re-run
    that converged left exactly that state (every row of every table, the schema, the files),
    and the command's outcome depends on nothing else.
    """
    options = {"fresh_migrations": fresh_migrations}
    reference = run_child(argv, **options)
    assert reference.returncode == 0 and not reference.traceback, reference.describe()
    expected_state = database_state(pristine.alias, ignore_columns)
    expected_files = files() if files else None
    if check_reference is not None:
        check_reference(expected_state)
    again = run_child(argv, **options)
    assert again.returncode == 0 and done in again.stdout, again.describe()
    assert again.events == (), again.events
    assert expected_state.differences(database_state(pristine.alias, ignore_columns)) == []
    assert files is None or files() == expected_files
    if every_event is None:
        every_event = connections[pristine.alias].vendor == "sqlite"
    result = Convergence(name, reference.events, every_event, tuple(signals))
    events = reference.events
    for number, event in enumerate(events, start=1):
        previous = events[number - 2] if number > 1 else None
        following = events[number] if number < len(events) else None
        inner_file = (
            event.kind == "file"
            and previous is not None
            and previous.kind == "file"
            and following is not None
            and following.kind == "file"
        )
        for signal_name in signals:
            if not every_event and (
                inner_file or (signal_name == "kill" and previous and not previous.durable)
            ):
                continue
            pristine.restore()
            result.trials += 1
            problem = _trial(
                argv,
                Fault(number, SIGNALS[signal_name]),
                event,
                pristine.alias,
                expected_state,
                expected_files,
                files,
                fresh_migrations,
                ignore_columns,
            )
            if problem:
                result.failures.append(
                    f"[{signal_name} at event {number}: {event}]\n{problem}".rstrip()
                )
    pristine.restore()
    SUMMARY.append(result.summary())
    return result


def _trial(
    argv: Sequence[str],
    fault: Fault,
    event: Event,
    alias: str,
    expected_state: DatabaseState,
    expected_files: Any,
    files: Callable[[], Any] | None,
    fresh_migrations: bool,
    ignore_columns: Mapping[str, Collection[str]] | None,
) -> str | None:
    """What went wrong in one trial, or None."""
    killed = run_child(argv, fault=fault, fresh_migrations=fresh_migrations)
    if len(killed.events) < fault.at or killed.events[fault.at - 1] != event:
        return f"the run took another path: its event {fault.at} is not {event}"
    if fault.signal == signal.SIGKILL:
        if killed.signal != signal.SIGKILL:
            return f"not killed:\n{killed.describe()}"
    elif killed.returncode != 130 or killed.traceback:
        return f"Ctrl-C did not end with exit 130 and a message:\n{killed.describe()}"
    if not lock_is_free(alias):
        return "the lock stayed held after the interrupted run"
    rerun = run_child(argv, fresh_migrations=fresh_migrations)
    if rerun.returncode != 0 or rerun.traceback:
        return f"the re-run failed:\n{rerun.describe()}\n--- interrupted run\n{killed.describe()}"
    problems = expected_state.differences(database_state(alias, ignore_columns))
    if files is not None and files() != expected_files:
        problems.append("the files differ from the traced run's")
    if problems:
        return "after the re-run: " + "; ".join(problems) + "\n" + rerun.describe()
    return None


def json_files(directory: Path) -> dict[str, Any]:
    """The files of a backup folder, parsed, without what legitimately differs between two
    runs (the manifest's creation time)."""
    found: dict[str, Any] = {}
    if not directory.exists():
        return found
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            text = path.read_text()
            if path.suffix == ".json":
                document = json.loads(text)
                document.pop("created", None)
                found[str(path.relative_to(directory))] = document
            else:
                found[str(path.relative_to(directory))] = text
    return found
