"""Dagster's SQLite storage, with steps that wait for a pool slot without burning a core,
and an event log that keeps its connections (`KeptConnections`).

A step whose pool is full asks for a slot again and again: Dagster's executors call
the storage's `claim_concurrency_slot` from their main loop and, between two asks,
loop without sleeping (`interval_to_next_pending_claim_check` never returns more than
0 in dagster 1.13), so a run waiting for a slot held by a long step keeps a core at
100 %. This storage paces the asking instead: a claim that is refused sleeps a moment
before answering and tells the executor to ask again at once, so the executor's loop
sleeps in the storage. It also says, once per step, which pool it waits for and who
holds it. Configured by dagster.yaml (`storage: custom:`), the documented hook for a
storage class; everything else is Dagster's own SQLite storage.

No public hook exists for this, so the classes below subclass Dagster's private storage
classes (the `dagster._` imports), written against `WRITTEN_FOR_DAGSTER`; pyproject.toml
pins Dagster to that minor version and test_packaging.py fails on any other, so an
upgrade is a decision: check these classes against the new release, then move both.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils.concurrency import ConcurrencyClaimStatus
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# The Dagster minor version these subclasses were written against (see the docstring).
WRITTEN_FOR_DAGSTER = "1.13"
# How long a refused claim waits before the executor asks again.
CLAIM_POLL_SECONDS = 0.5


class PatientClaims:
    """Mixed into an event log storage: refused claims sleep, and say what they wait for."""

    _announced: set[tuple[str, str]]

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        status = super().claim_concurrency_slot(  # type: ignore[misc]
            concurrency_key, run_id, step_key, priority
        )
        if status.is_claimed:
            return status
        announced = self.__dict__.setdefault("_announced", set())
        if (run_id, step_key) not in announced:
            announced.add((run_id, step_key))
            self._announce(
                run_id,
                step_key,
                f"{step_key}: waiting for a free slot of pool {concurrency_key!r} "
                f"({self._holders(concurrency_key)})",
            )
        time.sleep(CLAIM_POLL_SECONDS)
        return status.with_sleep_interval(0.0)

    def _announce(self, run_id: str, step_key: str, line: str) -> None:
        """On the terminal of the process running the run, and in the run's log (UI)."""
        print(line, file=sys.stderr, flush=True)
        instance = self._instance if self.has_instance else None  # type: ignore[attr-defined]
        if instance is None:
            return
        run = instance.get_run_by_id(run_id)
        if run is not None:
            instance.report_engine_event(line, run, step_key=step_key)

    def _holders(self, pool: str) -> str:
        info = self.get_concurrency_info(pool)  # type: ignore[attr-defined]
        held = [f"run {s.run_id} step {s.step_key}" for s in info.claimed_slots]
        return f"{info.slot_count} slot(s), held by " + (", ".join(held) or "nobody yet")


class KeptConnections:
    """Mixed into Dagster's SQLite event log: a connection per database file, kept open.

    Dagster opens, commits and closes a new SQLAlchemy engine for every event it stores
    (NullPool), each close a WAL checkpoint and each commit a flush to the disk: ~0.3 of
    an unchanged re-sync's CPU (py-spy). Here each of the last `KEPT_SHARDS` files keeps
    one connection (used under Dagster's own lock, one thread at a time) with WAL's
    "normal" sync, SQLite checkpoints every 1000 pages by itself, and a transaction that
    wrote touches the ``.db`` file: the UI's file watcher follows a run by that file,
    which a write into the WAL alone leaves unchanged. A killed process leaves at most a
    WAL not yet checkpointed, which the next connection replays.
    """

    KEPT_SHARDS = 4
    _db_lock: threading.Lock
    _initialized_dbs: set[str]

    @property
    def _kept(self) -> OrderedDict[str, Engine]:
        return self.__dict__.setdefault("_kept_engines", OrderedDict())

    def _kept_engine(self, shard: str) -> Engine:
        engine = self._kept.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),  # type: ignore[attr-defined]
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            # WAL's "normal" sync: a commit is not flushed to the disk by itself (a killed
            # process loses nothing; a power cut may lose the last events, never the file)
            event.listen(engine, "connect", _normal_sync)
            if shard not in self._initialized_dbs:
                self._initdb(engine)  # type: ignore[attr-defined]
                self._initialized_dbs.add(shard)
        self._kept[shard] = engine  # the most recently used last
        while len(self._kept) > self.KEPT_SHARDS:
            self._kept.popitem(last=False)[1].dispose()
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._kept_engine(shard).connect() as conn:
            raw = conn.connection.dbapi_connection
            before = raw.total_changes if raw is not None else 0
            with conn.begin():
                yield conn
            if raw is not None and raw.total_changes != before:
                with contextlib.suppress(OSError):  # the UI's watcher wakes on the file's time
                    os.utime(self.path_for_shard(shard))  # type: ignore[attr-defined]

    def _forget_connections(self) -> None:
        with self._db_lock:
            while self._kept:
                self._kept.popitem()[1].dispose()

    def wipe(self) -> None:
        self._forget_connections()  # the files go: no connection may write to them
        super().wipe()  # type: ignore[misc]

    def dispose(self) -> None:
        self._forget_connections()
        super().dispose()  # type: ignore[misc]


def _normal_sync(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PatientSqliteEventLogStorage(PatientClaims, KeptConnections, SqliteEventLogStorage):
    """Dagster's SQLite event log with paced slot claims and kept connections."""


class PatientSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage under `base_dir` (the same files), paced claims."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        from filelock import FileLock

        self.base_dir = base_dir
        # One process at a time creates the databases: `soundcloud-sync dev` and `add`
        # started together on a new home both stamped the schema version into one file
        # (alembic), which left two heads there and every later command failing.
        os.makedirs(base_dir, exist_ok=True)
        with FileLock(os.path.join(base_dir, ".storage-init.lock")):
            self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
            self._event_log_storage = PatientSqliteEventLogStorage(_event_logs_directory(base_dir))
            self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: dict
    ) -> PatientSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
