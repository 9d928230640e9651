"""Switching a SQLite file shared by several processes to WAL, safely.

The switch needs a moment of exclusive access, and SQLite answers ``database is
locked`` at once instead of waiting (the busy timeout does not cover it) when another
process opens the same new file at that instant: two runs starting together on a
fresh home failed that way. WAL is a property of the file, so it is set once and
then only read; a busy answer is retried for a bounded time.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

WAL_SWITCH_SECONDS = 30.0


def enable_wal(conn: Any, timeout: float = WAL_SWITCH_SECONDS) -> None:
    """Put the file of a DB-API sqlite3 connection in WAL mode (no-op when it is)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            cursor = conn.cursor()
            try:
                if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    cursor.execute("PRAGMA journal_mode=WAL")
            finally:
                cursor.close()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
