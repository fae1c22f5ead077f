"""GitHub Actions workflow commands (``::error file=…,line=…,title=…::message``).

Escaping follows the Actions toolkit (``@actions/core``, ``command.ts``): in the message ``%``,
``\\r`` and ``\\n``; in property values also ``:`` and ``,``.
"""

from __future__ import annotations

from collections.abc import Iterable

from migration_ops.services.annotations import Annotation


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(annotation: Annotation) -> str:
    properties = []
    if annotation.file is not None:
        properties.append(("file", annotation.file))
        if annotation.line is not None:
            properties.append(("line", str(annotation.line)))
    properties.append(("title", annotation.title))
    joined = ",".join(f"{name}={escape_property(value)}" for name, value in properties)
    return f"::{annotation.level} {joined}::{escape_data(annotation.message)}"


def render_github(annotations: Iterable[Annotation]) -> str:
    return "\n".join(workflow_command(annotation) for annotation in annotations)
