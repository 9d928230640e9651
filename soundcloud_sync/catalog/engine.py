"""Opening a catalog: one SQLAlchemy engine per URL per process, its schema migrated once.

Two processes may open a new catalog at the same moment (the UI and a CLI sync); a file
lock (SQLite) or an advisory lock (PostgreSQL) makes one of them migrate and the other
wait, so the tables are never created twice.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text

from ..sqlite_wal import enable_wal
from .schema import migrate

_engines: dict[str, Engine] = {}
_MIGRATE_LOCK = 0x5C5F_C47A  # PostgreSQL advisory lock held while the schema is brought up
_engines_lock = threading.Lock()


def open_engine(url: str) -> Engine:
    """One engine per URL per process, migrated once."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite:///"):
                path = Path(url.removeprefix("sqlite:///"))
                path.parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 60})
                event.listen(engine, "connect", _sqlite_pragmas)
                # Two processes opening a new catalog at once would both create its tables.
                with FileLock(f"{path}.migrate.lock"), engine.begin() as conn:
                    migrate(conn)
            else:
                engine = create_engine(url, pool_pre_ping=True)
                with engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
                    migrate(conn)
            _engines[url] = engine
        return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    enable_wal(dbapi_conn)  # readers never block the writer
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()
