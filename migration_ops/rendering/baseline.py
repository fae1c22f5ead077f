"""How ``plan_upgrade`` reports what its baseline left out, in text and in JSON."""

from __future__ import annotations

from typing import Any

from migration_ops.services.baseline import BaselineOutcome
from migration_ops.text import count


def baseline_to_json(outcome: BaselineOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "file": outcome.path,
        "written": outcome.written,
        "baselined": len(outcome.baselined),
        "gone": [key.as_dict() for key in outcome.gone],
    }


def baseline_summary(outcome: BaselineOutcome) -> list[str]:
    """The sentences the text report shows under its findings."""
    path = outcome.path
    if outcome.written:
        return [
            f"Wrote {count(len(outcome.baselined), 'finding')} to the baseline {path}; "
            f"--baseline {path} reports only new ones."
        ]
    known = len(outcome.baselined)
    lines = [
        f"{count(known, 'known finding')} {'is' if known == 1 else 'are'} in the baseline "
        f"{path} and not shown."
    ]
    if outcome.gone:
        gone = len(outcome.gone)
        lines.append(
            f"{count(gone, 'finding')} of the baseline {'is' if gone == 1 else 'are'} gone "
            f"({', '.join(map(str, outcome.gone))}); write it again with "
            f"--write-baseline {path}."
        )
    return lines
