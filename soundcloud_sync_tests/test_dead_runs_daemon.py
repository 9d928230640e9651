"""The daemon's side: runs launched over the UI's GraphQL API (`soundcloud-sync dev`),
their process killed with SIGKILL, never block the next; two runs of one playlist
launched together take turns and both succeed.

The tests share one `soundcloud-sync dev` and its emulators (`daemon_world`): starting
the UI is the costly part. Each test syncs playlists of its own and checks what its
runs changed against what was there before it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from soundcloud_sync.api import NOTION_ASSETS
from soundcloud_sync.instance import write_instance_settings
from soundcloud_sync.instance.launcher import FORKED_TAG
from soundcloud_sync.instance.workers import run_worker, step_processes
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    SeededCatalog,
    seed_music_catalog,
    soundcloud_id_counts,
)
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_notion import FAST_RATE
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process, services_env
from soundcloud_sync_tests.servers import free_port

pytestmark = pytest.mark.xdist_group("daemon")

CLI = str(Path(sys.executable).parent / "soundcloud-sync")
DAGSTER = str(Path(sys.executable).parent / "dagster")
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
LOCATIONS = (
    "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
)
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["data"]


class UI:
    """`soundcloud-sync dev` on the CLI's instance, driven as the UI drives it."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env, self.port = env, free_port()
        home = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster"
        write_instance_settings(home)
        # new_tracks_sensor would sync the new playlists on its own, downloads included
        # (as bench/scale.py --via ui, it is switched off); playlist_registry_sensor ticks
        stop = subprocess.run(
            [DAGSTER, "sensor", "stop", "new_tracks_sensor", "-m", "soundcloud_sync.definitions"],
            env={**env, "DAGSTER_HOME": str(home)},
            cwd=home,
            capture_output=True,
            text=True,
        )
        assert stop.returncode == 0, stop.stderr
        self.log = (tmp_path / "dev.log").open("w")
        self.proc = subprocess.Popen(
            [CLI, "dev", "-p", str(self.port)],
            env=env,
            cwd=tmp_path,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.instance = DagsterInstance.from_config(str(home))
        self.location = self._wait_for_code()

    def _wait_for_code(self, timeout: float = 180) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "soundcloud-sync dev exited early"
            try:
                nodes = _graphql(self.port, LOCATIONS)["repositoriesOrError"].get("nodes")
                if nodes:
                    return nodes[0]["location"]["name"], nodes[0]["name"]
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError("the UI did not load the code location")

    def launch(self, partition: str, assets: tuple[str, ...] | None) -> str:
        location, repository = self.location
        selector: dict = {
            "repositoryLocationName": location,
            "repositoryName": repository,
            "jobName": "sync_playlist",
        }
        if assets:
            selector["assetSelection"] = [{"path": [a]} for a in assets]
        params = {
            "selector": selector,
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        }
        answer = _graphql(self.port, LAUNCH, {"params": params})["launchRun"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        return answer["run"]["runId"]

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.proc.poll() is None, "soundcloud-sync dev exited"
            time.sleep(0.1)
        raise AssertionError(f"never saw {what}")

    def status(self, run_id: str) -> DagsterRunStatus:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run.status

    def finish(self, run_id: str, timeout: float = 240) -> DagsterRunStatus:
        self.wait(lambda: self.status(run_id) in DONE, f"run {run_id} end", timeout)
        return self.status(run_id)

    def close(self) -> None:
        self.instance.dispose()
        os.killpg(self.proc.pid, signal.SIGINT)
        try:  # its services say "shut down" in seconds; a loaded machine's stray waits are cut
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@dataclass
class DaemonWorld:
    ui: UI
    soundcloud: SoundCloudEmulator
    notion: NotionEmulator
    catalog: SeededCatalog


@pytest.fixture(scope="module")
def daemon_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonWorld]:
    """One `soundcloud-sync dev` (web server, daemon, code server) on emulators of its own,
    for every test of this module."""
    folder = tmp_path_factory.mktemp("daemon")
    # 12 s of audio a track: runs taking turns are tested, not what the audio measures
    with (
        SoundCloudEmulator(audio_seconds=12.0) as soundcloud,
        NotionEmulator(rate=FAST_RATE, burst=50) as notion,
    ):
        catalog = seed_music_catalog(notion)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("NOTION_", "SOUNDCLOUD_"))}
        base.pop("DAGSTER_HOME", None)
        env = {**base, **services_env(folder, soundcloud, notion, catalog),
               "DAGSTER_DISABLE_TELEMETRY": "1"}  # fmt: skip
        dev = UI(env, folder)
        try:
            yield DaemonWorld(dev, soundcloud, notion, catalog)
        finally:
            dev.close()


