"""Showing a run's progress in a terminal: a bar per stage, or plain lines."""

from __future__ import annotations

import io
import os
import sys
import threading
from types import TracebackType
from typing import TextIO

from dagster import DagsterEventType, EventLogEntry
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .steps.progress import parse_progress

_STEP_EVENTS = {
    DagsterEventType.STEP_START: "started",
    DagsterEventType.STEP_SUCCESS: "done",
    DagsterEventType.STEP_FAILURE: "failed",
    DagsterEventType.STEP_SKIPPED: "skipped",
}


def _terminal_now() -> TextIO:
    """A stream on what stderr points at now (itself when it has no file descriptor)."""
    try:
        return os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    except (OSError, ValueError, io.UnsupportedOperation):
        return sys.stderr


class RunProgress:
    """Feeds on a run's event log entries (see `runs.run_sync(on_event=…)`)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        # The terminal as it is now: a run whose steps execute in this process sends
        # fds 1 and 2 to its log files meanwhile, and the progress must not go there.
        self._out = _terminal_now()
        self._lock = threading.Lock()
        self._bars: dict[str, TaskID] = {}
        self._progress = (
            Progress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=False,
                console=Console(file=self._out),
            )
            if enabled
            else None
        )

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._out is not sys.stderr:
            self._out.close()

    def on_event(self, entry: EventLogEntry) -> None:
        with self._lock:
            if entry.dagster_event is None:
                parsed = parse_progress(entry.user_message or "")
                if parsed:
                    self._advance(*parsed)
                return
            state = _STEP_EVENTS.get(entry.dagster_event.event_type)
            if state and self._progress is None:
                print(f"{entry.step_key}: {state}", file=self._out, flush=True)

    def _advance(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            if done == total or done % max(1, total // 10) == 0:
                print(f"{stage}: {done}/{total}", file=self._out, flush=True)
            return
        if stage not in self._bars:
            self._bars[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(self._bars[stage], completed=done, total=total)
