"""The package's settings: one ``MIGRATION_OPS`` dict, read here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Glob patterns of tables that belong to no Django app (a job scheduler's own
    # tables, say): never reported, never touched.
    "IGNORED_TABLES": (),
    # An ALTER of a table at least this large (approximate rows, or bytes of data and
    # indexes, from the catalogue) is classed "long-lock" by plan_upgrade.
    "LONG_LOCK_ROWS": 1_000_000,
    "LONG_LOCK_BYTES": 1024**3,
    # plan_upgrade --rehearse: the scratch database's name on PostgreSQL/MySQL (default:
    # the live name + "_rehearsal"), or its file on SQLite (default: in the temp directory).
    "REHEARSAL_DATABASE_NAME": None,
}


class Settings:
    """Attribute access to ``settings.MIGRATION_OPS`` with the defaults filled in.

    Read lazily on every access so that ``override_settings`` works in tests.
    """

    @property
    def raw(self) -> dict[str, Any]:
        value = getattr(settings, "MIGRATION_OPS", {})
        return value if isinstance(value, dict) else {}

    def _get(self, name: str) -> Any:
        return self.raw.get(name, DEFAULTS[name])

    @property
    def IGNORED_TABLES(self) -> Sequence[str]:
        return tuple(self._get("IGNORED_TABLES"))

    @property
    def LONG_LOCK_ROWS(self) -> int:
        return int(self._get("LONG_LOCK_ROWS"))

    @property
    def LONG_LOCK_BYTES(self) -> int:
        return int(self._get("LONG_LOCK_BYTES"))

    @property
    def REHEARSAL_DATABASE_NAME(self) -> str | None:
        value = self._get("REHEARSAL_DATABASE_NAME")
        return str(value) if value else None

    def is_ignored_table(self, table: str) -> bool:
        return any(fnmatchcase(table, pattern) for pattern in self.IGNORED_TABLES)


conf = Settings()
