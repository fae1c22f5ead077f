"""Run the benchmarks: our commands against Django's, side by side, on a generated project.

``python -m benchmarks.run [--size 450] [--runs 5] [--only NAME] [--json OUT]``
``python -m benchmarks.run --curve [--curve-sizes 100,450,1000,6500]``

``DATABASE_URL`` picks the server (default: SQLite files inside the generated project). On
MariaDB/MySQL and PostgreSQL the benchmarks create and drop their own databases, named
``bench_migration_ops`` (migrated, the last few migrations left pending) and
``bench_migration_ops_empty`` (change with ``--db-name``); nothing else on the server is touched.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import dataclasses
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks.generate import (
    SETTINGS_PACKAGE,
    Params,
    Project,
    generate,
    generator_fingerprint,
    load_project,
)
from benchmarks.harness import (
    CommandFailed,
    Comparison,
    Target,
    Timing,
    combine,
    format_table,
    time_commands,
)

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "benchmarks" / "out"
PENDING_DB, EMPTY_DB = "pending", "empty"
NOT_IMPLEMENTED = "pending: command not implemented yet"

# Run in a subprocess: Django's own "create the test database, dropping an old one" is the
# vendor-neutral way to get an empty database (or to delete the SQLite file).
_RECREATE_DB = """
import sys

import django
import environ
from django.conf import settings

db = environ.Env.db_url_config(sys.argv[1])
db["TEST"] = {"NAME": db["NAME"]}
settings.configure(DATABASES={"default": db})
django.setup()
from django.db import connection

connection.creation._create_test_db(verbosity=0, autoclobber=True, keepdb=False)
"""


@dataclass
class Context:
    """The generated project, where its databases live, and how to run its ``manage.py``."""

    project: Project
    base_url: str  # "" for SQLite
    db_name: str
    runs: int
    sample: int
    python: str = sys.executable
    prepared: set[str] = field(default_factory=set)

    @property
    def vendor(self) -> str:
        return urlsplit(self.base_url).scheme if self.base_url else "sqlite"

    def url(self, database: str) -> str:
        name = self.db_name if database == PENDING_DB else f"{self.db_name}_{database}"
        if not self.base_url:
            return f"sqlite:///{self.project.path.resolve() / name}.sqlite3"
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def env(self, database: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("BENCH_REMOVED_APPS",)}
        env["DJANGO_SETTINGS_MODULE"] = f"{SETTINGS_PACKAGE}.settings"
        env["DATABASE_URL"] = self.url(database)
        # The project lists migration_ops in INSTALLED_APPS: this checkout's, installed or not.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return env

    def manage(self, *args: str) -> list[str]:
        return [self.python, "manage.py", *args]

    def call(self, database: str, *args: str) -> None:
        """Run ``manage.py args`` untimed (setup steps); raise ``CommandFailed`` on failure."""
        done = subprocess.run(
            self.manage(*args),
            cwd=self.project.path,
            env=self.env(database),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise CommandFailed(self.manage(*args), done.returncode, done.stderr)

    def succeeds(self, database: str, *args: str) -> bool:
        try:
            self.call(database, *args)
        except CommandFailed:
            return False
        return True

    def recreate(self, database: str) -> None:
        argv = [self.python, "-c", _RECREATE_DB, self.url(database)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            raise CommandFailed(argv, done.returncode, done.stderr)
        self.prepared.discard(database)

    def prepare(self, database: str) -> None:
        """Bring ``database`` to its documented state (once per invocation for "pending")."""
        if database == EMPTY_DB:
            self.recreate(EMPTY_DB)
            return
        if database in self.prepared:
            return
        self.recreate(database)
        _apply_pending(self)
        _unapply_pending(self)
        self.prepared.add(database)

    def big_app_target(self) -> str:
        """The big app's migration in the "pending" state."""
        app = self.project.big_app or ""
        return dict(self.project.pending_targets).get(app) or self.project.app_migrations(app)[-1]


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loop:
    """What one timed run executes: one process, or a loop of processes extrapolated."""

    argvs: list[list[str]]
    scale: float = 1.0
    note: str = ""
    cwd: Path | None = None  # default: the generated project


