"""The gap analysis's functions (`../shared/seeds/`), called exactly as its code blocks
write them: keyword names, argument shapes and the keys it lists in what they return.
Against the emulators, through Dagster runs, as a user migrating from the seed's scripts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from soundcloud_sync import api
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    SeededCatalog,
    track_pages,
    track_pages_by_title,
)
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator
from soundcloud_sync_tests.emulators.spotify import SpotifyEmulator

SYNC_KEYS = {"playlist_url", "playlist_name", "total_tracks", "tracks_added", "tracks_skipped",
             "tracks_updated", "errors", "track_ids"}  # fmt: skip


def test_every_seed_function_takes_the_seed_keywords(
    in_process_env: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc = soundcloud_emulator
    playlist = sc.add_playlist("seed-user", "first-set", 6)

    tracks = api.extract_playlist_tracks(playlist_url=playlist.url)
    assert [t["track_number"] for t in tracks] == list(range(1, 7))
    for t in tracks:
        assert {"title", "artist", "url", "playlist_name", "playlist_url", "track_number"} <= set(t)
        assert t["playlist_name"] == playlist.title and t["playlist_url"] == playlist.url
    meta = api.get_playlist_metadata(playlist_url=playlist.url)
    assert (meta["name"], meta["creator"]) == (playlist.title, "Seed User")
    assert meta["description"] == playlist.description

    plan = api.sync_playlist_to_notion(playlist_url=playlist.url, playlist_name=None, dry_run=True)
    assert set(plan) >= SYNC_KEYS and plan["tracks_added"] == 6 and plan["track_ids"] == []
    stats = api.sync_playlist_to_notion(
        playlist_url=playlist.url, playlist_name=None, dry_run=False
    )
    assert set(stats) >= SYNC_KEYS and (stats["tracks_added"], stats["errors"]) == (6, 0)
    assert len(stats["track_ids"]) == 6
    again = api.sync_playlist_to_notion(playlist.url, dry_run=True)  # positional, as before
    assert again["tracks_skipped"] == 6 and sorted(again["track_ids"]) == sorted(stats["track_ids"])

    assert api.ensure_playlist_synced(playlist_url=playlist.url, playlist_name=None) is True
    unchanged = api.sync_playlist_incremental(playlist_url=playlist.url, last_sync_time=None)
    assert unchanged["unchanged"] is True and set(unchanged) >= SYNC_KEYS
    sc.append_tracks(playlist, 1)
    assert api.sync_soundcloud_playlist(playlist_url=playlist.url)["tracks_added"] == 1

    rows = [{"title": t["title"], "artist": t["artist"], "url": t["url"]} for t in tracks]
    created = api.batch_create_notion_tracks(tracks=rows, batch_size=50, max_concurrent=4)
    assert {"created", "updated", "skipped", "errors"} <= set(created)
    assert (created["created"], created["errors"]) == (0, 0)  # the pages exist already

    # the earlier keyword still works; both at once is a mistake in the caller's code
    assert api.get_playlist_metadata(url=playlist.url)["name"] == playlist.title
    with pytest.raises(TypeError, match="twice"):
        api.extract_playlist_tracks(playlist.url, url=playlist.url)
    assert len(track_pages(notion_emulator, notion_catalog)) == 7


def test_sync_and_download_playlist_takes_the_seed_keywords(
    in_process_env: Path, soundcloud_emulator: SoundCloudEmulator
) -> None:
    soundcloud_emulator.audio_seconds = 12.0  # the keywords and counts are tested: short audio
    playlist = soundcloud_emulator.add_playlist("seed-user", "to-download", 2)
    stats = api.sync_and_download_playlist(playlist_url=playlist.url, playlist_name="Crate")
    assert set(stats) >= SYNC_KEYS and stats["playlist_name"] == "Crate"
    assert (stats["tracks_added"], stats["downloaded"], stats["analysed"]) == (2, 2, 2)


def test_last_sync_time_naive_or_aware_writes_only_tracks_that_joined_after_it(
    in_process_env: Path,
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sc = soundcloud_emulator
    playlist = sc.add_playlist("seed-user", "growing", 4)
    # A set tells no time its tracks joined: on its first listing, their upload times
    # (2024–2025 here) say they were there before 2026-01-01.
    first = api.sync_playlist_incremental(playlist.url, last_sync_time=datetime(2026, 1, 1))
    assert (first["tracks_added"], first["tracks_left_out"], first["errors"]) == (0, 4, 0)
    assert track_pages(notion_emulator, notion_catalog) == []

    between = datetime.now(UTC)
    new = sc.append_tracks(playlist, 2)
    naive = between.replace(tzinfo=None)  # the natural thing to pass: taken as UTC
    second = api.sync_playlist_incremental(playlist_url=playlist.url, last_sync_time=naive)
    assert (second["tracks_added"], second["tracks_left_out"]) == (2, 4)
    assert {p["SoundCloud ID"] for p in track_pages(notion_emulator, notion_catalog)} == {
        t.id for t in new
    }
    assert second["unchanged"] is False

    # An aware time before everything: every track joined after it, the rest now written.
    third = api.sync_playlist_incremental(
        playlist.url, last_sync_time=between - timedelta(days=9999)
    )
    assert (third["tracks_added"], third["tracks_skipped"], third["tracks_left_out"]) == (4, 2, 0)
    assert len(track_pages(notion_emulator, notion_catalog)) == 6


def test_batch_create_takes_the_seed_rows_and_names_what_it_cannot_find(
    in_process_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    soundcloud_emulator: SoundCloudEmulator,
    spotify_emulator: SpotifyEmulator,
    spotify_env: dict[str, str],
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    for name, value in spotify_env.items():
        monkeypatch.setenv(name, value)
    sc, sp = soundcloud_emulator, spotify_emulator
    loose = [sc.add_track("digger", f"Loose {i}") for i in range(3)]
    playlist = sc.add_playlist("digger", "picks", tracks=loose)
    only_on_spotify = sp.add_track("Ember City", ["Rin Takeda"], isrc="USRC12400999")
    spotify_row = sp.add_track("Glass Arcade", "Oberon", isrc="USRC12400998").json()
    rows = [  # the seed's shape: no SoundCloud id
        {"title": t.title, "artist": "digger", "url": f"https://soundcloud.com/digger/{t.permalink}",
         "playlist_name": "Digger's picks", "playlist_url": playlist.url, "track_number": n}
        for n, t in enumerate(loose, start=1)
    ]  # fmt: skip
    rows += [
        {"title": "Gone", "artist": "digger", "url": "https://soundcloud.com/digger/no-such-track"},
        {"title": "Nothing to go by", "artist": "nobody"},
        {"title": "Ember City", "artist": "Rin Takeda",
         "url": f"https://open.spotify.com/track/{only_on_spotify.id}?si=abc"},
        {"title": spotify_row["name"], "artist": "Oberon", "spotify_id": spotify_row["id"]},
    ]  # fmt: skip
    sc.reset_counts()

    stats = api.batch_create_notion_tracks(rows)

    assert (stats["created"], stats["errors"]) == (5, 2)
    reasons = {t["url"] or t["title"]: t["reason"] for t in stats["failed_tracks"]}
    assert "no such track" in reasons["https://soundcloud.com/digger/no-such-track"]
    assert "no SoundCloud or Spotify track" in reasons["Nothing to go by"]
    assert sc.api_requests == 4  # a URL the catalog does not know: one /resolve each
    pages = track_pages_by_title(notion_emulator, notion_catalog)
    assert set(pages) == {*(t.title for t in loose), "Ember City", "Glass Arcade"}
    assert pages["Ember City"]["ISRC"] == "USRC12400999"
    [picks_page] = notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
    assert notion_emulator.plain(picks_page)["Name"] == "Digger's picks"
    for t in loose:  # rows naming their playlist are linked to its page
        assert pages[t.title]["Playlists"] == [picks_page]
    assert pages["Ember City"]["Playlists"] == []

    sc.reset_counts()
    again = api.batch_create_notion_tracks(rows[:3] + rows[5:])
    assert (again["created"], again["errors"]) == (0, 0)
    assert sc.api_requests == 1  # the catalog knows their ids now: one batch of ≤ 50
    assert len(track_pages(notion_emulator, notion_catalog)) == 5


def test_ensure_playlist_synced_says_false_for_what_the_user_can_fix(
    in_process_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    soundcloud_emulator: SoundCloudEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="soundcloud_sync.api")
    assert api.ensure_playlist_synced("https://soundcloud.com/someone") is False
    assert api.ensure_playlist_synced("https://soundcloud.com/nobody/sets/missing") is False
    spotify = "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M"
    assert api.ensure_playlist_synced(playlist_url=spotify) is False
    monkeypatch.setenv("NOTION_REQUESTS_PER_SECOND", "abc")
    assert api.ensure_playlist_synced(spotify) is False
    logged = caplog.text
    assert "a profile is not one list" in logged
    assert "nobody/sets/missing" in logged
    assert "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET: not set" in logged
    assert "NOTION_REQUESTS_PER_SECOND" in logged


def test_dry_run_without_notion_still_gives_the_seed_counts(
    in_process_env: Path, monkeypatch: pytest.MonkeyPatch, soundcloud_emulator: SoundCloudEmulator
) -> None:
    monkeypatch.delenv("NOTION_TOKEN")
    playlist = soundcloud_emulator.add_playlist("seed-user", "no-notion", 3, kinds={2: "gone"})
    plan = api.sync_playlist_to_notion(playlist_url=playlist.url, dry_run=True)
    assert set(plan) >= SYNC_KEYS
    assert (plan["tracks_added"], plan["tracks_skipped"], plan["errors"]) == (2, 0, 0)
    assert plan["unreadable"] == 1 and plan["track_ids"] == []
    assert plan["notion"].startswith("skipped")


def test_the_seeds_spotify_calls(
    in_process_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    spotify_emulator: SpotifyEmulator,
    spotify_env: dict[str, str],
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    sp = spotify_emulator
    refresh_token = sp.add_user("dj-kay")
    for name, value in {**spotify_env, "SPOTIFY_REFRESH_TOKEN": refresh_token}.items():
        monkeypatch.setenv(name, value)
    a, b, c = (sp.add_track(f"Song {n}", "Kay") for n in "abc")
    warm = sp.add_playlist("Warm", "dj-kay", [a, b])
    sp.add_playlist("Peak", "dj-kay", [c])
    sp.add_playlist("Someone else's", "other-user", [a])

    done = api.sync_user_playlists()
    assert (done["total_playlists"], done["synced_playlists"], done["errors"]) == (2, 2, 0)
    assert done["tracks_added"] == 3
    assert {s["playlist_name"] for s in done["playlists"]} == {"Warm", "Peak"}
    assert sorted(api.registered_playlist_keys()) == sorted(
        f"spotify/playlist/{p.id}" for p in sp.playlists.values() if p.owner_id == "dj-kay"
    )

    assert api.get_new_spotify_tracks(playlist_url=warm.url, since=None) == []
    d = sp.add_track("Song d", "Kay")
    sp.edit(warm, [a, b, d])
    new = api.get_new_spotify_tracks(warm.url)
    assert [t["title"] for t in new] == ["Song d"] and new[0]["spotify_id"] == d.id
    every = api.get_new_spotify_tracks(warm.url, since=datetime(2000, 1, 1))
    assert [t["title"] for t in every] == ["Song a", "Song b", "Song d"]
    assert len(track_pages(notion_emulator, notion_catalog)) == 3  # nothing written
