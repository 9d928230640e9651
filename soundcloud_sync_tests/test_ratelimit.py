"""The one limiter: a window budget never overrun, a reserved share that never queues
behind bulk work, processes (SQLite) and machines (PostgreSQL) sharing one bucket, and
no stuck state after a kill -9 at any moment."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from soundcloud_sync.ratelimit import BucketState, RateLimiter, Window
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync.sources.budget import soundcloud_limiter
from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE, SoundCloudEmulator
from soundcloud_sync_tests.servers import PostgresServer


@pytest.mark.parametrize("limit,window", [(600, 600.0), (60, 60.0), (40, 4.0), (120, 6.0)])
def test_a_window_budget_is_never_overrun_and_nearly_used(limit: int, window: float) -> None:
    limiter = soundcloud_limiter(None, limit, window, sensor_share=0.5)
    times = limiter.schedule(3 * limit, reserved_every=3)
    # no window of `window` seconds (half-open, as the emulator counts) holds more
    most = max(sum(1 for u in times if t - window < u <= t) for t in times)
    # and the budget is not wasted: the busiest window is nearly full
    assert 0.95 * limit <= most <= limit


def test_a_window_is_spent_in_a_burst_then_waits_for_it_to_move() -> None:
    """api-v2's budget is a window's: a backfill of fewer requests than a window holds
    never waits a whole window, and bulk work leaves the sensor its tick's worth."""
    limiter = soundcloud_limiter(None, 600, 600.0, sensor_share=0.5)
    window = limiter.window
    assert window is not None and window.limit == 600 and window.hold == 15
    bulk = limiter.schedule(700)
    assert bulk[585] - bulk[0] >= 600.0  # bulk work stops at the window's limit less the hold
    assert bulk[584] - bulk[0] < 120.0  # the first 585 at five times the average pace
    # at five a second, a second's worth at once: no ten seconds hold more than 55
    assert max(sum(1 for u in bulk if t - 10.0 < u <= t) for t in bulk[:600]) <= 55
    # the sensor's checks still find room at once in a window bulk work has filled
    state = BucketState()
    for when in bulk[:585]:
        state, _ = limiter._decider(False)(state, when)
        assert state is not None
    now = bulk[584] + 1.0
    for _ in range(window.hold):
        new, (kind, slot) = limiter._decider(True)(state, now)
        assert kind == "slot" and new is not None and slot - now < 31.0
        state, now = new, slot
    assert limiter._decider(False)(state, now)[1][0] == "retry"  # bulk still waits


def test_a_full_window_is_seen_before_a_round_of_checks_starts() -> None:
    """`delay` books nothing: the sensor asks it before a round, and a window that bulk
    work and the last round filled makes it leave the round for a later tick."""
    limiter = RateLimiter(1000.0, None, burst=1000.0, name="peek", reserved_rate=1000.0,
                          window=Window(10, 60.0, hold=2))  # fmt: skip
    for _ in range(8):
        limiter.acquire()
    assert limiter.delay() > 50.0  # bulk work stops at the window's limit less the hold
    assert limiter.delay(reserved=True) == 0.0  # the hold is the checks' at once
    assert limiter.delay(reserved=True) == 0.0  # asking booked nothing
    limiter.acquire(reserved=True)
    limiter.acquire(reserved=True)
    assert limiter.delay(reserved=True) > 50.0  # full: the next round waits for the window


def test_reserved_requests_jump_the_queue_of_bulk_work(tmp_path: Path) -> None:
    rate = 20.0
    limiter = RateLimiter(rate, tmp_path, name="q", reserved_rate=rate / 2)
    stop = threading.Event()

    def bulk() -> None:
        while not stop.is_set():
            limiter.acquire()

    workers = [threading.Thread(target=bulk) for _ in range(8)]
    for w in workers:
        w.start()
    try:
        time.sleep(1.0)  # the bucket is saturated by eight greedy callers
        waits = []
        for _ in range(5):
            # the wait the limiter booked: a loaded machine's lateness is not the limiter's
            waits.append(limiter.acquire(reserved=True))
    finally:
        stop.set()
        for w in workers:
            w.join()
    # a bulk caller waits behind seven others (~0.35 s); a reserved one at most the
    # two intervals bulk work may book ahead, and its own share's pace
    assert max(waits) < 0.3, waits


def _hammer(store: str, rate: float, seconds: float, out: multiprocessing.Queue) -> None:
    # a burst of 2: a process the machine schedules late catches its slot up
    limiter = RateLimiter(rate, store, name="shared", burst=2)
    deadline, times = time.time() + seconds, []
    while time.time() < deadline:
        limiter.acquire()
        times.append(time.time())
    out.put(times)


def _loop_forever(store: str, rate: float, taken: Any = None) -> None:
    limiter = RateLimiter(rate, store, name="shared", burst=1)
    while True:
        limiter.acquire()
        if taken is not None:
            with taken.get_lock():
                taken.value += 1


def _shared_rate(store: str, rate: float = 5.0, seconds: float = 8.0) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(store, rate, seconds, out)) for _ in range(2)]
    for p in procs:
        p.start()
    times = sorted(t for _ in procs for t in out.get(timeout=120))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return times


def _kill_mid_use_then_acquire(store: str) -> float:
    """kill -9 processes that take slots as fast as they come (inside the store's
    transaction much of the time), then take a slot here: how long it took."""
    ctx = multiprocessing.get_context("spawn")
    taken = [ctx.Value("i", 0) for _ in range(3)]
    victims = [ctx.Process(target=_loop_forever, args=(store, 200.0, t)) for t in taken]
    for v in victims:
        v.start()
    deadline = time.monotonic() + 120
    while min(t.value for t in taken) < 20:  # each started (spawn imports) and hammering
        assert time.monotonic() < deadline, "the processes never took their slots"
        time.sleep(0.05)
    for v in victims:
        os.kill(v.pid, signal.SIGKILL)
        v.join(10)
    limiter = RateLimiter(200.0, store, name="shared", burst=1)
    started = time.monotonic()
    limiter.acquire()  # a lock or a slot left behind would hold this one up
    return time.monotonic() - started


def test_processes_share_one_bucket_on_a_machine(tmp_path: Path) -> None:
    times = _shared_rate(str(tmp_path))
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.95 * 5.0 <= rate <= 1.05 * 5.0


def test_a_killed_process_leaves_no_stuck_limiter_sqlite(tmp_path: Path) -> None:
    assert _kill_mid_use_then_acquire(str(tmp_path)) < 5.0  # not stuck: at once


@pytest.fixture(scope="module")
def postgres(postgres: PostgresServer) -> PostgresServer:
    """The worker's PostgreSQL (the session's), with this module's database."""
    if not postgres.query("postgres", "SELECT 1 FROM pg_database WHERE datname = 'limits'"):
        postgres.create_database("limits")
    return postgres


def test_machines_share_one_bucket_in_postgres(postgres: PostgresServer) -> None:
    url = postgres.url("limits")
    times = _shared_rate(url)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.95 * 5.0 <= rate <= 1.05 * 5.0
    assert "***" in repr(RateLimiter(1.0, url)) and postgres.password not in repr(
        RateLimiter(1.0, url)
    )


def test_a_killed_process_leaves_no_stuck_limiter_postgres(postgres: PostgresServer) -> None:
    assert _kill_mid_use_then_acquire(postgres.url("limits")) < 5.0  # not stuck


def _soundcloud_client(store: str, emu_proxy: str, cache: str, limit: int, window: float):
    return SoundCloudClient(
        PROXY_API_BASE, proxy=emu_proxy, cache_dir=Path(cache),
        limiter=soundcloud_limiter(store, limit, window, sensor_share=0.0),
    )  # fmt: skip


def _check_playlists(store: str, proxy: str, cache: str, url: str, n: int) -> None:
    with _soundcloud_client(store, proxy, cache, 30, 30.0) as client:
        for _ in range(n):
            client.check_playlist(url)


def test_soundcloud_processes_share_the_api_budget_without_a_429(tmp_path: Path) -> None:
    """Two processes reading as fast as they may: api-v2 (30 requests per 30 s here: a
    window long enough for a busy machine's jitter) never says 429, and together they
    fill every window within 5 % of the budget."""
    with SoundCloudEmulator(rate_limit=30, rate_window=30.0) as emu:
        playlist = emu.add_playlist("curator", "set", 3)
        emu.seed_client_id_cache(tmp_path / "cache")
        args = (str(tmp_path / "state"), emu.proxy_url, str(tmp_path / "cache"), playlist.url, 30)
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_check_playlists, args=args) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(150)
            assert p.exitcode == 0
        times = sorted(t for t, (endpoint, status, _) in zip(emu.times, emu.log, strict=True)
                       if endpoint == "resolve")  # fmt: skip
        statuses = dict(emu.statuses)
    assert statuses.get(429, 0) == 0 and len(times) == 60
    most = max(sum(1 for u in times if t - 30.0 < u <= t) for t in times)
    assert 0.95 * 30 <= most <= 30
    # two windows' worth: the second had to wait for the first to move
    assert times[30] - times[0] >= 30.0
