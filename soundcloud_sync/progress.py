"""Showing a run's progress in a terminal: a bar per stage, or plain lines."""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from dagster import DagsterEventType
from dagster._core.events.log import EventLogEntry
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .pipeline import parse_progress

_STEP_EVENTS = {
    DagsterEventType.STEP_START: "started",
    DagsterEventType.STEP_SUCCESS: "done",
    DagsterEventType.STEP_FAILURE: "failed",
    DagsterEventType.STEP_SKIPPED: "skipped",
}


class RunProgress:
    """Feeds on a run's event log entries (see `runs.run_sync(on_event=…)`)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._bars: dict[str, TaskID] = {}
        self._progress = (
            Progress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=False,
                console=None,
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

    def on_event(self, entry: EventLogEntry) -> None:
        with self._lock:
            if entry.dagster_event is None:
                parsed = parse_progress(entry.user_message or "")
                if parsed:
                    self._advance(*parsed)
                return
            state = _STEP_EVENTS.get(entry.dagster_event.event_type)
            if state and self._progress is None:
                print(f"{entry.step_key}: {state}", file=sys.stderr, flush=True)

    def _advance(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            if done == total or done % max(1, total // 10) == 0:
                print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)
            return
        if stage not in self._bars:
            self._bars[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(self._bars[stage], completed=done, total=total)
