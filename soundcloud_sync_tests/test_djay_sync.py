"""djay Pro's library in the same catalog, through the CLI's commands as a user runs them.

A SoundCloud playlist synced with audio (our library files) and a Spotify playlist, then
a djay library holding some of those files, Spotify tracks (one by its URI, one only by
ISRC), a file of its own, a manual BPM, play history and two playlists. One `sync djay`
gives one page per recording with djay's facts; the DJ's tempo wins in Notion, the tags
and rekordbox XML; a re-sync writes nothing; djay's file is never changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from notion_client import Client
from pyrekordbox.rbxml import RekordboxXml

from soundcloud_sync.audio.tags import read_tags
from soundcloud_sync.catalog import Catalog
from soundcloud_sync.notion.schema import DJAY_FIELDS
from soundcloud_sync_tests.djay_library import (
    FixtureLibrary,
    FixturePlay,
    FixturePlaylist,
    FixtureTrack,
    file_hashes,
    write_library,
)
from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.emulators.spotify import SpotifyEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process

pytestmark = pytest.mark.xdist_group("djay_e2e")


@pytest.fixture
def env(cli_env: dict[str, str], spotify_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, **spotify_env}


def _add_djay_properties(notion: NotionEmulator, catalog: SeededCatalog) -> None:
    """What `notion init` creates in a new database, added to the user's old one."""
    kinds = {"number": {"number": {}}, "rich_text": {"rich_text": {}}, "date": {"date": {}},
             "select": {"select": {}}, "multi_select": {"multi_select": {}}}  # fmt: skip
    client = Client(auth=notion.token, base_url=notion.base_url)
    client.data_sources.update(
        catalog.tracks_data_source_id,
        properties={f.default: kinds[f.types[0]] for f in DJAY_FIELDS},
    )


