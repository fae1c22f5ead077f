"""Rows of tables written to files before a destructive change, and loaded back.

A backup is a directory: ``manifest.json`` describes it, and each backed-up table that had
rows has one JSON Lines file, one JSON array per row in the manifest's column order (the
manifest lists the tables without rows too, with no file). Values that JSON
cannot hold are tagged: ``{"decimal": "9.99"}``, ``{"datetime": "2024-01-31T10:00:00+00:00"}``,
``{"date": ...}``, ``{"time": ...}``, ``{"timedelta": [days, seconds, microseconds]}``,
``{"uuid": ...}``, ``{"bytes": <base64>}`` and ``{"json": <text>}`` for a JSON column the
driver decoded.

Each table is backed up in one of three modes:

``replace``
    every row of a table about to be dropped; a restore replaces the table's rows with them.
``rows``
    the rows a ``WHERE`` clause selects (content types, permissions and what else their
    deletion cascades to); a restore replaces the rows with the same primary keys.
``set-null``
    the primary key and the old value of one column that is about to be set to NULL
    (``admin.LogEntry.content_type``); a restore puts the value back where it is still NULL.

:func:`restore_backup` needs the tables to exist: after a removal, reinstall the app and run
``migrate`` first. It runs in one transaction, with foreign-key checks off where the backend
has them.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction

from migration_ops.introspection import get_introspector
from migration_ops.services.backup_rows import BackupError, encode, file_name_part, read_rows
from migration_ops.services.common import get_connection

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# The manifest's "status": the rows are being written; all written (the removal may not be
# finished); the removal finished.
WRITING = "writing"
WRITTEN = "written"
FINISHED = "finished"
REPLACE = "replace"
ROWS = "rows"
SET_NULL = "set-null"
_BATCH = 500


@dataclass(frozen=True)
class Selection:
    """Rows of ``table`` to back up in mode ``rows`` or ``set-null``: ``where`` is SQL with
    ``%s`` placeholders for ``params``; ``column`` is the column set to NULL."""

    table: str
    where: str
    params: tuple[Any, ...]
    mode: str = ROWS
    column: str | None = None


@dataclass(frozen=True)
class BackupTable:
    table: str
    file: str | None  # None when the table had no rows to back up
    mode: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    rows: int
    column: str | None = None  # set-null: the column to restore


@dataclass(frozen=True)
class Backup:
    directory: str
    database: str
    vendor: str
    apps: tuple[str, ...]
    created: str
    tables: tuple[BackupTable, ...]  # in restore order: referenced rows first
    kept: bool = False  # written by an interrupted run, and kept as it was

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True)
class RestoreResult:
    database: str
    directory: str
    tables: tuple[tuple[str, int], ...]  # (table, rows restored), in restore order

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self.tables)


def backup_status(directory: str | Path, database: str, apps: Sequence[str]) -> str | None:
    """How far a removal of ``apps`` from ``database`` got with its backup in ``directory``:
    ``WRITING`` (interrupted while writing it), ``WRITTEN`` (complete, the removal not
    finished), ``FINISHED``; None when the directory holds no backup of theirs."""
    path = Path(directory)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # Stopped before the first manifest was in place: only its temporary file is there.
        with suppress(OSError):
            if [p.name for p in path.iterdir()] == [f"{MANIFEST}.tmp"]:
                return WRITING
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT_VERSION
        or manifest.get("database") != database
        or sorted(manifest.get("apps") or ()) != sorted(apps)
    ):
        return None
    # Manifests written before the status existed are of finished removals.
    return manifest.get("status", FINISHED)


def check_backup_directory(
    directory: str | Path,
    *,
    database: str | None = None,
    apps: Sequence[str] = (),
    finished_ok: bool = False,
) -> str | None:
    """Why ``directory`` cannot receive the backup of a removal of ``apps`` from
    ``database``, or None when it can: it is new or empty, or holds the backup of an
    interrupted removal of the same apps (which a re-run continues), or that of a finished
    one when ``finished_ok`` (nothing is left to remove)."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        return f"Backup directory '{path}' is a file; pass a new or empty directory."
    problem = _unwritable(path)
    if problem:
        return problem
    if path.is_dir() and any(path.iterdir()):
        status = None if database is None else backup_status(path, database, apps)
        if status in (WRITING, WRITTEN) or (status == FINISHED and finished_ok):
            return None
        if status == FINISHED:
            return (
                f"Backup directory '{path}' holds the backup of a removal of these apps that "
                "finished; pass a new or empty directory (rows written since are not in it)."
            )
        return (
            f"Backup directory '{path}' is not empty; pass a new or empty directory (an "
            "earlier backup there may hold rows that are gone from the database)."
        )
    return None


