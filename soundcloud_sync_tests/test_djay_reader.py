"""djay Pro's MediaLibrary.db read through `read_library`, on files built as djay writes them."""

from __future__ import annotations

import sqlite3
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soundcloud_sync.errors import SoundCloudSyncError
from soundcloud_sync.sources.djay import (
    DjayLibraryError,
    TsafError,
    decode,
    key_of_index,
    read_library,
)
from soundcloud_sync_tests.djay_library import (
    F32,
    U8,
    URL,
    Date,
    FixtureLibrary,
    FixturePlay,
    FixturePlaylist,
    FixtureTrack,
    Obj,
    Raw,
    file_hashes,
    tsaf,
    write_library,
)

A, B, C, D = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)


def _library() -> FixtureLibrary:
    return FixtureLibrary(
        tracks=[
            FixtureTrack(
                A, "Arquipélago", "Gui Boratto", album="Arquipélago EP", genre="Techno",
                duration_s=367.5, isrc="DEKP10500001",
                uris=["file:///Users/dj/Music/Gui%20Boratto/Arquip%C3%A9lago.aiff"],
                bpm=125.0, manual_bpm=124.5, key_index=15, play_count=3, rating=4, color=2,
            ),
            FixtureTrack(
                B, "Just", "Bicep", duration_s=372.6, isrc="GBCFB1700001",
                uris=["spotify:track:4uLU6hMCjMI75M1A2tKUQC"], bpm=120.0, key_index=None,
            ),
            FixtureTrack(C, "Luvmaschine", "Luvless", uris=["soundcloud:tracks:123456"], bpm=114.0, key_index=3),
        ],
        plays=[
            FixturePlay(A, datetime(2026, 5, 1, 22, 0, tzinfo=UTC), "s1"),
            FixturePlay(B, datetime(2026, 5, 1, 22, 6, tzinfo=UTC), "s1"),
            FixturePlay(A, datetime(2026, 6, 2, 1, 30, tzinfo=UTC), "s2"),
        ],
        playlists=[
            FixturePlaylist("p-warmup", "Warmup", [C, A, B]),
            FixturePlaylist("p-peak", "Peak", [B, A]),
        ],
    )  # fmt: skip


def test_reads_every_fact_from_a_live_wal_library_without_changing_a_byte(tmp_path: Path) -> None:
    path = tmp_path / "MediaLibrary.db"
    djay = write_library(path, _library(), keep_open=True)  # djay running: data still in the WAL
    assert djay is not None
    before = file_hashes(tmp_path)
    assert set(before) == {"MediaLibrary.db", "MediaLibrary.db-wal", "MediaLibrary.db-shm"}
    try:
        library = read_library(path)
        # djay keeps writing while we are done: our read left no lock behind
        djay.execute("UPDATE database2 SET metadata = x'00' WHERE rowid = 1")
    finally:
        djay.close()
    assert library.problems == []
    tracks = {t.title_id: t for t in library.tracks}
    a = tracks[A]
    assert (a.title, a.artist, a.album, a.genre) == (
        "Arquipélago",
        "Gui Boratto",
        "Arquipélago EP",
        "Techno",
    )
    assert a.duration_s == pytest.approx(367.5)
    assert a.isrc == "DEKP10500001"
    assert a.file_path == Path("/Users/dj/Music/Gui Boratto/Arquipélago.aiff")
    assert (a.tempo, a.manual_tempo) == (125.0, 124.5)
    assert (a.key, a.camelot) == ("F minor", "4A")
    assert (a.play_count, a.rating, a.color) == (3, 4, 2)
    assert a.last_played == datetime(2026, 6, 2, 1, 30, tzinfo=UTC)
    assert a.playlists == ("Peak", "Warmup")
    b = tracks[B]
    assert b.service_uris == ("spotify:track:4uLU6hMCjMI75M1A2tKUQC",) and b.file_path is None
    assert (b.key, b.manual_tempo) == (None, None)  # djay could not determine the key
    assert b.play_count == 1  # no playCount in its user data: counted from the history
    assert tracks[C].source_uris == ("soundcloud:tracks:123456",)
    assert {p.name: p.title_ids for p in library.playlists} == {"Warmup": (C, A, B), "Peak": (B, A)}
    assert len(library.plays) == 3


def test_the_file_is_unchanged_after_reading_a_closed_library(tmp_path: Path) -> None:
    path = tmp_path / "MediaLibrary.db"
    write_library(path, _library())
    before = file_hashes(tmp_path)
    assert len(read_library(path).tracks) == 3
    assert file_hashes(tmp_path) == before