def test_sync_djay_one_page_per_recording_with_djay_facts_and_the_djs_tempo(
    env: dict[str, str],
    tmp_path: Path,
    soundcloud_emulator: SoundCloudEmulator,
    spotify_emulator: SpotifyEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc, sp = soundcloud_emulator, spotify_emulator
    ours = [
        sc.add_track("night-shift", "Night Drive", bpm=124, key="A minor"),
        sc.add_track("night-shift", "Paper Tide", bpm=128, key="C major"),
    ]
    result = cli_in_process(env, "sync", sc.add_playlist("night-shift", "warm-up", tracks=ours).url)
    assert result.returncode == 0, result.stderr
    listed = [
        sp.add_track("Static Garden", "Kaia Moreno", isrc="DEX1L2400104"),
        sp.add_track("Ember City", "Rin Takeda", isrc="USRC12400999"),
    ]
    result = cli_in_process(
        env, "sync", sp.add_playlist("Late Spring", "dj-kay", listed).url, "--no-download"
    )
    assert result.returncode == 0, result.stderr
    _add_djay_properties(notion_emulator, notion_catalog)

    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    catalog = Catalog(f"sqlite:///{home}/catalog.sqlite")
    rows = catalog.tracks_by_id(t.id for t in ours)
    drive_file, tide_file = (next(iter(rows[t.id]["files"].values())) for t in ours)
    drive, tide, garden, ember, rip = ("1" * 32, "2" * 32, "3" * 32, "4" * 32, "5" * 32)
    djay = tmp_path / "djay" / "MediaLibrary.db"
    library = FixtureLibrary(
        tracks=[
            FixtureTrack(drive, "Night Drive", rows[ours[0].id]["artist"], duration_s=30.0,
                         uris=[f"file://{quote(drive_file)}"], bpm=124.0, manual_bpm=126.0,
                         key_index=23, rating=5, color=3),
            FixtureTrack(tide, "Paper Tide", rows[ours[1].id]["artist"], uris=[f"file://{quote(tide_file)}"],
                         bpm=100.0, key_index=23),  # our 128 BPM in C major: two disagreements
            FixtureTrack(garden, "Static Garden", "Kaia Moreno",
                         uris=[f"spotify:track:{listed[0].id}"], bpm=122.0),
            FixtureTrack(ember, "Ember City (Radio Edit)", "Rin Takeda", isrc="usrc12400999",
                         uris=["spotify:track:0000000000000000000000"]),
            FixtureTrack(rip, "Basement Dub", "Unknown Artist", duration_s=301.0,
                         uris=["file:///Users/dj/Music/Rips/basement%20dub.mp3"], bpm=131.0),
        ],
        plays=[
            FixturePlay(drive, datetime(2026, 5, 1, 23, 0, tzinfo=UTC), "s1"),
            FixturePlay(garden, datetime(2026, 5, 1, 23, 5, tzinfo=UTC), "s1"),
            FixturePlay(drive, datetime(2026, 6, 12, 1, 15, tzinfo=UTC), "s2"),
        ],
        playlists=[
            FixturePlaylist("pl-warm", "Warmup", [garden, drive, rip]),
            FixturePlaylist("pl-peak", "Peak", [tide, ember]),
        ],
    )  # fmt: skip
    running = write_library(djay, library, keep_open=True)  # djay is open meanwhile
    assert running is not None
    env = {**env, "DJAY_LIBRARY_PATH": str(djay)}
    before = file_hashes(djay.parent)
    pages_before = set(notion_emulator.pages_in(notion_catalog.tracks_data_source_id))
    try:
        first = cli_in_process(env, "sync", "djay", "--json")
        assert first.returncode == 0, first.stderr
        stats = json.loads(first.stdout)
        assert stats["tracks_read"] == 5
        assert (stats["matched/file"], stats["matched/service"], stats["matched/isrc"]) == (2, 1, 1)
        assert stats["matched/new"] == 1 and stats["new_pages"] == 1
        assert (stats["corrections"], stats["disagreements"]) == (1, 2)  # Paper Tide: tempo, key

        # one page per recording: only the rip is new
        pages = notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
        assert len(pages) == len(pages_before) + 1
        plain = {notion_emulator.plain(p)["Title"]: notion_emulator.plain(p) for p in pages}
        assert len(plain) == 5
        night = plain["Night Drive"]
        assert night["Tempo"] == 126 and night["Tempo Source"] == "djay (manual)"
        assert (night["djay BPM"], night["djay Key"], night["djay Camelot"]) == (
            124,
            "A minor",
            "8A",
        )
        assert (night["djay Play Count"], night["djay Rating"], night["djay Colour"]) == (2, 5, 3)
        assert night["djay Last Played"].startswith("2026-06-12")
        assert night["djay Playlists"] == ["Warmup"]
        assert plain["Static Garden"]["djay Playlists"] == ["Warmup"]
        assert plain["Ember City"]["djay Playlists"] == ["Peak"]  # found by its ISRC
        assert plain["Basement Dub"]["Artist Name"] == "Unknown Artist"
        assert plain["Basement Dub"]["djay Playlists"] == ["Warmup"]

        # each djay playlist: a partition and a Playlists page, its tracks in djay's order
        lists = {
            notion_emulator.plain(p)["Name"]: notion_emulator.plain(p)
            for p in notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
        }
        page_of = {title: p for p in pages for title in [notion_emulator.plain(p)["Title"]]}
        assert lists["Warmup"]["Tracks"] == [
            page_of[t] for t in ("Static Garden", "Night Drive", "Basement Dub")
        ]
        assert lists["Peak"]["Tracks"] == [page_of[t] for t in ("Paper Tide", "Ember City")]

        # the DJ's tempo in the file's tags and in the rekordbox collection
        assert round(read_tags(drive_file).tempo or 0, 2) == 126.0
        xml = RekordboxXml(home / "library" / "rekordbox.xml")
        [track] = [t for t in xml.get_tracks() if "/" + t["Location"] == drive_file]
        assert track["AverageBpm"] == pytest.approx(126.0)

        # an unchanged library: nothing written, at most three requests
        notion_emulator.reset_counts()
        second = cli_in_process(env, "sync", "djay", "--json")
        assert second.returncode == 0, second.stderr
        assert notion_emulator.writes == 0
        assert notion_emulator.total_requests <= 3
        assert json.loads(second.stdout)["matched/known"] == 5

        status = cli_in_process(env, "status")
        assert f"djay: {djay}" in status.stdout
        listed = json.loads(cli_in_process(env, "status", "--json").stdout)
        [djay_entry] = [e for e in listed if e["key"] == "djay"]
        assert djay_entry.items() >= json.loads(second.stdout).items()  # `sync djay --json`
        assert djay_entry["source"] == "djay" and djay_entry["last_synced_at"]
        assert "djay/playlist/Warmup" in status.stdout and "djay/playlist/Peak" in status.stdout
        assert file_hashes(djay.parent) == before  # djay's file, -wal, -shm: not a byte changed
    finally:
        running.close()

    # the DJ takes the rip out of Warmup: its page leaves the playlist, nothing is deleted
    library.playlists[0] = FixturePlaylist("pl-warm", "Warmup", [garden, drive])
    for leftover in djay.parent.iterdir():
        leftover.unlink()
    write_library(djay, library)
    third = cli_in_process(env, "sync", "djay", "--json")
    assert third.returncode == 0, third.stderr
    warmup = next(
        notion_emulator.plain(p)
        for p in notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
        if notion_emulator.plain(p)["Name"] == "Warmup"
    )
    assert warmup["Tracks"] == [page_of["Static Garden"], page_of["Night Drive"]]
    assert page_of["Basement Dub"] in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
    # in no djay playlist now: its "djay Playlists" emptied, the others' kept
    assert not notion_emulator.plain(page_of["Basement Dub"]).get("djay Playlists")
    assert notion_emulator.plain(page_of["Night Drive"])["djay Playlists"] == ["Warmup"]
