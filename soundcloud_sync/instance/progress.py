"""A run's progress as run tags: what a step writes and `soundcloud-sync status` reads.

A step reports each stage as a tag `soundcloud_sync/progress/<stage>` = "n/m" on its
run; the UI shows the tags on the run's page, and `runs.status` reads them back for a
person watching a long backfill. Writing and reading the tag live here together, below
both the assets that write it and the commands that read it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from dagster import DagsterInstance

PROGRESS_TAG_PREFIX = "soundcloud_sync/progress/"
# A stage's tag is written at most this often (its last count always): a tag is a write
# to the run storage, a track a few of them.
MIN_TAG_INTERVAL_S = 1.0


class ProgressTags:
    """Writes a run's progress tags, throttled per stage (one per step thread)."""

    def __init__(self, instance: DagsterInstance, run_id: str) -> None:
        self._instance, self._run_id = instance, run_id
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        with self._lock:
            if done < total and now - self._last.get(stage, -1e9) < MIN_TAG_INTERVAL_S:
                return
            self._last[stage] = now
        self._instance.add_run_tags(self._run_id, {PROGRESS_TAG_PREFIX + stage: f"{done}/{total}"})


def progress_of(tags: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """Each stage's (n, m) from a run's tags; a tag that does not read as "n/m" is left out."""
    out = {}
    for name, value in tags.items():
        if name.startswith(PROGRESS_TAG_PREFIX):
            try:
                done, total = (int(x) for x in value.split("/"))
            except ValueError:
                continue
            out[name[len(PROGRESS_TAG_PREFIX) :]] = (done, total)
    return out
