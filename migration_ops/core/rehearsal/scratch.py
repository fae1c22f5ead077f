"""The scratch database a rehearsal runs on: beside the live one, gone afterwards.

On PostgreSQL and MySQL/MariaDB a new database on the live server, created and dropped
through the backend's test-database machinery (``connection.creation``) and named after the
live database as Django names test-database clones (``<name>_rehearsal``) unless
``MIGRATION_OPS["REHEARSAL_DATABASE_NAME"]`` says otherwise; on SQLite a file in the
temporary directory. The name is fixed, so a later run removes what an interrupted or kept
one left. An alias of ``DATABASES`` can be given instead (``--scratch-database``) for
accounts that may not create databases: it must be empty, and is emptied again at the end.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import connections
from django.db.utils import load_backend

from migration_ops.conf import conf
from migration_ops.exceptions import RehearsalRefused
from migration_ops.introspection import get_introspector, snapshot

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

SUFFIX = "rehearsal"


@dataclass(frozen=True)
class ScratchDatabase:
    connection: BaseDatabaseWrapper
    name: str  # the database name, or the SQLite file
    alias: str | None  # the DATABASES alias given with --scratch-database, if any
    leftover_removed: bool = False

    @property
    def connect_command(self) -> str:
        """The shell command that opens it (what ``dbshell`` would run)."""
        settings_dict = {**self.connection.settings_dict, "NAME": self.name}
        args, _env = self.connection.client.settings_to_cmd_args_env(settings_dict, [])
        return shlex.join(args)


def scratch_name(live: BaseDatabaseWrapper) -> str:
    """Where the scratch copy of ``live`` goes (a database name, or a file on SQLite)."""
    configured = conf.REHEARSAL_DATABASE_NAME
    if configured:
        return configured
    name = str(live.settings_dict["NAME"])
    if live.vendor == "sqlite":
        digest = hashlib.blake2b(os.path.abspath(name).encode(), digest_size=4).hexdigest()
        stem = Path(name).stem or "memory"
        return str(Path(tempfile.gettempdir()) / f"{stem}_{SUFFIX}_{digest}.sqlite3")
    return f"{name}_{SUFFIX}"


def refusal(live: BaseDatabaseWrapper, name: str) -> str | None:
    """Why the rehearsal cannot create ``name`` beside ``live`` (None: it can)."""
    if live.vendor == "sqlite":
        directory = Path(name).parent
        if not directory.is_dir() or not os.access(directory, os.W_OK):
            return (
                f"The scratch database {name!r} cannot be created: its directory is missing "
                "or not writable. Set MIGRATION_OPS['REHEARSAL_DATABASE_NAME'] to a file in "
                "a writable directory, or pass an empty database's alias with "
                "--scratch-database."
            )
        return None
    if str(live.settings_dict["NAME"]) == name:
        return (
            f"The scratch database name {name!r} is the live database's; set "
            "MIGRATION_OPS['REHEARSAL_DATABASE_NAME'] to another name."
        )
    missing = get_introspector(live).missing_database_privileges(name)
    if missing is None:
        return None
    return (
        f"The rehearsal needs a scratch database {name!r} on the server of database "
        f"{live.alias!r}, but its user cannot create one: {missing}. Grant the privilege, "
        "or create an empty database yourself, add it to DATABASES and pass its alias with "
        "--scratch-database."
    )


@contextmanager
def scratch_database(
    live: BaseDatabaseWrapper, *, alias: str | None = None, keep: bool = False
) -> Iterator[ScratchDatabase]:
    """A scratch database for ``live``, dropped (or emptied) on exit unless ``keep``."""
    if alias is not None:
        with _given_alias(live, alias, keep) as scratch:
            yield scratch
        return
    name = scratch_name(live)
    reason = refusal(live, name)
    if reason is not None:
        raise RehearsalRefused(reason)
    settings_dict = deepcopy(live.settings_dict)
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "NAME": name, "MIRROR": None}
    backend = load_backend(settings_dict["ENGINE"])
    # The live alias: routers must answer for the scratch copy as they do for the original.
    connection = backend.DatabaseWrapper(settings_dict, live.alias)
    leftover = _exists(live, name)
    if live.vendor == "sqlite":
        Path(name).unlink(missing_ok=True)
    else:
        name = connection.creation._create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        yield ScratchDatabase(connection, name, None, leftover_removed=leftover)
    finally:
        connection.close()
        if not keep:
            drop(connection, name)


def drop(connection: BaseDatabaseWrapper, name: str) -> None:
    if connection.vendor == "sqlite":
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
        return
    connection.creation._destroy_test_db(name, verbosity=0)


def _exists(live: BaseDatabaseWrapper, name: str) -> bool:
    if live.vendor == "sqlite":
        return Path(name).exists()
    return get_introspector(live).database_exists(name)


@contextmanager
def _given_alias(live: BaseDatabaseWrapper, alias: str, keep: bool) -> Iterator[ScratchDatabase]:
    if alias not in connections.settings:
        known = ", ".join(sorted(connections.settings))
        raise RehearsalRefused(
            f"Unknown scratch database alias {alias!r}; DATABASES defines: {known}. Add an "
            "empty database to DATABASES and pass its alias with --scratch-database."
        )
    given = connections[alias]
    if alias == live.alias or _same_database(given, live):
        raise RehearsalRefused(
            f"The scratch database {alias!r} is the database being planned for; pass the "
            "alias of another, empty database."
        )
    if given.vendor != live.vendor:
        raise RehearsalRefused(
            f"The scratch database {alias!r} is {given.vendor}, database {live.alias!r} is "
            f"{live.vendor}: a rehearsal needs the same backend."
        )
    # A separate connection under the live alias (routers), on the given database.
    settings_dict = deepcopy(given.settings_dict)
    connection = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, live.alias)
    existing = sorted(snapshot(connection).tables)
    if existing:
        connection.close()
        raise RehearsalRefused(
            f"The scratch database {alias!r} is not empty ({len(existing)} tables, e.g. "
            f"{existing[0]}); a rehearsal drops everything in it afterwards, so it must start "
            "empty."
        )
    try:
        yield ScratchDatabase(connection, str(settings_dict["NAME"]), alias)
    finally:
        if not keep:
            _empty(connection)
        connection.close()


def _empty(connection: BaseDatabaseWrapper) -> None:
    """Drop every table of the given scratch database (its foreign keys among themselves)."""
    tables = sorted(snapshot(connection).tables)
    if not tables:
        return
    quote = connection.ops.quote_name
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for table in tables:
                cursor.execute(f"DROP TABLE {quote(table)}")
        else:  # one statement drops tables that reference each other, without CASCADE
            cursor.execute(f"DROP TABLE {', '.join(quote(t) for t in tables)}")


def _same_database(a: BaseDatabaseWrapper, b: BaseDatabaseWrapper) -> bool:
    keys = ("ENGINE", "NAME", "HOST", "PORT")
    return all(a.settings_dict.get(k) == b.settings_dict.get(k) for k in keys)
