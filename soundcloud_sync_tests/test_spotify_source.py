"""Spotify playlists read through the real spotipy against the emulator: URL forms and
keys, the 2026 API's shapes (pages of 50, item/track, skipped entries), errors as one
line naming the playlist, and the request count."""

from __future__ import annotations

import pytest

from soundcloud_sync.config import ConfigError, Settings
from soundcloud_sync.sources import (
    NotAPlaylist,
    PlaylistNotFound,
    SourceError,
    SpotifyClient,
    is_playlist_key,
    parse_playlist_url,
)
from soundcloud_sync_tests.emulators.spotify import Entry, SpotifyEmulator

PLAYLIST_ID = "37i9dQZF1DXcBWIGoYBM5M"


@pytest.mark.parametrize(
    "url",
    [
        f"https://open.spotify.com/playlist/{PLAYLIST_ID}",
        f"https://open.spotify.com/playlist/{PLAYLIST_ID}?si=4f1c2b9a&utm_source=copy-link",
        f"open.spotify.com/intl-de/playlist/{PLAYLIST_ID}/",
        f"https://open.spotify.com/intl-pt-br/playlist/{PLAYLIST_ID}#top",
        f"spotify:playlist:{PLAYLIST_ID}",
        f"spotify/playlist/{PLAYLIST_ID}",
    ],
)
def test_every_spotify_url_form_gives_one_key(url: str) -> None:
    ref = parse_playlist_url(url)
    assert ref.key == f"spotify/playlist/{PLAYLIST_ID}"  # the id keeps its case
    assert ref.public_url == f"https://open.spotify.com/playlist/{PLAYLIST_ID}"
    assert is_playlist_key(ref.key)


@pytest.mark.parametrize(
    "url",
    [
        "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC",
        "https://open.spotify.com/album/4uLU6hMCjMI75M1A2tKUQC",
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
    ],
)
def test_spotify_urls_that_are_no_playlist_are_refused_by_name(url: str) -> None:
    with pytest.raises(NotAPlaylist) as err:
        parse_playlist_url(url)
    assert url in str(err.value) and "Spotify playlist" in str(err.value)


def test_soundcloud_keys_are_unchanged() -> None:
    assert parse_playlist_url("https://soundcloud.com/DJ/sets/Mix?si=1").key == "dj/sets/mix"


def test_spotify_url_without_an_app_is_refused_naming_the_variables() -> None:
    settings = Settings.from_env({"SOUNDCLOUD_SYNC_HOME": "/tmp/x", "SPOTIFY_CLIENT_ID": "abc"})
    with pytest.raises(ConfigError) as err:
        settings.require_spotify("https://open.spotify.com/playlist/x")
    message = str(err.value)
    assert message.startswith("SPOTIFY_CLIENT_SECRET: not set")
    assert "\n" not in message and "abc" not in message


def _client(emu: SpotifyEmulator, **kw: object) -> SpotifyClient:
    return SpotifyClient(
        emu.client_id,
        emu.client_secret,
        api_base=emu.api_base,
        accounts_base=emu.accounts_base,
        **kw,  # type: ignore[arg-type]
    )


def test_a_long_playlist_is_read_in_pages_of_50_with_odd_entries_skipped(
    spotify_emulator: SpotifyEmulator,
) -> None:
    emu = spotify_emulator
    tracks = [
        emu.add_track(f"Song {i}", ["Ava Lind", "Kofi"], isrc=f"usrc1{i:07d}") for i in range(117)
    ]
    entries: list = [*tracks[:10], Entry("local", name="my bootleg.mp3"), *tracks[10:60]]
    entries += [Entry("episode", name="Mix Show #12"), Entry("removed"), *tracks[60:]]
    playlist = emu.add_playlist("Warm-up", "selector", entries)
    client = _client(emu)
    read = client.fetch_playlist(f"{playlist.url}?si=abc")
    assert read.key == f"spotify/playlist/{playlist.id}"
    assert read.title == "Warm-up" and read.curator == "Selector"
    assert read.snapshot_id == playlist.snapshot_id
    assert [t.title for t in read.tracks] == [f"Song {i}" for i in range(117)]
    assert [t.position for t in read.tracks] == list(range(1, 118))
    first = read.tracks[0]
    assert (first.artist, first.isrc, first.duration_ms) == (
        "Ava Lind, Kofi",
        "usrc10000000",
        210000,
    )
    assert first.spotify_url == f"https://open.spotify.com/track/{tracks[0].id}"
    assert first.soundcloud_id is None and str(first.source) == "spotify"
    assert str(first.availability) == "no-source"  # Spotify serves no audio
    assert [(s.position, s.name, s.reason) for s in read.skipped] == [
        (11, "my bootleg.mp3", "local file"),
        (62, "Mix Show #12", "podcast episode"),
        (63, None, "removed from Spotify"),
    ]
    # token + playlist + ceil(120 entries / 50) pages; never /tracks, never more than 50
    assert emu.counts == {"token": 1, "playlist": 1, "playlist_items": 3}
    assert all(status == 200 for _, status, _ in emu.log)
    # the cheap check: the playlist alone, the token reused
    emu.reset_counts()
    assert client.head(playlist.url).snapshot_id == playlist.snapshot_id
    assert emu.counts == {"playlist": 1}


