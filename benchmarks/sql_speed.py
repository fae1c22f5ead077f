"""Time ``collect_plan_sql`` against Django on the whole forward plan from an empty database.

Run from the repository root:

.. code-block:: console

    $ python benchmarks/sql_speed.py                       # the test project
    $ python -m benchmarks.generate --out /tmp/bench        # a 450-migration project
    $ python benchmarks/sql_speed.py --path /tmp/bench --settings benchsite.settings \\
          --sqlmigrate-sample 10

In one process, for the plan ``migrate`` would run on an empty database, it times
``migration_ops.core.sql.collect_plan_sql`` and Django's whole-plan
``MigrationLoader.collect_sql`` (what ``MigrationExecutor`` used to call ``collect_sql``),
prints both times and the ratio, and asserts that the SQL is identical (ours in
``reproduce="collect_sql"`` mode, which matches Django's column order in SQLite rebuilds;
the default ``"sqlmigrate"`` mode is timed too). ``--sqlmigrate-sample N`` also times N
``manage.py sqlmigrate`` processes and extrapolates to one per migration of the plan.

Migrations whose SQL depends on the live schema (a removed ``unique_together`` reads its
constraint name from the database) make Django fail or print wrong SQL on an empty
database: they are left out of the comparison with their descendants, and listed.
The database is the one the settings name (``DATABASE_URL``); nothing is written to it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", default="testproject.settings")
    parser.add_argument(
        "--path", default=str(REPO / "testproject"), help="directory holding manage.py"
    )
    parser.add_argument("--database", default="default")
    parser.add_argument("--runs", type=int, default=3, help="runs of ours (median)")
    parser.add_argument("--django-runs", type=int, default=1, help="runs of Django's")
    parser.add_argument(
        "--sqlmigrate-sample", type=int, default=0, help="sqlmigrate processes to time"
    )
    parser.add_argument("--json", help="also write the figures to this file (for run.py)")
    return parser.parse_args()


WALLS: dict[str, list[float]] = {}  # every run's wall-clock seconds, by label (for --json)


def interleaved(functions: dict[str, Any], runs: int) -> dict[str, tuple[float, float, object]]:
    """Median wall-clock and CPU seconds and the last result of each function, the
    functions called in turn, ``runs`` rounds."""
    walls: dict[str, list[float]] = {label: [] for label in functions}
    cpus: dict[str, list[float]] = {label: [] for label in functions}
    last: dict[str, object] = {}
    for _ in range(runs):
        for label, function in functions.items():
            wall, cpu = time.perf_counter(), time.process_time()
            last[label] = function()
            walls[label].append(time.perf_counter() - wall)
            cpus[label].append(time.process_time() - cpu)
    WALLS.update(walls)
    return {
        label: (statistics.median(walls[label]), statistics.median(cpus[label]), last[label])
        for label in functions
    }


def timing_dict(label: str, peak_rss_kib: int) -> dict[str, float | int]:
    """The runs of ``label`` in the shape of ``benchmarks.harness.Timing``."""
    walls = WALLS[label]
    return {
        "median": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "peak_rss_kib": peak_rss_kib,
        "runs": len(walls),
    }


def comparable_plan(connection: Any) -> tuple[Any, list[Any], set[Any], set[Any]]:
    """The loader, and the plan ``migrate`` would run on an empty database without what
    Django cannot collect there (see the docstring): ``(loader, plan, broken, excluded)``."""
    from django.db.migrations.executor import MigrationExecutor

    from migration_ops.core.sql import collect_plan_sql

    executor = MigrationExecutor(connection)
    loader = executor.loader
    plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
    checked = collect_plan_sql(connection, loader, plan, check_live_reads=False)
    broken = {(r.app_label, r.name) for r in checked if r.unavailable}
    excluded = {key for b in broken for key in loader.graph.backwards_plan(b)}
    kept = [(m, b) for m, b in plan if (m.app_label, m.name) not in excluded]
    return loader, kept, broken, excluded


def main() -> int:
    args = parse_args()
    sys.path[:0] = [args.path, str(REPO)]
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    import django

    django.setup()
    from django.db import connections

    from migration_ops.core.sql import collect_plan_sql

    connection = connections[args.database]
    loader, plan, broken, excluded = comparable_plan(connection)
    operations = sum(len(m.operations) for m, _ in plan)
    print(f"Plan from an empty database: {len(plan)} migrations, {operations} operations.")
    if excluded:
        print(
            f"Left out {len(excluded)} migrations whose SQL depends on the live schema, "
            f"with their descendants: {', '.join(sorted('.'.join(k) for k in broken))}."
        )

    def ours(mode: str, check: bool = False):
        return lambda: collect_plan_sql(
            connection, loader, plan, reproduce=mode, check_live_reads=check
        )

    # Turn about, run by run, so that a change of machine load weighs on all alike.
    timed = interleaved(
        {
            # What plan_upgrade --sql runs: migrate's order, names from the virtual catalogue.
            "shipped": ours("migrate", True),
            "ours": ours("collect_sql"),
            "default": ours("sqlmigrate"),
            "django": lambda: loader.collect_sql(plan),
        },
        args.runs,
    )
    shipped_wall, shipped_cpu, _ = timed["shipped"]
    ours_wall, ours_cpu, results = timed["ours"]
    default_wall, default_cpu, _ = timed["default"]
    django_wall, django_cpu, django_sql = timed["django"]
    ours_rss = django_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    flat = [
        line
        for r in results
        for line in (r.statements[1:-1] if r.transaction and r.statements else r.statements)
    ]
    print("                                     wall clock    CPU")
    print(f"collect_plan_sql (as --sql runs it): {shipped_wall:8.2f} s  {shipped_cpu:8.2f} s")
    print(f"collect_plan_sql (as collect_sql):   {ours_wall:8.2f} s  {ours_cpu:8.2f} s")
    print(f"collect_plan_sql (as sqlmigrate):    {default_wall:8.2f} s  {default_cpu:8.2f} s")
    print(f"Django MigrationLoader.collect_sql: {django_wall:8.2f} s  {django_cpu:8.2f} s")
    print(
        f"ratio: {django_wall / ours_wall:.1f}x faster (wall clock), "
        f"{django_cpu / ours_cpu:.1f}x (CPU); as sqlmigrate: "
        f"{django_wall / default_wall:.1f}x, {django_cpu / default_cpu:.1f}x"
    )

    if args.sqlmigrate_sample:
        sample = plan[:: max(1, len(plan) // args.sqlmigrate_sample)][: args.sqlmigrate_sample]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": args.settings}
        env["PYTHONPATH"] = os.pathsep.join([args.path, str(REPO), env.get("PYTHONPATH", "")])
        start = time.perf_counter()
        for migration, _ in sample:
            subprocess.run(
                [sys.executable, "manage.py", "sqlmigrate", migration.app_label, migration.name],
                cwd=args.path,
                env=env,
                check=True,
                capture_output=True,
            )
        per_process = (time.perf_counter() - start) / len(sample)
        whole = per_process * len(plan)
        print(
            f"sqlmigrate, one process per migration: {per_process:.2f} s each, "
            f"{whole:.1f} s for the plan (extrapolated from {len(sample)})"
        )
        print(f"ratio: {whole / default_wall:.1f}x faster")

    if args.json:
        figures = {
            "migrations": len(plan),
            "operations": operations,
            "excluded": len(excluded),
            "identical": flat == django_sql,
            "shipped": timing_dict("shipped", ours_rss),
            "ours": timing_dict("ours", ours_rss),
            "django": timing_dict("django", django_rss),
        }
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    assert flat == django_sql, "the SQL differs from Django's"
    print("The SQL is identical to Django's.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
