"""The seed's Python API, end to end through Dagster runs against the three emulators."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from soundcloud_sync import api
from soundcloud_sync.audio import read_tags
from soundcloud_sync.audio.analysis import ANALYSIS_VERSION
from soundcloud_sync_tests.emulators.eagle import EagleEmulator
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    emulated_services_env: dict[str, str],
    eagle_emulator: EagleEmulator,
) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = {**emulated_services_env, "EAGLE_API_URL": eagle_emulator.url,
                "AUDIO_FORMATS": "aiff,m4a"}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return Path(settings["SOUNDCLOUD_SYNC_HOME"])


def test_extraction_api(environment: Path, soundcloud_emulator: SoundCloudEmulator) -> None:
    playlist = soundcloud_emulator.add_playlist("selector", "long-set", 120, kinds={7: "gone"})
    soundcloud_emulator.reset_counts()
    tracks = api.extract_playlist_tracks(playlist.url + "?utm_medium=text")
    assert soundcloud_emulator.api_requests == 1 + 3  # resolve + ceil(115 stubs / 50)
    assert [t["track_number"] for t in tracks] == list(range(1, 121))
    assert {t["playlist_name"] for t in tracks} == {playlist.title}
    assert tracks[6]["availability"] == "gone"
    assert all(t["title"] and t["artist"] and t["url"] for i, t in enumerate(tracks) if i != 6)
    meta = api.get_playlist_metadata(playlist.url)
    assert (meta["key"], meta["track_count"], meta["name"]) == (
        "selector/sets/long-set",
        120,
        playlist.title,
    )


def test_sync_and_download_playlist_end_to_end(
    environment: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
    eagle_emulator: EagleEmulator,
) -> None:
    playlist = soundcloud_emulator.add_playlist("selector", "tiny", 4, kinds={2: "preview"})
    stats = api.sync_and_download_playlist(playlist.url, playlist_name="Tiny (digging)")
    assert stats["playlist_name"] == "Tiny (digging)"
    assert (stats["tracks_added"], stats["errors"]) == (4, 0)
    assert (stats["downloaded"], stats["analysed"], stats["converted"]) == (3, 3, 3)
    assert stats["previews"] == 1

    pages = {
        notion_emulator.plain(p)["SoundCloud ID"]: notion_emulator.plain(p)
        for p in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
    }
    for position, track_id in enumerate(playlist.track_ids, start=1):
        emu_track = soundcloud_emulator.tracks[track_id]
        page = pages[track_id]
        if position == 2:  # the preview: in Notion, never downloaded as the track
            assert not page["Downloaded"] and page["Tempo"] is None
            continue
        assert page["Downloaded"] is True
        assert abs(page["Tempo"] - emu_track.bpm) <= 0.1, (page["Tempo"], emu_track.bpm)
        assert page["Key"] and page["AIFF File Path"] and page["M4A File Path"]
        assert page["Eagle File ID"]
        for fmt in ("AIFF File Path", "M4A File Path"):
            tags = read_tags(page[fmt])
            assert tags.soundcloud_id == track_id and tags.album == "Tiny (digging)"
            assert tags.key == emu_track.key and tags.artwork
            assert Path(page[fmt]).resolve().is_relative_to(environment / "library")
    assert len(eagle_emulator.state.items) == 3
    stored = api.catalog_for(api._settings()).tracks_by_id(playlist.track_ids)
    for track_id in (playlist.track_ids[0], playlist.track_ids[2]):
        row = stored[track_id]  # the beat grid and the analysis version, beside the tempo
        assert row["analysis_version"] == ANALYSIS_VERSION and row["tempo_confidence"] > 0
        assert 0 <= row["first_beat_s"] <= row["first_downbeat_s"] < 4 * 60 / row["tempo"]

    # Run again: nothing downloaded, imported or written again.
    notion_emulator.reset_counts()
    again = api.sync_and_download_playlist(playlist.url)
    assert again["tracks_skipped"] == 4 and again["downloaded"] == 3
    assert len(eagle_emulator.state.items) == 3
    assert notion_emulator.writes == 1  # only the playlist page's Last Synced / Sync Status


def test_incremental_and_ensure_skip_runs_when_nothing_changed(
    environment: Path, soundcloud_emulator: SoundCloudEmulator
) -> None:
    playlist = soundcloud_emulator.add_playlist("selector", "steady", 5)
    first = api.sync_playlist_incremental(playlist.url)
    assert first["unchanged"] is False and first["tracks_added"] == 5
    soundcloud_emulator.reset_counts()
    assert api.ensure_playlist_synced(playlist.url) is True
    second = api.sync_playlist_incremental(playlist.url)
    assert second["unchanged"] is True
    assert soundcloud_emulator.api_requests == 2  # one cheap check each, no run
    with DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1

    soundcloud_emulator.append_tracks(playlist, 1)
    third = api.sync_playlist_incremental(playlist.url)
    assert third["unchanged"] is False and third["tracks_added"] == 1


def test_batch_create_notion_tracks_dedupes_and_fills_hand_made_pages(
    environment: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    playlist = soundcloud_emulator.add_playlist("selector", "loose-tracks", 60)
    tracks = api.extract_playlist_tracks(playlist.url)
    hand_made = tracks[10]
    notion_emulator.add_page(
        notion_catalog.tracks_data_source_id,
        {"Title": hand_made["title"], "Artist Name": hand_made["artist"]},
    )
    notion_emulator.reset_counts()
    stats = api.batch_create_notion_tracks(tracks, batch_size=25, max_concurrent=4)
    assert (stats["created"], stats["updated"], stats["errors"]) == (59, 1, 0)
    # 60 writes, 2 schema reads, at most 3 bulk lookups per batch of 25, and the
    # playlist's page looked up and made once (the rows name it): never one per track
    assert notion_emulator.total_requests <= 60 + 2 + 3 * 3 + 2
    ids = [notion_emulator.plain(p)["SoundCloud ID"]
           for p in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)]  # fmt: skip
    assert sorted(ids) == sorted(t["soundcloud_id"] for t in tracks)  # one page each

    again = api.batch_create_notion_tracks(tracks)
    assert (again["created"], again["errors"]) == (0, 0)
    assert len(notion_emulator.pages_in(notion_catalog.tracks_data_source_id)) == 60


def test_without_notion_and_with_eagle_closed_the_rest_of_the_chain_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, soundcloud_emulator: SoundCloudEmulator
) -> None:
    """No NOTION_TOKEN and Eagle not running: both steps say why, the run succeeds."""
    from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE
    from soundcloud_sync_tests.servers import free_port

    monkeypatch.chdir(tmp_path)
    for name in ("DAGSTER_HOME", "NOTION_TOKEN", "NOTION_TRACKS_DATABASE_ID"):
        monkeypatch.delenv(name, raising=False)
    settings = {
        "SOUNDCLOUD_SYNC_HOME": str(tmp_path / "home"),
        "SOUNDCLOUD_API_BASE": PROXY_API_BASE,
        "SOUNDCLOUD_PROXY": soundcloud_emulator.proxy_url,
        "SOUNDCLOUD_CLIENT_ID": soundcloud_emulator.client_id,
        "EAGLE_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    playlist = soundcloud_emulator.add_playlist("selector", "no-notion", 3)

    stats = api.sync_and_download_playlist(playlist.url)
    assert stats["notion"] == "skipped" and stats["track_ids"] == []
    assert (stats["downloaded"], stats["analysed"], stats["converted"]) == (3, 3, 3)
    assert len(list((tmp_path / "home" / "library").rglob("*.aiff"))) == 3

    with DagsterInstance.get() as instance:
        [run] = instance.get_runs()
        messages = [e.user_message for e in instance.all_logs(run.run_id)]
    assert any("NOTION_TOKEN is not set" in m for m in messages)
    assert any("Eagle" in m and "not running" in m for m in messages), [
        m for m in messages if "agle" in m
    ]
