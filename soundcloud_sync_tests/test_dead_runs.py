"""A `sync` killed with SIGKILL never blocks the next one, and one playlist never has
two runs writing side by side: through the real CLI, against the emulators."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from soundcloud_sync.instance import write_instance_settings
from soundcloud_sync.instance.workers import (
    STEP_PROCESS_PREFIX,
    WORKER_PID_TAG,
    step_processes,
    stop_step_processes,
)
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    SeededCatalog,
    soundcloud_id_counts,
)
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def start_sync(env: dict[str, str], url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CLI, "sync", url, "--no-download", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=env["SOUNDCLOUD_SYNC_HOME"].rsplit("/", 1)[0],
        start_new_session=True,
    )


def instance_of(env: dict[str, str]) -> DagsterInstance:
    """The instance the CLI uses (its settings written as the CLI writes them)."""
    home = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster"
    write_instance_settings(home)
    return DagsterInstance.from_config(str(home))


def run_of(instance: DagsterInstance, proc: subprocess.Popen[str]) -> str | None:
    """The run a `sync` process executes (it records its pid on the run)."""
    runs = instance.get_runs(RunsFilter(tags={WORKER_PID_TAG: str(proc.pid)}), limit=1)
    return runs[0].run_id if runs else None


def holds_slot(instance: DagsterInstance, pool: str, proc: subprocess.Popen[str]) -> bool:
    """Whether the run of `proc` holds a slot of `pool` right now."""
    storage = instance.event_log_storage
    run_id = run_of(instance, proc)
    if run_id is None or pool not in storage.get_concurrency_keys():
        return False
    return any(s.run_id == run_id for s in storage.get_concurrency_info(pool).claimed_slots)


def waits_for_slot(instance: DagsterInstance, pool: str, proc: subprocess.Popen[str]) -> bool:
    storage = instance.event_log_storage
    run_id = run_of(instance, proc)
    if run_id is None or pool not in storage.get_concurrency_keys():
        return False
    return any(s.run_id == run_id for s in storage.get_concurrency_info(pool).pending_steps)


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        assert proc.poll() is None, f"sync ended before {what}: {proc.communicate()[1]}"
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def test_sigkilled_syncs_never_block_the_next_and_lose_nothing(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    # Slow answers keep each step busy long enough to be killed in the middle of it.
    soundcloud_emulator.latency = 0.02
    notion_emulator.faults.slow, notion_emulator.faults.slow_seconds = 1.0, 0.02
    baseline_list = soundcloud_emulator.add_playlist("dj-a", "baseline", 150)
    playlist = soundcloud_emulator.add_playlist("dj-b", "killed-five-times", 150)

    started = time.monotonic()
    baseline = start_sync(env, baseline_list.url)
    assert baseline.wait(timeout=300) == 0, baseline.communicate()[1]
    uninterrupted = time.monotonic() - started

    instance = instance_of(env)
    # When each kill lands, and whether the whole process group dies (as a closed
    # terminal does) or only the run's own process (its step processes live on).
    kills: list[tuple[str, bool]] = [
        ("soundcloud_api", True),
        ("notion_api", False),
        ("soundcloud_api", False),
        ("notion_api", True),
        ("notion_api", False),
    ]
    killed_runs = []
    for pool, whole_group in kills:
        t0 = time.monotonic()
        proc = start_sync(env, playlist.url)
        wait_until(lambda pool=pool, proc=proc: holds_slot(instance, pool, proc), proc, pool)
        if pool == "notion_api":  # a few pages in: the kill lands mid-write
            time.sleep(0.5)
        if whole_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        print(f"killed at {pool} after {time.monotonic() - t0:.1f} s")
        killed_runs.append(run_of(instance, proc))

    started = time.monotonic()
    last = start_sync(env, playlist.url)
    _, err = last.communicate(timeout=300)
    recovered = time.monotonic() - started
    assert last.returncode == 0, err
    print(f"uninterrupted {uninterrupted:.1f} s, after five kills {recovered:.1f} s")
    assert recovered < uninterrupted + 60

    # every killed run is failed with the reason, holds no slot, and its step
    # processes are gone; every track has exactly one page
    storage = instance.event_log_storage
    assert not storage.get_concurrency_run_ids()
    for run_id in killed_runs:
        run = instance.get_run_by_id(run_id)
        assert run.status == DagsterRunStatus.FAILURE
        messages = [e.message for e in instance.all_logs(run_id)]
        assert any("is gone (killed or crashed)" in m for m in messages), messages[-3:]
        for key in run.tags:
            if key.startswith(STEP_PROCESS_PREFIX):
                pid = int(key[len(STEP_PROCESS_PREFIX) :])
                assert not _alive(pid), f"step process {pid} of killed run {run_id} still runs"
    pages = soundcloud_id_counts(notion_emulator, notion_catalog)
    expected = {*playlist.track_ids, *baseline_list.track_ids}
    assert {k: n for k, n in pages.items() if n > 1} == {}
    assert set(pages) == expected
    instance.dispose()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_a_step_waiting_for_a_busy_pool_sleeps_and_says_so(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    soundcloud_emulator.latency = 3.0  # the first run's SoundCloud step lasts a while
    first_list = soundcloud_emulator.add_playlist("dj-a", "long-read", 200)
    second_list = soundcloud_emulator.add_playlist("dj-b", "waits", 5)
    instance = instance_of(env)
    # one SoundCloud step at a time, as a user sets it (`dagster instance concurrency set`)
    instance.event_log_storage.set_concurrency_slots("soundcloud_api", 1)
    first = start_sync(env, first_list.url)
    wait_until(lambda: holds_slot(instance, "soundcloud_api", first), first, "first slot")
    second = start_sync(env, second_list.url)
    wait_until(lambda: waits_for_slot(instance, "soundcloud_api", second), second, "the wait")

    worker = psutil.Process(second.pid)
    before = sum(worker.cpu_times()[:2])
    time.sleep(3.0)
    still_waiting = waits_for_slot(instance, "soundcloud_api", second)
    busy = sum(worker.cpu_times()[:2]) - before
    assert still_waiting
    # spinning takes a whole core (0.75 s or more even on a machine shared by 4 busy cores)
    assert busy < 0.3, f"the waiting run used {busy:.2f} s of CPU in 3 s"

    _, first_err = first.communicate(timeout=300)
    _, second_err = second.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    assert "waiting for a free slot of pool 'soundcloud_api'" in second_err
    assert f"held by run {run_of(instance, first)}" in second_err
    pages = soundcloud_id_counts(notion_emulator, notion_catalog)
    assert set(pages) == {*first_list.track_ids, *second_list.track_ids}
    assert max(pages.values()) == 1
    instance.dispose()


def test_two_syncs_of_one_playlist_take_turns(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("dj-c", "twice", 30)
    instance = instance_of(env)
    first = start_sync(env, playlist.url)
    second = start_sync(env, playlist.url)
    _, first_err = first.communicate(timeout=300)
    _, second_err = second.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    # whichever got the playlist's lock first, the other said it waits and started after
    waited = [e for e in (first_err, second_err) if "waiting for another soundcloud-sync" in e]
    assert len(waited) == 1, first_err + second_err
    runs = instance.get_run_records()
    assert len(runs) == 2
    earlier, later = sorted(runs, key=lambda r: r.start_time or 0)
    assert (later.start_time or 0) >= (earlier.end_time or 0)
    pages = soundcloud_id_counts(notion_emulator, notion_catalog)
    assert set(pages) == set(playlist.track_ids) and max(pages.values()) == 1
    # `--no-download` runs its steps in the CLI's own process: no step process is
    # recorded, so cleaning up after a run never stops the CLI that ran it
    for record in runs:
        assert not step_processes(record.dagster_run.tags)
        assert stop_step_processes(record.dagster_run) == 0
    assert {r.dagster_run.tags[WORKER_PID_TAG] for r in runs} == {
        str(first.pid),
        str(second.pid),
    }
    instance.dispose()


@pytest.mark.parametrize("release", ["2026_11", "2026_12"])
def test_instance_settings_of_the_last_releases_are_brought_up_to_date(
    env: dict[str, str], release: str
) -> None:
    """Later releases wrote their template with the home's path in it: unedited, it is
    replaced by today's (five runs at once, runs forked from a warm process); edited, it
    stays the user's."""
    old = (Path(__file__).parent / "data" / f"dagster_release_{release}.yaml").read_text()
    home = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster"
    home.mkdir(parents=True)
    written = old.replace("{env: DAGSTER_HOME}", json.dumps(str(home.resolve())))
    (home / "dagster.yaml").write_text(written)
    assert cli_in_process(env, "status").returncode == 0
    instance = DagsterInstance.from_config(str(home))
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None and queue.max_concurrent_runs == 5
    assert type(instance.run_launcher).__name__ == "PreloadedRunLauncher"

    edited = written.replace("max_concurrent_runs:", "max_concurrent_runs: 2 #")
    (home / "dagster.yaml").write_text(edited)
    assert cli_in_process(env, "status").returncode == 0
    assert (home / "dagster.yaml").read_text() == edited


def test_instance_settings_of_the_first_release_are_brought_up_to_date(
    env: dict[str, str],
) -> None:
    """A user upgrading keeps their home; its unedited dagster.yaml from the first release
    had no run monitoring, so a killed daemon run would hold its slot forever."""
    old = (Path(__file__).parent / "data" / "dagster_first_release.yaml").read_bytes()
    home = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_bytes(old)
    status = cli_in_process(env, "status")  # the settings are tested, not the process
    assert status.returncode == 0, status.stderr
    instance = DagsterInstance.from_config(str(home))
    assert instance.run_monitoring_enabled
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None and queue.tag_concurrency_limits  # one run per playlist
    assert type(instance.event_log_storage).__name__ == "PatientSqliteEventLogStorage"

    edited = old.replace(b"max_concurrent_runs: 3", b"max_concurrent_runs: 8")
    (home / "dagster.yaml").write_bytes(edited)
    status = cli_in_process(env, "status")
    assert status.returncode == 0, status.stderr
    assert (home / "dagster.yaml").read_bytes() == edited  # the user's own file stays