def test_the_emulator_answers_like_the_2026_api(spotify_emulator: SpotifyEmulator) -> None:
    emu = spotify_emulator
    playlist = emu.add_playlist("Old", "selector", [emu.add_track("A", "B")])
    spotify = _client(emu).spotify
    with pytest.raises(Exception) as gone:
        spotify._get(f"playlists/{playlist.id}/tracks")
    assert getattr(gone.value, "http_status", None) == 403
    with pytest.raises(Exception) as too_many:
        spotify.playlist_items(playlist.id, limit=51)
    assert getattr(too_many.value, "http_status", None) == 400
    with pytest.raises(Exception) as search:
        spotify.search("A", limit=11)
    assert getattr(search.value, "http_status", None) == 400
    with pytest.raises(Exception) as features, pytest.warns(DeprecationWarning):
        spotify.audio_features(["x"])  # spotipy warns too: Spotify removed it
    assert getattr(features.value, "http_status", None) == 403
    track = spotify.playlist_items(playlist.id)["items"][0]["item"]
    assert "popularity" not in track and "available_markets" not in track


def test_429_is_waited_out_and_the_playlist_read(spotify_emulator: SpotifyEmulator) -> None:
    emu = spotify_emulator
    playlist = emu.add_playlist("Busy", "selector", [emu.add_track("A", "B", isrc="X1")])
    emu.inject_429(times=2, retry_after=1)
    read = _client(emu).fetch_playlist(playlist.url)
    assert [t.title for t in read.tracks] == ["A"]
    assert [s for _, s, _ in emu.log].count(429) == 2


def test_a_rate_limit_that_holds_is_one_line_naming_the_playlist(
    spotify_emulator: SpotifyEmulator,
) -> None:
    emu = spotify_emulator
    playlist = emu.add_playlist("Busy", "selector", [emu.add_track("A", "B")])
    emu.inject_429(times=10, retry_after=0)
    with pytest.raises(SourceError) as err:
        _client(emu, retries=1).fetch_playlist(playlist.url)
    assert str(err.value).startswith(playlist.url) and "rate limit" in str(err.value)


def test_private_playlists_need_the_owners_refresh_token(
    spotify_emulator: SpotifyEmulator,
) -> None:
    emu = spotify_emulator
    playlist = emu.add_playlist("Mine", "dj-kay", [emu.add_track("A", "B")], public=False)
    with pytest.raises(PlaylistNotFound) as err:
        _client(emu).fetch_playlist(playlist.url)
    assert "SPOTIFY_REFRESH_TOKEN" in str(err.value)
    token = emu.add_user("dj-kay")
    read = _client(emu, refresh_token=token).fetch_playlist(playlist.url)
    assert [t.title for t in read.tracks] == ["A"]
    assert token not in str(emu.log)


def test_wrong_app_credentials_are_one_line_without_the_secret(
    spotify_emulator: SpotifyEmulator,
) -> None:
    emu = spotify_emulator
    playlist = emu.add_playlist("P", "selector", [emu.add_track("A", "B")])
    client = SpotifyClient(
        emu.client_id, "wrong-secret-value", api_base=emu.api_base, accounts_base=emu.accounts_base
    )
    with pytest.raises(SourceError) as err:
        client.fetch_playlist(playlist.url)
    assert "SPOTIFY_CLIENT_SECRET" in str(err.value) and "wrong-secret-value" not in str(err.value)


def test_new_tracks_sensor_watches_spotify_snapshots(
    spotify_emulator: SpotifyEmulator, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import RunRequest, build_sensor_context, instance_for_test

    from soundcloud_sync.catalog import Catalog
    from soundcloud_sync.defs import sensors
    from soundcloud_sync.defs.partitions import PLAYLISTS
    from soundcloud_sync.defs.resources import (
        CatalogResource,
        RegistryResource,
        SoundCloudResource,
        SpotifyResource,
    )

    emu = spotify_emulator
    clock = [1_800_000_000.0]
    monkeypatch.setattr(sensors, "clock", lambda: clock[0])
    monkeypatch.setenv("SOUNDCLOUD_SYNC_HOME", str(tmp_path / "home"))
    track = emu.add_track("A", "B", isrc="X1")
    playlists = [emu.add_playlist(f"P{i}", "dj-kay", [track]) for i in range(2)]
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = Catalog(url)
    for p in playlists:  # synced before: the catalog holds each one's snapshot
        catalog.record_playlist(_client(emu).fetch_playlist(p.url))
    resources = {
        "catalog": CatalogResource(url=url),
        "soundcloud": SoundCloudResource(cache_dir=str(tmp_path / "yt-dlp")),
        "spotify": SpotifyResource(
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            api_base=emu.api_base,
            accounts_base=emu.accounts_base,
        ),
        "registry": RegistryResource(),
    }
    cursor: list[str | None] = [None]

    def tick() -> list[RunRequest]:
        context = build_sensor_context(instance=instance, cursor=cursor[0], resources=resources)
        result = sensors.new_tracks_sensor(context)
        cursor[0] = context.cursor
        clock[0] += sensors.MIN_RECHECK_SECONDS + 1
        return list(result) if isinstance(result, list) else []

    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PLAYLISTS, [f"spotify/playlist/{p.id}" for p in playlists])
        emu.reset_counts()
        assert tick() == []
        assert emu.counts == {"token": 1, "playlist": 2}  # one snapshot check each
        emu.edit(playlists[1], [track, emu.add_track("C", "D")])
        [request] = tick()
        assert request.partition_key == f"spotify/playlist/{playlists[1].id}"
        assert request.run_key == f"{request.partition_key}@{playlists[1].snapshot_id}"
        assert tick() == []  # the change is requested once
