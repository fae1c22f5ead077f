"""The row files of a backup: one JSON array per row, one row per line (JSON Lines), with
the values JSON cannot hold tagged (the tags are listed in :mod:`.backup`)."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from migration_ops.exceptions import MigrationOpsError


class BackupError(MigrationOpsError):
    """A backup cannot be written or restored; nothing was changed."""


def read_rows(path: Path) -> Iterator[list[Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield [decode(v) for v in json.loads(line)]


def file_name_part(table: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", table)[:100]


def encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"time": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {"timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (dict, list)):
        return {"json": json.dumps(value)}
    raise BackupError(f"Cannot back up a value of type {type(value).__name__}: {value!r}.")


def decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, data),) = value.items()
    if tag == "decimal":
        return decimal.Decimal(data)
    if tag == "datetime":
        return datetime.datetime.fromisoformat(data)
    if tag == "date":
        return datetime.date.fromisoformat(data)
    if tag == "time":
        return datetime.time.fromisoformat(data)
    if tag == "timedelta":
        return datetime.timedelta(days=data[0], seconds=data[1], microseconds=data[2])
    if tag == "uuid":
        return uuid.UUID(data)
    if tag == "bytes":
        return base64.b64decode(data)
    if tag == "json":
        return data
    raise BackupError(f"Unknown value tag {tag!r} in the backup.")
