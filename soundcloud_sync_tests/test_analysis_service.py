"""The machine's analysis process (`audio.service`): the runs of two syncs send their
tracks to one process that loaded librosa and numba once; a process killed mid-track
costs only time (the run measures the track itself); it goes when idle."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from soundcloud_sync.audio.service import AnalysisService
from soundcloud_sync.steps.audio import measure_files
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import run_cli
from soundcloud_sync_tests.synth import encode_audio, render_track

RANGE = (70.0, 180.0)


def _measured_by(dagster_home: Path) -> dict[str, str]:
    """Each playlist's `audio_features` metadata: which process measured its tracks."""
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.fetch_materializations(AssetKey("audio_features"), limit=20)
        return {
            m.partition: m.metadata["measured_by"].value
            for m in (r.asset_materialization for r in records.records)
            if m is not None and m.partition and "measured_by" in m.metadata
        }


@pytest.fixture
def own_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary folder of this test's own for the service's socket (short: a socket's
    path is limited), so killing its service touches no other test's."""
    folder = Path(tempfile.mkdtemp(prefix="sc-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    for lock in folder.glob("*/*.sock.lock"):
        service = lock.with_suffix("")
        pid = _service_pid(service)
        if pid:
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _service_pid(address: Path) -> int | None:
    """The process serving ``address`` (its command line names it)."""
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if b"soundcloud_sync.audio.service" in command and str(address).encode() in command:
            return int(proc.name)
    return None


def _has_children(pid: int) -> bool:
    try:
        return any(
            (t / "children").read_text().strip() for t in Path(f"/proc/{pid}/task").iterdir()
        )
    except OSError:
        return False


def _tracks(folder: Path, n: int, seconds: float) -> list[str]:
    music = render_track(124.0, "A minor", seconds, seed=2)
    return [str(encode_audio(music, 44100, folder / f"t{i}.mp3")) for i in range(n)]


def test_two_syncs_share_one_analysis_process_without_the_secrets(
    cli_env: dict[str, str], soundcloud_emulator: SoundCloudEmulator, own_folder: Path
) -> None:
    """Two syncs at once (both may start it: one serves), their tracks measured by one
    process, whose files the library steps take; no secret of the shell reaches it."""
    playlists = [soundcloud_emulator.add_playlist("crate-digger", name, 2)
                 for name in ("warm-up", "peak-time")]  # fmt: skip
    env = {**cli_env, "SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS": "300", "TMPDIR": str(own_folder)}
    # the home made first: two CLIs creating one Dagster instance at once can race in
    # its storage's schema stamp (alembic), which is not what this test is about
    assert run_cli(env, "status").returncode == 0
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda p: run_cli(env, "sync", p.url), playlists))
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]

    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    measured_by = _measured_by(home / "dagster")
    assert sorted(measured_by) == sorted(p.key for p in playlists)
    pids = {int(m) for by in measured_by.values() for m in re.findall(r"\(pid (\d+)\)", by)}
    assert len(pids) == 1 and not any("this run's process" in by for by in measured_by.values())
    [pid] = pids
    try:
        assert not _gone(pid, 0)  # it outlived both runs
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        for name in ("NOTION_TOKEN", "SOUNDCLOUD_CLIENT_ID", "SOUNDCLOUD_PROXY"):
            assert env[name].encode() not in environ, name
    finally:
        os.kill(pid, signal.SIGKILL)  # not five minutes of a test suite's memory
    assert len(list((home / "library").rglob("*.aiff"))) == 4
    assert not list((home / "library" / ".staged").iterdir())  # every staged file taken


def test_an_idle_process_goes_and_leaves_no_socket(tmp_path: Path, own_folder: Path) -> None:
    [track] = _tracks(tmp_path, 1, 8.0)
    service = AnalysisService(idle_seconds=2)
    [result] = measure_files([track], RANGE, [None], workers=1, service=service)
    assert result.features is not None and "pid " in service.describe()
    pid = int(re.findall(r"\(pid (\d+)\)", service.describe())[0])
    assert _gone(pid, 30)  # 2 s without work, and it went
    assert not service.address.exists() and not service.address.with_suffix(".key").exists()


def test_a_process_killed_mid_track_costs_only_time(tmp_path: Path, own_folder: Path) -> None:
    """kill -9 of the analysis process while it decodes: every track is still measured
    (the run measures the one it lost), and the next call starts a new process."""
    tracks = _tracks(tmp_path, 3, 30.0)
    service = AnalysisService(idle_seconds=5)
    killed: list[int] = []

    def kill_while_decoding() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            # serving (its starter, which forks it and exits, is gone), and its ffmpeg
            # decoding a track
            pid = _service_pid(service.address) if service.address.exists() else None
            if pid and _has_children(pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_while_decoding)
    killer.start()
    results = measure_files(tracks, RANGE, [None] * 3, workers=1, service=service)
    killer.join()
    assert killed, "the analysis process never decoded"
    assert [r.error for r in results] == [None] * 3
    assert all(r.features and abs(r.features.tempo - 124.0) < 1 for r in results)
    assert "stopped answering" in (service.unreachable or "")
    assert _gone(killed[0], 10)

    again = AnalysisService(idle_seconds=5)
    [result] = measure_files(tracks[:1], RANGE, [None], workers=1, service=again)
    assert result.features is not None
    assert "pid" in again.describe() and f"pid {killed[0]})" not in again.describe()


def test_a_folder_others_can_enter_is_refused(tmp_path: Path, own_folder: Path) -> None:
    """The socket's folder must be this user's alone (another user may have made a
    shared one, or read the key there): the run measures in its own process."""
    service = AnalysisService(idle_seconds=5)
    service.address.parent.mkdir()
    service.address.parent.chmod(0o755)
    [track] = _tracks(tmp_path, 1, 8.0)
    [result] = measure_files([track], RANGE, [None], workers=1, service=service)
    assert result.features is not None and service.measured_by == {"here": 1}
    assert "is not this user's alone" in (service.unreachable or "")
    assert not list(service.address.parent.iterdir())  # nothing started there


def test_a_silent_caller_blocks_nobody_and_a_removed_socket_ends_it(
    tmp_path: Path, own_folder: Path
) -> None:
    """A caller that connects and says nothing (a frozen run) does not hold up the next
    track; the process goes when its socket is removed (a temp cleaner), not later."""
    import socket

    first, second = _tracks(tmp_path, 2, 8.0)
    service = AnalysisService(idle_seconds=120)
    measure_files([first], RANGE, [None], workers=1, service=service)
    assert service.address is not None
    pid = int(re.findall(r"\(pid (\d+)\)", service.describe())[0])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(str(service.address))
        started = time.monotonic()
        [result] = measure_files([second], RANGE, [None], workers=1, service=service)
        assert result.features is not None and service.measured_by == {f"pid {pid}": 2}
        assert time.monotonic() - started < 10  # not behind the silent one's handshake
    service.address.unlink()
    assert _gone(pid, 15)
