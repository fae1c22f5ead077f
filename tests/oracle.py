"""The execution oracle: the statements a real ``migrate`` sends to the database.

``record_migrate`` runs ``manage.py migrate`` (through ``call_command``) with a
``connection.execute_wrapper`` that keeps what the schema editor executes (its DDL, the
SQL of ``RunSQL``, deferred statements), per migration, rendered the way ``--sql`` prints
it: parameters replaced with the schema editor's ``quote_value``, ``;`` appended as
``collect_sql`` does. Introspection reads, ``django_migrations`` bookkeeping and the ORM
queries of ``RunPython`` are not the schema editor's, so they are not kept.

Run as a script (``python -m tests.oracle '<json>'``, in a project's directory), it plans
with ``plan_upgrade --format json --sql`` first, then records the real ``migrate`` to the
same targets, and prints both as JSON: the generated projects of ``benchmarks/`` and
scratch databases of the test project use it that way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from types import FrameType
from typing import Any

Target = tuple[str, str | None]


@dataclass(frozen=True)
class Executed:
    """What ``migrate`` executed for one migration, in order."""

    label: str
    backwards: bool
    statements: tuple[str, ...]


def _executor_frame(frame: FrameType | None) -> tuple[Any, Any, bool] | None:
    """(schema editor, migration, backwards) when ``frame``'s stack runs a schema editor's
    ``execute`` inside ``MigrationExecutor.apply_migration``/``unapply_migration``."""
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.executor import MigrationExecutor

    execute = BaseDatabaseSchemaEditor.execute.__code__
    apply, unapply = (
        MigrationExecutor.apply_migration.__code__,
        MigrationExecutor.unapply_migration.__code__,
    )
    editor = None
    while frame is not None:
        code = frame.f_code
        if code is execute:
            editor = frame.f_locals["self"]
        elif code is apply or code is unapply:
            if editor is None:
                return None
            return editor, frame.f_locals["migration"], code is unapply
        frame = frame.f_back
    return None


def rendered(editor: Any, sql: str, params: Sequence[Any] | None) -> str:
    """``sql`` as ``collect_sql`` would keep it."""
    ending = "" if sql.rstrip().endswith(";") else ";"
    if params is None:
        return sql + ending
    return (sql % tuple(map(editor.quote_value, params))) + ending


@contextmanager
def recording(connection: Any) -> Iterator[list[Executed]]:
    """Record what the schema editor executes inside migrate's executor while active."""
    found: list[Executed] = []
    current: list[tuple[str, bool, list[str]]] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
        where = _executor_frame(sys._getframe(1))
        if where is not None:
            editor, migration, backwards = where
            label = f"{migration.app_label}.{migration.name}"
            if not current or current[-1][:2] != (label, backwards):
                current.append((label, backwards, []))
            current[-1][2].append(rendered(editor, sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield found
    found.extend(Executed(label, b, tuple(statements)) for label, b, statements in current)


def record_migrate(connection: Any, *args: str) -> tuple[Executed, ...]:
    """Run ``migrate *args`` on ``connection`` and return what it executed, per migration
    (migrations that executed nothing are absent)."""
    from django.core.management import call_command
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder(connection).ensure_schema()  # migrate's bookkeeping table, not a plan's
    with recording(connection) as found:
        call_command("migrate", *args, database=connection.alias, verbosity=0)
    return tuple(found)


# --------------------------------------------------------------------------- comparison

TRANSACTION_LINES = frozenset({"BEGIN;", "COMMIT;"})


def now_free(text: str) -> str:
    """``text`` with the timestamps of defaults such as ``timezone.now`` blanked out."""
    return re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", "<now>", text)


def shown_statements(migration: dict[str, Any]) -> tuple[str, ...]:
    """The statements ``plan_upgrade --format json --sql`` shows for one migration,
    without comment lines and the transaction around them."""
    return tuple(
        now_free(line)
        for line in migration["sql"]
        if not line.startswith("--") and line not in TRANSACTION_LINES
    )


@dataclass(frozen=True)
class Comparison:
    """``--sql`` against the oracle, statement for statement, per migration."""

    compared: int  # statements migrate ran
    mismatched: tuple[str, ...]  # labels of migrations whose statements differ
    unavailable: tuple[str, ...]  # "label: description: reason" of unavailable operations
    details: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # label -> (shown, ran)


def compare(plan: dict[str, Any], executed: Sequence[Executed]) -> Comparison:
    ran = {(e.label, e.backwards): tuple(now_free(s) for s in e.statements) for e in executed}
    mismatched, unavailable, details = [], [], {}
    planned = set()
    for migration in plan["migrations"]:
        key = (f"{migration['app_label']}.{migration['name']}", migration["backwards"])
        planned.add(key)
        unavailable += [
            f"{key[0]}: {op['description']}: {op['sql_unavailable']}"
            for op in migration["operations"]
            if op["sql_unavailable"]
        ]
        shown = shown_statements(migration)
        if shown != ran.get(key, ()):
            mismatched.append(key[0])
            details[key[0]] = (shown, ran.get(key, ()))
    for key in ran.keys() - planned:  # migrate ran it; the plan did not show it
        mismatched.append(key[0])
        details[key[0]] = ((), ran[key])
    return Comparison(
        compared=sum(len(s) for s in ran.values()),
        mismatched=tuple(mismatched),
        unavailable=tuple(unavailable),
        details=details,
    )


def plan_json(connection: Any, *args: str) -> dict[str, Any]:
    from django.core.management import CommandError, call_command

    out = StringIO()
    try:
        call_command(
            "plan_upgrade",
            *args,
            database=connection.alias,
            format="json",
            sql=True,
            stdout=out,
            stderr=StringIO(),
        )
    except CommandError as exc:
        if exc.returncode != 1:  # 1: findings, which a scratch database may have
            raise
    return json.loads(out.getvalue())


def main(argv: Sequence[str]) -> None:
    """``argv[0]``: JSON ``{"prepare": [migrate args...], "targets": [migrate args]}``.
    Prints ``{"plan": ..., "executed": [...]}``."""
    import django

    request = json.loads(argv[0])
    django.setup()
    from django.core.management import call_command
    from django.db import connections

    connection = connections[request.get("database", "default")]
    for args in request.get("prepare", []):
        call_command("migrate", *args, database=connection.alias, verbosity=0)
    targets = request.get("targets", [])
    plan = plan_json(connection, *targets)
    executed = record_migrate(connection, *targets)
    json.dump(
        {
            "plan": plan,
            "executed": [
                {"label": e.label, "backwards": e.backwards, "statements": list(e.statements)}
                for e in executed
            ],
        },
        sys.stdout,
    )


def executed_from_json(items: Sequence[dict[str, Any]]) -> tuple[Executed, ...]:
    return tuple(Executed(i["label"], i["backwards"], tuple(i["statements"])) for i in items)


def run_in_project(
    project: Path, settings_module: str, database_url: str, request: dict[str, Any]
) -> Comparison:
    """Plan and record ``request`` (see :func:`main`) in a subprocess of ``project``, on
    the database at ``database_url``; compare the two."""
    done = run_python(project, settings_module, database_url, "tests.oracle", json.dumps(request))
    if done.returncode:
        raise AssertionError(f"the oracle failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout)
    return compare(result["plan"], executed_from_json(result["executed"]))


def run_python(
    project: Path, settings_module: str, database_url: str, module: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m module *args`` in ``project``'s directory, on ``database_url``."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OTHER_DATABASE_URL")}
    env.update(
        DATABASE_URL=database_url,
        # The test project's second alias: the same scratch database (Django 6.1's checks
        # connect to every alias).
        OTHER_DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE=settings_module,
        PYTHONPATH=os.pathsep.join((str(root), str(project))),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