def test_playlist_order_follows_the_chain_of_view_pages(tmp_path: Path) -> None:
    tracks = [
        FixtureTrack(f"{i:032x}", f"T{i}", "X", uris=[f"file:///t{i}.mp3"]) for i in range(130)
    ]
    order = [t.title_id for t in reversed(tracks)]
    path = tmp_path / "MediaLibrary.db"
    write_library(
        path, FixtureLibrary(tracks=tracks, playlists=[FixturePlaylist("p", "Long", order)])
    )
    (playlist,) = read_library(path).playlists
    assert list(playlist.title_ids) == order  # three pages of 50, 50 and 30


def test_view_pages_may_list_track_records_directly(tmp_path: Path) -> None:
    """Pages holding the rowids of mediaItemTitleIDs rows (as one public reader saw) work too."""
    path = tmp_path / "MediaLibrary.db"
    write_library(path, FixtureLibrary(tracks=_library().tracks))
    with sqlite3.connect(path) as conn:
        rows = dict(
            conn.execute("SELECT key, rowid FROM database2 WHERE collection='mediaItemTitleIDs'")
        )
        conn.execute(
            "INSERT INTO database2 (collection, key, data) VALUES ('mediaItemPlaylists', 'p', ?)",
            (tsaf(Obj("ADCMediaItemPlaylist", [("uuid", "p"), ("name", "Direct")])),),
        )
        conn.execute(
            "INSERT INTO view_mediaItemPlaylistView_page VALUES ('pg', 'Direct', NULL, 2, ?)",
            (struct.pack("<2q", rows[B], rows[A]),),
        )
    (playlist,) = read_library(path).playlists
    assert playlist.title_ids == (B, A)


def test_not_sqlite_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "MediaLibrary.db"
    path.write_bytes(b"bplist00 not a database")
    with pytest.raises(DjayLibraryError) as err:
        read_library(path)
    assert isinstance(err.value, SoundCloudSyncError)
    assert (
        str(err.value)
        == f"djay library {path}: not an SQLite database (djay's MediaLibrary.db is one)"
    )
    with pytest.raises(DjayLibraryError, match="no such file"):
        read_library(tmp_path / "missing.db")


def test_sqlite_without_database2_is_not_a_djay_library(tmp_path: Path) -> None:
    path = tmp_path / "MediaLibrary.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")
    with pytest.raises(DjayLibraryError, match="no table database2: not a djay Pro library"):
        read_library(path)


def test_missing_tables_are_named_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "MediaLibrary.db"
    omitted = (
        "fts_searchIndex",
        "view_mediaItemPlaylistView_page",
        "secondaryIndex_mediaItemAnalyzedDataIndex",
    )
    write_library(path, _library(), omit_tables=omitted)
    library = read_library(path)
    assert library.problems == [
        "MediaLibrary.db: table secondaryIndex_mediaItemAnalyzedDataIndex missing: tempo and key index not read from it",
        "MediaLibrary.db: table fts_searchIndex missing: genre and album not read from it",
        "MediaLibrary.db: table view_mediaItemPlaylistView_page missing: playlist order not read from it",
    ]
    a = next(t for t in library.tracks if t.title_id == A)
    assert (a.title, a.tempo, a.key, a.genre) == ("Arquipélago", 125.0, "F minor", None)
    assert {p.name for p in library.playlists} == {"Warmup", "Peak"}


def test_unknown_value_encoding_names_the_row_and_the_rest_is_read(tmp_path: Path) -> None:
    bad = tsaf(
        Obj("ADCMediaItemAnalyzedData", [("bpm", F32(128.0)), ("future", Raw(b"\x7f\x01\x02"))])
    )
    fixture = _library()
    fixture.raw_rows.append(("mediaItemAnalyzedData", D, bad))
    fixture.tracks.append(FixtureTrack(D, "New", "Someone", uris=["file:///new.mp3"]))
    path = tmp_path / "MediaLibrary.db"
    write_library(path, fixture)
    # D's analysis row comes twice: ours (none: no bpm/key given) and the raw one
    library = read_library(path)
    (line,) = library.problems
    assert line.startswith(f"MediaLibrary.db: table database2, mediaItemAnalyzedData row '{D}': ")
    assert "unknown value type 0x7f at byte" in line and line.endswith("row left out")
    assert {t.title_id for t in library.tracks} == {A, B, C, D}