Side = Callable[[Context], Loop]


@dataclass(frozen=True)
class Benchmark:
    description: str
    database: str  # PENDING_DB (migrated, last few pending) or EMPTY_DB
    baseline: Side | None  # Django's way of doing the same job
    ours: Side | None
    ours_command: str | None  # our management command that ``ours`` needs
    target: Target | None
    setup: Callable[[Context], None] | None = None  # untimed, once before the runs
    before_each: Callable[[Context], None] | None = None  # untimed, before every run
    after: Callable[[Context], None] | None = None  # restores the database afterwards


def _one(*args: str) -> Side:
    return lambda ctx: Loop([ctx.manage(*args)])


def _sqlmigrate_pending(ctx: Context) -> Loop:
    argvs = [ctx.manage("sqlmigrate", app, name) for app, name in ctx.project.pending]
    return Loop(argvs, note=f"one sqlmigrate process per pending migration ({len(argvs)})")


def _sqlmigrate_all(ctx: Context) -> Loop:
    every = ctx.project.migrations
    n = min(ctx.sample, len(every))
    # Evenly spread: later migrations cost more (their project state is longer to build).
    picks = sorted({round(i * (len(every) - 1) / max(1, n - 1)) for i in range(n)})
    argvs, skipped = [], 0
    for start in picks:
        # sqlmigrate reads some names from the live schema (an index being dropped, say), so
        # it fails on an empty database for a few migrations: time the next one instead. The
        # untimed call also warms the file cache.
        for i in range(start, len(every)):
            if ctx.succeeds(EMPTY_DB, "sqlmigrate", *every[i]):
                argvs.append(ctx.manage("sqlmigrate", *every[i]))
                break
            skipped += 1
    if not argvs:
        raise CommandFailed(["sqlmigrate"], 1, "sqlmigrate failed for every sampled migration")
    scale = len(every) / len(argvs)
    note = (
        f"baseline EXTRAPOLATED: {len(argvs)} of {len(every)} sqlmigrate calls timed "
        f"(evenly spread over the history), total scaled by {scale:.1f}"
    )
    if skipped:
        note += f"; {skipped} sampled migration(s) replaced: sqlmigrate fails on them here"
    return Loop(argvs, scale=scale, note=note)


def _restore_big_app(ctx: Context) -> None:
    ctx.call(PENDING_DB, "migrate", ctx.project.big_app or "", ctx.big_app_target(), "-v", "0")


def _apply_pending(ctx: Context) -> None:
    ctx.call(PENDING_DB, "migrate", "--noinput", "-v", "0")


def _unapply_pending(ctx: Context) -> None:
    for app, target in ctx.project.pending_targets:
        ctx.call(PENDING_DB, "migrate", app, target, "--noinput", "-v", "0")


def _big_app_zero(ctx: Context) -> Loop:
    return Loop([ctx.manage("migrate", ctx.project.big_app or "", "zero", "--noinput")])


def _safe_remove_big_app(*options: str) -> Side:
    return lambda ctx: Loop(
        [ctx.manage("safe_remove_app", ctx.project.big_app or "", "--noinput", *options)]
    )


# --- rows for plan_upgrade --rehearse --rows: untimed, in the "pending" database ---------------

