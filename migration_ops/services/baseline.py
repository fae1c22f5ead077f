"""Baselines of ``plan_upgrade`` findings: known findings, acknowledged in a file.

A finding's key is its kind, its subject and, where one subject can have several, the
difference (a schema drift's kind and column, a conflict's leaves). Nothing volatile goes
into a key (counts, row estimates, the database alias in messages, the report's order), so
the same problems give the same keys on every run and every environment.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from migration_ops.exceptions import BadBaseline
from migration_ops.services.findings import Finding
from migration_ops.services.upgrade import UpgradePlan

BASELINE_VERSION = 1
GENERATOR = "django-migration-ops plan_upgrade --write-baseline"

# Drift kinds whose subject alone does not say what differs: the two sides do.
_SIDED_DRIFT = frozenset(
    {
        "column-type",
        "column-null",
        "primary-key",
        "missing-foreign-key",
        "extra-foreign-key",
        "foreign-key-on-delete",
    }
)


@dataclass(frozen=True, order=True)
class BaselineKey:
    kind: str
    subject: str
    difference: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "difference": self.difference}

    def __str__(self) -> str:
        return " ".join(part for part in (self.kind, self.subject, self.difference) if part)


@dataclass(frozen=True)
class BaselineOutcome:
    """What a baseline did to a plan's findings."""

    path: str
    written: bool  # --write-baseline: the file was just written from these findings
    baselined: tuple[Finding, ...]  # findings of the plan that the baseline knows
    gone: tuple[BaselineKey, ...]  # keys of the baseline that no finding has any more


def finding_key(finding: Finding) -> BaselineKey:
    detail = finding.detail
    difference = ""
    if finding.kind == "schema-drift":
        difference = f"{detail.get('difference', '')} {detail.get('subject', '')}".strip()
        if detail.get("difference") in _SIDED_DRIFT:
            difference += f": expected {detail.get('expected')}, actual {detail.get('actual')}"
    elif finding.kind == "conflict":
        difference = ", ".join(sorted(detail.get("leaves", ())))
    return BaselineKey(finding.kind, finding.subject or finding.app_label or "", difference)


def read_baseline(path: str) -> frozenset[BaselineKey]:
    """The keys recorded in the baseline file ``path``; ``BadBaseline`` if it is not one."""
    again = f"write it again with `plan_upgrade --write-baseline {path}`"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadBaseline(
            f"Baseline file {path!r} does not exist; create it with "
            f"`plan_upgrade --write-baseline {path}`."
        ) from None
    except UnicodeDecodeError as exc:
        raise BadBaseline(f"Baseline file {path!r} is not valid JSON ({exc}); {again}.") from None
    except OSError as exc:
        raise BadBaseline(f"Cannot read baseline file {path!r}: {exc}.") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BadBaseline(f"Baseline file {path!r} is not valid JSON ({exc}); {again}.") from None
    problem, keys = _parse(document)
    if problem:
        raise BadBaseline(
            f"Baseline file {path!r} is not a plan_upgrade baseline: {problem}; {again}."
        )
    return keys


def _parse(document: Any) -> tuple[str | None, frozenset[BaselineKey]]:
    if not isinstance(document, dict):
        return "the document is not an object", frozenset()
    if "schema_version" not in document:
        return "schema_version is missing", frozenset()
    if document["schema_version"] != BASELINE_VERSION:
        return (
            f"schema_version is {json.dumps(document['schema_version'])}, "
            f"expected {BASELINE_VERSION}",
            frozenset(),
        )
    entries = document.get("findings")
    if not isinstance(entries, list):
        return "findings is not a list", frozenset()
    keys = set()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            return f"finding {number} is not an object", frozenset()
        for name in ("kind", "subject", "difference"):
            if not isinstance(entry.get(name), str):
                return f"finding {number} has no string {name!r}", frozenset()
        keys.add(BaselineKey(entry["kind"], entry["subject"], entry["difference"]))
    return None, frozenset(keys)


def write_baseline(path: str, findings: Iterable[Finding]) -> frozenset[BaselineKey]:
    """Record ``findings`` in the file ``path`` (replaced whole, never half written)."""
    messages: dict[BaselineKey, str] = {}
    for finding in findings:
        messages.setdefault(finding_key(finding), finding.message)
    document = {
        "schema_version": BASELINE_VERSION,
        "generator": GENERATOR,
        "findings": [{**key.as_dict(), "message": messages[key]} for key in sorted(messages)],
    }
    target = Path(path)
    try:
        # A temporary file beside the target, then a rename: readers never see half a file.
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise BadBaseline(f"Cannot write baseline file {path!r}: {exc}.") from None
    return frozenset(messages)


def apply_baseline(
    plan: UpgradePlan, keys: frozenset[BaselineKey], path: str, *, written: bool = False
) -> tuple[UpgradePlan, BaselineOutcome]:
    """``plan`` with only the findings ``keys`` does not know, and what was left out."""
    new, known = [], []
    for finding in plan.findings:
        (known if finding_key(finding) in keys else new).append(finding)
    found = {finding_key(finding) for finding in plan.findings}
    outcome = BaselineOutcome(
        path=path,
        written=written,
        baselined=tuple(known),
        gone=tuple(sorted(keys - found)),
    )
    return replace(plan, findings=tuple(new)), outcome