def test_a_track_without_title_is_named_and_left_out(tmp_path: Path) -> None:
    fixture = _library()
    fixture.tracks.append(FixtureTrack(D, None, "Nobody", uris=["file:///Users/dj/untitled.wav"]))
    path = tmp_path / "MediaLibrary.db"
    write_library(path, fixture)
    library = read_library(path)
    assert library.problems == [
        f"MediaLibrary.db: track {D} (file:///Users/dj/untitled.wav) has no title; left out"
    ]
    assert len(library.tracks) == 3


# --------------------------------------------------------------------------- TSAF, byte by byte


def _blob(body: bytes) -> bytes:
    return b"TSAF" + bytes(16) + body


def test_tsaf_values_before_keys_and_repeated_strings() -> None:
    # an object: class, then value/key pairs; 05 02 repeats string 2 ("uuid")
    body = (
        b"\x2b\x08ADCHistorySessionItem\x00"
        b"\x08item-1\x00\x08uuid\x00"
        b"\x2b\x08ADCMediaItemTitleID\x00\x08" + b"e" * 32 + b"\x00\x05\x02"
        b"\x08Song\x00\x08title\x00"
        b"\x00\x08titleID\x00"
        b"\x0f\x02\x08deckNumber\x00"
        b"\x00"
    )
    obj = decode(_blob(body))
    assert obj.class_name == "ADCHistorySessionItem"
    assert obj.get("uuid") == "item-1" and obj.get("deckNumber") == 2
    nested = obj.get("titleID")
    assert nested.class_name == "ADCMediaItemTitleID"
    assert nested.fields == {"uuid": "e" * 32, "title": "Song"}


def test_tsaf_numbers_are_aligned_from_the_start_of_the_blob() -> None:
    seconds = (datetime(2026, 5, 1, tzinfo=UTC) - datetime(2001, 1, 1, tzinfo=UTC)).total_seconds()
    body = b"\x2b\x08X\x00"  # 20 + 4 = byte 24
    body += b"\x13" + b"\x00" * 3 + struct.pack("<f", 125.0) + b"\x08bpm\x00"  # f32 at 28
    body += b"\x30" + b"\x00" * 2 + struct.pack("<d", seconds) + b"\x08startTime\x00"  # f64 at 40
    body += b"\x2e\x08keySignatureIndex\x00\x00"
    obj = decode(_blob(body))
    assert obj.get("bpm") == 125.0
    assert obj.get("startTime") == datetime(2026, 5, 1, tzinfo=UTC)
    assert obj.get("keySignatureIndex").tag == 0x2E


def test_tsaf_writer_and_decoder_agree_on_every_type() -> None:
    when = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
    value = Obj(
        "T",
        [
            ("a", [URL("file:///x"), URL("file:///x")]),
            ("b", F32(1.5)),
            ("c", Date(when)),
            ("d", U8(7)),
        ],
    )
    obj = decode(tsaf(value))
    assert obj.fields == {"a": ["file:///x", "file:///x"], "b": 1.5, "c": when, "d": 7}


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"NOPE" + bytes(30), "not a TSAF value"),
        (_blob(b"\x2b\x08X\x00\x05\x09\x08k\x00\x00"), "string reference 9"),
        (_blob(b"\x2b\x08X\x00\x13\x00"), "cut short"),
        (_blob(b"\x2b\x08X\x00\x08v\x00\x13"), "expected a string at byte 27, found tag 0x13"),
        (_blob(b"\x2b\x08X\x00\x08v\x00\x08k\x00"), "not closed"),
        (_blob(b"\x2b\x08X\x00\x99\x08k\x00\x00"), "unknown value type 0x99 at byte 24"),
    ],
)
def test_tsaf_refuses_what_it_cannot_read(blob: bytes, message: str) -> None:
    with pytest.raises(TsafError, match=message):
        decode(blob)


def test_key_index_order() -> None:
    """Pairs of a major key and its relative minor, a semitone apart, from D-flat."""
    assert key_of_index(0) == ("C# major", "3B")
    assert key_of_index(1) == ("A# minor", "3A")
    assert key_of_index(5) == ("C minor", "5A")
    assert key_of_index(8) == ("F major", "7B")
    assert key_of_index(11) == ("D# minor", "2A")
    assert key_of_index(18) == ("A# major", "6B")
    assert key_of_index(23) == ("A minor", "8A")
    assert key_of_index(24) is None and key_of_index(None) is None
