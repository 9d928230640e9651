"""One request budget per API, shared by every thread, process and machine that calls it.

Notion allows about 3 requests per second per integration, SoundCloud's api-v2 about
600 requests per 10 minutes per client. Every run, step, sensor and worker that talks
to one of them takes its slots from one :class:`RateLimiter`, whose state lives in a
store they all reach:

* memory: the threads of one process (tests, a one-off script);
* a SQLite file under ``SOUNDCLOUD_SYNC_HOME`` (``state/rate_limits.sqlite``): every
  process of one machine; a ``BEGIN IMMEDIATE`` transaction is the cross-process mutex;
* PostgreSQL (the catalog's database, ``SOUNDCLOUD_SYNC_CATALOG_URL``): every worker of
  every machine; a row lock (``SELECT … FOR UPDATE``) is the mutex and the database's
  clock is the one clock, so machines whose clocks differ still share one pace.

The algorithm is GCRA (a token bucket written as a "theoretical arrival time"): slots
are handed out ``1/rate`` apart, ``burst`` of them at once after an idle spell. A
limiter may also keep a *window*: at most ``limit`` slots in any ``seconds``, counted
from a log of the slots handed out, so a budget stated per window (api-v2's 600 per 10
minutes) can be spent in a burst at the GCRA's pace and then waits for the window to
move, instead of being spread evenly over it. Nothing
is held while a request is on the wire: a slot is a timestamp written in one short
transaction, so a process killed at any moment (kill -9 included) leaves no lock and no
slot behind, and the budget goes on for the others. A 429 moves the shared pause mark,
and every caller waits for it before its next request.

A share can be *reserved* for callers that must not wait behind bulk work (the
new-tracks sensor, whose tick has a deadline): their requests may book slots ahead of
everyone, up to ``reserved_rate``; the others book at most ``lookahead`` seconds ahead,
so a reserved request never queues behind more than that. What the reserved callers
leave unused goes to the others.
"""

from __future__ import annotations

import bisect
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .sqlite_wal import enable_wal

SQLITE_FILE = "rate_limits.sqlite"
TABLE = "rate_limits"
_PG_CREATE_LOCK = 0x5C5F_B0D6  # advisory lock held while the table is created


@dataclass(frozen=True)
class BucketState:
    tat: float = 0.0  # theoretical arrival time of the next request (everyone)
    tat_reserved: float = 0.0  # the same, for the reserved share alone
    paused_until: float = 0.0  # after a 429: nobody sends before this
    sent: tuple[float, ...] = ()  # a window's log: the slots of its last ``seconds``, sorted


@dataclass(frozen=True)
class Window:
    """At most ``limit`` slots in any ``seconds``; ``hold`` of them only for reserved
    callers, so bulk work that fills a window still leaves them room at once."""

    limit: int
    seconds: float
    hold: int = 0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0 or not 0 <= self.hold < self.limit:
            raise ValueError(
                f"a window needs at least 1 slot per positive span and a hold below its"
                f" limit, got {self.limit}/{self.seconds} holding {self.hold}"
            )

    def earliest(self, sent: tuple[float, ...], reserved: bool) -> float:
        """The first time a new slot keeps every span of ``seconds`` within the limit.
        Slots booked later than it are counted too (a bulk caller books a little ahead):
        of any span's slots, the one booked last saw all the others, so none overflows."""
        cap = self.limit if reserved else self.limit - self.hold
        return sent[len(sent) - cap] + self.seconds if len(sent) >= cap else 0.0

    def log(self, sent: tuple[float, ...], now: float, slot: float) -> tuple[float, ...]:
        """``sent`` with ``slot`` added and the slots no span reaching ``now`` holds dropped."""
        kept = [t for t in sent if t > now - self.seconds]
        bisect.insort(kept, slot)
        return tuple(kept)


Decide = Callable[[BucketState, float], tuple[BucketState | None, Any]]


class Store(Protocol):
    """Where a limiter's buckets live. ``update`` runs ``decide(state, now)`` atomically
    (no other caller reads the bucket in between) and writes the state it returns."""

    def update(self, name: str, decide: Decide) -> tuple[Any, float]: ...

    def read(self, name: str) -> tuple[BucketState, float]: ...


