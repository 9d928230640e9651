"""Builds djay Pro ``MediaLibrary.db`` files for the tests and the benchmark.

Written from the format description in ``docs/djay.md`` (the tables djay creates, the
collections and field names it uses, and the TSAF value encoding), not from the
reader's code: this module has its own TSAF encoder and imports nothing from
``soundcloud_sync.sources.djay``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# --------------------------------------------------------------------------- TSAF


@dataclass(frozen=True)
class F32:
    value: float


@dataclass(frozen=True)
class U8:
    value: int


@dataclass(frozen=True)
class I32:
    value: int


@dataclass(frozen=True)
class Color:  # colorIndex is written with tag 0x1A (a 4-byte unsigned number)
    value: int


@dataclass(frozen=True)
class Date:
    value: datetime


@dataclass(frozen=True)
class URL:
    value: str


@dataclass(frozen=True)
class Data:
    value: bytes


@dataclass(frozen=True)
class Undetermined:  # tag 0x2E: what djay writes for a key it could not determine
    pass


@dataclass(frozen=True)
class Raw:  # bytes written as they are (an encoding the reader must refuse)
    value: bytes


@dataclass(frozen=True)
class Obj:
    class_name: str
    fields: Sequence[tuple[str, object]]


class TsafWriter:
    """One blob: header, then the value; strings seen before are written as 0x05 + index."""

    APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)

    def __init__(self) -> None:
        self.out = bytearray(b"TSAF" + struct.pack("<HHIII", 3, 0, 0, 1, 0))
        self.strings: dict[str, int] = {}

    def blob(self, value: object) -> bytes:
        self.put(value)
        return bytes(self.out)

    def _pad(self, width: int) -> None:
        self.out += b"\x00" * (-len(self.out) % width)

    def _number(self, tag: int, fmt: str, value: float | int) -> None:
        self.out.append(tag)
        self._pad(struct.calcsize(fmt))
        self.out += struct.pack(fmt, value)

    def string(self, text: str) -> None:
        index = self.strings.get(text)
        if index is not None and index < 256:
            self.out += bytes((0x05, index))
            return
        self.strings.setdefault(text, len(self.strings))
        self.out += b"\x08" + text.encode() + b"\x00"

    def put(self, value: object) -> None:
        if isinstance(value, str):
            self.string(value)
        elif isinstance(value, Obj):
            self.out.append(0x2B)
            self.string(value.class_name)
            for name, item in value.fields:
                if item is None:
                    continue
                self.put(item)
                self.string(name)
            self.out.append(0x00)
        elif isinstance(value, list):
            self._number(0x0B, "<I", len(value))
            for item in value:
                self.put(item)
        elif isinstance(value, F32):
            self._number(0x13, "<f", value.value)
        elif isinstance(value, float):
            self._number(0x14, "<d", value)
        elif isinstance(value, Date):
            self._number(0x30, "<d", (value.value - self.APPLE_EPOCH).total_seconds())
        elif isinstance(value, U8):
            self.out += bytes((0x0F, value.value))
        elif isinstance(value, I32):
            self._number(0x0C, "<i", value.value)
        elif isinstance(value, Color):
            self._number(0x1A, "<I", value.value)
        elif isinstance(value, bool):
            self.out.append(0x0E if value else 0x0D)
        elif isinstance(value, URL):
            self.out.append(0x21)
            self.string(value.value)
        elif isinstance(value, Data):
            self._number(0x15, "<I", len(value.value))
            self.out += value.value
        elif isinstance(value, Undetermined):
            self.out.append(0x2E)
        elif isinstance(value, Raw):
            self.out += value.value
        else:
            raise TypeError(f"no TSAF encoding for {value!r}")


def tsaf(value: object) -> bytes:
    return TsafWriter().blob(value)


# --------------------------------------------------------------------------- library


@dataclass
class FixtureTrack:
    title_id: str
    title: str | None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    duration_s: float | None = None
    isrc: str | None = None
    uris: Sequence[str] = ()
    bpm: float | None = None
    manual_bpm: float | None = None
    key_index: int | None = None  # None: djay could not determine the key
    play_count: int | None = None
    rating: int | None = None
    color: int | None = None


@dataclass
class FixturePlay:
    title_id: str
    played_at: datetime
    session: str = "session-1"


@dataclass
class FixturePlaylist:
    key: str
    name: str
    title_ids: Sequence[str]


@dataclass
class FixtureLibrary:
    tracks: list[FixtureTrack] = field(default_factory=list)
    plays: list[FixturePlay] = field(default_factory=list)
    playlists: list[FixturePlaylist] = field(default_factory=list)
    # extra rows as they are: (collection, key, blob)
    raw_rows: list[tuple[str, str, bytes]] = field(default_factory=list)


def title_id_object(t: FixtureTrack, full: bool = True) -> Obj:
    fields: list[tuple[str, object]] = [
        ("uuid", t.title_id),
        ("title", t.title),
        ("artist", t.artist),
        ("duration", F32(t.duration_s) if t.duration_s is not None else None),
    ]
    if full:
        fields.append(("isrc", t.isrc))
    return Obj("ADCMediaItemTitleID", fields)


def _location(t: FixtureTrack, uris: list[str]) -> Obj:
    local = any(u.startswith("file:") for u in uris)
    return Obj(
        "ADCMediaItemLocation",
        [
            ("uuid", t.title_id),
            ("titleIDs", [title_id_object(t, full=False)]),
            ("sourceURIs", [URL(u) for u in uris]),
            ("urlBookmarkData", Data(b"book\x00\x00\x00\x00mark") if local else None),
        ],
    )


SCHEMA = """
CREATE TABLE "yap2" ("extension" CHAR NOT NULL, "key" CHAR NOT NULL, "data" BLOB,
    PRIMARY KEY ("extension", "key"));
