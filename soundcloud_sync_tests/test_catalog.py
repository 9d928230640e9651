"""The catalog: memberships, removals only from complete id lists, outputs, migrations."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, inspect, select, text

from soundcloud_sync.catalog import SCHEMA_VERSION, Catalog, ids_hash
from soundcloud_sync.catalog.schema import (
    DJAY_COLUMNS,
    MIGRATIONS,
    _v11_djay,
    _v13_recording_id,
    migrate,
    picks,
)
from soundcloud_sync.catalog.sql import _RECORDINGS_LOCK, lock_recordings
from soundcloud_sync.sources.models import Availability, Playlist, Source, Track
from soundcloud_sync_tests.servers import PostgresServer

# numbered at landing: whichever came first
RECORDING_ID_VERSION = MIGRATIONS.index(_v13_recording_id) + 1
DJAY_VERSION = MIGRATIONS.index(_v11_djay) + 1


def _playlist(ids: list[int], track_count: int | None = None, key: str = "dj/sets/mix") -> Playlist:
    tracks = tuple(
        Track(soundcloud_id=i, position=n, title=f"Track {i}", artist="DJ", tags=("deep house",))
        for n, i in enumerate(ids, start=1)
    )
    return Playlist(
        soundcloud_id=1,
        key=key,
        url=f"https://soundcloud.com/{key}",
        title="Mix",
        track_count=len(ids) if track_count is None else track_count,
        tracks=tracks,
    )


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    return Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")


def test_first_sync_then_changes_are_reported_in_order(catalog: Catalog) -> None:
    first = catalog.record_playlist(_playlist([10, 11, 12]))
    assert first.first_sync and first.added == [10, 11, 12] and not first.removed

    second = catalog.record_playlist(_playlist([11, 12, 13]))
    assert (second.added, second.removed, second.kept) == ([13], [10], [11, 12])
    frame = catalog.playlist_tracks("dj/sets/mix")
    assert frame["soundcloud_id"].tolist() == [11, 12, 13]
    assert frame["position"].tolist() == [1, 2, 3]
    assert catalog.removed_tracks("dj/sets/mix") == [10]


def test_an_id_that_vanishes_while_the_count_holds_is_hidden_not_removed(
    catalog: Catalog,
) -> None:
    catalog.record_playlist(_playlist([1, 2, 3]))
    change = catalog.record_playlist(_playlist([1, 3], track_count=3))  # 2 was deleted
    assert (change.removed, change.hidden, change.removals_trusted) == ([], [2], True)
    assert catalog.playlist_tracks("dj/sets/mix")["soundcloud_id"].tolist() == [1, 2, 3]
    row = catalog.playlist("dj/sets/mix")
    assert (row["ids_complete"], row["listing_explained"]) == (False, True)

    back = catalog.record_playlist(_playlist([1, 2, 3]))  # its uploader made it public again
    assert (back.added, back.removed, back.hidden) == ([], [], [])


def test_owner_removals_are_applied_beside_a_deleted_track(catalog: Catalog) -> None:
    """Six tracks, one of them deleted (counted, never listed); two removed, one added."""
    catalog.record_playlist(_playlist([1, 2, 3, 4, 5], track_count=6))
    change = catalog.record_playlist(_playlist([1, 4, 5, 9], track_count=5))
    assert (change.added, change.removed, change.removals_trusted) == ([9], [2, 3], True)
    assert catalog.removed_tracks("dj/sets/mix") == [2, 3]
    assert catalog.playlist_tracks("dj/sets/mix")["soundcloud_id"].tolist() == [1, 4, 5, 9]


def test_owner_removes_a_listed_and_a_hidden_track(catalog: Catalog) -> None:
    catalog.record_playlist(_playlist([1, 2, 3, 4, 5], track_count=6))
    catalog.record_playlist(_playlist([1, 2, 3, 4], track_count=6))  # 5 deleted: hidden
    change = catalog.record_playlist(_playlist([2, 3, 4], track_count=4))  # 1 and one hidden
    assert (change.removed, change.removals_trusted) == ([1], True)


def test_a_listing_that_cannot_be_explained_removes_nothing_until_one_can(
    catalog: Catalog,
) -> None:
    catalog.record_playlist(_playlist([1, 2, 3, 4]))
    # Two vanished, the count fell by one: one removed, one deleted, but which is which?
    for _ in range(2):
        change = catalog.record_playlist(_playlist([1, 2, 5], track_count=4))
        assert (change.removed, change.removals_trusted) == ([], False)
        assert catalog.playlist("dj/sets/mix")["listing_explained"] is False
    frame = catalog.playlist_tracks("dj/sets/mix")
    assert sorted(frame["soundcloud_id"]) == [1, 2, 3, 4, 5]  # 5 is linked all the same
    # The owner then removes the deleted track too: the listing is complete again.
    change = catalog.record_playlist(_playlist([1, 2, 5]))
    assert (change.removed, change.removals_trusted) == ([3, 4], True)
    assert catalog.preview_playlist(_playlist([1, 2, 5])).removed == []


def test_preview_reports_the_change_and_writes_nothing(catalog: Catalog) -> None:
    catalog.record_playlist(_playlist([1, 2, 3, 4], track_count=5))
    preview = catalog.preview_playlist(_playlist([1, 4, 7], track_count=4))
    assert (preview.added, preview.removed) == ([7], [2, 3])
    assert catalog.playlist_tracks("dj/sets/mix")["soundcloud_id"].tolist() == [1, 2, 3, 4]


def test_status_columns_survive_a_resync(catalog: Catalog) -> None:
    catalog.record_playlist(_playlist([1, 2]))
    catalog.update_tracks({1: {"notion_page_id": "page-1", "tempo": 124.0}})
    first_seen = catalog.tracks_by_id([1])[1]["first_seen_at"]
    catalog.record_playlist(_playlist([1, 2]))
    row = catalog.tracks_by_id([1])[1]
    assert (row["notion_page_id"], row["tempo"], row["first_seen_at"]) == (
        "page-1",
        124.0,
        first_seen,
    )


def test_track_in_two_playlists(catalog: Catalog) -> None:
    catalog.record_playlist(_playlist([1, 2], key="dj/sets/a"))
    catalog.record_playlist(_playlist([2, 3], key="dj/sets/b"))
    assert catalog.track_playlists([2]) == {2: ["dj/sets/a", "dj/sets/b"]}


def test_playlist_urls_and_status(catalog: Catalog) -> None:
    catalog.remember_playlist_url("dj/sets/a", "https://soundcloud.com/dj/sets/a")
    catalog.remember_playlist_url("dj/sets/a", "https://soundcloud.com/dj/sets/a/s-token")
    assert catalog.playlist("dj/sets/a")["url"].endswith("s-token")
    catalog.record_playlist(_playlist([1, 2, 3], key="dj/sets/a"))
    catalog.update_track(1, notion_page_id="p1", download_status="downloaded")
    [row] = catalog.status(["dj/sets/a", "dj/sets/never-seen"])
    assert (row["tracks"], row["in_notion"], row["downloaded"]) == (3, 1, 1)
    assert catalog.status([]) == []


def test_ids_hash_tracks_order_and_membership(catalog: Catalog) -> None:
    catalog.record_playlist(_playlist([1, 2, 3]))
    assert catalog.playlist("dj/sets/mix")["ids_hash"] == ids_hash([1, 2, 3])
    assert ids_hash([1, 2, 3]) != ids_hash([3, 2, 1])


def test_availability_is_stored_as_text(catalog: Catalog) -> None:
    playlist = _playlist([1])
    gone = Track(soundcloud_id=1, position=1, availability=Availability.GONE)
    catalog.record_playlist(
        Playlist(**{**playlist.__dict__, "tracks": (gone,)})  # type: ignore[arg-type]
    )
    assert catalog.tracks_by_id([1])[1]["availability"] == "gone"


def test_migrations_are_versioned_and_refuse_newer(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'c.sqlite'}")
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        assert migrate(conn) == SCHEMA_VERSION  # idempotent
        conn.execute(text("UPDATE catalog_meta SET value = '999' WHERE key = 'schema_version'"))
    with engine.begin() as conn, pytest.raises(RuntimeError, match="newer"):
        migrate(conn)


def test_v2_adds_the_listing_columns_to_an_older_catalog(tmp_path) -> None:
    """A catalog written before explained listings keeps its rows and trusts as before."""
    from soundcloud_sync.catalog.schema import _v2_catalog_listing_columns

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        migrate(conn)
        conn.execute(text("ALTER TABLE playlists DROP COLUMN listing_explained"))
        conn.execute(text("ALTER TABLE playlists DROP COLUMN explained_track_count"))
        conn.execute(text("ALTER TABLE memberships DROP COLUMN hidden_at"))
        conn.execute(text("UPDATE catalog_meta SET value = '1' WHERE key = 'schema_version'"))
        conn.execute(
            text("INSERT INTO playlists (key, url, registered, ids_complete, track_count) "
                 "VALUES ('dj/sets/mix', 'https://soundcloud.com/dj/sets/mix', 1, 1, 3)")
        )  # fmt: skip
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        _v2_catalog_listing_columns(conn)  # a second time changes nothing
    engine.dispose()
    catalog = Catalog(url)
    assert catalog.playlist("dj/sets/mix")["listing_explained"] is True
    catalog.record_playlist(_playlist([1, 2, 3]))
    assert catalog.record_playlist(_playlist([1, 3], track_count=3)).hidden == [2]


def _undo_recording_id(conn) -> None:
    """Today's tables as they were before the recording id: rows keyed by a column named
    ``soundcloud_id`` (the catalog's own numbers), no column for SoundCloud's id."""
    conn.execute(text("DROP INDEX ix_tracks_soundcloud_id"))
    conn.execute(text("ALTER TABLE tracks DROP COLUMN soundcloud_id"))
    conn.execute(text("ALTER TABLE tracks RENAME COLUMN recording_id TO soundcloud_id"))
    conn.execute(text("ALTER TABLE memberships RENAME COLUMN recording_id TO soundcloud_id"))


def _undo_djay(conn) -> None:
    """Today's tables without djay's columns (before its migration)."""
    conn.execute(text("DROP INDEX ix_tracks_djay_title_id"))
    for column in DJAY_COLUMNS:
        conn.execute(text(f'ALTER TABLE tracks DROP COLUMN "{column}"'))


def _catalog_of_version(url: str, version: int) -> None:
    """A catalog as release `version` (8 or later, before the recording id) left it: rows
    keyed by the column ``soundcloud_id`` (negative numbers for recordings known only
    from Spotify), before 9 the key in ``musical_key``, before 10 no ``added_at``; two
    SoundCloud tracks and one Spotify-only recording, measured, filed, linked in Notion."""
    assert 8 <= version < RECORDING_ID_VERSION
    key_column = "musical_key" if version < 9 else '"key"'
    engine = create_engine(url)
    with engine.begin() as conn:
        migrate(conn)  # today's tables; now make them look like that version's
        _undo_recording_id(conn)
        if version < DJAY_VERSION:
            _undo_djay(conn)
        if version < 9:
            conn.execute(text('ALTER TABLE tracks RENAME COLUMN "key" TO musical_key'))
        if version < 10:
            conn.execute(text("ALTER TABLE memberships DROP COLUMN added_at"))
        conn.execute(
            text("UPDATE catalog_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(version)},
        )
        conn.execute(
            text(
                f"INSERT INTO tracks (soundcloud_id, title, url, isrc, tempo, {key_column}, "
                "camelot, analysis_version, analyzed_at, files, notion_page_id, notion_hash, "
                "enrichment_hash, dj_track_id, spotify_id, first_seen_at) VALUES "
                "(7, 'Night Drive', 'https://soundcloud.com/dj/night-drive', 'GBAYE2400101', "
                "124.0, 'A minor', '8A', '3', 'x', '{\"aiff\": \"/lib/a.aiff\"}', 'page-7', "
                "'h7', 'e7', 1, 'sp7', 'a'), "
                "(8, 'Low Orbit', 'https://soundcloud.com/dj/low-orbit', NULL, NULL, NULL, NULL, "
                "NULL, NULL, NULL, 'page-8', 'h8', NULL, 2, NULL, 'b'), "
                "(-1, 'Ember City', NULL, 'USRC12400999', NULL, NULL, NULL, NULL, NULL, NULL, "
                "'page-e', 'he', NULL, 3, 'spE', 'c')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO memberships (playlist_key, soundcloud_id, position, first_seen_at, "
                "last_seen_at, notion_linked) VALUES ('dj/sets/mix', 7, 1, 'a', 'b', 1), "
                "('dj/sets/mix', 8, 2, 'a', 'b', 1), ('dj/sets/mix', -1, 3, 'a', 'b', 0)"
            )
        )
    engine.dispose()


def test_a_catalog_of_the_djay_branch_upgrades(tmp_path) -> None:
    """The djay branch numbered its step 9 (djay's columns) before `key` (9) and
    `added_at` (10) landed: its catalog says 9 and still has `musical_key`. It upgrades
    to today's tables with every value kept."""
    url = f"sqlite:///{tmp_path / 'djay.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        migrate(conn)  # today's tables; now make them look like the djay branch's 9
        _undo_recording_id(conn)
        conn.execute(text('ALTER TABLE tracks RENAME COLUMN "key" TO musical_key'))
        conn.execute(text("ALTER TABLE memberships DROP COLUMN added_at"))
        conn.execute(text("UPDATE catalog_meta SET value = '9' WHERE key = 'schema_version'"))
        conn.execute(
            text(
                "INSERT INTO tracks (soundcloud_id, title, tempo, musical_key, djay_title_id, "
                "djay_manual_tempo) VALUES (7, 'Night Drive', 124.0, 'A minor', 't7', 126.0)"
            )
        )
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
    engine.dispose()
    catalog = Catalog(url)
    row = catalog.tracks_by_id([7])[7]
    assert "musical_key" not in row
    assert (row["key"], row["djay_title_id"], row["djay_manual_tempo"]) == ("A minor", "t7", 126.0)
    catalog.record_playlist(_playlist([7]))  # memberships have added_at again
    assert "added_at" in catalog.playlist_tracks("dj/sets/mix").columns


def _all_rows(conn) -> dict[str, list[dict]]:
    """Every row of every catalog table, in key order: what an upgrade must keep."""
    names = inspect(conn).get_table_names()
    return {
        name: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {name} ORDER BY 1, 2"))]
        for name in names
    }


def _with_recording_ids(table: str, row: dict) -> dict:
    """A row of a catalog made before the recording id, as that migration leaves it: the
    key column renamed ``recording_id``, SoundCloud's own id (the positive keys) beside."""
    if table not in ("tracks", "memberships") or RECORDING_ID_VERSION <= DJAY_VERSION:
        return row
    row = dict(row)
    rid = row.pop("soundcloud_id")
    row["recording_id"] = rid
    if table == "tracks":
        row["soundcloud_id"] = rid if rid > 0 else None
    return row


def test_a_catalog_of_the_version_before_djay_upgrades_with_every_row_kept(tmp_path) -> None:
    """A catalog of the version before djay's gains djay's columns and their unique
    index; every row of every table keeps every value, the new columns start empty, and
    the next run finds its tracks, links and picks as they were."""
    url = f"sqlite:///{tmp_path / 'v10.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        migrate(conn)  # today's tables; now make them look like the version before djay's
        if DJAY_VERSION < RECORDING_ID_VERSION:
            _undo_recording_id(conn)
        _undo_djay(conn)
        conn.execute(
            text("UPDATE catalog_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(DJAY_VERSION - 1)},
        )
        key = "soundcloud_id" if DJAY_VERSION < RECORDING_ID_VERSION else "recording_id"
        # what a release of that version wrote: a SoundCloud track measured, converted
        # and linked in Notion, a recording known only from Spotify, a playlist, a pick
        conn.execute(
            text(
                "INSERT INTO playlists (key, url, registered, title, track_count, "
                "notion_page_id, source) VALUES ('dj/sets/mix', "
                "'https://soundcloud.com/dj/sets/mix', 1, 'Mix', 2, 'page-mix', 'soundcloud')"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO tracks ({key}, title, artist, tags, files, tempo, "
                '"key", camelot, key_confidence, duration_s, lufs, analysis_version, '
                "notion_page_id, enrichment_hash, dj_track_id, isrc) VALUES "
                "(7, 'Night Drive', 'DJ', '[\"deep house\"]', '{\"aiff\": \"a/7.aiff\"}', "
                "124.0, 'A minor', '8A', 0.8, 301.5, -8.2, '4', 'page-7', 'h7', 1, 'GBX1')"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO tracks ({key}, title, spotify_id, spotify_url) VALUES "
                "(-1, 'Only on Spotify', 'sp1', 'https://open.spotify.com/track/sp1')"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO memberships (playlist_key, {key}, position, first_seen_at, "
                "last_seen_at, added_at, notion_linked) VALUES "
                "('dj/sets/mix', 7, 1, 'a', 'b', '2026-01-01T00:00:00Z', 1), "
                "('dj/sets/mix', -1, 2, 'a', 'b', NULL, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO picks (playlist_key, url, resolve_url, soundcloud_id, position, "
                "added_at) VALUES ('dj/singles', 'https://soundcloud.com/dj/night-drive', "
                "'https://soundcloud.com/dj/night-drive', 7, 1, 'a')"
            )
        )
        before = _all_rows(conn)
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        _v11_djay(conn)  # a second time changes nothing
        after = _all_rows(conn)
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("tracks")}
    engine.dispose()

    assert indexes["ix_tracks_djay_title_id"]["unique"]
    assert {name: len(rows) for name, rows in after.items()} == {
        name: len(rows) for name, rows in before.items()
    }
    assert [r for r in before["tracks"] if r[key] == 7]  # rows were there
    for name, rows in before.items():
        if name == "catalog_meta":
            continue
        for old, new in zip(rows, after[name], strict=True):
            old = _with_recording_ids(name, old)
            assert {c: new[c] for c in old} == old, name
    assert all(r[c] is None for r in after["tracks"] for c in DJAY_COLUMNS)

    catalog = Catalog(url)
    row = catalog.tracks_by_id([7])[7]
    assert (row["key"], row["tempo"], row["notion_page_id"]) == ("A minor", 124.0, "page-7")
    assert list(catalog.playlist_tracks("dj/sets/mix")["notion_linked"]) == [True, False]
    assert catalog.picks("dj/singles") == [("https://soundcloud.com/dj/night-drive", 7)]


def test_v9_renames_musical_key_to_key_in_place(tmp_path) -> None:
    """A catalog of version 8 keeps every row, value and link: only the column's name
    changes, so the next run measures nothing again and writes nothing new to Notion."""
    from soundcloud_sync.catalog.schema import _v9_key_column

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    _catalog_of_version(url, 8)
    engine = create_engine(url)
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        _v9_key_column(conn)  # a second time changes nothing
    engine.dispose()
    catalog = Catalog(url)
    row = catalog.tracks_by_id([7])[7]
    assert "musical_key" not in row
    assert (row["key"], row["camelot"], row["tempo"]) == ("A minor", "8A", 124.0)
    assert (row["notion_page_id"], row["enrichment_hash"]) == ("page-7", "e7")
    assert list(catalog.playlist_tracks("dj/sets/mix")["notion_linked"]) == [True, True, False]


def test_recording_id_migration_keys_recordings_in_place(tmp_path) -> None:
    """From the version just before it: every row, membership and link keeps its number;
    SoundCloud's id moves to a column of its own (the positive numbers); the next
    listings find the same rows."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    _catalog_of_version(url, RECORDING_ID_VERSION - 1)
    engine = create_engine(url)
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        _v13_recording_id(conn)  # a second time changes nothing
    engine.dispose()
    catalog = Catalog(url)
    rows = catalog.tracks_by_id([7, 8, -1])
    assert {rid: row["soundcloud_id"] for rid, row in rows.items()} == {7: 7, 8: 8, -1: None}
    assert {rid: row["notion_page_id"] for rid, row in rows.items()} == {
        7: "page-7", 8: "page-8", -1: "page-e"
    }  # fmt: skip
    assert {rid: row["dj_track_id"] for rid, row in rows.items()} == {7: 1, 8: 2, -1: 3}
    assert rows[7]["files"] == {"aiff": "/lib/a.aiff"}
    members = catalog.playlist_rows("dj/sets/mix")
    assert [(t.recording_id, t.notion_linked) for t in members] == [
        (7, True), (8, True), (-1, False)
    ]  # fmt: skip
    # SoundCloud's next listing finds its rows by SoundCloud's ids: nothing new, nothing gone
    listing = _playlist([7, 8])
    change = catalog.record_playlist(replace(listing, track_count=3))  # the third is hidden
    assert (change.added, change.removed, change.kept) == ([], [], [7, 8])
    assert set(catalog.tracks_by_id([7, 8, -1])) == {7, 8, -1}
    # a recording new to the catalog takes the next number below the lowest in use
    spotify = Playlist(
        soundcloud_id=None, key="spotify/playlist/AbCdEfGhIjKlMnOpQrStUv",
        url="https://open.spotify.com/playlist/AbCdEfGhIjKlMnOpQrStUv", title="Spring",
        track_count=2, source=Source.SPOTIFY, spotify_id="AbCdEfGhIjKlMnOpQrStUv",
        tracks=(Track(None, 1, title="Ember City", spotify_id="spE", source=Source.SPOTIFY),
                Track(None, 2, title="New", spotify_id="spN", source=Source.SPOTIFY)),
    )  # fmt: skip
    assert catalog.record_playlist(spotify).added == [-1, -2]


def _open_catalog(url: str, ready: object) -> None:
    ready.wait()  # type: ignore[attr-defined]
    Catalog(url).remember_playlist_url("dj/sets/a", "https://soundcloud.com/dj/sets/a")


def test_processes_opening_a_new_catalog_at_once_all_succeed(tmp_path) -> None:
    """Two `sync` commands started together on a new machine both create the catalog."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'new-{attempt}.sqlite'}"
        ready = context.Barrier(4)
        workers = [context.Process(target=_open_catalog, args=(url, ready)) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert [w.exitcode for w in workers] == [0, 0, 0, 0]
        with create_engine(url).connect() as conn:
            assert conn.execute(text("SELECT value FROM catalog_meta")).scalar() == str(
                SCHEMA_VERSION
            )


@pytest.mark.parametrize("made_by", ["main v11", "budget branch v9", "budget branch v11"])
def test_v12_transcodings_upgrade_a_catalog_of_any_line(tmp_path, made_by) -> None:
    """Three lines of releases numbered their steps differently: main's v9 renamed
    ``musical_key``, v10 added memberships' ``added_at``, v11 djay's columns; the budget
    branch's ``transcodings`` was its v9 (before the rename and ``added_at``), then its
    v11 (before djay). Every catalog reaches today's schema with every value kept."""
    from soundcloud_sync.catalog.schema import _v12_transcodings

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    media = '[{"url": "https://api-v2.soundcloud.com/media/7/stream", "preset": "mp3_0_0"}]'
    with engine.begin() as conn:
        migrate(conn)  # today's tables; now make them look like the older catalog's
        _undo_recording_id(conn)  # all three are older than the recording id
        if made_by != "main v11":  # no djay columns in either budget catalog
            conn.execute(text("DROP INDEX ix_tracks_djay_title_id"))
            for column in DJAY_COLUMNS:
                conn.execute(text(f'ALTER TABLE tracks DROP COLUMN "{column}"'))
        if made_by == "main v11":
            conn.execute(text("ALTER TABLE tracks DROP COLUMN transcodings"))
            version = "11"
            insert = (
                "INSERT INTO tracks (soundcloud_id, title, tempo, key, camelot, notion_page_id)"
                " VALUES (7, 'Night Drive', 124.0, 'A minor', '8A', 'page-7')"
            )
        elif made_by == "budget branch v9":
            conn.execute(text('ALTER TABLE tracks RENAME COLUMN "key" TO musical_key'))
            conn.execute(text("ALTER TABLE memberships DROP COLUMN added_at"))
            version = "9"
            insert = (
                "INSERT INTO tracks (soundcloud_id, title, tempo, musical_key, camelot, "
                "notion_page_id, transcodings) VALUES "
                f"(7, 'Night Drive', 124.0, 'A minor', '8A', 'page-7', '{media}')"
            )
        else:
            version = "11"
            insert = (
                "INSERT INTO tracks (soundcloud_id, title, tempo, key, camelot, "
                "notion_page_id, transcodings) VALUES "
                f"(7, 'Night Drive', 124.0, 'A minor', '8A', 'page-7', '{media}')"
            )
        conn.execute(
            text("UPDATE catalog_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": version},
        )
        conn.execute(text(insert))
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
        _v12_transcodings(conn)  # a second time changes nothing
        columns = {c["name"] for c in inspect(conn).get_columns("memberships")}
        track_columns = {c["name"] for c in inspect(conn).get_columns("tracks")}
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("tracks")}
    engine.dispose()
    assert "added_at" in columns
    assert set(DJAY_COLUMNS) <= track_columns and indexes["ix_tracks_djay_title_id"]["unique"]
    row = Catalog(url).tracks_by_id([7])[7]
    assert "musical_key" not in row
    assert (row["key"], row["camelot"], row["tempo"]) == ("A minor", "8A", 124.0)
    assert row["notion_page_id"] == "page-7"
    if made_by == "main v11":
        assert row["transcodings"] is None  # looked up in one batch by the next download
    else:
        assert row["transcodings"][0]["preset"] == "mp3_0_0"


def test_listings_with_tracks_in_common_written_side_by_side_on_postgresql(
    postgres: PostgresServer,
) -> None:
    """Runs of a backfill on PostgreSQL write their listings at the same moment: with the
    lock, none waits for ever or fails, and a track in two playlists gets one row. (The
    race it closes is too narrow to be caught here; the next test shows the lock.)"""
    postgres.create_database("side_by_side")
    url = postgres.url("side_by_side")
    Catalog(url)  # migrated once, as the first run does
    writers = 6
    for round_ in range(5):
        shared = [round_ * 1000 + n for n in range(1, 21)]
        start = threading.Barrier(writers)

        def write(i: int, shared: list[int] = shared, start: threading.Barrier = start) -> None:
            own = [shared[0] + 500 + i]
            start.wait()
            Catalog(url).record_playlist(_playlist([*shared, *own], key=f"dj/sets/{i}"))

        with ThreadPoolExecutor(writers) as pool:
            for done in [pool.submit(write, i) for i in range(writers)]:
                done.result()  # a listing that failed raises here
    counts = postgres.query(
        "side_by_side", "SELECT soundcloud_id, count(*) FROM tracks GROUP BY soundcloud_id"
    )
    assert len(counts) == 5 * (20 + writers) and {n for _, n in counts} == {1}


def test_a_listing_waits_while_another_transaction_chooses_recordings(
    postgres: PostgresServer,
) -> None:
    """The race above is microseconds wide (PostgreSQL checks an upsert's own key, then
    inserts into every index): shown here by the lock that closes it. A listing written
    while another transaction holds it waits, then completes."""
    postgres.create_database("one_chooser")
    url = postgres.url("one_chooser")
    holder = Catalog(url)

    def waiting() -> int:
        sql = (
            "SELECT count(*) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = %s AND NOT granted"
        )
        return postgres.query("one_chooser", sql, (_RECORDINGS_LOCK & 0xFFFFFFFF,))[0][0]

    with ThreadPoolExecutor(1) as pool:
        with holder.engine.begin() as conn:
            lock_recordings(conn)
            writing = pool.submit(Catalog(url).record_playlist, _playlist([1, 2, 3]))
            deadline = time.monotonic() + 60
            while not waiting():
                assert not writing.done(), "the listing was written past the lock"
                assert time.monotonic() < deadline, "the listing never asked for the lock"
                time.sleep(0.05)
        assert writing.result(timeout=60).added == [1, 2, 3]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_two_tracks_picked_at_once_get_their_own_positions(
    dialect: str, tmp_path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `soundcloud-sync add` calls for one singles listing at the same moment: the
    second's pick is made while the first's transaction has read the last position and
    not yet written. Each must take its own place, the first first (the URLs sort the
    other way round, so the order shown is the positions')."""
    from soundcloud_sync.catalog import store

    if dialect == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        postgres.create_database("picks_at_once")
        catalog = Catalog(postgres.url("picks_at_once"))
    else:
        catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    key = "dj/singles"
    first, second = (f"https://soundcloud.com/dj/{name}" for name in ("zz-first", "aa-second"))
    insert = store.insert_new
    started: list[Future[bool]] = []

    with ThreadPoolExecutor(1) as pool:

        def insert_after_the_other(conn, table, row, keys):
            if row["url"] == first and not started:
                started.append(pool.submit(catalog.pick_track, key, second, second))
                wait(started, timeout=1.0)  # it waits for this transaction, or races past it
            return insert(conn, table, row, keys)

        monkeypatch.setattr(store, "insert_new", insert_after_the_other)
        assert catalog.pick_track(key, first, first)
        assert started[0].result(timeout=60)

    with catalog.engine.connect() as conn:
        rows = conn.execute(select(picks.c.url, picks.c.position).order_by(picks.c.position))
        assert [tuple(r) for r in rows] == [(first, 1), (second, 2)]
    assert [url for url, _ in catalog.picks(key)] == [first, second]
