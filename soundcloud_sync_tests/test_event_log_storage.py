"""The event log keeps a connection per run database (`instance.storage.KeptConnections`):
what one process writes, another reads at once and the UI's file watcher is woken by,
and a process killed in the middle of a run loses none of the events it stored."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from dagster import EventLogEntry

from soundcloud_sync.instance.storage import PatientSqliteStorage

RUN_ID = "0123abcd-0000-0000-0000-000000000000"

WRITER = """
import os, sys, time
from dagster import EventLogEntry
from soundcloud_sync.instance.storage import PatientSqliteStorage
storage = PatientSqliteStorage(sys.argv[1]).event_log_storage
for i in range(int(sys.argv[3])):
    storage.store_event(EventLogEntry(
        error_info=None, level="INFO", user_message=f"event {i}", run_id=sys.argv[2],
        timestamp=time.time(), dagster_event=None))
print("stored", flush=True)
if sys.argv[4] == "kill":
    os.kill(os.getpid(), 9)  # no close, no checkpoint: what a kill -9 leaves
"""


def _store(storage, n: int) -> None:
    for i in range(n):
        storage.store_event(
            EventLogEntry(
                error_info=None, level="INFO", user_message=f"mine {i}", run_id=RUN_ID,
                timestamp=time.time(), dagster_event=None,
            )
        )  # fmt: skip


def test_another_process_reads_and_watches_what_a_kept_connection_writes(tmp_path: Path) -> None:
    reader = PatientSqliteStorage(str(tmp_path)).event_log_storage
    _store(reader, 1)  # the run's database exists, as when a run starts
    seen: list[str] = []
    woken = threading.Event()

    def on_event(entry: EventLogEntry, cursor: str) -> None:
        seen.append(entry.user_message)
        if len(seen) == 1 + 20:
            woken.set()

    reader.watch(RUN_ID, None, on_event)
    try:
        wrote = subprocess.run(
            [sys.executable, "-c", WRITER, str(tmp_path), RUN_ID, "20", "exit"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert wrote.returncode == 0, wrote.stderr
        assert woken.wait(30), f"the watcher saw {len(seen)} of 21 events"
    finally:
        reader.end_watch(RUN_ID, on_event)
        reader.dispose()
    assert seen == ["mine 0", *(f"event {i}" for i in range(20))]


def test_a_killed_writer_loses_no_stored_event(tmp_path: Path) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), RUN_ID, "30", "kill"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -9 and "stored" in killed.stdout
    storage = PatientSqliteStorage(str(tmp_path)).event_log_storage
    try:
        records = storage.get_records_for_run(RUN_ID).records
        assert [r.event_log_entry.user_message for r in records] == [
            f"event {i}" for i in range(30)
        ]
        _store(storage, 1)  # and the database takes more
        assert len(storage.get_records_for_run(RUN_ID).records) == 31
    finally:
        storage.dispose()
