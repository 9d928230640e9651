"""Statements both dialects (SQLite, PostgreSQL) run alike: upserts, inserts that never
clash, one writer of new recordings at a time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects import postgresql, sqlite

_RECORDINGS_LOCK = 0x5C5F_2EC0  # PostgreSQL advisory lock: who chooses recordings now
_PICKS_LOCK = 0x5C5F_91C5  # ... and who adds a track by hand to a listing (with its key)


def lock_recordings(conn: Connection) -> None:
    """Be the only transaction choosing and writing recordings until this one ends; call
    it first in the transaction.

    A listing reads the catalog to choose each track's recording, then inserts the new
    ones. Two listings written side by side would both choose the same new number:
    the second's upsert then overwrites the first's row with another recording (the
    next free number of a Spotify- or djay-only recording), or, for a track both list,
    fails on the unique SoundCloud id (PostgreSQL resolves only the upsert's own key).
    PostgreSQL takes an advisory lock (the reads after it see what the holder committed:
    READ COMMITTED, the default); SQLite takes its one write lock at once with a
    write that changes nothing (its driver begins a transaction only at the first write,
    so the reads before it would see the catalog without the other run's rows).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RECORDINGS_LOCK})
    else:
        _sqlite_write_lock(conn)


def lock_picks(conn: Connection, key: str) -> None:
    """Be the only transaction adding tracks by hand to the listing ``key`` until this one
    ends: a pick's position is the listing's last plus one, so two picks at once would
    take the same. PostgreSQL locks that listing alone (the reads after it see what the
    holder committed: READ COMMITTED, as for ``lock_recordings``); SQLite has one write
    lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(CAST(:k AS integer), hashtext(:key))"),
                     {"k": _PICKS_LOCK, "key": key})  # fmt: skip
    else:
        _sqlite_write_lock(conn)


def _sqlite_write_lock(conn: Connection) -> None:
    """SQLite's one write lock, taken now by a write that changes nothing."""
    conn.execute(text("UPDATE catalog_meta SET value = value WHERE key = 'schema_version'"))


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    columns = [c for c in rows[0] if c not in keys]
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in columns})
        if columns
        else stmt.on_conflict_do_nothing(index_elements=keys)
    )
    conn.execute(stmt, rows)


def insert_new(conn: Connection, table: Table, row: dict[str, Any], keys: list[str]) -> bool:
    """Insert the row unless one with its keys exists (never a duplicate-key error);
    True when it was inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=keys)
    return bool(conn.execute(stmt).rowcount)