class RateLimiter:
    """``rate`` requests per second (``burst`` at once) for every caller sharing ``store``.

    ``store``: None (this process's threads), a folder (a SQLite file in it: this
    machine's processes) or a PostgreSQL URL (every machine). ``name`` tells the APIs
    apart in one store. ``reserved_rate`` > 0 reserves that share for callers that ask
    ``acquire(reserved=True)``. ``window`` adds a limit per span of time on top of the
    pace (then ``rate`` is the fastest pace inside a window, not the average).
    """

    def __init__(
        self,
        requests_per_second: float = 3.0,
        store: str | os.PathLike[str] | None = None,
        *,
        burst: float = 1.0,
        name: str = "notion",
        reserved_rate: float = 0.0,
        reserved_burst: float | None = None,
        window: Window | None = None,
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second}")
        self.rate = float(requests_per_second)
        self.burst = max(1.0, float(burst))
        self.name = name
        self.reserved_rate = max(0.0, float(reserved_rate))
        self.reserved_burst = max(1.0, float(reserved_burst or burst))
        self.window = window
        self._interval = 1.0 / self.rate
        self._tolerance = (self.burst - 1.0) * self._interval
        # without a reserved share everyone books as far ahead as needed (a fair queue)
        self.lookahead: float | None = 2 * self._interval if self.reserved_rate else None
        self.store: Store = open_store(store)
        self.path = getattr(self.store, "path", None)

    @classmethod
    def shared(
        cls,
        requests_per_second: float = 3.0,
        store: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> RateLimiter:
        """The process-wide limiter for this store, name and pace (made on first use)."""
        key = (_store_key(store), options.get("name", "notion"), requests_per_second,
               tuple(sorted(options.items())))  # fmt: skip
        with _INSTANCES_LOCK:
            limiter = _INSTANCES.get(key)
            if limiter is None:
                limiter = _INSTANCES[key] = cls(requests_per_second, store, **options)
            return limiter

    def __repr__(self) -> str:
        reserved = f", reserved {self.reserved_rate:g}/s" if self.reserved_rate else ""
        window = self.window
        within = f", at most {window.limit} per {window.seconds:g} s" if window else ""
        return (
            f"RateLimiter({self.name}: {self.rate:g}/s, burst={self.burst:g}{reserved}"
            f"{within}, {self.store!r})"
        )

    # -- public -------------------------------------------------------------------

    def acquire(self, reserved: bool = False) -> float:
        """Block until this caller may send one request; return the seconds waited."""
        waited = 0.0
        while True:
            (kind, when), now = self.store.update(self.name, self._decider(reserved))
            delay = when - now
            if delay > 0:
                time.sleep(delay)
                waited += delay
            if kind == "retry":
                continue  # someone else took the slot we waited for: ask again
            if delay <= 0:
                return waited
            # a 429 seen by someone else while we slept moves the pause mark: honour it
            state, now = self.store.read(self.name)
            if state.paused_until <= now:
                return waited

    def pause(self, seconds: float) -> None:
        """Stop every caller sharing the store for ``seconds`` (after a 429)."""

        def decide(state: BucketState, now: float) -> tuple[BucketState, None]:
            until = max(state.paused_until, now + max(0.0, seconds))
            return replace(
                state,
                tat=max(state.tat, until),
                tat_reserved=max(state.tat_reserved, until),
                paused_until=until,
            ), None

        self.store.update(self.name, decide)

    def delay(self, reserved: bool = False) -> float:
        """Seconds before a request could go out now, booking nothing: a caller with a
        deadline (the sensor's tick) asks before it starts a round of requests."""
        state, now = self.store.read(self.name)
        _, (_, when) = self._decider(reserved)(state, now)
        return max(0.0, when - now)

    def schedule(self, n: int, reserved_every: int = 0) -> list[float]:
        """When ``n`` requests would go out of an idle bucket, each sent the moment this
        algorithm allows it (every ``reserved_every``-th reserved), on a clock of its own:
        what a bench compares a run's wall time with, what a test checks the rules on."""
        state, now, times = BucketState(), 0.0, list[float]()
        while len(times) < n:
            reserved = bool(reserved_every) and len(times) % reserved_every == 0
            new, (kind, when) = self._decider(reserved)(state, now)
            now = max(now, when)
            if kind == "slot" and new is not None:
                state = new
                times.append(when)
        return times

    @property
    def paused_until(self) -> float:
        """When the last pause ends, on the store's clock (0: never paused)."""
        return self.store.read(self.name)[0].paused_until

    # -- the algorithm --------------------------------------------------------------

    def _decider(self, reserved: bool) -> Decide:
        def decide(state: BucketState, now: float) -> tuple[BucketState | None, Any]:
            slot = max(now, state.paused_until, state.tat - self._tolerance)
            if self.window is not None:
                slot = max(slot, self.window.earliest(state.sent, reserved))
            tat_reserved = state.tat_reserved
            if reserved and self.reserved_rate:
                interval = 1.0 / self.reserved_rate
                tolerance = (self.reserved_burst - 1.0) * interval
                slot = max(slot, state.tat_reserved - tolerance)
                tat_reserved = max(state.tat_reserved, slot) + interval
            # (a microsecond of slack: a caller back at exactly ``slot - lookahead`` books)
            elif self.lookahead is not None and slot - now > self.lookahead + 1e-6:
                return None, ("retry", slot - self.lookahead)  # leave the reserve its place
            tat = max(state.tat, slot) + self._interval
            sent = self.window.log(state.sent, now, slot) if self.window else state.sent
            return BucketState(tat, tat_reserved, state.paused_until, sent), ("slot", slot)

        return decide


_INSTANCES: dict[tuple[Any, ...], RateLimiter] = {}
_INSTANCES_LOCK = threading.Lock()

# Kept for callers of the Notion room's first limiter: the same class.
SharedRateLimiter = RateLimiter


# --------------------------------------------------------------------------- stores


def open_store(where: str | os.PathLike[str] | None) -> Store:
    """Memory for None, PostgreSQL for a ``postgresql…://`` URL, else a SQLite file in
    the folder ``where``."""
    if where is None:
        return MemoryStore()
    text = str(where)
    if text.startswith("postgresql"):
        return PostgresStore(text)
    if "://" in text:
        raise ValueError(f"rate limits are kept in a folder or in PostgreSQL, not {_masked(text)}")
    return SqliteStore(Path(where) / SQLITE_FILE)


def pack_log(sent: tuple[float, ...]) -> str:
    """A window's log as stored: milliseconds, rounded up (a slot read back later than it
    was handed out only makes the window stricter)."""
    return ",".join(f"{math.ceil(t * 1000) / 1000:.3f}" for t in sent)


def unpack_log(text: str | None) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(",")) if text else ()