@pytest.fixture
def world(daemon_world: DaemonWorld) -> DaemonWorld:
    """The module's UI, its emulators answering at full speed (a test slows them itself)."""
    daemon_world.soundcloud.latency = 0.0
    daemon_world.notion.faults.slow = 0.0
    return daemon_world


def register(ui: UI, *urls: str) -> None:
    added = cli_in_process(ui.env, "add", *urls)  # `add` itself: no process needed
    assert added.returncode == 0, added.stderr


def holds_slot(instance: DagsterInstance, pool: str, run_id: str) -> bool:
    storage = instance.event_log_storage
    if pool not in storage.get_concurrency_keys():
        return False
    return any(s.run_id == run_id for s in storage.get_concurrency_info(pool).claimed_slots)


def slots_of(instance: DagsterInstance, run_id: str) -> bool:
    return run_id in instance.event_log_storage.get_concurrency_run_ids()


def recorded(instance: DagsterInstance, run_id: str) -> bool:
    """The run's worker is on its tags (its first step has set up; the steps run in the
    worker's threads, so there is no step process of its own)."""
    run = instance.get_run_by_id(run_id)
    return run is not None and run_worker(run.tags) is not None


DONE = (DagsterRunStatus.FAILURE, DagsterRunStatus.SUCCESS)