# Up to ROWS rows per table through the historical models of the applied migrations (the
# models.py files already have the pending fields), parents before children; row i of a child
# points at row i of its parents, so unique pairs stay unique. A model whose rows the database
# refuses (a check constraint the generic values miss) is left empty and counted.
_SEED_ROWS = """
import datetime, decimal, uuid
from django.db import connection, models, transaction
from django.db.migrations.loader import MigrationLoader

ROWS = 1000
loader = MigrationLoader(connection)
applied = [k for k in loader.applied_migrations if k in loader.graph.nodes]
apps = loader.graph.make_state(nodes=applied, at_end=True, real_apps=loader.unmigrated_apps).apps
done, failed = set(), []
pending = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]

def value(field, i):
    if field.null:
        return None
    if isinstance(field, models.ForeignKey):
        return i
    if field.has_default():
        return field.get_default()
    if isinstance(field, (models.BooleanField,)):
        return False
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return i
    if isinstance(field, models.DecimalField):
        return decimal.Decimal(i % 10**(field.max_digits - field.decimal_places - 1))
    if isinstance(field, models.DateTimeField):
        return datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    if isinstance(field, models.DateField):
        return datetime.date(2024, 1, 1)
    if isinstance(field, models.UUIDField):
        return uuid.UUID(int=i)
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.CharField):
        return f"v{i}"[: field.max_length]
    if isinstance(field, models.TextField):
        return f"v{i}"
    raise TypeError(type(field).__name__)

while pending:
    ready = [m for m in pending if all(
        f.related_model in done or f.related_model is m or f.null
        for f in m._meta.concrete_fields if isinstance(f, models.ForeignKey))] or pending[:1]
    for model in ready:
        pending.remove(model)
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        try:
            rows = [
                model(pk=i, **{f.attname: value(f, i) for f in fields})
                for i in range(1, ROWS + 1)
            ]
            with transaction.atomic():
                model.objects.bulk_create(rows)
            done.add(model)
        except Exception as exc:
            failed.append(f"{model._meta.label}: {type(exc).__name__}")
print(f"seeded {len(done)} models, {len(failed)} left empty")
"""


