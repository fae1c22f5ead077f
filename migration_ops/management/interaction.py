"""What the commands share about people: the confirmation prompt and Ctrl-C.

Exit codes: 2 when the prompt cannot be asked (standard input closed), 130 (128 + SIGINT, as
shells report a Ctrl-C) when the user interrupts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

INTERRUPTED = 130


def confirm(command: BaseCommand, question: str) -> bool:
    """Ask ``question``; True for "yes". Refuses when there is nobody to ask."""
    try:
        answer = input(question)
    except EOFError:
        command.stdout.write("")
        raise CommandError(
            "Standard input is closed, so the confirmation cannot be asked; nothing was "
            "changed. Pass --noinput to run without it (as a deploy script must).",
            returncode=2,
        ) from None
    except KeyboardInterrupt:
        command.stdout.write("")
        raise CommandError(
            "Cancelled at the prompt (Ctrl-C); nothing was changed.", returncode=INTERRUPTED
        ) from None
    return answer.strip().lower() == "yes"


def interrupted(error: BaseException | None) -> bool:
    """Whether ``error`` is a Ctrl-C, or an error raised while handling one (on PostgreSQL,
    leaving a transaction block that a Ctrl-C broke raises "can't change 'autocommit' now")."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def interruptible(stage: str) -> Iterator[None]:
    """A Ctrl-C inside the block, before anything changes, ends the command with exit 130
    and says so; ``stage`` says what it was doing ("planning")."""
    try:
        yield
    except KeyboardInterrupt:
        raise CommandError(
            f"Interrupted (Ctrl-C) while {stage}; nothing was changed.", returncode=INTERRUPTED
        ) from None
