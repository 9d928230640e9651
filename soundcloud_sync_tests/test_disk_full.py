"""A full disk is an error, not a success: on a really full (tmpfs) file system the run
fails naming each track left without its file and why, nothing half-written stays, and
the next run, with room again, completes it.

Mounting needs root (CI's `.ci/run` runs as root, as does this workplace): the tests
skip, saying so, only where the mount itself is refused.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundcloud_sync.audio.download import DownloadStatus, download_tracks
from soundcloud_sync.audio.space import plan_space, write_problem
from soundcloud_sync.audio.tags import read_tags
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (made if missing), unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def grow(where: Path, size: str) -> None:
    """More room on the mounted tmpfs; what it holds stays."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)


def test_a_download_that_does_not_fit_fails_alone_and_leaves_nothing(
    soundcloud_emulator: SoundCloudEmulator, soundcloud_client, tmp_path: Path
) -> None:
    tracks = [soundcloud_emulator.add_track("label", seconds=30.0) for _ in range(4)]
    rows = [{"soundcloud_id": t.id, "url": t.permalink_url, "duration_ms": 30_000}
            for t in tracks]  # fmt: skip
    with small_filesystem(tmp_path / "downloads", "1m") as folder:  # ~480 KB a track
        results = download_tracks(rows, folder, soundcloud_client.youtube_dl, max_workers=1)
        leftovers = [p.name for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock"]
        done = {r.soundcloud_id for r in results if r.status == DownloadStatus.DOWNLOADED}
    failed = [r for r in results if r.write_failed]
    assert failed and done  # some fitted, some did not
    assert all(r.status == DownloadStatus.ERROR for r in failed)
    assert {r.reason for r in failed} == {f"no space left on {folder}"}
    assert all(r.attempts == 1 for r in failed)  # no retry, no fallback: neither finds room
    # only finished downloads are there: no .part, nothing in staging
    assert sorted(leftovers) == sorted(f"{sid}.mp3" for sid in done)


def test_a_full_library_fails_the_run_naming_each_track_and_the_next_run_completes(
    tmp_path: Path,
    cli_env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
) -> None:
    playlist = soundcloud_emulator.add_playlist("crate-digger", "long-night", 5)
    env = {**cli_env, "AUDIO_FORMATS": "aiff"}
    library = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "library"
    with small_filesystem(library, "6m") as folder:  # 24 s of AIFF: ~2-4 MB a track
        first = cli_in_process(env, "sync", playlist.url, "--json")
        assert first.returncode != 0, first.stderr
        stats = json.loads(first.stdout)
        failed = [t for t in stats["failed_tracks"] if t.get("step") == "library_files"]
        assert failed and stats["errors"] >= len(failed)
        assert {t["reason"] for t in failed} == {f"no space left on {folder}"}
        titles = {t.id: t.title for t in map(soundcloud_emulator.tracks.get, playlist.track_ids)}
        # a SoundCloud track's recording has SoundCloud's id as its number
        assert {t["recording_id"]: t["title"] for t in failed} == {
            t["recording_id"]: titles[t["recording_id"]] for t in failed
        }
        assert "left without their library files" in first.stderr
        assert f"no space left on {folder}" in first.stderr
        # the plan was said first: what AIFF takes, what is free there
        assert "aiff" in first.stderr and "free:" in first.stderr
        # nothing half-written: no temporary file, every file whole and tagged
        assert not [p for p in folder.rglob("*") if ".converting-" in p.name]
        written = list(folder.rglob("*.aiff"))
        assert len(written) == len(playlist.track_ids) - len(failed)
        for path in written:
            assert read_tags(path).soundcloud_id in titles

        # before the next run (a backfill): what is still to write, and what is free
        space = cli_in_process(env, "space", "--json")
        assert space.returncode == 0, space.stderr
        plan = json.loads(space.stdout)
        assert plan["tracks"] == len(failed) and plan["needed_bytes"]["aiff"] > 0
        assert plan["needed_bytes"]["download"] == 0  # the downloads are all there
        assert set(plan["free_bytes"]) == {str(folder.parent / "downloads"), str(folder)}
        assert str(folder) in plan["short_bytes"]  # the full library: said before the run

        grow(folder, "64m")  # space freed
        second = cli_in_process(env, "sync", playlist.url, "--json")
        assert second.returncode == 0, second.stderr
        again = json.loads(second.stdout)
        assert again["errors"] == 0 and again["failed_tracks"] == []
        assert again["converted"] == len(playlist.track_ids)
        files = [p for p in folder.rglob("*.aiff")]
        assert len(files) == len(playlist.track_ids)


def test_the_plan_counts_what_is_still_to_write(tmp_path: Path) -> None:
    done = tmp_path / "lib" / "aiff" / "a.aiff"
    done.parent.mkdir(parents=True)
    done.write_bytes(b"x")
    source = tmp_path / "dl" / "1.mp3"
    source.parent.mkdir()
    source.write_bytes(b"x")
    rows = [
        {"soundcloud_id": 1, "duration_ms": 60_000, "availability": "ok",
         "source_path": str(source), "files": {"aiff": str(done), "m4a": str(done)}},
        {"soundcloud_id": 2, "duration_ms": 100_000, "availability": "ok",
         "source_path": str(source), "files": {}},  # on disk: only the AIFF to write
        {"soundcloud_id": 3, "duration_ms": 200_000, "availability": "ok"},  # everything
        {"soundcloud_id": 4, "duration_ms": 200_000, "availability": "preview-only"},
    ]  # fmt: skip
    plan = plan_space(rows, ["aiff", "m4a"], downloads=tmp_path / "dl", library=tmp_path / "lib")
    assert plan.tracks == 2 and plan.seconds == 300.0
    assert plan.needed == {"download": 200 * 20_000, "aiff": 300 * 176_400, "m4a": 300 * 40_000}
    assert list(plan.free) == [str(tmp_path / "dl")]  # one file system, said once
    assert any("aiff" in line for line in plan.lines())


def test_write_problems_are_named_by_folder() -> None:
    assert write_problem(OSError(28, "No space left on device"), "/lib") == "no space left on /lib"
    assert write_problem(OSError(30, "Read-only file system"), "/lib") == (
        "/lib is on a read-only file system"
    )
    wrapped = RuntimeError("converting x to aiff failed: ... No space left on device")
    assert write_problem(wrapped, "/lib") == "no space left on /lib"
    assert write_problem(ValueError("corrupt input"), "/lib") is None
