"""Every database alias on the scratch connection while a rehearsal runs.

Giving the executor the scratch connection is not enough: a ``RunPython`` that uses
``Model.objects`` goes through the routers to an alias (``default``), the executor's own
``atomic()`` blocks and the recorder look connections up by alias, and so does any code a
migration calls. So, for the duration of the block and in this thread, ``connections[alias]``
is the scratch connection for *every* alias of ``DATABASES``: the live databases are
unreachable by name, and the rehearsal holds them only by reference, to read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import connections

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class LiveDatabaseReached(Exception):
    """Code run by the rehearsal used a live connection it held from before (a reference
    cached at import time, say); the statement was refused before it reached the server."""


class Isolation:
    def __init__(self, live: list[BaseDatabaseWrapper]) -> None:
        self.live = live

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Refuse every statement on the live connections (held elsewhere) in the block."""

        def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            raise LiveDatabaseReached(
                f"The rehearsal reached the live database {context['connection'].alias!r} "
                f"through a connection held from before it started; refused: {sql[:80]}"
            )

        with ExitStack() as stack:
            for connection in self.live:
                stack.enter_context(connection.execute_wrapper(refuse))
            yield


@contextmanager
def every_alias_on(scratch: BaseDatabaseWrapper) -> Iterator[Isolation]:
    local = connections._connections  # the thread's connections, as ``connections[...]`` sets
    saved = {alias: getattr(local, alias, None) for alias in connections.settings}
    for alias in saved:
        connections[alias] = scratch
    live = list({id(c): c for c in saved.values() if c is not None}.values())
    try:
        yield Isolation(live)
    finally:
        for alias, connection in saved.items():
            if connection is None:
                del connections[alias]
            else:
                connections[alias] = connection
        _forget_cached_rows()


def _forget_cached_rows() -> None:
    """Caches keyed by alias hold rows of the scratch database now (content types)."""
    if apps.is_installed("django.contrib.contenttypes"):
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()
