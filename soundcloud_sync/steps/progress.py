"""Progress lines: what a step logs so a terminal can draw a bar per stage."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
PROGRESS_PREFIX = "progress:"


def progress_message(stage: str, done: int, total: int) -> str:
    """The log line a step emits so a terminal can draw a bar per stage."""
    return f"{PROGRESS_PREFIX} {stage} {done}/{total}"


def parse_progress(message: str) -> tuple[str, int, int] | None:
    """The stage and counts of a progress line, or None for any other line."""
    if not message.startswith(PROGRESS_PREFIX):
        return None
    try:
        stage, counts = message[len(PROGRESS_PREFIX) :].split()
        done, total = counts.split("/")
        return stage, int(done), int(total)
    except ValueError:
        return None