CREATE TABLE "database2" ("rowid" INTEGER PRIMARY KEY, "collection" CHAR NOT NULL,
    "key" CHAR NOT NULL, "data" BLOB, "metadata" BLOB);
CREATE UNIQUE INDEX "true_primary_key" ON "database2" ("collection", "key");
CREATE TABLE "secondaryIndex_mediaItemIndex" ("rowid" INTEGER PRIMARY KEY, "titleID" TEXT,
    "bpm" REAL, "musicalKeySignatureIndex" INTEGER);
CREATE TABLE "secondaryIndex_mediaItemAnalyzedDataIndex" ("rowid" INTEGER PRIMARY KEY,
    "bpm" REAL, "manualBPM" REAL, "keySignatureIndex" INTEGER);
CREATE TABLE "secondaryIndex_mediaItemLocationIndex" ("rowid" INTEGER PRIMARY KEY, "fileName" TEXT);
CREATE TABLE "secondaryIndex_mediaItemPlaylistIndex" ("rowid" INTEGER PRIMARY KEY, "name" TEXT);
CREATE TABLE "secondaryIndex_mediaItemUserDataIndex" ("rowid" INTEGER PRIMARY KEY, "tags" TEXT,
    "manualBPM" REAL);
CREATE TABLE "relationship_relationship" ("rowid" INTEGER PRIMARY KEY, "name" CHAR NOT NULL,
    "src" INTEGER NOT NULL, "dst" BLOB NOT NULL, "rules" INTEGER, "manual" INTEGER);
CREATE TABLE "view_mediaItemPlaylistView_map" ("rowid" INTEGER PRIMARY KEY, "pageKey" CHAR NOT NULL);
CREATE TABLE "view_mediaItemPlaylistView_page" ("pageKey" CHAR NOT NULL PRIMARY KEY,
    "group" CHAR NOT NULL, "prevPageKey" CHAR, "count" INTEGER, "data" BLOB);
