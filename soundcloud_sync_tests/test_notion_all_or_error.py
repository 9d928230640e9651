"""The Notion step through the CLI: every track gets its page or the run fails naming
each one left out; the dry run reports exactly the unlinks the real run then does;
Availability follows SoundCloud and survives a track's deletion."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from soundcloud_sync.notion import NotionGateway
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process, run_cli

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's command in this process: what is tested is the step, not its process."""
    return cli_in_process(env, *args)


def pages_by_sid(emulator: NotionEmulator, catalog: SeededCatalog) -> dict[int, list[str]]:
    pages: dict[int, list[str]] = {}
    for pid in emulator.pages_in(catalog.tracks_data_source_id):
        sid = emulator.plain(pid).get("SoundCloud ID")
        if sid is not None:
            pages.setdefault(int(sid), []).append(pid)
    return pages


def add_property(emulator: NotionEmulator, catalog: SeededCatalog, spec: dict) -> None:
    """What a user does in Notion's UI: add a property to Music Tracks."""
    gateway = NotionGateway(emulator.token, base_url=emulator.base_url, requests_per_second=100)
    gateway.client.data_sources.update(catalog.tracks_data_source_id, properties=spec)


def test_429_storms_5xx_and_lost_creates_end_with_every_page_once(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("storm-dj", "rainy-day", 300)
    faults = notion_emulator.faults
    faults.rate_limited, faults.server_error, faults.commit_then_502 = 0.10, 0.02, 0.01
    faults.retry_after = 0  # the storms' length is what matters here, not their wait

    def storms() -> None:  # bursts of 429s longer than the retries kept for real failures
        for after in (40, 150, 260):
            while len(notion_emulator.pages_in(notion_catalog.tracks_data_source_id)) < after:
                time.sleep(0.01)
            notion_emulator.script("POST", "/v1/pages", "429", times=12)
            notion_emulator.script("PATCH", "/v1/pages/{id}", "429", times=12)

    threading.Thread(target=storms, daemon=True).start()
    result = run(env, "sync", playlist.url, "--no-download", "--json")

    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads(result.stdout)
    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert set(pages) == set(playlist.track_ids)  # none missing
    assert all(len(ids) == 1 for ids in pages.values())  # none twice
    assert (stats["tracks_added"], stats["errors"], stats["failed_tracks"]) == (300, 0, [])
    assert stats["sync_status"] == "Synced"
    assert notion_emulator.statuses[429] > 36 and notion_emulator.committed_then_failed


def test_tracks_notion_refuses_fail_the_run_naming_each_after_the_rest_is_written(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("storm-dj", "outage", 5)
    assert run(env, "sync", playlist.url, "--no-download").returncode == 0
    new = soundcloud_emulator.append_tracks(playlist, 3)
    changed = soundcloud_emulator.tracks[playlist.track_ids[0]]
    changed.genre = "Dub Techno"  # an update that must still get through
    notion_emulator.script("POST", "/v1/pages", "500", times=10_000)  # no create gets in

    result = run(env, "sync", playlist.url, "--no-download", "--json")

    assert result.returncode != 0
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    stats = json.loads(result.stdout)
    assert {t["soundcloud_id"] for t in stats["failed_tracks"]} == {t.id for t in new}
    assert stats["errors"] == 3
    for track in new:
        assert str(track.id) in line and track.title in line
    failed = {t["soundcloud_id"]: t for t in stats["failed_tracks"]}
    assert all(failed[t.id]["title"] == t.title and failed[t.id]["reason"] for t in new)
    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert set(pages) == set(playlist.track_ids[:5])  # the rest was written
    assert notion_emulator.plain(pages[changed.id][0])["Genre"] == "Dub Techno"

    notion_emulator.scripted.clear()  # Notion is back: the next run finishes the job
    again = run(env, "sync", playlist.url, "--no-download", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["tracks_added"] == 3
    pages = pages_by_sid(notion_emulator, notion_catalog)
    assert set(pages) == set(playlist.track_ids) and all(len(p) == 1 for p in pages.values())


def test_dry_run_reports_the_unlinks_the_real_run_then_does(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("crate-digger", "shrinking", 6)
    assert run(env, "sync", playlist.url, "--no-download").returncode == 0
    # removed while Notion was not configured: the catalog knows, Notion still links it
    first_gone = playlist.track_ids[1]
    soundcloud_emulator.remove_track(playlist, first_gone)
    offline = {k: v for k, v in env.items() if k != "NOTION_TOKEN"}
    # a program of its own: in one process Dagster keeps the job it built with the token
    assert run_cli(offline, "sync", playlist.url, "--no-download").returncode == 0
    second_gone = playlist.track_ids[2]
    soundcloud_emulator.remove_track(playlist, second_gone)
    writes = notion_emulator.writes

    dry = run(env, "sync", playlist.url, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr[-2000:]
    plan = json.loads(dry.stdout)
    assert notion_emulator.writes == writes  # nothing written
    unlinks = {p["soundcloud_id"] for p in plan["plan"] if p["action"] == "unlinked"}
    assert unlinks == {first_gone, second_gone} and plan["tracks_unlinked"] == 2
    assert plan["errors"] == 0 and plan["removed_from_playlist"] == 1

    real = json.loads(run(env, "sync", playlist.url, "--no-download", "--json").stdout)
    assert real["tracks_unlinked"] == plan["tracks_unlinked"]
    pages = pages_by_sid(notion_emulator, notion_catalog)
    for sid in (first_gone, second_gone):
        assert notion_emulator.plain(pages[sid][0])["Playlists"] == []
    again = json.loads(run(env, "sync", playlist.url, "--dry-run", "--json").stdout)
    assert again["tracks_unlinked"] == 0


def test_availability_reaches_notion_and_a_deleted_track_keeps_its_titled_page(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    add_property(notion_emulator, notion_catalog, {"Availability": {"select": {"options": []}}})
    playlist = soundcloud_emulator.add_playlist(
        "crate-digger", "mixed-bag", 5, kinds={2: "preview", 3: "blocked", 5: "gone"}
    )
    first = run(env, "sync", playlist.url, "--no-download", "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    stats = json.loads(first.stdout)
    pages = pages_by_sid(notion_emulator, notion_catalog)
    ids = list(playlist.track_ids)  # delete_track below takes ids out of the set
    shown = {sid: notion_emulator.plain(pages[sid][0])["Availability"] for sid in pages}
    assert shown == {
        ids[0]: "available",
        ids[1]: "preview-only",
        ids[2]: "geo-blocked",
        ids[3]: "available",
    }
    assert ids[4] not in pages and stats["unreadable"] == 1  # no untitled page
    assert all(notion_emulator.plain(p[0])["Title"] for p in pages.values())

    title = notion_emulator.plain(pages[ids[3]][0])["Title"]
    soundcloud_emulator.delete_track(ids[3])  # the uploader deletes a synced track
    again = run(env, "sync", playlist.url, "--no-download", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    page = notion_emulator.plain(pages[ids[3]][0])
    assert (page["Availability"], page["Title"]) == ("gone", title)
    assert pages_by_sid(notion_emulator, notion_catalog) == pages  # no page added
