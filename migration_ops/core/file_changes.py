"""File changes with a journal: moves into a backup folder, new files, rewrites.

Used by ``reset_migrations`` to replace migration files. Before the first change, every
intended change (with the new files' text) is written to a manifest in the backup folder,
and a marker naming the manifest is put in each folder the changes touch, so that a later
run finds an interrupted one whatever ``--backup-dir`` it is given. Each change is atomic:
a file is written under a temporary name beside its target, then renamed over it; a move is
a rename (or, across file systems, a copy renamed into place before the original goes).

So at any moment each change is either done or not, and both :meth:`JournaledChanges.undo`
and :meth:`JournaledChanges.complete` can be run, again and again, from what is on disk:
they look at each file and do only what is missing. :meth:`JournaledChanges.finish`
removes the markers, then the manifest.

Python's import caches are cleared for the touched packages (:func:`forget_modules`) so
that the next ``MigrationLoader`` reads the files now on disk.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "reset-manifest.json"
MARKER = ".migration_ops_reset.json"  # not a module: the migration loader skips it
TEMPORARY = ".mo-tmp"


@dataclass(frozen=True)
class Move:
    source: Path
    target: Path  # inside the backup folder


@dataclass(frozen=True)
class Write:
    path: Path  # must not exist
    text: str


@dataclass(frozen=True)
class Rewrite:
    path: Path
    text: str
    copy: Path  # where the original goes, inside the backup folder


class JournalError(Exception):
    """A manifest that cannot be read, or a change that cannot be made or undone."""


@dataclass
class JournaledChanges:
    backup_dir: Path
    moves: tuple[Move, ...] = ()
    writes: tuple[Write, ...] = ()
    rewrites: tuple[Rewrite, ...] = ()
    # Whatever the caller needs to decide between undo and complete on a re-run.
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def manifest(self) -> Path:
        return self.backup_dir / MANIFEST

    @property
    def marker_dirs(self) -> tuple[Path, ...]:
        dirs = [m.source.parent for m in self.moves] + [w.path.parent for w in self.writes]
        dirs += [r.path.parent for r in self.rewrites]
        return tuple(dict.fromkeys(dirs))

    @property
    def started(self) -> bool:
        return self.manifest.exists()

    # The run --------------------------------------------------------------------------

    def begin(self) -> None:
        """Write the manifest, then the markers; nothing else is changed yet. Refuses when a
        target exists already: from then on, whatever is at a target is this run's."""
        if self.backup_dir.exists() and not self.backup_dir.is_dir():
            raise FileExistsError(f"{self.backup_dir} is a file, not a folder.")
        for path in [m.target for m in self.moves] + [w.path for w in self.writes]:
            if path.exists():
                raise FileExistsError(f"File {path} already exists.")
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.manifest, json.dumps(self._as_json(), indent=2) + "\n")
        for directory in self.marker_dirs:
            _write_atomically(directory / MARKER, json.dumps({"manifest": str(self.manifest)}))

    def apply(self) -> None:
        """Make every change, in order (each one atomic)."""
        for move in self.moves:
            _move(move.source, move.target)
        for write in self.writes:
            _write_atomically(write.path, write.text)
        for rewrite in self.rewrites:
            _copy_atomically(rewrite.path, rewrite.copy)
            _write_atomically(rewrite.path, rewrite.text)

    # After an interruption, or a failure -------------------------------------------

    def undo(self) -> list[str]:
        """Put every file back as it was, from what is on disk now; returns what could not be
        restored (normally nothing). Can be run again."""
        problems: list[str] = []
        for rewrite in reversed(self.rewrites):
            try:
                _remove_temporary(rewrite.path)
                if rewrite.copy.exists():
                    _copy_atomically(rewrite.copy, rewrite.path)
                    rewrite.copy.unlink()
                _remove_temporary(rewrite.copy)
            except OSError as exc:
                problems.append(f"could not restore {rewrite.path}: {exc}")
        for write in reversed(self.writes):
            try:
                _remove_temporary(write.path)
                write.path.unlink(missing_ok=True)
            except OSError as exc:
                problems.append(f"could not remove {write.path}: {exc}")
        for move in reversed(self.moves):
            try:
                _remove_temporary(move.target)
                if move.target.exists():
                    if move.source.exists():  # a copy across file systems, not finished
                        move.target.unlink()
                    else:
                        _move(move.target, move.source)
            except OSError as exc:
                problems.append(f"could not move {move.target} back to {move.source}: {exc}")
        # Folders of the backup that are empty again, deepest first (never the migrations').
        for directory in sorted(
            {m.target.parent for m in self.moves} | {r.copy.parent for r in self.rewrites},
            key=lambda p: len(p.parts),
            reverse=True,
        ):
            with suppress(OSError):
                directory.rmdir()
        return problems

    def complete(self) -> None:
        """Make the changes that are not made yet, from what is on disk now."""
        for move in self.moves:
            _remove_temporary(move.target)
            if move.source.exists() and move.target.exists():
                move.source.unlink()  # the copy across file systems was in place
            elif move.source.exists():
                _move(move.source, move.target)
        for write in self.writes:
            _remove_temporary(write.path)
            if not write.path.exists():
                _write_atomically(write.path, write.text)
        for rewrite in self.rewrites:
            _remove_temporary(rewrite.path)
            _remove_temporary(rewrite.copy)
            if not rewrite.copy.exists():
                _copy_atomically(rewrite.path, rewrite.copy)
            if rewrite.path.read_text(encoding="utf-8") != rewrite.text:
                _write_atomically(rewrite.path, rewrite.text)

    def finish(self, *, remove_backup_dir: bool = False) -> None:
        """Remove the markers, then the manifest (and the backup folder if asked and empty)."""
        for directory in self.marker_dirs:
            (directory / MARKER).unlink(missing_ok=True)
            _remove_temporary(directory / MARKER)
        self.manifest.unlink(missing_ok=True)
        _remove_temporary(self.manifest)
        if remove_backup_dir:
            with suppress(OSError):
                self.backup_dir.rmdir()

    # The manifest ----------------------------------------------------------------------

    def _as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "meta": dict(self.meta),
            "moves": [[str(m.source), str(m.target)] for m in self.moves],
            "writes": [[str(w.path), w.text] for w in self.writes],
            "rewrites": [[str(r.path), r.text, str(r.copy)] for r in self.rewrites],
        }

    @classmethod
    def load(cls, manifest: Path) -> JournaledChanges:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            return cls(
                backup_dir=manifest.parent,
                moves=tuple(Move(Path(s), Path(t)) for s, t in data["moves"]),
                writes=tuple(Write(Path(p), text) for p, text in data["writes"]),
                rewrites=tuple(Rewrite(Path(p), text, Path(c)) for p, text, c in data["rewrites"]),
                meta=data["meta"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"The manifest {manifest} cannot be read: {exc}") from exc


def find_manifests(directories: Iterable[Path], backup_dir: Path | None = None) -> list[Path]:
    """Manifests of interrupted runs: named by a marker in ``directories``, or in
    ``backup_dir``."""
    found: list[Path] = []
    for directory in directories:
        marker = directory / MARKER
        if marker.is_file():
            try:
                found.append(Path(json.loads(marker.read_text(encoding="utf-8"))["manifest"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
    if backup_dir is not None and (backup_dir / MANIFEST).is_file():
        found.append((backup_dir / MANIFEST).resolve())
    return list(dict.fromkeys(found))


def discard_unwritten_manifest(backup_dir: Path) -> None:
    """Remove the temporary manifest of a run killed before it wrote its manifest (nothing
    else was changed then), and the backup folder if that leaves it empty."""
    temporary = _temporary(backup_dir / MANIFEST)
    if temporary.is_file() and not (backup_dir / MANIFEST).exists():
        temporary.unlink()
        with suppress(OSError):
            backup_dir.rmdir()


def stale_markers(directories: Iterable[Path]) -> list[Path]:
    """Markers whose manifest is gone (a run interrupted while finishing)."""
    stale = []
    for directory in directories:
        marker = directory / MARKER
        if not marker.is_file():
            continue
        try:
            manifest = Path(json.loads(marker.read_text(encoding="utf-8"))["manifest"])
        except (OSError, ValueError, KeyError, TypeError):
            stale.append(marker)
            continue
        if not manifest.exists():
            stale.append(marker)
    return stale


# --------------------------------------------------------------------------- atomic steps


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMPORARY}")


def _remove_temporary(path: Path) -> None:
    _temporary(path).unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    _replace_with(path, text.encode("utf-8"))


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    _replace_with(target, source.read_bytes())


def _replace_with(path: Path, data: bytes) -> None:
    temporary = _temporary(path)
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another file system: a complete copy is renamed into place, then the original goes.
        temporary = _temporary(target)
        shutil.copy2(source, temporary)
        os.replace(temporary, target)
        source.unlink()


def forget_modules(packages: Iterable[str]) -> None:
    """Drop ``packages``' submodules from ``sys.modules`` and clear the finders' caches, so
    that the next import reads the files that are on disk now (a new file may have the
    name of a removed one, and directory listings are cached by modification time)."""
    prefixes = tuple(f"{package}." for package in packages)
    for name in [name for name in sys.modules if name.startswith(prefixes)]:
        del sys.modules[name]
    importlib.invalidate_caches()


__all__ = [
    "MANIFEST",
    "MARKER",
    "JournalError",
    "JournaledChanges",
    "Move",
    "Rewrite",
    "Write",
    "discard_unwritten_manifest",
    "find_manifests",
    "forget_modules",
    "stale_markers",
]
