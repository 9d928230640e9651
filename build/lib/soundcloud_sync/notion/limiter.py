"""One request budget for every thread and process that talks to Notion.

Notion allows an average of about 3 requests per second per integration. Two
Dagster runs (processes) syncing at once must share that budget, so the bucket's
state lives in a small SQLite file under ``SOUNDCLOUD_SYNC_HOME``; every request
reserves a slot in one short ``BEGIN IMMEDIATE`` transaction (SQLite's file lock is
the cross-process mutex) and then sleeps until its slot outside the lock.

The algorithm is GCRA (a token bucket expressed as a "theoretical arrival time"):
slots are handed out at ``1/rate`` intervals, ``burst`` of them may be taken at
once after an idle spell. A 429 anywhere moves the shared pause mark, and every
worker of every process waits for it before its next request.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from ..sqlite_wal import enable_wal

_INSTANCES: dict[tuple[str, str], SharedRateLimiter] = {}
_INSTANCES_LOCK = threading.Lock()


class SharedRateLimiter:
    """Rate limiter shared by threads (always) and processes (when given a state dir).

    ``state_dir=None`` keeps the state in memory: threads of this process share it,
    other processes do not.
    """

    def __init__(
        self,
        requests_per_second: float = 3.0,
        state_dir: str | Path | None = None,
        *,
        burst: float = 1.0,
        name: str = "notion",
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second}")
        self.rate = float(requests_per_second)
        self.burst = max(1.0, float(burst))
        self.name = name
        self.path = Path(state_dir) / "notion_rate_limit.sqlite" if state_dir else None
        self._lock = threading.Lock()
        self._local = threading.local()
        # in-memory state (used when path is None)
        self._tat = 0.0
        self._paused_until = 0.0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute(
                "CREATE TABLE IF NOT EXISTS bucket ("
                " name TEXT PRIMARY KEY, tat REAL NOT NULL, paused_until REAL NOT NULL)"
            )
            conn.execute(
                "INSERT OR IGNORE INTO bucket (name, tat, paused_until) VALUES (?, 0, 0)",
                (name,),
            )

    @classmethod
    def shared(
        cls,
        requests_per_second: float = 3.0,
        state_dir: str | Path | None = None,
        *,
        burst: float = 1.0,
        name: str = "notion",
    ) -> SharedRateLimiter:
        """The process-wide instance for this state dir and name (created on first use)."""
        key = (str(Path(state_dir).resolve()) if state_dir else "", name)
        with _INSTANCES_LOCK:
            limiter = _INSTANCES.get(key)
            if limiter is None or limiter.rate != requests_per_second:
                limiter = cls(requests_per_second, state_dir, burst=burst, name=name)
                _INSTANCES[key] = limiter
            return limiter

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"SharedRateLimiter({self.rate:g}/s, burst={self.burst:g}, {where})"

    # -- public -------------------------------------------------------------------

    def acquire(self) -> float:
        """Block until this caller may send one request; return the seconds waited."""
        waited = 0.0
        while True:
            now = time.time()
            slot = self._reserve(now)
            delay = slot - now
            if delay > 0:
                time.sleep(delay)
                waited += delay
            # a 429 seen by someone else while we slept moves the pause mark: honour it
            if self._paused_until_now() <= time.time():
                return waited

    def pause(self, seconds: float) -> None:
        """Stop every worker (all processes sharing the state) for ``seconds``."""
        until = time.time() + max(0.0, seconds)
        if self.path is None:
            with self._lock:
                self._paused_until = max(self._paused_until, until)
                self._tat = max(self._tat, self._paused_until)
            return
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "UPDATE bucket SET paused_until = MAX(paused_until, ?),"
                " tat = MAX(tat, MAX(paused_until, ?)) WHERE name = ?",
                (until, until, self.name),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def paused_until(self) -> float:
        return self._paused_until_now()

    # -- internals ----------------------------------------------------------------

    def _next(self, tat: float, paused_until: float, now: float) -> tuple[float, float]:
        interval = 1.0 / self.rate
        tolerance = (self.burst - 1.0) * interval
        slot = max(now, paused_until, tat - tolerance)
        return slot, max(tat, slot) + interval

    def _reserve(self, now: float) -> float:
        if self.path is None:
            with self._lock:
                slot, self._tat = self._next(self._tat, self._paused_until, now)
                return slot
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            tat, paused_until = conn.execute(
                "SELECT tat, paused_until FROM bucket WHERE name = ?", (self.name,)
            ).fetchone()
            slot, new_tat = self._next(tat, paused_until, now)
            conn.execute("UPDATE bucket SET tat = ? WHERE name = ?", (new_tat, self.name))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return slot

    def _paused_until_now(self) -> float:
        if self.path is None:
            return self._paused_until
        row = (
            self._conn()
            .execute("SELECT paused_until FROM bucket WHERE name = ?", (self.name,))
            .fetchone()
        )
        return float(row[0])

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        enable_wal(conn)
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    def _conn(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections are not thread-safe)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()  # never reuse a connection inherited through fork
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn
