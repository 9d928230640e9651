"""The shared Notion budget: threads and processes together stay at the configured
rate (the emulator enforces it and would answer 429), and a 429 pauses everyone."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

from soundcloud_sync.notion import NotionGateway, SharedRateLimiter
from soundcloud_sync_tests.emulators.notion import NotionEmulator

RATE = 20.0


BURST = 5  # Notion allows short bursts; the emulator's bucket is RATE/s with this depth


def _average_rate(times: list[float]) -> float:
    """Requests per second over the whole run: jitter of single requests cancels out.

    The first request of each of the two clients is left out: opening its connection
    can delay it on a busy machine while the slots after it were handed out on time,
    which would shorten the measured span and overstate the rate.
    """
    times = sorted(times)[2:]
    return (len(times) - 1) / (times[-1] - times[0])


def _hammer(
    base_url: str, token: str, ds_id: str, state_dir: str, rate: float, n: int, start: Any
) -> None:
    """One process of a 'run': n reads through its own gateway, once every process is
    ready (they start seconds apart on a loaded machine)."""
    gateway = NotionGateway(
        token,
        base_url=base_url,
        limiter=SharedRateLimiter(rate, state_dir),
    )
    start.wait(120)
    for _ in range(n):
        gateway.retrieve_data_source(ds_id)


def _run_processes(emu: NotionEmulator, ds_id: str, state_dirs: list[Path], n: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(state_dirs))
    procs = [
        ctx.Process(target=_hammer, args=(emu.base_url, emu.token, ds_id, str(d), RATE, n, start))
        for d in state_dirs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0


def test_two_processes_share_one_budget(notion_emulator, notion_catalog, tmp_path):
    notion_emulator.set_rate(RATE, burst=BURST)
    shared = tmp_path / "home"
    _run_processes(notion_emulator, notion_catalog.tracks_data_source_id, [shared, shared], 25)

    times = [t for t, *_ in notion_emulator.log]
    assert len(times) == 50
    assert notion_emulator.statuses[429] == 0  # the emulator enforces RATE/s
    assert _average_rate(times) <= RATE * 1.05


def test_separate_budgets_would_overrun_the_limit(notion_emulator, notion_catalog, tmp_path):
    """The control for the test above: without the shared state, Notion says 429."""
    notion_emulator.set_rate(RATE, burst=BURST)
    dirs = [tmp_path / "run-a", tmp_path / "run-b"]
    _run_processes(notion_emulator, notion_catalog.tracks_data_source_id, dirs, 25)
    assert notion_emulator.statuses[429] > 0
    assert notion_emulator.statuses[200] == 50  # and the 429s were retried


def test_threads_share_one_budget(notion_emulator, notion_catalog, tmp_path):
    notion_emulator.set_rate(RATE, burst=BURST)
    limiter = SharedRateLimiter(RATE, tmp_path)
    gateways = [
        NotionGateway(notion_emulator.token, base_url=notion_emulator.base_url, limiter=limiter)
        for _ in range(2)
    ]

    def work(i: int) -> None:
        for _ in range(8):
            gateways[i % 2].retrieve_data_source(notion_catalog.tracks_data_source_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert notion_emulator.statuses[200] == 40 and notion_emulator.statuses[429] == 0
    assert _average_rate([t for t, *_ in notion_emulator.log]) <= RATE * 1.05


def test_a_429_pauses_every_worker_until_retry_after(notion_emulator, notion_catalog, tmp_path):
    notion_emulator.faults.retry_after = 1
    notion_emulator.script("GET", "/v1/data_sources/{id}", "429", times=1)
    limiter = SharedRateLimiter(200, tmp_path)
    gateway = NotionGateway(
        notion_emulator.token, base_url=notion_emulator.base_url, limiter=limiter
    )
    # when the pause was taken and each slot was given, as the limiter saw them: the
    # emulator's clock would also count how late a loaded machine answers and sends
    paused_at: list[float] = []
    granted: list[float] = []
    pause, acquire = limiter.pause, limiter.acquire

    def pause_then_note(seconds: float) -> None:
        pause(seconds)
        paused_at.append(time.monotonic())

    def acquire_then_note(reserved: bool = False) -> float:
        waited = acquire(reserved)
        granted.append(time.monotonic())
        return waited

    limiter.pause, limiter.acquire = pause_then_note, acquire_then_note  # type: ignore[method-assign]

    def work() -> None:
        for _ in range(10):
            gateway.retrieve_data_source(notion_catalog.tracks_data_source_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert gateway.stats["rate_limited"] == 1 and notion_emulator.statuses[200] == 40
    # once the pause is taken, no worker gets a slot until Retry-After has passed (a slot
    # given as the pause was written may be noted a moment after it; without the pause,
    # the workers' 200 per second would take 130 slots in that window)
    (paused,) = paused_at
    assert [round(t - paused, 3) for t in granted if paused + 0.25 < t < paused + 0.9] == []
    assert len(granted) == 41 and max(granted) >= paused + 0.9


def test_pause_is_seen_by_another_limiter_on_the_same_state(tmp_path):
    a = SharedRateLimiter(5, tmp_path)
    b = SharedRateLimiter(5, tmp_path)
    a.pause(30)
    assert b.paused_until >= a.paused_until - 0.001 > 0
    memory_only = SharedRateLimiter(5, None)
    assert memory_only.paused_until == 0


def test_shared_instance_per_state_dir(tmp_path):
    one = SharedRateLimiter.shared(3, tmp_path)
    assert SharedRateLimiter.shared(3, tmp_path) is one
    assert SharedRateLimiter.shared(3, tmp_path / "other") is not one


def test_runs_starting_together_on_a_fresh_home_all_get_a_limiter(tmp_path):
    """Opening the same new state file at the same instant once failed with 'database is
    locked' (the switch to WAL does not wait for the busy timeout): ~7% of such starts."""
    for trial in range(60):
        state = tmp_path / f"home-{trial}"
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def open_limiter(state=state, start=start, errors=errors) -> None:
            start.wait()
            try:
                SharedRateLimiter(3, state, burst=10).acquire()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_limiter) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], f"trial {trial}: {errors}"