CREATE VIRTUAL TABLE "fts_searchIndex" USING fts4("title", "artist", "genre", "album");
"""
PAGE_SIZE = 50  # YapDatabase's view page size


def write_library(
    path: Path,
    library: FixtureLibrary,
    *,
    omit_tables: Iterable[str] = (),
    keep_open: bool = False,
) -> sqlite3.Connection | None:
    """Write ``library`` as djay would (WAL mode); with ``keep_open`` the connection stays
    open and nothing is checkpointed, as while djay runs (the caller closes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    omitted = set(omit_tables)
    for statement in SCHEMA.split(";"):
        if statement.strip() and not any(f'"{t}"' in statement.split("(")[0] for t in omitted):
            conn.execute(statement)
    tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.execute("BEGIN")

    def insert(collection: str, key: str, value: object) -> int:
        blob = value if isinstance(value, bytes) else tsaf(value)
        cur = conn.execute(
            "INSERT INTO database2 (collection, key, data) VALUES (?, ?, ?)",
            (collection, key, blob),
        )
        return int(cur.lastrowid or 0)

    inserts: dict[str, str] = {}

    def index(table: str, *values: object) -> None:
        if table not in tables:
            return
        if table not in inserts:
            columns = "rowid, *" if table == "fts_searchIndex" else "*"
            names = [
                d[0] for d in conn.execute(f'SELECT {columns} FROM "{table}" LIMIT 0').description
            ]
            quoted = ", ".join(f'"{n}"' for n in names)
            inserts[table] = (
                f'INSERT INTO "{table}" ({quoted}) VALUES ({",".join("?" * len(names))})'
            )
        conn.execute(inserts[table], values)

    for t in library.tracks:
        rowid = insert("mediaItemTitleIDs", t.title_id, title_id_object(t))
        index("secondaryIndex_mediaItemIndex", rowid, t.title_id, t.bpm, t.key_index)
        index("fts_searchIndex", rowid, t.title, t.artist, t.genre, t.album)
        local = [u for u in t.uris if u.startswith("file:")]
        streams = [u for u in t.uris if not u.startswith("file:")]
        if local:
            loc = insert("localMediaItemLocations", t.title_id, _location(t, local))
            index("secondaryIndex_mediaItemLocationIndex", loc, local[0].rsplit("/", 1)[-1])
        if streams:
            insert("globalMediaItemLocations", t.title_id, _location(t, streams))
        if t.bpm is not None or t.key_index is not None:
            analyzed = Obj(
                "ADCMediaItemAnalyzedData",
                [
                    ("titleID", title_id_object(t, full=False)),
                    ("bpm", F32(t.bpm) if t.bpm is not None else None),
                    (
                        "keySignatureIndex",
                        U8(t.key_index) if t.key_index is not None else Undetermined(),
                    ),
                    ("isStraightGrid", True),
                ],
            )
            row = insert("mediaItemAnalyzedData", t.title_id, analyzed)
            index("secondaryIndex_mediaItemAnalyzedDataIndex", row, t.bpm, None, t.key_index)
        user = Obj(
            "ADCMediaItemUserData",
            [
                ("titleID", title_id_object(t, full=False)),
                ("playCount", I32(t.play_count) if t.play_count is not None else None),
                ("rating", U8(t.rating) if t.rating is not None else None),
                ("colorIndex", Color(t.color) if t.color is not None else None),
                ("manualBPM", F32(t.manual_bpm) if t.manual_bpm is not None else None),
            ],
        )
        row = insert("mediaItemUserData", t.title_id, user)
        index("secondaryIndex_mediaItemUserDataIndex", row, None, t.manual_bpm)

    tracks = {t.title_id: t for t in library.tracks}
    sessions: dict[str, list[datetime]] = {}
    for n, play in enumerate(library.plays):
        sessions.setdefault(play.session, []).append(play.played_at)
        t = tracks[play.title_id]
        item = Obj(
            "ADCHistorySessionItem",
            [
                ("uuid", f"{play.session}-item-{n:04d}"),
                ("sessionUUID", play.session),
                ("titleID", title_id_object(t, full=False)),
                ("title", t.title),
                ("artist", t.artist),
                ("startTime", Date(play.played_at)),
                ("deckNumber", U8(1 + n % 2)),
                ("originSourceID", "explorer"),
            ],
        )
        insert("historySessionItems", f"{play.session}-item-{n:04d}", item)
    for session, times in sessions.items():
        insert(
            "historySessions",
            session,
            Obj(
                "ADCHistorySession",
                [
                    ("uuid", session),
                    ("startDate", Date(min(times))),
                    ("endDate", Date(max(times))),
                    ("deviceName", "MacBook Pro"),
                ],
            ),
        )

    for playlist in library.playlists:
        row = insert(
            "mediaItemPlaylists",
            playlist.key,
            Obj("ADCMediaItemPlaylist", [("uuid", playlist.key), ("name", playlist.name)]),
        )
        index("secondaryIndex_mediaItemPlaylistIndex", row, playlist.name)
        # the view lists playlist entries (a track can be in many playlists, a row of a
        # YapDatabase view in one group only), each naming its track
        rowids = []
        for pos, title_id in enumerate(playlist.title_ids):
            item_key = f"{playlist.key}-{pos:05d}"
            item = Obj(
                "ADCMediaItemPlaylistItem",
                [
                    ("uuid", item_key),
                    ("playlistUUID", playlist.key),
                    ("titleID", title_id_object(tracks[title_id], full=False)),
                ],
            )
            rowids.append(insert("mediaItemPlaylistItems", item_key, item))
        prev: str | None = None
        for start in range(0, max(len(rowids), 1), PAGE_SIZE):
            page = rowids[start : start + PAGE_SIZE]
            page_key = f"{playlist.key}-page-{start // PAGE_SIZE}"
            index(
                "view_mediaItemPlaylistView_page",
                page_key,
                playlist.name,
                prev,
                len(page),
                struct.pack(f"<{len(page)}q", *page),
            )
            for r in page:
                index("view_mediaItemPlaylistView_map", r, page_key)
            prev = page_key

    for collection, key, blob in library.raw_rows:
        insert(collection, key, blob)
    conn.execute("COMMIT")
    if keep_open:
        return conn
    conn.close()
    return None


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file in ``folder`` (a library, its -wal and -shm): to show that
    reading it changed nothing."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
