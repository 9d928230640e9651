"""A Spotify playlist beside a SoundCloud one, through the CLI and the Python API as a
user runs them: one recording keeps one Notion page, whatever service lists it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from soundcloud_sync import api
from soundcloud_sync.catalog import Catalog
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    SeededCatalog,
    track_pages_by_title,
)
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.emulators.spotify import Entry, SpotifyEmulator
from soundcloud_sync_tests.fixtures_pipeline import cli_in_process

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


@pytest.fixture
def env(emulated_services_env: dict[str, str], spotify_env: dict[str, str]) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NOTION_", "SOUNDCLOUD_", "SPOTIFY_"))
    }
    base.pop("DAGSTER_HOME", None)
    return {**base, **emulated_services_env, **spotify_env}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's command in this process (see `cli_in_process`)."""
    return cli_in_process(env, *args)


def test_spotify_playlist_joins_the_soundcloud_pages(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    soundcloud_emulator: SoundCloudEmulator,
    spotify_emulator: SpotifyEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc, sp = soundcloud_emulator, spotify_emulator
    on_soundcloud = [
        sc.add_track("label-a", "Night Drive", publisher_artist="Mira Vale", isrc="GBAYE2400101"),
        sc.add_track("label-a", "Paper Tide", publisher_artist="Oberon", isrc="GBAYE2400102"),
        sc.add_track("label-a", "Low Orbit", publisher_artist="Polyhue", isrc=None, seconds=24.0),
        sc.add_track(
            "label-a", "Static Garden", publisher_artist="Kaia Moreno", isrc="DEX1L2400104"
        ),
    ]
    sc_playlist = sc.add_playlist("label-a", "spring-picks", tracks=on_soundcloud)
    first = cli(env, "sync", sc_playlist.url, "--no-download", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["tracks_added"] == 4
    before = track_pages_by_title(notion_emulator, notion_catalog)

    shared_1 = sp.add_track("Night Drive", "Mira Vale", isrc="gbaye2400101")  # case differs
    shared_2 = sp.add_track("Paper Tide - Original Mix", "Oberon", isrc="GBAYE2400102")
    only_here = sp.add_track("Ember City", ["Rin Takeda", "Marlowe"], isrc="USRC12400999")
    look_alike = sp.add_track("Low Orbit (Extended Mix)", "Polyhue feat. Cassia",
                              duration_ms=on_soundcloud[2].full_duration_ms + 1500)  # fmt: skip
    sp_playlist = sp.add_playlist(
        "Late Spring",
        "dj-kay",
        [shared_1, Entry("local", name="rip.mp3"), only_here, shared_2,
         Entry("episode", name="Radio Show 7"), Entry("removed"), look_alike],
    )  # fmt: skip
    pasted = f"https://open.spotify.com/intl-de/playlist/{sp_playlist.id}?si=0a1b2c"
    second = cli(env, "sync", pasted, "--no-download", "--json")
    assert second.returncode == 0, second.stderr
    stats = json.loads(second.stdout)
    assert stats["playlist_url"] == sp_playlist.url
    assert (stats["total_tracks"], stats["tracks_added"], stats["tracks_updated"]) == (4, 2, 2)
    assert (stats["errors"], stats["merged_by_isrc"], stats["sync_status"]) == (0, 2, "Synced")
    assert [(e["position"], e["reason"]) for e in stats["skipped_entries"]] == [
        (2, "local file"), (5, "podcast episode"), (6, "removed from Spotify"),
    ]  # fmt: skip
    [maybe] = stats["possible_matches"]
    assert (maybe["spotify_id"], maybe["soundcloud_id"]) == (look_alike.id, on_soundcloud[2].id)
    assert "Traceback" not in second.stderr

    pages = track_pages_by_title(notion_emulator, notion_catalog)
    assert len(pages) == 6  # 4 from SoundCloud + the Spotify-only track + the look-alike
    playlist_pages = {
        p["Name"]: (pid, p)
        for pid in notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
        for p in [notion_emulator.plain(pid)]
    }
    sc_page_id, _ = playlist_pages[sc_playlist.title]
    sp_page_id, sp_page = playlist_pages["Late Spring"]
    # the Playlists data source gained its Spotify URL property, and the page its values
    assert sp_page["Spotify URL"] == sp_playlist.url and not sp_page["SoundCloud URL"]
    assert (sp_page["Curator"], sp_page["Track Count"], sp_page["Sync Status"]) == (
        "Dj Kay", 4, "Synced",
    )  # fmt: skip
    # shared recordings: the same pages, now with their Spotify identity, in both playlists
    for spotify, sc_track in ((shared_1, on_soundcloud[0]), (shared_2, on_soundcloud[1])):
        page = pages[sc_track.title]
        assert page["Spotify ID"] == spotify.id
        assert page["Spotify URL"] == f"https://open.spotify.com/track/{spotify.id}"
        assert page["SoundCloud ID"] == sc_track.id
        assert page["Artist Name"] == before[sc_track.title]["Artist Name"]
        assert sorted(page["Playlists"]) == sorted([sc_page_id, sp_page_id])
    new = pages["Ember City"]
    assert (new["Artist Name"], new["ISRC"]) == ("Rin Takeda, Marlowe", "USRC12400999")
    assert new["Spotify URL"] == f"https://open.spotify.com/track/{only_here.id}"
    assert new["SoundCloud ID"] is None and new["Playlists"] == [sp_page_id]
    # the look-alike was not merged: a page of its own, and the SoundCloud page untouched
    assert pages["Low Orbit (Extended Mix)"]["Spotify ID"] == look_alike.id
    assert not pages["Low Orbit"]["Spotify ID"]
    linked = {
        title
        for title in pages
        for pid in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
        if notion_emulator.plain(pid)["Title"] == title and pid in sp_page["Tracks"]
    }
    assert linked == {"Night Drive", "Ember City", "Paper Tide", "Low Orbit (Extended Mix)"}
    # each Playlists page lists its tracks in its playlist's order
    page_ids = {
        notion_emulator.plain(pid)["Title"]: pid
        for pid in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
    }
    spotify_order = ["Night Drive", "Ember City", "Paper Tide", "Low Orbit (Extended Mix)"]
    assert sp_page["Tracks"] == [page_ids[t] for t in spotify_order]
    sc_order = [t.title for t in on_soundcloud]
    assert notion_emulator.plain(sc_page_id)["Tracks"] == [page_ids[t] for t in sc_order]

    # The catalog keeps one row per recording, with each service's identity.
    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    catalog = Catalog(f"sqlite:///{home / 'catalog.sqlite'}")
    rows = catalog.playlist_tracks(f"spotify/playlist/{sp_playlist.id}")
    assert list(rows["title"]) == [
        "Night Drive",
        "Ember City",
        "Paper Tide",
        "Low Orbit (Extended Mix)",
    ]
    # SoundCloud's identity on the two it has; their recordings kept SoundCloud's numbers,
    # the two known only from Spotify numbered below zero
    assert [pd.notna(i) for i in rows["soundcloud_id"]] == [True, False, True, False]
    assert [int(i) > 0 for i in rows["recording_id"]] == [True, False, True, False]

    # Unchanged: a re-sync through the Python API reads the snapshot only, writes nothing.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(home.parent)
    sp.reset_counts()
    notion_emulator.reset_counts()
    again = api.sync_playlist_to_notion(sp_playlist.url)
    assert again["spotify_unchanged"] is True
    assert (again["tracks_added"], again["tracks_updated"], again["errors"]) == (0, 0, 0)
    assert sp.requests <= 2, sp.counts  # token + the playlist's snapshot
    assert notion_emulator.total_requests <= 3 and notion_emulator.writes <= 1
    assert len(track_pages_by_title(notion_emulator, notion_catalog)) == 6
    # and the SoundCloud playlist, whose pages now carry Spotify ids, has nothing to write
    notion_emulator.reset_counts()
    sc_again = api.sync_playlist_to_notion(sc_playlist.url)
    assert (sc_again["tracks_added"], sc_again["tracks_updated"]) == (0, 0)
    assert notion_emulator.total_requests <= 3 and notion_emulator.writes <= 1


def test_spotify_url_refused_without_an_app(env: dict[str, str]) -> None:
    no_app = {k: v for k, v in env.items() if not k.startswith("SPOTIFY_CLIENT")}
    result = cli(no_app, "add", "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET: not set")
    assert "open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M" in line


def test_dry_run_announces_the_new_property_and_writes_nothing(
    env: dict[str, str],
    spotify_emulator: SpotifyEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sp = spotify_emulator
    playlist = sp.add_playlist(
        "Digging", "dj-kay", [sp.add_track("Ember City", "Rin Takeda"), Entry("removed")]
    )
    notion_emulator.reset_counts()
    result = cli(env, "sync", playlist.url, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert "Playlists: would add the url property 'Spotify URL'" in plan["warnings"]
    assert (plan["total_tracks"], plan["tracks_added"]) == (1, 1)
    assert plan["skipped_entries"] == [
        {"position": 2, "name": None, "reason": "removed from Spotify"}
    ]
    assert notion_emulator.writes == 0
    assert not notion_emulator.pages_in(notion_catalog.tracks_data_source_id)


def test_audio_chain_downloads_shared_recordings_and_skips_spotify_only_ones(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    soundcloud_emulator: SoundCloudEmulator,
    spotify_emulator: SpotifyEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    for name, value in {**env, "AUDIO_FORMATS": "aiff"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(Path(env["SOUNDCLOUD_SYNC_HOME"]).parent)
    sc, sp = soundcloud_emulator, spotify_emulator
    sc.audio_seconds = 12.0  # counts and links are tested here, not tempo: short audio
    shared = sc.add_track(
        "label-a", "Night Drive", publisher_artist="Mira Vale", isrc="GBAYE2400101"
    )
    api.sync_playlist_to_notion(sc.add_playlist("label-a", "picks", tracks=[shared]).url)
    # on SoundCloud, but in none of the synced playlists: found by its ISRC
    elsewhere = sc.add_track(
        "label-b", "Paper Tide", publisher_artist="Oberon", isrc="GBAYE2400102"
    )
    playlist = sp.add_playlist(
        "Late Spring",
        "dj-kay",
        [sp.add_track("Night Drive", "Mira Vale", isrc="GBAYE2400101"),
         sp.add_track("Ember City", "Rin Takeda", isrc="USRC12400999"),
         sp.add_track("Paper Tide (Original Mix)", "Oberon", isrc="gbaye2400102")],
    )  # fmt: skip
    sc.reset_counts()
    stats = api.sync_and_download_playlist(playlist.url)
    assert (stats["errors"], stats["download_errors"]) == (0, 0)
    assert (stats["downloaded"], stats["analysed"], stats["converted"]) == (2, 2, 2)
    assert stats["no_source"] == 1
    assert sc.counts["search"] == 2 + 1  # Ember City: ISRC, then words; Paper Tide: ISRC
    pages = track_pages_by_title(notion_emulator, notion_catalog)
    assert len(pages) == 3
    assert pages["Night Drive"]["Downloaded"] is True and pages["Night Drive"]["Tempo"]
    assert not pages["Ember City"]["Downloaded"] and pages["Ember City"]["Tempo"] is None
    found = pages["Paper Tide"]  # SoundCloud's title: the page is the SoundCloud track's
    assert (found["SoundCloud ID"], found["Downloaded"]) == (elsewhere.id, True)
    assert found["Spotify ID"] and found["Tempo"]
    # looked up once: the next run searches nothing
    sc.reset_counts()
    api.sync_playlist_to_notion(playlist.url)
    assert sc.counts["search"] == 0


def test_lost_answers_and_a_lost_catalog_make_no_second_page(
    env: dict[str, str],
    spotify_emulator: SpotifyEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sp = spotify_emulator
    playlist = sp.add_playlist(
        "Digging",
        "dj-kay",
        [sp.add_track(f"Song {i}", "Rin Takeda", isrc=f"USRC1240{i:04d}") for i in range(5)],
    )
    # Notion commits three creates but their answers never arrive
    notion_emulator.script("POST", "/v1/pages", "commit_then_502", times=3)
    first = cli(env, "sync", playlist.url, "--no-download", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["tracks_added"] == 5
    assert len(track_pages_by_title(notion_emulator, notion_catalog)) == 5

    # the catalog (and the machine's record of creates) is lost: the pages are found
    # again by their Spotify ID, filled in and linked, never made twice
    home = Path(env["SOUNDCLOUD_SYNC_HOME"])
    (home / "catalog.sqlite").unlink()
    for leftover in home.glob("catalog.sqlite-*"):
        leftover.unlink()
    shutil.rmtree(home / "state")
    again = cli(env, "sync", playlist.url, "--no-download", "--json")
    assert again.returncode == 0, again.stderr
    stats = json.loads(again.stdout)
    assert (stats["tracks_added"], stats["errors"]) == (0, 0)
    pages = [
        notion_emulator.plain(p)
        for p in notion_emulator.pages_in(notion_catalog.tracks_data_source_id)
    ]
    assert sorted(p["Title"] for p in pages) == [f"Song {i}" for i in range(5)]


def test_spotify_first_then_soundcloud_keeps_one_page(
    env: dict[str, str],
    soundcloud_emulator: SoundCloudEmulator,
    spotify_emulator: SpotifyEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sp, sc = spotify_emulator, soundcloud_emulator
    spotify_track = sp.add_track("Night Drive", "Mira Vale", isrc="GBAYE2400101")
    sp_playlist = sp.add_playlist("Late Spring", "dj-kay", [spotify_track])
    assert cli(env, "sync", sp_playlist.url, "--no-download").returncode == 0
    shared = sc.add_track(
        "label-a", "Night Drive", publisher_artist="Mira Vale", isrc="gbaye2400101"
    )
    sc_playlist = sc.add_playlist("label-a", "picks", tracks=[shared])
    result = cli(env, "sync", sc_playlist.url, "--no-download", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tracks_added"] == 0
    [page] = track_pages_by_title(notion_emulator, notion_catalog).values()
    assert (page["SoundCloud ID"], page["Spotify ID"]) == (shared.id, spotify_track.id)
    assert len(page["Playlists"]) == 2


def test_add_spotify_mine_registers_every_playlist_of_the_user(
    env: dict[str, str], spotify_emulator: SpotifyEmulator
) -> None:
    sp = spotify_emulator
    track = sp.add_track("A", "B")
    mine = [sp.add_playlist(f"Mine {i}", "dj-kay", [track], public=i % 2 == 0) for i in range(53)]
    sp.add_playlist("Someone else's", "other", [track])
    without = cli(env, "add", "--spotify-mine")
    assert without.returncode == 1
    assert without.stderr.startswith("error: SPOTIFY_REFRESH_TOKEN: not set")
    with_token = {**env, "SPOTIFY_REFRESH_TOKEN": sp.add_user("dj-kay")}
    result = cli(with_token, "add", "--spotify-mine")
    assert result.returncode == 0, result.stderr
    registered = sorted(line.removeprefix("registered ") for line in result.stdout.splitlines())
    assert registered == sorted(f"spotify/playlist/{p.id}" for p in mine)
    assert with_token["SPOTIFY_REFRESH_TOKEN"] not in result.stdout + result.stderr
