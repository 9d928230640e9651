"""Machine-wide locks and a register of the pages we created, under SOUNDCLOUD_SYNC_HOME.

Two runs syncing playlists that share a track could both look it up, both find
nothing and both create it; and two runs adding different playlists to one track
could each replace its relation list without the other's playlist (relation writes
replace the whole list). Striped file locks serialise those read-then-write steps
across the threads and processes of one machine; the register tells a run that
another one has just created the page it was about to create.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from ..sqlite_wal import enable_wal

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: thread locks only
    fcntl = None  # type: ignore[assignment]

STRIPES = 64


class MachineLocks:
    def __init__(self, state_dir: str | Path | None) -> None:
        self.dir = Path(state_dir) / "notion_locks" if state_dir else None
        self._thread_locks: dict[tuple[str, int], threading.Lock] = {}
        self._local = threading.local()
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._db().execute(
                "CREATE TABLE IF NOT EXISTS created (data_source TEXT, soundcloud_id TEXT,"
                " page_id TEXT NOT NULL, PRIMARY KEY (data_source, soundcloud_id))"
            )
        self._memory: dict[tuple[str, str], str] = {}

    @staticmethod
    def _stripe(key: str) -> int:
        return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % STRIPES

    @contextlib.contextmanager
    def hold(self, namespace: str, key: str) -> Iterator[None]:
        """Exclusive section for ``key`` among all threads and processes of this machine.

        Namespaces have their own stripes, so holding a "create" lock while taking a
        "page" lock (always in that order) can never wait on itself."""
        stripe = self._stripe(key)
        with self._thread_locks.setdefault((namespace, stripe), threading.Lock()):
            if self.dir is None or fcntl is None:
                yield
                return
            with open(self.dir / f"{namespace}-{stripe:02d}.lock", "a+") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- register of created pages ------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            assert self.dir is not None
            conn = sqlite3.connect(self.dir / "created.sqlite", timeout=60, isolation_level=None)
            enable_wal(conn)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def created_page(self, data_source: str, soundcloud_id: object) -> str | None:
        if self.dir is None:
            return self._memory.get((data_source, str(soundcloud_id)))
        row = (
            self._db()
            .execute(
                "SELECT page_id FROM created WHERE data_source = ? AND soundcloud_id = ?",
                (data_source, str(soundcloud_id)),
            )
            .fetchone()
        )
        return row[0] if row else None

    def record_created(self, data_source: str, soundcloud_id: object, page_id: str) -> None:
        if self.dir is None:
            self._memory[(data_source, str(soundcloud_id))] = page_id
            return
        self._db().execute(
            "INSERT OR REPLACE INTO created (data_source, soundcloud_id, page_id) VALUES (?, ?, ?)",
            (data_source, str(soundcloud_id), page_id),
        )

    def forget_created(self, data_source: str, soundcloud_id: object) -> None:
        if self.dir is None:
            self._memory.pop((data_source, str(soundcloud_id)), None)
            return
        self._db().execute(
            "DELETE FROM created WHERE data_source = ? AND soundcloud_id = ?",
            (data_source, str(soundcloud_id)),
        )
