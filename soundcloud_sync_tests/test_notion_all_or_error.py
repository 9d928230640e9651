"""All or an error: under 429 storms, 5xx and creates whose answer is lost, a
300-track sync ends with every page once, or fails naming each track left out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def env(emulated_services_env: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NOTION_", "SOUNDCLOUD_"))}
    base.pop("DAGSTER_HOME", None)
    return {**base, **emulated_services_env}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=env["SOUNDCLOUD_SYNC_HOME"].rsplit("/", 1)[0],
    )


def pages_by_sid(emulator: NotionEmulator, catalog: SeededCatalog) -> dict[int, list[str]]:
    pages: dict[int, list[str]] = {}
    for pid in emulator.pages_in(catalog.tracks_data_source_id):
        sid = emulator.plain(pid).get("SoundCloud ID")
        if sid is not None:
            pages.setdefault(int(sid), []).append(pid)
    return pages


def test_faulty_notion_gets_every_page_once_or_a_failure_naming_the_missing(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("storm-dj", "rainy-day", 300)
    notion_emulator.faults.rate_limited = 0.10
    notion_emulator.faults.server_error = 0.02
    notion_emulator.faults.commit_then_502 = 0.01

    result = run(env, "sync", playlist.url, "--no-download", "--json")

    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert all(len(ids) == 1 for ids in pages.values()), "duplicate pages"
    assert notion_emulator.statuses[429] > 0
    print(result.returncode, result.stdout[-3000:], result.stderr[-3000:])
    if result.returncode == 0:
        stats = json.loads(result.stdout)
        assert set(pages) == set(playlist.track_ids)
        assert stats["errors"] == 0 and stats["failed_tracks"] == []
    else:
        missing = set(playlist.track_ids) - set(pages)
        assert missing
        for sid in missing:
            assert str(sid) in result.stdout + result.stderr
