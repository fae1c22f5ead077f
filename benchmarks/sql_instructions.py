"""Count the CPU instructions of the ``--sql`` collection, which the machine's load does not move.

Run from the repository root (needs Debian's ``valgrind``):

.. code-block:: console

    $ python -m benchmarks.generate --out /tmp/bench
    $ python benchmarks/sql_instructions.py --path /tmp/bench --settings benchsite.settings
    $ python benchmarks/sql_instructions.py --path /tmp/bench --settings benchsite.settings --django

Wall-clock and CPU seconds of one process swing by 30-75% from run to run on a shared
virtual machine, more than most changes to the collection weigh. Instructions do not: this
runs the collection ``plan_upgrade --sql`` makes (``collect_plan_sql`` in ``migrate``'s
order, with the virtual catalogue) once in a child process under ``valgrind
--tool=callgrind``, after one uncounted run, and counts only the instructions executed
inside it (the child runs it within ``functools.reduce``, which callgrind counts alone:
``--toggle-collect``). The same plan as ``benchmarks/sql_speed.py``. ``--django`` counts
Django's whole-plan ``MigrationLoader.collect_sql`` the same way, for the ratio (about 50
times its run time: ten minutes or more for 450 migrations). Figures for one build of
Python; compare counts made with the same one.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_CHILD = "MIGRATION_OPS_INSTRUCTIONS_CHILD"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", default="testproject.settings")
    parser.add_argument(
        "--path", default=str(REPO / "testproject"), help="directory holding manage.py"
    )
    parser.add_argument("--database", default="default")
    parser.add_argument("--django", action="store_true", help="also count Django's collect_sql")
    return parser.parse_args()


def child(args: argparse.Namespace, side: str) -> None:
    """In the process valgrind runs: one run uncounted, then one inside functools.reduce."""
    sys.path[:0] = [args.path, str(REPO), str(REPO / "benchmarks")]
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    import django

    django.setup()
    from django.db import connections
    from sql_speed import comparable_plan  # type: ignore[import-not-found]

    from migration_ops.core.sql import collect_plan_sql

    connection = connections[args.database]
    loader, plan, _, _ = comparable_plan(connection)
    if side == "django":
        run = functools.partial(loader.collect_sql, plan)
    else:
        run = functools.partial(
            collect_plan_sql, connection, loader, plan, reproduce="migrate", check_live_reads=True
        )
    run()  # imports and caches warmed, as in a second run of sql_speed.py
    gc.collect()
    functools.reduce(lambda _, __: run(), [None], None)
    print(f"{len(plan)} migrations, {sum(len(m.operations) for m, _ in plan)} operations")


def count(args: argparse.Namespace, side: str) -> tuple[int, str]:
    """Instructions counted in the child for ``side``, and what the child printed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            *sys.argv[1:],
        ]
        done = subprocess.run(
            command, env={**os.environ, _CHILD: side}, capture_output=True, text=True
        )
        if done.returncode:
            raise SystemExit(f"valgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
        found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        if found is None or not int(found.group(1)):
            raise SystemExit(
                "callgrind counted nothing: this Python's functools.reduce is not the C "
                "function functools_reduce (a build without symbols?)."
            )
        return int(found.group(1)), done.stdout.strip()


def main() -> int:
    args = parse_args()
    side = os.environ.get(_CHILD)
    if side:
        child(args, side)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind).")
    ours, described = count(args, "ours")
    print(described)
    print(f"collect_plan_sql (as --sql runs it): {ours:>15,} instructions")
    if args.django:
        django, _ = count(args, "django")
        print(f"Django MigrationLoader.collect_sql: {django:>15,} instructions")
        print(f"ratio: {ours / django:.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
