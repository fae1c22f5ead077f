"""Wording shared by the plan's sentences."""

from __future__ import annotations

from collections.abc import Sequence


def quoted(labels: Sequence[str]) -> str:
    return join([f"'{label}'" for label in labels])


def join(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