def _unwritable(path: Path) -> str | None:
    """Why the backup cannot be written at ``path`` (it, or the folder it would be created
    in, cannot be written), or None. ``access()`` also knows read-only file systems."""
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return (
            f"Backup directory '{path}' cannot be created: '{existing}' is a file, not a "
            "directory. Pass a directory that can be written."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return (
            f"Backup directory '{path}' cannot be written: this user may not write in "
            f"'{existing}'. Pass a directory that can be written."
        )
    return None


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest under a temporary name, then rename it: it is whole or absent."""
    temporary = path / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path / MANIFEST)


def mark_finished(directory: str | Path) -> None:
    """Record in the manifest that the removal the backup was written for finished."""
    path = Path(directory)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("status") != FINISHED:
        manifest["status"] = FINISHED
        _write_manifest(path, manifest)


def write_backup(
    directory: str | Path,
    connection: BaseDatabaseWrapper,
    *,
    apps: Sequence[str],
    tables: Sequence[str],
    selections: Sequence[Selection] = (),
) -> Backup:
    """Write every row of ``tables`` (mode ``replace``) and the rows of ``selections``.

    ``selections`` come first in the restore order, in the order given; ``tables`` are
    written in the order given and restored in reverse (a drop order, reversed, is a
    creation order). The manifest says ``WRITING`` from the start and ``WRITTEN`` once the
    rows are all there; a backup that an interrupted run finished writing is kept as it is
    (``Backup.kept``), one it did not finish is written again.
    """
    problem = check_backup_directory(directory, database=connection.alias, apps=apps)
    if problem:
        raise BackupError(problem)
    path = Path(directory)
    status = backup_status(path, connection.alias, apps)
    if status in (WRITTEN, FINISHED):
        return replace(read_backup(path), kept=True)
    if status == WRITING:
        for leftover in [*path.glob("*.jsonl"), path / f"{MANIFEST}.tmp", path / MANIFEST]:
            leftover.unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    _write_manifest(
        path,
        {
            "format": FORMAT_VERSION,
            "status": WRITING,
            "database": connection.alias,
            "vendor": connection.vendor,
            "apps": list(apps),
            "created": created,
            "tables": [],
        },
    )
    schema = get_introspector(connection).snapshot({*tables, *(s.table for s in selections)})
    quote = connection.ops.quote_name
    written: list[BackupTable] = []
    jobs = [(s.table, s) for s in selections] + [(t, None) for t in reversed(tables)]
    for number, (table, selection) in enumerate(jobs, start=1):
        described = schema.tables.get(table)
        if described is None:
            raise BackupError(f"Table {table!r} does not exist on database {connection.alias!r}.")
        primary_key = described.primary_key
        mode = selection.mode if selection is not None else REPLACE
        if mode == SET_NULL:
            assert selection is not None and selection.column is not None
            columns = (*primary_key, selection.column)
        else:
            columns = described.column_names
        sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)}"
        params: tuple[Any, ...] = ()
        if selection is not None:
            sql, params = f"{sql} WHERE {selection.where}", selection.params
        if primary_key:
            sql += f" ORDER BY {', '.join(quote(c) for c in primary_key)}"
        file_name: str | None = f"{number:03d}-{file_name_part(table)}.jsonl"
        count = 0
        # A file only for rows: most tables of a removal are empty.
        with ExitStack() as files:
            out = None
            for row in _select(connection, sql, params):
                if out is None:
                    out = files.enter_context((path / file_name).open("w", encoding="utf-8"))
                out.write(json.dumps([encode(v) for v in row], ensure_ascii=False) + "\n")
                count += 1
        if not count:
            file_name = None
        written.append(
            BackupTable(
                table=table,
                file=file_name,
                mode=mode,
                columns=columns,
                primary_key=primary_key,
                rows=count,
                column=selection.column if selection is not None else None,
            )
        )
    backup = Backup(
        directory=str(path),
        database=connection.alias,
        vendor=connection.vendor,
        apps=tuple(apps),
        created=created,
        tables=tuple(written),
    )
    manifest = {
        "format": FORMAT_VERSION,
        "status": WRITTEN,
        "database": backup.database,
        "vendor": backup.vendor,
        "apps": list(backup.apps),
        "created": backup.created,
        "tables": [
            {
                "table": t.table,
                "file": t.file,
                "mode": t.mode,
                "columns": list(t.columns),
                "primary_key": list(t.primary_key),
                "rows": t.rows,
                "column": t.column,
            }
            for t in backup.tables
        ],
    }
    _write_manifest(path, manifest)
    return backup


def read_backup(directory: str | Path) -> Backup:
    path = Path(directory)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"'{path}' holds no backup: {MANIFEST} is missing.") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"'{path}' holds a backup in an unknown format.")
    if manifest.get("status") == WRITING:
        raise BackupError(
            f"'{path}' holds a backup that was not finished (the removal was interrupted "
            "before it changed anything): there is nothing to restore."
        )
    return Backup(
        directory=str(path),
        database=manifest["database"],
        vendor=manifest["vendor"],
        apps=tuple(manifest["apps"]),
        created=manifest["created"],
        tables=tuple(
            BackupTable(
                table=t["table"],
                file=t["file"],
                mode=t["mode"],
                columns=tuple(t["columns"]),
                primary_key=tuple(t["primary_key"]),
                rows=t["rows"],
                column=t["column"],
            )
            for t in manifest["tables"]
        ),
    )


def restore_backup(directory: str | Path, database: str = "default") -> RestoreResult:
    """Load the backup in ``directory`` back into ``database``, in one transaction.

    Every table must exist with the backed-up columns. Tables in mode ``replace`` get
    exactly the backed-up rows; rows in mode ``rows`` replace the rows with the same
    primary keys (a content type that was recreated under another id, by ``migrate``
    after the app was reinstalled, is deleted first, with what its deletion cascades to);
    ``set-null`` columns get their values back where they are still NULL.
    """
    backup = read_backup(directory)
    connection = get_connection(database)
    introspector = get_introspector(connection)
    schema = introspector.snapshot({t.table for t in backup.tables})
    for item in backup.tables:
        described = schema.tables.get(item.table)
        if described is None:
            raise BackupError(
                f"Table {item.table!r} does not exist on database {database!r}; reinstall "
                f"the app{'s' if len(backup.apps) > 1 else ''} {', '.join(backup.apps)} and "
                "run `migrate` first."
            )
        missing = [c for c in item.columns if c not in described.column_names]
        if missing:
            raise BackupError(
                f"Table {item.table!r} on database {database!r} has no column "
                f"{', '.join(missing)}; its schema differs from the backed-up one."
            )
    quote = connection.ops.quote_name
    restored: list[tuple[str, int]] = []
    with introspector.foreign_key_checks_disabled(), transaction.atomic(using=database):
        _delete_recreated_content_types(backup, connection)
        with connection.cursor() as cursor:
            for item in backup.tables:
                rows = (
                    [] if item.file is None else list(read_rows(Path(backup.directory) / item.file))
                )
                table = quote(item.table)
                if item.mode == SET_NULL:
                    *key, column = item.columns
                    where = " AND ".join(f"{quote(c)} = %s" for c in key)
                    for row in rows:
                        cursor.execute(
                            f"UPDATE {table} SET {quote(column)} = %s WHERE {where}"
                            f" AND {quote(column)} IS NULL",
                            [row[-1], *row[:-1]],
                        )
                    restored.append((item.table, len(rows)))
                    continue
                if item.mode == REPLACE:
                    cursor.execute(f"DELETE FROM {table}")
                else:
                    _delete_by_key(cursor, quote, item, rows)
                columns = ", ".join(quote(c) for c in item.columns)
                placeholders = ", ".join(["%s"] * len(item.columns))
                sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
                for start in range(0, len(rows), _BATCH):
                    cursor.executemany(sql, rows[start : start + _BATCH])
                restored.append((item.table, len(rows)))
        introspector.reset_sequences(t.table for t in backup.tables if t.mode != SET_NULL)
    _clear_content_type_cache()
    return RestoreResult(database, backup.directory, tuple(restored))


def _delete_recreated_content_types(backup: Backup, connection: BaseDatabaseWrapper) -> None:
    """Content types of the backup that exist again under another id (``migrate`` of the
    reinstalled app creates them): deleted through the ORM, so that the permissions created
    with them go too, before the backed-up ones come back."""
    from django.contrib.contenttypes.models import ContentType

    table = ContentType._meta.db_table
    for item in backup.tables:
        if item.table != table or item.mode != ROWS:
            continue
        if item.file is None:
            continue
        position = {c: i for i, c in enumerate(item.columns)}
        manager = ContentType.objects.using(connection.alias)
        for row in read_rows(Path(backup.directory) / item.file):
            manager.filter(
                app_label=row[position["app_label"]], model=row[position["model"]]
            ).exclude(pk=row[position["id"]]).delete()


def _clear_content_type_cache() -> None:
    from django.apps import apps

    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()


def _delete_by_key(cursor: Any, quote: Any, item: BackupTable, rows: list[list[Any]]) -> None:
    if not item.primary_key:
        raise BackupError(f"Table {item.table!r} has no primary key: its rows cannot be matched.")
    positions = [item.columns.index(c) for c in item.primary_key]
    where = " AND ".join(f"{quote(c)} = %s" for c in item.primary_key)
    sql = f"DELETE FROM {quote(item.table)} WHERE {where}"
    for start in range(0, len(rows), _BATCH):
        cursor.executemany(
            sql, [[row[p] for p in positions] for row in rows[start : start + _BATCH]]
        )


def _select(
    connection: BaseDatabaseWrapper, sql: str, params: tuple[Any, ...]
) -> Iterator[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        while True:
            rows = cursor.fetchmany(_BATCH)
            if not rows:
                return
            yield from rows
