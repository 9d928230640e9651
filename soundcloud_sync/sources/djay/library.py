"""Reading djay Pro's ``MediaLibrary.db``: tracks, analysis, the DJ's data, plays, playlists.

The file is a YapDatabase: every record is a row of ``database2 (collection, key,
data)`` whose ``data`` is a TSAF value (see `tsaf`), and the rows of one track share
its ``key``, djay's 32-hex ``titleID``. A few plain tables sit beside it: the secondary
indexes (``secondaryIndex_*``, one row per indexed ``database2`` row, same rowid), the
playlist view's pages (``view_mediaItemPlaylistView_page``: the rowids of a playlist's
tracks in order) and the full-text index ``fts_searchIndex`` (genre, album).

Nothing here needs a record to be complete: what a row, a field or a table does not
give is left unset, with one line in `DjayLibrary.problems` where djay should have had
it. Only a file that is not a djay library at all raises `DjayLibraryError`.
"""

from __future__ import annotations

import sqlite3
import struct
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from .keys import key_of_index
from .models import DjayLibrary, DjayLibraryError, DjayPlay, DjayPlaylist, DjayTrack
from .snapshot import open_snapshot
from .tsaf import TsafError, TsafObject, decode

TITLES = "mediaItemTitleIDs"
LOCAL_LOCATIONS = "localMediaItemLocations"
GLOBAL_LOCATIONS = "globalMediaItemLocations"
ANALYZED = "mediaItemAnalyzedData"
USER_DATA = "mediaItemUserData"
PLAYLISTS = "mediaItemPlaylists"
PLAYLIST_ITEMS = "mediaItemPlaylistItems"
SESSIONS = "historySessions"
SESSION_ITEMS = "historySessionItems"
COLLECTIONS = (
    TITLES,
    LOCAL_LOCATIONS,
    GLOBAL_LOCATIONS,
    ANALYZED,
    USER_DATA,
    PLAYLISTS,
    PLAYLIST_ITEMS,
    SESSIONS,
    SESSION_ITEMS,
)
PLAYLIST_PAGES = "view_mediaItemPlaylistView_page"
# djay's own name for its analysed tempo (a field of its records, a column of its
# indexes); ours is `tempo`, as everywhere else in the package
DJAY_TEMPO = "bpm"
MAX_PROBLEM_LINES = 50


def read_library(path: Path | str) -> DjayLibrary:
    """Read a djay library from a consistent private snapshot; the file is never touched."""
    path = Path(path).expanduser()
    with open_snapshot(path) as conn:
        return _Reader(path, conn).read()


