"""Crash safety: a 500-track sync killed (SIGKILL) at random points, several times,
then run to the end, leaves exactly one page per track, all linked; also with 10%
injected 429s and 2% creates that commit and then answer 502."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog

ROOT = Path(__file__).resolve().parents[1]
TRACKS = 500


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "soundcloud_sync_tests.notion_runner", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(proc: subprocess.Popen[str], condition, timeout: float = 60) -> bool:
    """SIGKILL the run as soon as ``condition()`` holds; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if condition():
            proc.kill()
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    raise AssertionError("the sync run neither progressed nor finished")


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "429s-and-lost-creates"])
def test_killed_runs_leave_no_duplicate_and_no_missing_page(
    notion_emulator: NotionEmulator, notion_catalog: SeededCatalog, tmp_path: Path, faults: bool
):
    rng = random.Random(1234 + faults)
    if faults:
        notion_emulator.faults.rate_limited = 0.10
        notion_emulator.faults.retry_after = 0
        notion_emulator.faults.commit_then_502 = 0.02
    catalog_file = tmp_path / "catalog.jsonl"
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {
                "base_url": notion_emulator.base_url,
                "token": notion_emulator.token,
                "tracks_database_id": notion_catalog.tracks_database_id,
                "playlists_database_id": notion_catalog.playlists_database_id,
                "state_dir": str(tmp_path / "home"),
                "catalog": str(catalog_file),
                "tracks": TRACKS,
                "rate": 400,
                "burst": 20,
                "max_concurrent": 4,
            }
        )
    )

    # killed while Notion holds a committed create whose answer has not left yet; first,
    # so that there is always a create left to hang on however fast the machine runs
    notion_emulator.script("POST", "/v1/pages", "commit_then_hang", hang_seconds=5)
    proc = _start(config)
    assert _kill_after(proc, notion_emulator.hanging.is_set)
    kills = 1
    hung_page = notion_emulator.committed_then_failed[-1]

    for _ in range(4):  # killed at a random number of requests into the run
        start = notion_emulator.total_requests
        budget = rng.randint(2, 100)  # four runs stay well short of 500 creates
        proc = _start(config)
        kills += _kill_after(
            proc, lambda s=start, b=budget: notion_emulator.total_requests >= s + b
        )

    proc = _start(config)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    report = json.loads(out.strip().splitlines()[-1])

    assert kills >= 5
    assert report["errors"] == 0 and report["failed_tracks"] == []
    assert report["sync_status"] == "Synced"
    pages: dict[int, list[str]] = {}
    for pid in notion_emulator.pages_in(notion_catalog.tracks_data_source_id):
        values = notion_emulator.plain(pid)
        pages.setdefault(int(values["SoundCloud ID"]), []).append(pid)
        assert values["Playlists"] == [report["playlist_page_id"]]
    assert len(pages) == TRACKS  # none missing
    assert all(len(ids) == 1 for ids in pages.values())  # none duplicated
    assert notion_emulator.pages_in(notion_catalog.playlists_data_source_id) == [
        report["playlist_page_id"]
    ]
    assert hung_page in {ids[0] for ids in pages.values()} | {report["playlist_page_id"]}
    # the catalog (fed by on_page) ends up knowing every page, and the right one
    remembered: dict[int, str] = {}
    for line in catalog_file.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("page_id") and "soundcloud_id" in item:
            remembered[int(item["soundcloud_id"])] = item["page_id"]
    assert remembered == {sid: ids[0] for sid, ids in pages.items()}
    if faults:
        assert notion_emulator.statuses[429] > 0 and notion_emulator.committed_then_failed
