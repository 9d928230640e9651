"""One recording, one catalog row: Spotify listings matched to SoundCloud tracks by ISRC,
Spotify-only recordings under ids of their own, look-alikes reported, never merged."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, event, inspect, select, text

from soundcloud_sync.catalog import Catalog
from soundcloud_sync.catalog.schema import SCHEMA_VERSION, migrate, tracks
from soundcloud_sync.catalog.sql import lock_recordings
from soundcloud_sync.sources.models import Playlist, Source, Track


def _soundcloud(tracks: list[tuple[int, str, str, str | None, int]]) -> Playlist:
    return Playlist(
        soundcloud_id=1,
        key="label/sets/picks",
        url="https://soundcloud.com/label/sets/picks",
        title="Picks",
        track_count=len(tracks),
        tracks=tuple(
            Track(sid, n, title=title, artist=artist, isrc=isrc, duration_ms=ms,
                  url=f"https://soundcloud.com/label/{sid}")
            for n, (sid, title, artist, isrc, ms) in enumerate(tracks, start=1)
        ),
    )  # fmt: skip


def _spotify(tracks: list[tuple[str, str, str, str | None, int]], snapshot: str = "s1") -> Playlist:
    return Playlist(
        soundcloud_id=None,
        key="spotify/playlist/AbCdEfGhIjKlMnOpQrStUv",
        url="https://open.spotify.com/playlist/AbCdEfGhIjKlMnOpQrStUv",
        title="Late Spring",
        track_count=len(tracks),
        source=Source.SPOTIFY,
        spotify_id="AbCdEfGhIjKlMnOpQrStUv",
        snapshot_id=snapshot,
        tracks=tuple(
            Track(None, n, title=title, artist=artist, isrc=isrc, duration_ms=ms,
                  spotify_id=spid, spotify_url=f"https://open.spotify.com/track/{spid}",
                  source=Source.SPOTIFY)
            for n, (spid, title, artist, isrc, ms) in enumerate(tracks, start=1)
        ),
    )  # fmt: skip


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    store = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    store.record_playlist(
        _soundcloud(
            [
                (501, "Night Drive", "Mira Vale", "GBAYE2400101", 200_000),
                (502, "Low Orbit", "Polyhue", None, 180_000),
                (503, "Paper Tide", "Oberon", "GBAYE2400102", 190_000),
            ]
        )
    )
    return store


SPOTIFY = [
    ("sp1", "Night Drive - Original Mix", "Mira Vale", "gbaye2400101", 201_000),
    ("sp2", "Ember City", "Rin Takeda, Marlowe", "USRC12400999", 230_000),
    ("sp3", "Low Orbit (Extended Mix)", "Polyhue feat. Cassia", None, 181_500),
    ("sp4", "Paper Tide", "Oberon", "ZZZZ99999999", 190_000),  # same name, other ISRC
]


def test_isrc_makes_one_row_and_other_tracks_get_ids_of_their_own(catalog: Catalog) -> None:
    change = catalog.record_playlist(_spotify(SPOTIFY))
    assert change.merged == [501] and change.first_sync
    ids = catalog.playlist_tracks("spotify/playlist/AbCdEfGhIjKlMnOpQrStUv")["recording_id"]
    assert list(ids) == [501, -1, -2, -3]
    rows = catalog.tracks_by_id([501, -1, -2])
    # SoundCloud's row keeps its title and artist, gains the Spotify identity
    assert (rows[501]["title"], rows[501]["spotify_id"]) == ("Night Drive", "sp1")
    assert rows[501]["spotify_url"] == "https://open.spotify.com/track/sp1"
    assert rows[501]["isrc"] == "GBAYE2400101"
    assert (rows[-1]["title"], rows[-1]["isrc"], rows[-1]["url"]) == (
        "Ember City", "USRC12400999", None,
    )  # fmt: skip
    # only the look-alike without an ISRC is a possible match; differing ISRCs are not
    assert [(m["spotify_id"], m["soundcloud_id"]) for m in change.possible_matches] == [
        ("sp3", 502)
    ]
    # the SoundCloud playlist still holds its own three tracks
    assert list(catalog.playlist_tracks("label/sets/picks")["recording_id"]) == [501, 502, 503]


def test_a_second_listing_finds_the_same_rows_and_applies_removals(catalog: Catalog) -> None:
    catalog.record_playlist(_spotify(SPOTIFY))
    again = catalog.record_playlist(_spotify([SPOTIFY[1], SPOTIFY[0]], snapshot="s2"))
    assert (again.added, again.removed) == ([], [-3, -2])
    key = "spotify/playlist/AbCdEfGhIjKlMnOpQrStUv"
    assert list(catalog.playlist_tracks(key)["recording_id"]) == [-1, 501]
    assert catalog.playlist(key)["snapshot_id"] == "s2"
    # a new recording after removals takes an id below every one in use
    third = catalog.record_playlist(
        _spotify([("sp9", "New One", "Kofi", None, 1000)], snapshot="s3")
    )
    assert third.added == [-4]


def test_two_releases_of_one_recording_are_one_row_listed_once(catalog: Catalog) -> None:
    single = ("spA", "Ember City", "Rin Takeda", "USRC12400999", 230_000)
    album = ("spB", "Ember City", "Rin Takeda", "usrc12400999", 231_000)
    catalog.record_playlist(_spotify([single, album]))
    frame = catalog.playlist_tracks("spotify/playlist/AbCdEfGhIjKlMnOpQrStUv")
    assert list(frame["recording_id"]) == [-1] and list(frame["spotify_id"]) == ["spA"]


def test_v7_adds_the_spotify_columns_to_an_older_catalog(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.begin() as conn:
        migrate(conn)  # today's tables; now make them look like version 6's
        conn.execute(text("DROP INDEX ix_tracks_spotify_id"))
        for table, column in (("tracks", "spotify_id"), ("tracks", "spotify_url"),
                              ("playlists", "source"), ("playlists", "snapshot_id"),
                              ("playlists", "spotify_id")):  # fmt: skip
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("UPDATE catalog_meta SET value = '6' WHERE key = 'schema_version'"))
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        columns = {c["name"] for c in inspect(conn).get_columns("tracks")}
        assert {"spotify_id", "spotify_url"} <= columns
        indexes = {i["name"] for i in inspect(conn).get_indexes("tracks")}
        assert "ix_tracks_spotify_id" in indexes


def test_a_soundcloud_listing_joins_the_recording_first_seen_on_spotify(tmp_path) -> None:
    """The recording keeps its number, row, page and links; it gains SoundCloud's identity
    (and metadata: its audio can now be downloaded)."""
    store = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    store.record_playlist(_spotify([SPOTIFY[1], SPOTIFY[0]]))  # Spotify first: ids -1, -2
    store.update_track(-2, notion_page_id="page-night-drive", notion_hash="h")
    spotify_key = "spotify/playlist/AbCdEfGhIjKlMnOpQrStUv"
    store.set_notion_linked(spotify_key, -2, True)
    change = store.record_playlist(
        _soundcloud([(501, "Night Drive", "Mira Vale", "GBAYE2400101", 200_000)])
    )
    assert change.merged == [-2] and change.added == [-2]
    row = store.tracks_by_id([-2])[-2]
    assert (row["soundcloud_id"], row["spotify_id"]) == (501, "sp1")
    assert (row["notion_page_id"], row["url"]) == (
        "page-night-drive",
        "https://soundcloud.com/label/501",
    )
    assert store.tracks_by_id([501]) == {}  # no second row
    spotify_rows = store.playlist_tracks(spotify_key)
    assert list(spotify_rows["recording_id"]) == [-1, -2]
    assert list(spotify_rows["notion_linked"]) == [False, True]
    assert list(store.playlist_tracks("label/sets/picks")["recording_id"]) == [-2]
    # the next listings of both services find the one row by their own ids
    again = store.record_playlist(_spotify([SPOTIFY[1], SPOTIFY[0]], snapshot="s2"))
    assert (again.added, again.removed, again.merged) == ([], [], [-2])
    later = store.record_playlist(
        _soundcloud([(501, "Night Drive", "Mira Vale", "GBAYE2400101", 200_000)])
    )
    assert (later.added, later.removed, later.merged) == ([], [], [])


def test_a_twin_known_only_from_spotify_joins_the_soundcloud_row(tmp_path) -> None:
    """A recording SoundCloud's row and a Spotify-only row both hold (the ISRC came to
    SoundCloud later) becomes the SoundCloud row: one row, the page kept."""
    store = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    store.record_playlist(_soundcloud([(501, "Night Drive", "Mira Vale", None, 200_000)]))
    store.record_playlist(_spotify([SPOTIFY[0]]))  # no ISRC on SoundCloud: a row of its own
    store.update_track(-1, notion_page_id="page-from-spotify")
    change = store.record_playlist(
        _soundcloud([(501, "Night Drive", "Mira Vale", "GBAYE2400101", 200_000)])
    )
    assert change.merged == [501]
    row = store.tracks_by_id([501])[501]
    assert (row["spotify_id"], row["notion_page_id"]) == ("sp1", "page-from-spotify")
    assert store.tracks_by_id([-1]) == {}
    spotify_key = "spotify/playlist/AbCdEfGhIjKlMnOpQrStUv"
    assert list(store.playlist_tracks(spotify_key)["recording_id"]) == [501]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_new_recording_listed_while_another_is_written_takes_the_next_number(
    dialect: str, tmp_path, request: pytest.FixtureRequest
) -> None:
    """Two runs each add a Spotify-only recording at once: both would choose the next
    free (negative) number, and the second's upsert would overwrite the first's row with
    another recording. The second waits for the first (`lock_recordings`) and takes the
    number after it."""
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        postgres = request.getfixturevalue("postgres")
        postgres.create_database("next_number")
        url = postgres.url("next_number")
    holder = Catalog(url)
    late = _spotify([("5LateLateLateLateLate1", "Late", "Vale", None, 180_000)])
    here = threading.current_thread()
    blocked = threading.Event()  # the second listing sent the statement that waits

    def sent(_conn, _cursor, statement: str, *_args) -> None:
        waits = statement.lstrip().upper().startswith(("INSERT", "UPDATE", "SELECT PG_ADV"))
        if threading.current_thread() is not here and waits:
            blocked.set()  # its reads (without the lock) came before: the race is set up

    event.listen(holder.engine, "before_cursor_execute", sent)
    with ThreadPoolExecutor(1) as pool:
        with holder.engine.begin() as conn:  # a first run, in the middle of its listing
            lock_recordings(conn)
            conn.execute(
                tracks.insert().values(recording_id=-1, spotify_id="5FirstFirstFirstFirst1",
                                       title="First", artist="Oberon", first_seen_at="t")
            )  # fmt: skip
            writing = pool.submit(Catalog(url).record_playlist, late)
            assert blocked.wait(60), "the second listing never came to write"
            assert not writing.done()  # it waits: for the lock, or to write over row -1
        writing.result(timeout=60)
    event.remove(holder.engine, "before_cursor_execute", sent)
    with holder.engine.connect() as conn:
        rows = dict(conn.execute(select(tracks.c.recording_id, tracks.c.title)).all())
    assert rows == {-1: "First", -2: "Late"}
