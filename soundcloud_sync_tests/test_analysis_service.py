"""The machine's analysis process (`audio.service`): the runs of two syncs send their
tracks to one process that loaded librosa and numba once; a process killed mid-track
costs only time (the run measures the track itself); it goes when idle."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
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
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        with DagsterInstance.get() as instance:
            records = instance.fetch_materializations(AssetKey("audio_features"), limit=20)
            return {
                m.partition: m.metadata["measured_by"].value
                for m in (r.asset_materialization for r in records.records)
                if m is not None and m.partition and "measured_by" in m.metadata
            }
    finally:
        del os.environ["DAGSTER_HOME"]


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


def _service_pid(service: AnalysisService) -> int | None:
    """The process serving ``service``'s socket (its command line names it)."""
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if b"soundcloud_sync.audio.service" in command and str(service.address).encode() in command:
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


def test_two_syncs_share_one_analysis_process_which_goes_when_idle(
    cli_env: dict[str, str], soundcloud_emulator: SoundCloudEmulator
) -> None:
    first = soundcloud_emulator.add_playlist("crate-digger", "warm-up", 2)
    second = soundcloud_emulator.add_playlist("crate-digger", "peak-time", 2)
    env = {**cli_env, "SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS": "20"}
    for playlist in (first, second):
        done = run_cli(env, "sync", playlist.url)
        assert done.returncode == 0, done.stderr

    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    measured_by = _measured_by(home / "dagster")
    assert sorted(measured_by) == sorted([first.key, second.key])
    [by] = set(measured_by.values())  # one process measured both playlists' tracks
    assert by.startswith("the machine's analysis process (pid ")
    pid = int(by.rsplit(" ", 1)[1].rstrip(")"))
    assert not _gone(pid, 0)  # it outlived both runs
    [address] = [Path(a) for a in Path(f"/proc/{pid}/cmdline").read_text().split("\0")
                 if a.endswith(".sock")]  # fmt: skip
    assert _gone(pid, 60)  # 20 s without work, and it went
    assert not address.exists() and not address.with_suffix(".key").exists()


def test_a_process_killed_mid_track_costs_only_time(tmp_path: Path) -> None:
    """kill -9 of the analysis process while it decodes: every track is still measured
    (the run measures the one it lost), and the next call starts a new process."""
    tracks = _tracks(tmp_path, 3, 30.0)
    service = AnalysisService(tmp_path / "downloads", idle_seconds=5)
    killed: list[int] = []

    def kill_while_decoding() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pid = _service_pid(service)
            if pid and _has_children(pid):  # its ffmpeg is decoding a track
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

    again = AnalysisService(tmp_path / "downloads", idle_seconds=5)
    [result] = measure_files(tracks[:1], RANGE, [None], workers=1, service=again)
    assert result.features is not None and again.pid not in (None, killed[0])


def test_a_folder_others_can_enter_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket's folder must be this user's alone (another user may have made a
    shared one, or read the key there): the run measures in its own process."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    service = AnalysisService(tmp_path / "downloads", idle_seconds=5)
    service.address.parent.mkdir()
    service.address.parent.chmod(0o755)
    [track] = _tracks(tmp_path, 1, 8.0)
    [result] = measure_files([track], RANGE, [None], workers=1, service=service)
    assert result.features is not None and service.pid is None
    assert "is not this user's alone" in (service.unreachable or "")
    assert not list(service.address.parent.iterdir())  # nothing started there