def _state(row: Any) -> BucketState:
    """A bucket as a store's row holds it: tat, tat_reserved, paused_until, sent."""
    return BucketState(float(row[0]), float(row[1]), float(row[2]), unpack_log(row[3]))


def _store_key(where: str | os.PathLike[str] | None) -> str:
    if where is None:
        return ""
    text = str(where)
    return text if "://" in text else str(Path(text).resolve())


def _masked(url: str) -> str:
    """A database URL fit for a message or a repr: its password replaced by ***."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", url)


class MemoryStore:
    """Buckets of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, BucketState] = {}

    def __repr__(self) -> str:
        return "memory"

    def update(self, name: str, decide: Decide) -> tuple[Any, float]:
        with self._lock:
            now = time.time()
            new, result = decide(self._states.get(name, BucketState()), now)
            if new is not None:
                self._states[name] = new
            return result, now

    def read(self, name: str) -> tuple[BucketState, float]:
        with self._lock:
            return self._states.get(name, BucketState()), time.time()


class SqliteStore:
    """Buckets of one machine: a SQLite file every process opens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn()

    def __repr__(self) -> str:
        return str(self.path)

    def update(self, name: str, decide: Decide) -> tuple[Any, float]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            state = self._row(conn, name)
            new, result = decide(state, now)
            if new is not None:
                conn.execute(
                    f"INSERT OR REPLACE INTO {TABLE} (name, tat, tat_reserved, paused_until,"
                    " sent) VALUES (?, ?, ?, ?, ?)",
                    (name, new.tat, new.tat_reserved, new.paused_until, pack_log(new.sent)),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result, now

    def read(self, name: str) -> tuple[BucketState, float]:
        return self._row(self._conn(), name), time.time()

    @staticmethod
    def _row(conn: sqlite3.Connection, name: str) -> BucketState:
        row = conn.execute(
            f"SELECT tat, tat_reserved, paused_until, sent FROM {TABLE} WHERE name = ?", (name,)
        ).fetchone()
        return _state(row) if row else BucketState()

    def _conn(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections are not thread-safe), never
        one inherited through fork. Each new connection makes the table if it is missing:
        the file may have been deleted and made again since this store was opened (a lost
        catalog under a long-running process)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            enable_wal(conn)
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT PRIMARY KEY, tat REAL NOT NULL,"
                " tat_reserved REAL NOT NULL, paused_until REAL NOT NULL,"
                " sent TEXT NOT NULL DEFAULT '')"
            )
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")}
            if "sent" not in columns:  # a file written before windows were kept
                try:
                    conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN sent TEXT NOT NULL DEFAULT ''")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn


class PostgresStore:
    """Buckets of every machine: a table in the catalog's PostgreSQL database, timed by
    the database's clock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine_pid: tuple[Any, int] | None = None
        self._lock = threading.Lock()
        self._rows: set[str] = set()  # buckets known to have their row
        from sqlalchemy import text

        with self._engine().begin() as conn:
            # two processes creating the table at once would collide on PostgreSQL's catalog
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CREATE_LOCK})
            conn.execute(text(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT PRIMARY KEY,"
                " tat DOUBLE PRECISION NOT NULL, tat_reserved DOUBLE PRECISION NOT NULL,"
                " paused_until DOUBLE PRECISION NOT NULL)"
            ))  # fmt: skip
            has_log = conn.execute(
                text(
                    "SELECT 1 FROM information_schema.columns WHERE table_name = :t"
                    " AND column_name = 'sent' AND table_schema = current_schema()"
                ),
                {"t": TABLE},
            ).first()
            if has_log is None:  # a table made before windows were kept: once
                conn.execute(text(f"ALTER TABLE {TABLE} ADD COLUMN sent TEXT NOT NULL DEFAULT ''"))

    def __repr__(self) -> str:
        return _masked(self.url)

    def _engine(self) -> Any:
        with self._lock:
            if self._engine_pid is None or self._engine_pid[1] != os.getpid():
                from sqlalchemy import create_engine

                engine = create_engine(self.url, pool_pre_ping=True, pool_size=2, max_overflow=8)
                self._engine_pid = (engine, os.getpid())
            return self._engine_pid[0]

    def update(self, name: str, decide: Decide) -> tuple[Any, float]:
        from sqlalchemy import text

        with self._engine().begin() as conn:
            if name not in self._rows:  # once per bucket: the slot itself takes two statements
                conn.execute(
                    text(
                        f"INSERT INTO {TABLE} VALUES (:n, 0, 0, 0, '') ON CONFLICT (name) DO NOTHING"
                    ),
                    {"n": name},
                )
                self._rows.add(name)
            row = conn.execute(
                text(
                    "SELECT tat, tat_reserved, paused_until, sent,"
                    f" extract(epoch from clock_timestamp()) FROM {TABLE}"
                    " WHERE name = :n FOR UPDATE"
                ),
                {"n": name},
            ).one()
            now = float(row[4])
            new, result = decide(_state(row), now)
            if new is not None:
                conn.execute(
                    text(
                        f"UPDATE {TABLE} SET tat = :t, tat_reserved = :r, paused_until = :p,"
                        " sent = :s WHERE name = :n"
                    ),
                    {
                        "t": new.tat,
                        "r": new.tat_reserved,
                        "p": new.paused_until,
                        "s": pack_log(new.sent),
                        "n": name,
                    },
                )
        return result, now

    def read(self, name: str) -> tuple[BucketState, float]:
        from sqlalchemy import text

        with self._engine().connect() as conn:
            row = conn.execute(
                text(
                    "SELECT tat, tat_reserved, paused_until, sent FROM (SELECT 1) AS one"
                    f" LEFT JOIN {TABLE} ON name = :n"
                ),
                {"n": name},
            ).one()
            now = conn.execute(text("SELECT extract(epoch from clock_timestamp())")).scalar_one()
        known = row[0] is not None
        state = _state(row) if known else BucketState()
        return state, float(now)