def _number(value: Any) -> float | None:
    """A positive number, or None (djay writes 0 or an opaque token for "not set")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


class _Reader:
    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.library = DjayLibrary(path=path)
        self._dropped = 0
        self.tables = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        # collection -> key -> (rowid, decoded value)
        self.records: dict[str, dict[str, tuple[int, Any]]] = defaultdict(dict)
        self.key_of_rowid: dict[int, str] = {}

    def problem(self, line: str) -> None:
        if len(self.library.problems) < MAX_PROBLEM_LINES:
            self.library.problems.append(f"{self.path.name}: {line}")
        else:
            self._dropped += 1

    # -- the whole read ---------------------------------------------------------------

    def read(self) -> DjayLibrary:
        if "database2" not in self.tables:
            raise DjayLibraryError(self.path, "no table database2: not a djay Pro library")
        self._load_records()
        index = self._secondary_indexes()
        search = self._search_index()
        plays = self._plays()
        self._playlists()
        in_playlists: dict[str, list[str]] = defaultdict(list)
        for playlist in self.library.playlists:
            for title_id in dict.fromkeys(playlist.title_ids):
                in_playlists[title_id].append(playlist.name)
        for title_id in self._track_keys():
            track = self._track(title_id, index, search, plays, in_playlists)
            if track is not None:
                self.library.tracks.append(track)
        if self._dropped:
            self.library.problems.append(f"{self.path.name}: … and {self._dropped} more problems")
        return self.library

    def _load_records(self) -> None:
        marks = ",".join("?" * len(COLLECTIONS))
        try:
            rows = self.conn.execute(
                f"SELECT rowid, collection, key, data FROM database2 WHERE collection IN ({marks})",
                COLLECTIONS,
            )
            for rowid, collection, key, data in rows:
                self.library.rows_read += 1
                self.key_of_rowid[rowid] = key
                try:
                    value = decode(bytes(data)) if data is not None else None
                except TsafError as exc:
                    self.problem(f"table database2, {collection} row {key!r}: {exc}; row left out")
                    continue
                self.records[collection][key] = (rowid, value)
                if collection == PLAYLIST_ITEMS and isinstance(value, TsafObject):
                    # a playlist entry stands for its track in the playlist view's pages
                    self.key_of_rowid[rowid] = _title_id_of(value.get("titleID")) or key
        except sqlite3.DatabaseError as exc:
            raise DjayLibraryError(self.path, f"table database2 cannot be read ({exc})") from None
        if not any(self.records[c] for c in (TITLES, LOCAL_LOCATIONS, GLOBAL_LOCATIONS)):
            self.problem(
                f"no track records ({TITLES}, {LOCAL_LOCATIONS}, {GLOBAL_LOCATIONS}) in database2"
            )

    def _optional_table(self, table: str, purpose: str) -> bool:
        if table in self.tables:
            return True
        self.problem(f"table {table} missing: {purpose} not read from it")
        return False

    def _rows(self, sql: str, table: str) -> Iterable[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql).fetchall()
        except sqlite3.DatabaseError as exc:
            self.problem(f"table {table} cannot be read ({exc})")
            return []

    # -- plain tables -----------------------------------------------------------------

    def _secondary_indexes(self) -> dict[str, dict[str, Any]]:
        """Per titleID, the plain columns of djay's secondary indexes (bpm, key, manualBPM).

        They repeat fields of the TSAF records and are used where a record lacks one.
        """
        found: dict[str, dict[str, Any]] = defaultdict(dict)
        table = "secondaryIndex_mediaItemAnalyzedDataIndex"
        if self._optional_table(table, "tempo and key index"):
            for rowid, tempo, manual, key in self._rows(
                f"SELECT rowid, bpm, manualBPM, keySignatureIndex FROM {table}", table
            ):
                if (title_id := self.key_of_rowid.get(rowid)) is not None:
                    found[title_id].update(
                        {DJAY_TEMPO: tempo, "manualBPM": manual, "keySignatureIndex": key}
                    )
        table = "secondaryIndex_mediaItemUserDataIndex"
        if table in self.tables:
            for rowid, manual in self._rows(f"SELECT rowid, manualBPM FROM {table}", table):
                if (title_id := self.key_of_rowid.get(rowid)) is not None and manual:
                    found[title_id]["userManualBPM"] = manual
        table = "secondaryIndex_mediaItemIndex"
        if table in self.tables:
            for title_id, tempo, key in self._rows(
                f"SELECT titleID, bpm, musicalKeySignatureIndex FROM {table}", table
            ):
                if isinstance(title_id, str):
                    found[title_id].setdefault(DJAY_TEMPO, tempo)
                    found[title_id].setdefault("keySignatureIndex", key)
        return found

    def _search_index(self) -> dict[int, dict[str, Any]]:
        """Genre and album per ``database2`` rowid, from the full-text search table."""
        table = "fts_searchIndex"
        if not self._optional_table(table, "genre and album"):
            return {}
        try:
            cursor = self.conn.execute(f"SELECT rowid, * FROM {table}")
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            self.problem(f"table {table} cannot be read ({exc})")
            return {}
        return {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in rows}

    # -- history and playlists --------------------------------------------------------

    def _plays(self) -> dict[str, list[DjayPlay]]:
        sessions = {
            key: value
            for key, (_, value) in self.records[SESSIONS].items()
            if isinstance(value, TsafObject)
        }
        plays: dict[str, list[DjayPlay]] = defaultdict(list)
        for key, (_, item) in self.records[SESSION_ITEMS].items():
            if not isinstance(item, TsafObject):
                continue
            title_id = _title_id_of(item.get("titleID"))
            if title_id is None:
                self.problem(
                    f"table database2, {SESSION_ITEMS} row {key!r}: no titleID; play left out"
                )
                continue
            session_key = _text(item.get("sessionUUID"))
            session = sessions.get(session_key or "")
            played_at = item.get("startTime")
            if not isinstance(played_at, datetime) and session is not None:
                played_at = session.get("startDate")
            play = DjayPlay(
                title_id=title_id,
                played_at=played_at if isinstance(played_at, datetime) else None,
                session=session_key,
            )
            plays[title_id].append(play)
            self.library.plays.append(play)
        return plays

    def _playlists(self) -> None:
        """djay's playlists, each with its tracks in the order of djay's playlist view."""
        pages = self._playlist_pages()
        for key, (_, obj) in self.records[PLAYLISTS].items():
            if not isinstance(obj, TsafObject):
                continue
            name = _text(obj.get("name")) or _text(obj.get("title"))
            if name is None:
                continue  # the root folder, and folders, have no name of their own
            rowids = pages.get(key) if key in pages else pages.get(name)
            if rowids is not None:
                title_ids = [self.key_of_rowid[r] for r in rowids if r in self.key_of_rowid]
                if len(title_ids) < len(rowids):
                    self.problem(
                        f"playlist {name!r}: {len(rowids) - len(title_ids)} entries point to no track record"
                    )
            else:
                title_ids = [t for t in map(_title_id_of, obj.get("titleIDs") or ()) if t]
            self.library.playlists.append(
                DjayPlaylist(key=key, name=name, title_ids=tuple(title_ids))
            )

    def _playlist_pages(self) -> dict[str, list[int]]:
        """group -> database2 rowids in order, following each group's chain of pages."""
        if not self.records[PLAYLISTS]:
            return {}
        if not self._optional_table(PLAYLIST_PAGES, "playlist order"):
            return {}
        rows = self._rows(
            f'SELECT pageKey, "group", prevPageKey, data FROM {PLAYLIST_PAGES}', PLAYLIST_PAGES
        )
        by_group: dict[str, dict[str | None, tuple[str, bytes]]] = defaultdict(dict)
        for page_key, group, previous, data in rows:
            by_group[group][previous] = (page_key, bytes(data or b""))
        result: dict[str, list[int]] = {}
        for group, chain in by_group.items():
            rowids: list[int] = []
            prev: str | None = None
            for _ in range(len(chain)):
                if prev not in chain:
                    self.problem(f"table {PLAYLIST_PAGES}, group {group!r}: broken chain of pages")
                    break
                page_key, data = chain[prev]
                if len(data) % 8:
                    self.problem(f"table {PLAYLIST_PAGES}, page {page_key!r}: not a list of rowids")
                else:
                    rowids.extend(struct.unpack(f"<{len(data) // 8}q", data))
                prev = page_key
            result[group] = rowids
        return result

    # -- tracks -----------------------------------------------------------------------

    def _track_keys(self) -> list[str]:
        keys = dict.fromkeys(self.records[TITLES])
        keys.update(dict.fromkeys(self.records[LOCAL_LOCATIONS]))
        keys.update(dict.fromkeys(self.records[GLOBAL_LOCATIONS]))
        return list(keys)

    def _track(
        self,
        title_id: str,
        index: dict[str, dict[str, Any]],
        search: dict[int, dict[str, Any]],
        plays: dict[str, list[DjayPlay]],
        in_playlists: dict[str, list[str]],
    ) -> DjayTrack | None:
        titles = self._object(TITLES, title_id)
        locations = [
            obj
            for obj in (
                self._object(LOCAL_LOCATIONS, title_id),
                self._object(GLOBAL_LOCATIONS, title_id),
            )
            if obj is not None
        ]
        described = [titles] if titles is not None else []
        for location in locations:
            described.extend(o for o in location.get("titleIDs") or () if isinstance(o, TsafObject))
        track_plays = plays.get(title_id, [])
        uris: list[str] = []
        for location in locations:
            for uri in location.get("sourceURIs") or ():
                if isinstance(uri, str) and uri and uri not in uris:
                    uris.append(uri)

        def field(name: str) -> Any:
            return _first(*(_text(o.get(name)) for o in described))

        title = field("title")
        if title is None:
            where = uris[0] if uris else "no source"
            self.problem(f"track {title_id} ({where}) has no title; left out")
            return None
        searched = self._searched(title_id, search)
        analyzed = self._object(ANALYZED, title_id) or TsafObject("")
        user = self._object(USER_DATA, title_id) or TsafObject("")
        indexed = index.get(title_id, {})
        key_index = _first(
            *(
                v
                for v in (analyzed.get("keySignatureIndex"), indexed.get("keySignatureIndex"))
                if isinstance(v, int) and not isinstance(v, bool)
            )
        )
        key = key_of_index(key_index)
        played = [p.played_at for p in track_plays if p.played_at is not None]
        play_count = _count(user.get("playCount"))
        return DjayTrack(
            title_id=title_id,
            title=title,
            artist=field("artist"),
            album=_first(field("album"), _text(searched.get("album"))),
            genre=_first(_text(searched.get("genre")), field("genre")),
            duration_s=_first(*(_number(o.get("duration")) for o in described)),
            isrc=_first(field("isrc"), *(_text(o.get("isrc")) for o in locations)),
            source_uris=tuple(uris),
            tempo=_first(_number(analyzed.get(DJAY_TEMPO)), _number(indexed.get(DJAY_TEMPO))),
            manual_tempo=_first(
                _number(user.get("manualBPM")),
                _number(indexed.get("userManualBPM")),
                _number(analyzed.get("manualBPM")),
                _number(indexed.get("manualBPM")),
            ),
            key=key[0] if key else None,
            camelot=key[1] if key else None,
            play_count=play_count
            if play_count is not None
            else (len(track_plays) if track_plays else None),
            last_played=max(played) if played else None,
            rating=_count(user.get("rating")),
            color=_count(_first(user.get("colorIndex"), user.get("color"))),
            playlists=tuple(sorted(in_playlists.get(title_id, ()))),
        )

    def _object(self, collection: str, key: str) -> TsafObject | None:
        found = self.records[collection].get(key)
        return found[1] if found is not None and isinstance(found[1], TsafObject) else None

    def _searched(self, title_id: str, search: dict[int, dict[str, Any]]) -> dict[str, Any]:
        for collection in (TITLES, LOCAL_LOCATIONS, GLOBAL_LOCATIONS):
            found = self.records[collection].get(title_id)
            if found is not None and found[0] in search:
                return search[found[0]]
        return {}


def _title_id_of(value: Any) -> str | None:
    """djay's titleID from a nested ``ADCMediaItemTitleID`` object or a plain string."""
    if isinstance(value, TsafObject):
        value = value.get("uuid")
    return value if isinstance(value, str) and value else None