def _seed_rows(ctx: Context) -> None:
    argv = ctx.manage("shell", "-c", _SEED_ROWS)
    done = subprocess.run(
        argv,
        cwd=ctx.project.path,
        env=ctx.env(PENDING_DB),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise CommandFailed(argv, done.returncode, done.stderr)


def _reprepare(ctx: Context) -> None:
    ctx.prepared.discard(PENDING_DB)  # the next row starts from the documented state again


# --- reset_migrations: a real reset needs a scratch copy of the project per run ----------------

# Untimed, in the copy: forget the rows of migrations that are not on disk (the ``0001_reset``
# rows a previous run recorded), so that each run starts from the database at the old head.
_FORGET_ROWS = """
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

loader = MigrationLoader(connection)
recorder = MigrationRecorder(connection)
for app, name in recorder.applied_migrations():
    if app in loader.migrated_apps and (app, name) not in loader.disk_migrations:
        recorder.record_unapplied(app, name)
"""


def _scratch(ctx: Context, name: str) -> Path:
    # Per database too: runs on several servers at once must not share a copy.
    label = f"{ctx.project.path.name}-{ctx.vendor}-{ctx.db_name}-{name}"
    return ctx.project.path.parent.parent / "scratch" / label


def _fresh_copy(ctx: Context, name: str) -> Path:
    """A copy of the generated project (with its bytecode) at ``_scratch(ctx, name)``."""
    copy = _scratch(ctx, name)
    shutil.rmtree(copy.parent / f"{copy.name}-backup", ignore_errors=True)
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(ctx.project.path, copy, ignore=shutil.ignore_patterns("*.sqlite3*"))
    return copy


def _forget_reset_rows(ctx: Context) -> None:
    copy = _fresh_copy(ctx, "reset")
    argv = [ctx.python, "manage.py", "shell", "-c", _FORGET_ROWS]
    done = subprocess.run(
        argv, cwd=copy, env=ctx.env(PENDING_DB), capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise CommandFailed(argv, done.returncode, done.stderr)


def _reset_setup(ctx: Context) -> None:
    _apply_pending(ctx)
    _forget_reset_rows(ctx)


def _reset_after(ctx: Context) -> None:
    _forget_reset_rows(ctx)
    _unapply_pending(ctx)


def _reset(ctx: Context) -> Loop:
    copy = _scratch(ctx, "reset")
    backup = copy.parent / f"{copy.name}-backup"
    argv = ctx.manage("reset_migrations", "--all-local", "--noinput", "--backup-dir", str(backup))
    return Loop([argv], cwd=copy, note="a fresh copy of the project per run, database at the head")


def _reset_copy_ready(ctx: Context) -> None:
    """Untimed, once: a copy of the project whose history was reset (on the "pending" database
    brought to the head), for timing a fresh ``migrate`` of the new migrations."""
    _reset_setup(ctx)
    copy = _fresh_copy(ctx, "after-reset")
    backup = copy.parent / f"{copy.name}-backup"
    argv = ctx.manage("reset_migrations", "--all-local", "--noinput", "--backup-dir", str(backup))
    done = subprocess.run(
        argv, cwd=copy, env=ctx.env(PENDING_DB), capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise CommandFailed(argv, done.returncode, done.stderr)
    _reset_after(ctx)


def _migrate_after_reset(ctx: Context) -> Loop:
    return Loop([ctx.manage("migrate", "--noinput")], cwd=_scratch(ctx, "after-reset"))


# --- Django's whole-plan SQL collection, timed in-process by benchmarks/sql_speed.py -----------


def run_sql_speed(ctx: Context) -> Comparison:
    """``collect_plan_sql`` against Django's ``MigrationLoader.collect_sql`` for the whole
    plan on the empty database, in one process (``benchmarks/sql_speed.py``), which also checks
    that the SQL is identical. Times are of the collection alone, not of a process."""
    ctx.prepare(EMPTY_DB)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sql_speed.json"
        argv = [
            ctx.python,
            str(REPO / "benchmarks" / "sql_speed.py"),
            "--path",
            str(ctx.project.path),
            "--settings",
            f"{SETTINGS_PACKAGE}.settings",
            "--runs",
            str(ctx.runs),
            "--django-runs",
            str(ctx.runs),
            "--json",
            str(out),
        ]
        done = subprocess.run(
            argv, cwd=REPO, env=ctx.env(EMPTY_DB), capture_output=True, text=True, check=False
        )
        target = Target(ratio=0.05)
        if done.returncode:
            note = str(CommandFailed(argv, done.returncode, done.stderr)).replace("\n", "\n    ")
            return Comparison(SQL_SPEED, None, None, target, status="failed (see note)", note=note)
        data = json.loads(out.read_text())
    note = (
        f"in-process, collection only, as plan_upgrade --sql runs it (migrate's order, "
        f"virtual catalogue): {data['migrations']} migrations, {data['operations']} "
        f"operations; in collect_sql's order {data['ours']['median']:.2f} s, SQL identical "
        f"to Django's: {data['identical']}"
    )
    if data["excluded"]:
        note += f"; {data['excluded']} migration(s) left out (SQL depends on the live schema)"
    return Comparison(
        SQL_SPEED,
        Timing(**data["shipped"]),
        Timing(**data["django"]),
        target,
        status="" if data["identical"] else "SQL differs",
        note=note,
    )


SQL_SPEED = "plan SQL in-process (vs collect_sql)"


# Registration point. Each entry: Django's way (baseline), ours, and the target. Our side runs
# only once ``migration_ops/management/commands/<ours_command>.py`` exists; until then the row
# says NOT_IMPLEMENTED and only the baseline is measured. The argv of our side is the
# expected interface: adjust it here when the command lands. Targets are the issues' (#4, #6).
BENCHMARKS: dict[str, Benchmark] = {
    "plan_upgrade": Benchmark(
        "plan of a migrated database with a few migrations pending (vs migrate --plan)",
        PENDING_DB,
        baseline=_one("migrate", "--plan"),
        ours=_one("plan_upgrade"),
        ours_command="plan_upgrade",
        target=Target(ratio=1.2),
    ),
    "plan_upgrade (empty db)": Benchmark(
        "plan of an empty database: the whole history (vs migrate --plan)",
        EMPTY_DB,
        baseline=_one("migrate", "--plan"),
        ours=_one("plan_upgrade"),
        ours_command="plan_upgrade",
        target=Target(ratio=1.2),
    ),
    "plan_upgrade --sql": Benchmark(
        "SQL of the pending migrations (vs one sqlmigrate per migration)",
        PENDING_DB,
        baseline=_sqlmigrate_pending,
        ours=_one("plan_upgrade", "--sql"),
        ours_command="plan_upgrade",
        # The 50x is for the whole history (next row): with 5 pending migrations one
        # process against five cannot be more than about 5x faster.
        target=None,
    ),
    "plan_upgrade --sql (empty db)": Benchmark(
        "SQL of the whole history (vs one sqlmigrate per migration, extrapolated)",
        EMPTY_DB,
        baseline=_sqlmigrate_all,
        ours=_one("plan_upgrade", "--sql"),
        ours_command="plan_upgrade",
        target=Target(ratio=0.02),
    ),
    "plan_upgrade --rehearse": Benchmark(
        "the pending migrations run on a scratch copy of the live structure (vs migrate --plan)",
        PENDING_DB,
        baseline=_one("migrate", "--plan"),
        ours=_one("plan_upgrade", "--rehearse"),
        ours_command="plan_upgrade",
        target=Target(ratio=3.0),
    ),
    "plan_upgrade --rehearse --rows 1000": Benchmark(
        "the same with up to 1,000 rows of every table copied (the time is the figure)",
        PENDING_DB,
        baseline=_one("migrate", "--plan"),
        ours=_one("plan_upgrade", "--rehearse", "--rows", "1000"),
        ours_command="plan_upgrade",
        target=None,
        setup=_seed_rows,
        after=_reprepare,
    ),
    "fresh migrate": Benchmark(
        "migrate of an empty database, recreated before each run",
        EMPTY_DB,
        baseline=_one("migrate", "--noinput"),
        ours=None,
        ours_command=None,
        target=None,
        before_each=lambda ctx: ctx.recreate(EMPTY_DB),
    ),
    "reset_migrations": Benchmark(
        "a real reset of every app, verification included (no single Django command)",
        PENDING_DB,  # brought to the head first: a reset wants no pending migration
        baseline=None,
        ours=_reset,
        ours_command="reset_migrations",
        target=Target(seconds=10.0),
        setup=_reset_setup,
        before_each=_forget_reset_rows,  # and a fresh copy of the project
        after=_reset_after,
    ),
    "fresh migrate after reset": Benchmark(
        "migrate of an empty database: the reset history (ours) vs the old one",
        EMPTY_DB,
        baseline=_one("migrate", "--noinput"),
        ours=_migrate_after_reset,
        ours_command="reset_migrations",
        target=None,
        setup=_reset_copy_ready,
        before_each=lambda ctx: ctx.recreate(EMPTY_DB),
    ),
    "safe_remove_app": Benchmark(
        "remove the big app, default strategy (vs migrate <app> zero), restored before each run",
        PENDING_DB,
        baseline=_big_app_zero,
        ours=_safe_remove_big_app(),
        ours_command="safe_remove_app",
        target=Target(ratio=0.2),
        before_each=_restore_big_app,
        after=_restore_big_app,
    ),
    "safe_remove_app --strategy drop": Benchmark(
        "remove the big app by dropping its tables (vs migrate <app> zero), restored before "
        "each run",
        PENDING_DB,
        baseline=_big_app_zero,
        ours=_safe_remove_big_app("--strategy", "drop"),
        ours_command="safe_remove_app",
        target=Target(ratio=0.2),
        before_each=_restore_big_app,
        after=_restore_big_app,
    ),
}


# The registry, and the in-process comparison with Django's collect_sql after the SQL rows.
ALL_NAMES = [*list(BENCHMARKS)[:4], SQL_SPEED, *list(BENCHMARKS)[4:]]


def command_exists(name: str) -> bool:
    return importlib.util.find_spec(f"migration_ops.management.commands.{name}") is not None


# --- running ---------------------------------------------------------------------------------


def ensure_project(params: Params, root: Path, *, log: Callable[[str], None]) -> Project:
    """The generated project for ``params`` under ``root``: reused when still current."""
    path = root / "projects" / params.key()
    try:
        project = load_project(path)
    except (OSError, ValueError, KeyError):
        project = None
    if project is None or project.fingerprint != generator_fingerprint():
        log(f"generating {params.key()} into {path}")
        project = generate(params, path)
        compileall.compile_dir(str(path), quiet=1)  # as a deployed project would have them
    # As ``pip install`` leaves them, and Django's own (installed) modules have them: from
    # a checkout, and with PYTHONDONTWRITEBYTECODE set, our modules would be compiled anew
    # by every timed process.
    compileall.compile_dir(str(REPO / "migration_ops"), quiet=1)
    return project


def _time_interleaved(
    ctx: Context, bench: Benchmark, sides: dict[str, Loop], failures: dict[str, CommandFailed]
) -> dict[str, Timing]:
    """Time the sides turn about, run by run, so that a change of machine load mid-benchmark
    weighs on both alike. A side that fails is dropped (its error lands in ``failures``)."""
    per_run: dict[str, list[Timing]] = {key: [] for key in sides}
    for _ in range(ctx.runs):
        for key, side in sides.items():
            if key in failures:
                continue
            if bench.before_each is not None:
                bench.before_each(ctx)
            try:
                per_run[key].append(
                    time_commands(
                        side.argvs,
                        env=ctx.env(bench.database),
                        cwd=side.cwd or ctx.project.path,
                        runs=1,
                        scale=side.scale,
                    )
                )
            except CommandFailed as exc:
                failures[key] = exc
    return {key: combine(t) for key, t in per_run.items() if t and key not in failures}


def run_benchmark(
    ctx: Context, name: str, bench: Benchmark, *, baseline_only: bool = False
) -> Comparison:
    ctx.prepare(bench.database)
    notes: list[str] = []
    status = ""
    sides: dict[str, Loop] = {}
    failures: dict[str, CommandFailed] = {}
    timings: dict[str, Timing] = {}
    try:
        if bench.setup is not None:
            bench.setup(ctx)
        if bench.baseline is not None:
            sides["baseline"] = bench.baseline(ctx)
        if bench.ours is not None and not baseline_only:
            if bench.ours_command and not command_exists(bench.ours_command):
                status = NOT_IMPLEMENTED
            else:
                sides["ours"] = bench.ours(ctx)
        timings = _time_interleaved(ctx, bench, sides, failures)
    except CommandFailed as exc:  # in setup or while sampling
        failures["setup"] = exc
    finally:
        if bench.after is not None:
            bench.after(ctx)
    baseline = timings.get("baseline")
    if "baseline" in sides:
        side = sides["baseline"]
        note = side.note
        if baseline is not None and len(side.argvs) > 1:
            per_call = baseline.median / side.scale / len(side.argvs)
            note += f"; {per_call:.2f} s per call (median run)"
        notes += [note] if note else []
    for key, exc in failures.items():
        # A usage error from our command: an option it does not have yet.
        unknown = key == "ours" and exc.returncode == 2 and "unrecognized arguments" in exc.stderr
        status = "pending: option not implemented yet" if unknown else f"{key} failed (see note)"
        notes.append(str(exc).replace("\n", "\n    "))
    return Comparison(
        name, timings.get("ours"), baseline, bench.target, status=status, note="; ".join(notes)
    )


def run_all(
    ctx: Context,
    names: Sequence[str],
    *,
    baseline_only: bool = False,
    log: Callable[[str], None],
) -> list[Comparison]:
    rows = []
    for name in names:
        started = time.perf_counter()
        if name == SQL_SPEED:
            log(f"{name}: whole-plan SQL in one process (benchmarks/sql_speed.py)")
            rows.append(run_sql_speed(ctx))
        else:
            log(f"{name}: {BENCHMARKS[name].description}")
            rows.append(run_benchmark(ctx, name, BENCHMARKS[name], baseline_only=baseline_only))
        log(f"  done in {time.perf_counter() - started:.0f} s")
    return rows


def results_json(ctx: Context, rows: Sequence[Comparison]) -> dict[str, Any]:
    import django

    return {
        "project": {
            "params": dataclasses.asdict(ctx.project.params),
            "apps": len(ctx.project.apps),
            "models": ctx.project.model_count,
            "migrations": len(ctx.project.migrations),
            "operations": ctx.project.operation_count,
            "pending": len(ctx.project.pending),
            "big_app": ctx.project.big_app,
            "big_app_models": ctx.project.models_per_app.get(ctx.project.big_app or "", 0),
        },
        "database": ctx.vendor,
        "runs": ctx.runs,
        "python": platform.python_version(),
        "django": django.get_version(),
        "results": [
            {
                "name": row.name,
                "description": BENCHMARKS[row.name].description
                if row.name in BENCHMARKS
                else "whole-plan SQL collection in one process (benchmarks/sql_speed.py)",
                "ours": dataclasses.asdict(row.ours) if row.ours else None,
                "baseline": dataclasses.asdict(row.baseline) if row.baseline else None,
                "ratio": row.ratio,
                "target": row.target.describe() if row.target else None,
                "status": row.verdict(),
                "note": row.note,
            }
            for row in rows
        ],
    }


CURVE_BENCHMARK = "plan_upgrade (empty db)"
# The SQL side of the curve: no Django baseline (the sqlmigrate loop is far off the chart).
CURVE_SQL = Benchmark(
    "SQL of the whole history on an empty database",
    EMPTY_DB,
    baseline=None,
    ours=_one("plan_upgrade", "--sql"),
    ours_command="plan_upgrade",
    target=None,
)


def run_curve(
    sizes: Sequence[int], base: Params, ctx_args: dict[str, Any], out_dir: Path, *, log: Any
) -> Path:
    """Run the ``CURVE_BENCHMARK`` row (``migrate --plan`` against ``plan_upgrade`` on an empty
    database, so that no size needs a full ``migrate`` first) at each history length."""
    rows: list[tuple[int, int, float, Comparison, Comparison]] = []
    for size in sizes:
        params = dataclasses.replace(base, migrations=size)
        started = time.perf_counter()
        # Reused when current: regenerating would delete the databases of a concurrent run.
        project = ensure_project(params, out_dir, log=log)
        generate_s = time.perf_counter() - started
        log(f"{size} migrations: ready in {generate_s:.1f} s; timing {CURVE_BENCHMARK}")
        ctx = Context(project=project, **ctx_args)
        row = run_benchmark(ctx, CURVE_BENCHMARK, BENCHMARKS[CURVE_BENCHMARK])
        sql = run_benchmark(ctx, "plan_upgrade --sql", CURVE_SQL)
        rows.append((size, project.operation_count, generate_s, row, sql))

    vendor = urlsplit(ctx_args["base_url"]).scheme if ctx_args["base_url"] else "sqlite"
    csv_path = out_dir / f"curve-{vendor}.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "migrations",
                "operations",
                "ready_s",
                "migrate_plan_median_s",
                "migrate_plan_min_s",
                "migrate_plan_max_s",
                "migrate_plan_peak_rss_kib",
                "plan_upgrade_median_s",
                "plan_upgrade_min_s",
                "plan_upgrade_max_s",
                "plan_upgrade_peak_rss_kib",
                "plan_upgrade_sql_median_s",
                "plan_upgrade_sql_min_s",
                "plan_upgrade_sql_max_s",
                "plan_upgrade_sql_peak_rss_kib",
                "ratio",
                "status",
            ]
        )
        for size, ops, gen_s, row, sql in rows:
            b, o, q = row.baseline, row.ours, sql.ours
            writer.writerow(
                [
                    size,
                    ops,
                    f"{gen_s:.3f}",
                    f"{b.median:.3f}" if b else "",
                    f"{b.min:.3f}" if b else "",
                    f"{b.max:.3f}" if b else "",
                    b.peak_rss_kib if b else "",
                    f"{o.median:.3f}" if o else "",
                    f"{o.min:.3f}" if o else "",
                    f"{o.max:.3f}" if o else "",
                    o.peak_rss_kib if o else "",
                    f"{q.median:.3f}" if q else "",
                    f"{q.min:.3f}" if q else "",
                    f"{q.max:.3f}" if q else "",
                    q.peak_rss_kib if q else "",
                    f"{row.ratio:.2f}" if row.ratio is not None else "",
                    row.verdict(),
                ]
            )
    _plot_curve(
        [(size, row, sql) for size, _, _, row, sql in rows], csv_path.with_suffix(".png"), log=log
    )
    return csv_path


def _plot_curve(rows: Sequence[tuple[int, Comparison, Comparison]], png: Path, *, log: Any) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no PNG (the CSV has the figures)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = (
        ("migrate --plan (Django)", lambda row, sql: row.baseline),
        ("plan_upgrade", lambda row, sql: row.ours),
        ("plan_upgrade --sql", lambda row, sql: sql.ours),
    )
    for label, pick in series:
        points = [(size, pick(row, sql)) for size, row, sql in rows]
        points = [(size, t.median) for size, t in points if t is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xlabel("migrations in the history")
    ax.set_ylabel("seconds (whole process, median)")
    ax.set_title("Empty database, whole history pending; whole processes")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    log(f"wrote {png}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size", type=int, default=450, help="migrations in the history")
    parser.add_argument("--apps", type=int, default=23)
    parser.add_argument("--models", type=int, default=160)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument(
        "--sample", type=int, default=10, help="sqlmigrate calls timed before extrapolating"
    )
    parser.add_argument(
        "--only", action="append", choices=ALL_NAMES, help="run only this benchmark"
    )
    parser.add_argument(
        "--baseline-only", action="store_true", help="time Django's side only, not ours"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="generated projects, CSV")
    parser.add_argument("--db-name", default="bench_migration_ops", help="database name prefix")
    parser.add_argument("--curve", action="store_true", help="scaling of the plan instead")
    parser.add_argument("--curve-sizes", default="100,450,1000,6500")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    base_url = os.environ.get("DATABASE_URL", "")
    if base_url.startswith("sqlite"):
        base_url = ""  # SQLite files always live inside the generated project
    params = Params(apps=args.apps, models=args.models, migrations=args.size, seed=args.seed)
    ctx_args = {
        "base_url": base_url,
        "db_name": args.db_name,
        "runs": args.runs,
        "sample": args.sample,
    }
    if args.curve:
        sizes = [int(s) for s in args.curve_sizes.split(",")]
        path = run_curve(sizes, params, ctx_args, args.out_dir, log=log)
        print(path.read_text(), end="")
        return 0

    project = ensure_project(params, args.out_dir, log=log)
    ctx = Context(project=project, **ctx_args)
    names = args.only or ALL_NAMES
    rows = run_all(ctx, names, baseline_only=args.baseline_only, log=log)
    print(
        f"{len(project.apps)} apps, {project.model_count} models, {len(project.migrations)} "
        f"migrations ({len(project.pending)} pending), database: {ctx.vendor}, "
        f"median of {ctx.runs} runs, whole processes\n"
    )
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(results_json(ctx, rows), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