def test_runs_killed_under_the_daemon_never_block_the_next(world: DaemonWorld) -> None:
    ui, soundcloud_emulator = world.ui, world.soundcloud
    notion_emulator, notion_catalog = world.notion, world.catalog
    before = soundcloud_id_counts(notion_emulator, notion_catalog)
    soundcloud_emulator.latency = 0.02
    notion_emulator.faults.slow, notion_emulator.faults.slow_seconds = 1.0, 0.02
    baseline_list = soundcloud_emulator.add_playlist("dj-a", "baseline", 100)
    playlist = soundcloud_emulator.add_playlist("dj-b", "killed-under-daemon", 100)
    register(ui, baseline_list.url, playlist.url)

    started = time.monotonic()
    baseline = ui.launch(baseline_list.key, NOTION_ASSETS)
    assert ui.finish(baseline) == DagsterRunStatus.SUCCESS
    uninterrupted = time.monotonic() - started
    # the daemon forked it from a process with the project imported (instance.launcher):
    # the runs killed below are such forks
    forked = ui.instance.get_run_by_id(baseline).tags.get(FORKED_TAG)
    assert forked == "soundcloud_sync.definitions"

    # (pool held when the kill lands, whether the step processes die with the worker)
    kills = [
        ("soundcloud_api", True),
        ("notion_api", False),
        ("soundcloud_api", False),
        ("notion_api", True),
        ("notion_api", False),
    ]
    killed = []
    for pool, with_steps in kills:
        run_id = ui.launch(playlist.key, NOTION_ASSETS)
        ui.wait(
            lambda r=run_id, p=pool: holds_slot(ui.instance, p, r) and recorded(ui.instance, r),
            f"{pool} held by a step that recorded its process",
        )
        if pool == "notion_api":
            time.sleep(0.5)  # a few pages in
        run = ui.instance.get_run_by_id(run_id)
        worker = run_worker(run.tags)
        assert worker is not None, "the run did not record its worker"
        victims = [worker.process()]
        if with_steps:
            victims += [s.process() for s in step_processes(run.tags)]
        for victim in victims:
            if victim is not None:
                victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        ui.wait(lambda r=run_id: ui.status(r) in DONE, "run ended")
        if ui.status(run_id) == DagsterRunStatus.SUCCESS:
            continue  # it finished between our look and the kill: nothing was killed
        failed_after = time.monotonic() - killed_at
        ui.wait(lambda r=run_id: not slots_of(ui.instance, r), "slots freed")
        print(
            f"killed at {pool}: marked failed after {failed_after:.1f} s, "
            f"slots freed after {time.monotonic() - killed_at:.1f} s"
        )
        killed.append(run_id)
    assert len(killed) >= 3, "most kills must land while the run holds its slot"

    started = time.monotonic()
    last = ui.launch(playlist.key, NOTION_ASSETS)
    assert ui.finish(last) == DagsterRunStatus.SUCCESS
    recovered = time.monotonic() - started
    print(f"daemon: uninterrupted {uninterrupted:.1f} s, after five kills {recovered:.1f} s")
    assert recovered < uninterrupted + 60

    for run_id in killed:
        run = ui.instance.get_run_by_id(run_id)
        assert run.status == DagsterRunStatus.FAILURE, run.status
        assert not any(s.process() for s in step_processes(run.tags))
    assert not ui.instance.event_log_storage.get_concurrency_run_ids()
    pages = soundcloud_id_counts(notion_emulator, notion_catalog)
    assert {k: pages[k] for k in before} == before  # the other tests' pages as they were
    new = {k: n for k, n in pages.items() if k not in before}
    assert set(new) == {*playlist.track_ids, *baseline_list.track_ids}
    assert max(new.values()) == 1


def test_two_ui_runs_of_one_playlist_both_succeed_with_everything_once(
    world: DaemonWorld,
) -> None:
    ui, soundcloud_emulator = world.ui, world.soundcloud
    notion_emulator, notion_catalog = world.notion, world.catalog
    before = soundcloud_id_counts(notion_emulator, notion_catalog)
    home = Path(ui.env["SOUNDCLOUD_SYNC_HOME"])
    library_before = {p.name for p in (home / "library").rglob("*.aiff")}
    downloads = home / "downloads"
    downloads_before = {p.name for p in downloads.iterdir()} if downloads.is_dir() else set()
    playlist = soundcloud_emulator.add_playlist("dj-c", "launched-twice", 3)
    register(ui, playlist.url)
    first = ui.launch(playlist.key, None)  # the whole job: download, analyse, convert
    second = ui.launch(playlist.key, None)
    assert (ui.finish(first, 400), ui.finish(second, 400)) == (
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.SUCCESS,
    )
    records = {r.dagster_run.run_id: r for r in ui.instance.get_run_records()}
    earlier, later = sorted((records[first], records[second]), key=lambda r: r.start_time or 0)
    assert (later.start_time or 0) >= (earlier.end_time or 0), "the two runs overlapped"

    pages = soundcloud_id_counts(notion_emulator, notion_catalog)
    assert {k: pages[k] for k in before} == before  # the other tests' pages as they were
    new = {k: n for k, n in pages.items() if k not in before}
    assert set(new) == set(playlist.track_ids) and max(new.values()) == 1
    library = sorted(  # not the exports
        p.name for p in (home / "library").rglob("*.aiff") if p.name not in library_before
    )
    files = sorted(
        p.name for p in downloads.iterdir() if p.is_file() and p.name not in downloads_before
    )
    assert len(library) == len(playlist.track_ids), library
    assert not [name for name in library if " [" in name], library  # no namesake copies
    assert len(files) == len(playlist.track_ids), files
