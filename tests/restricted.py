"""Real database users with only some privileges, on the live test server (MySQL/MariaDB
and PostgreSQL), for the refusals that privileges decide."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend


def grantee(user: str) -> str:
    """``user`` as GRANT statements name it."""
    return user if connection.vendor == "postgresql" else f"'{user}'@'%'"


@contextmanager
def restricted_user(user: str, grants: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """A new user ``user`` of the live server whose only privileges are ``grants``
    (statements; ``{user}`` and ``{database}`` stand for the grantee and the quoted test
    database); yields the test database's settings with that user. Users are server-wide:
    give each test run's user a name of its own."""
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP ROLE IF EXISTS {user}")
            cursor.execute(f"CREATE ROLE {user} LOGIN NOCREATEDB")
        else:
            cursor.execute(f"DROP USER IF EXISTS {grantee(user)}")
            cursor.execute(f"CREATE USER {grantee(user)}")
        for grant in grants:
            cursor.execute(grant.format(user=grantee(user), database=database))
    try:
        yield {**connection.settings_dict, "USER": user, "PASSWORD": ""}
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Its privileges (and anything it created) in this database, then the role.
                cursor.execute(f"DROP OWNED BY {user}")
                cursor.execute(f"DROP ROLE {user}")
            else:
                cursor.execute(f"DROP USER {grantee(user)}")


@contextmanager
def restricted_alias(alias: str, settings_dict: dict[str, Any]) -> Iterator[str]:
    """``alias`` in DATABASES for the duration of the block, with ``settings_dict``."""
    connections.settings[alias] = settings_dict
    # Connected here: Django's test cases refuse to connect an alias their databases do not
    # name, and a test can only name the aliases that exist before it starts.
    connections[alias].connect()
    try:
        yield alias
    finally:
        if alias in connections:
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


@contextmanager
def low_privilege_connection() -> Iterator[BaseDatabaseWrapper]:
    """A connection to the live test database as a user that may only read it."""
    grants = {
        "postgresql": ["GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}"],
        "mysql": ["GRANT SELECT ON {database}.* TO {user}"],
    }[connection.vendor]
    with restricted_user("rehearse_lowpriv", grants) as settings_dict:
        # Not in DATABASES: a connection made on the fly, under its own alias.
        lowpriv = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "lowpriv")
        try:
            yield lowpriv
        finally:
            lowpriv.close()
