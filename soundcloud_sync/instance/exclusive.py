"""One run per playlist at a time, for runs started from a terminal or a script.

The daemon's run queue keeps runs of one playlist apart (`tag_concurrency_limits` on
`dagster/partition` in dagster.yaml), but `execute_job` does not go through the queue.
So a CLI or API run first takes a lock file per playlist — the kernel releases it when
the process dies, however it dies — and then waits for any live run of the playlist
that the daemon or the UI started. Two runs never write the same tracks side by side.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from filelock import FileLock, Timeout

from .workers import reap_dead_runs

# How often a waiting run looks again; waiting sleeps, it never spins.
POLL_SECONDS = 1.0
ACTIVE = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def playlist_turn(
    instance: DagsterInstance,
    state_dir: Path,
    partition_key: str,
    say: Callable[[str], None] = say_on_stderr,
) -> Iterator[None]:
    """Hold this playlist's lock and wait until no other live run syncs it."""
    for line in reap_dead_runs(instance):
        say(line)
    lock = FileLock(_lock_path(state_dir, partition_key))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(f"{partition_key}: waiting for another soundcloud-sync process syncing it to finish")
        lock.acquire(poll_interval=POLL_SECONDS)
    try:
        _wait_for_live_runs(instance, partition_key, say)
        yield
    finally:
        lock.release()


def _lock_path(state_dir: Path, partition_key: str) -> Path:
    folder = state_dir / "run_locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{hashlib.sha1(partition_key.encode()).hexdigest()[:16]}.lock"


def _wait_for_live_runs(
    instance: DagsterInstance, partition_key: str, say: Callable[[str], None]
) -> None:
    """Wait for runs of the playlist that have a process (queued ones wait for us)."""
    announced: set[str] = set()
    while True:
        for line in reap_dead_runs(instance):
            say(line)
        runs = instance.get_runs(
            RunsFilter(statuses=ACTIVE, tags={"dagster/partition": partition_key})
        )
        if not runs:
            return
        for run in runs:
            if run.run_id not in announced:
                announced.add(run.run_id)
                say(
                    f"{partition_key}: waiting for run {run.run_id} "
                    f"({run.status.value}) of this playlist to finish"
                )
        time.sleep(POLL_SECONDS)
