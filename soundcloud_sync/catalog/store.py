"""The local state store: what was seen, synced, downloaded and measured.

It is the source of truth that makes re-syncs cheap (known Notion page ids, known
files) and lets the whole pipeline run without Notion. Every write is one
transaction, so a crash leaves the previous state, never half of the new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    create_engine,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..matching import recording_key, same_length
from ..sources.models import Availability, Playlist, Source, Track, ids_hash
from ..sqlite_wal import enable_wal
from .listing import ListingVerdict, explain_listing
from .rows import AUDIO_ON_DISK
from .schema import DJAY_COLUMNS, memberships, migrate, picks, playlists, tracks

TRACK_FIELDS = (
    "title", "artist", "uploader", "url", "duration_ms", "genre", "tags", "isrc", "album",
    "artwork_url", "created_at", "last_modified", "policy", "monetization_model",
    "downloadable", "availability", "transcodings",
)  # fmt: skip


def _catalog_id(track: Track) -> int:
    """The catalog id of a track already matched to its recording."""
    if track.soundcloud_id is None:
        raise ValueError(f"track {track.title!r} has no catalog id yet")
    return track.soundcloud_id


def batch_of(listed: Iterable[Track]) -> Playlist:
    """Tracks of no playlist, in the shape the catalog's writers take."""
    return Playlist(None, "", "", "", tracks=tuple(listed))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class MembershipChange:
    """How a playlist's track list moved since the catalog last saw it."""

    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)  # vanished from view, still in the set
    first_sync: bool = False
    removals_trusted: bool = True  # False when the listing could not be explained
    # Spotify: tracks found to be a known recording by ISRC (catalog ids), and tracks
    # that only look like one (same title, artist and length, no ISRC to prove it)
    merged: list[int] = field(default_factory=list)
    possible_matches: list[dict[str, Any]] = field(default_factory=list)


def _joined(track: Track, before: Mapping[int, Any], now: str) -> str | None:
    """When ``track`` joined the playlist: the service's word; else, for a track new to a
    playlist listed before, now (it joined since that listing); else what was known."""
    if track.added_at:
        return track.added_at
    old = before.get(_catalog_id(track))
    if old is not None and old.removed_at is None:
        return old.added_at
    return now if before else None


def _change(
    before: Mapping[int, Any], ids: list[int], verdict: ListingVerdict, **more: Any
) -> MembershipChange:
    current = {i for i, r in before.items() if r.removed_at is None}
    return MembershipChange(
        added=[i for i in ids if i not in current],
        removed=sorted(verdict.removed),
        kept=[i for i in ids if i in current],
        hidden=sorted(verdict.hidden),
        first_sync=not before,
        removals_trusted=verdict.explained,
        **more,
    )


# What a Spotify listing may set on a row that SoundCloud's listing made: its Spotify
# identity, and an ISRC where SoundCloud had none. Title, artist and the rest stay.
SPOTIFY_IDENTITY = ("spotify_id", "spotify_url")


@dataclass(frozen=True)
class _Resolved:
    """A Spotify listing with each track given its catalog id."""

    playlist: Playlist
    merged: list[int]
    fresh: list[int]  # ids handed out in this transaction


_engines: dict[str, Engine] = {}
_MIGRATE_LOCK = 0x5C5F_C47A  # PostgreSQL advisory lock held while the schema is brought up
_engines_lock = threading.Lock()


def _engine(url: str) -> Engine:
    """One engine per URL per process, migrated once."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite:///"):
                path = Path(url.removeprefix("sqlite:///"))
                path.parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 60})
                event.listen(engine, "connect", _sqlite_pragmas)
                # Two processes opening a new catalog at once would both create its tables.
                with FileLock(f"{path}.migrate.lock"), engine.begin() as conn:
                    migrate(conn)
            else:
                engine = create_engine(url, pool_pre_ping=True)
                with engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
                    migrate(conn)
            _engines[url] = engine
        return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    enable_wal(dbapi_conn)  # readers never block the writer
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    columns = [c for c in rows[0] if c not in keys]
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in columns})
        if columns
        else stmt.on_conflict_do_nothing(index_elements=keys)
    )
    conn.execute(stmt, rows)


def _insert_new(conn: Connection, table: Table, row: dict[str, Any], keys: list[str]) -> bool:
    """Insert the row unless one with its keys exists (never a duplicate-key error);
    True when it was inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=keys)
    return bool(conn.execute(stmt).rowcount)


class Catalog:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)

    # -- registry -----------------------------------------------------------------

    def remember_playlist_url(self, key: str, url: str) -> None:
        """Keep the URL to read a playlist from (it may hold a private set's secret token).

        Which playlists are registered is Dagster's business (the `playlists`
        partitions); the catalog only knows how to reach each one.
        """
        row = {"key": key, "url": url, "registered": True, "registered_at": utc_now()}
        with self.engine.begin() as conn:  # two processes registering at once: one row
            _insert_new(conn, playlists, row, ["key"])
            conn.execute(update(playlists).where(playlists.c.key == key).values(url=url))

    def playlists(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The catalog's rows of these playlists (those it has seen), ordered by key."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(playlists).where(playlists.c.key.in_(list(keys))).order_by(playlists.c.key)
            )
            return [dict(r._mapping) for r in rows]

    def playlist(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(playlists).where(playlists.c.key == key)).first()
            return dict(row._mapping) if row else None

    # -- tracks added by hand -------------------------------------------------------

    def pick_track(self, key: str, url: str, resolve_url: str) -> bool:
        """Add a track to the singles listing ``key`` (again, if it was taken out); True
        when the listing changed."""
        with self.engine.begin() as conn:
            last = select(func.coalesce(func.max(picks.c.position), 0)).where(
                picks.c.playlist_key == key
            )
            row = {"playlist_key": key, "url": url, "resolve_url": resolve_url,
                   "position": conn.execute(last).scalar_one() + 1, "added_at": utc_now()}  # fmt: skip
            added = _insert_new(conn, picks, row, ["playlist_key", "url"])
            where = and_(picks.c.playlist_key == key, picks.c.url == url)
            restored = conn.execute(
                update(picks).where(and_(where, picks.c.removed_at.is_not(None)))
                .values(removed_at=None)
            ).rowcount  # fmt: skip
            conn.execute(update(picks).where(where).values(resolve_url=resolve_url))
            return bool(added or restored)

    def unpick_track(self, key: str, url: str) -> bool:
        """Take a track out of the singles listing ``key``; False if it was not in it.
        The next sync of the listing unlinks its page (the page itself stays)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(picks)
                .where(and_(picks.c.playlist_key == key, picks.c.url == url,
                            picks.c.removed_at.is_(None)))
                .values(removed_at=utc_now())
            )  # fmt: skip
            return bool(done.rowcount)

    def picks(self, key: str) -> list[tuple[str, int | None]]:
        """The listing's tracks added by hand, first added first: (URL to read, id)."""
        query = (
            select(picks.c.resolve_url, picks.c.soundcloud_id)
            .where(and_(picks.c.playlist_key == key, picks.c.removed_at.is_(None)))
            .order_by(picks.c.position, picks.c.url)
        )
        with self.engine.connect() as conn:
            return [(r.resolve_url, r.soundcloud_id) for r in conn.execute(query)]

    def resolve_picks(self, key: str, ids_by_url: Mapping[str, int]) -> None:
        """Remember the id each hand-picked URL resolved to: later runs read it by id."""
        with self.engine.begin() as conn:
            for url, sid in ids_by_url.items():
                conn.execute(
                    update(picks)
                    .where(and_(picks.c.playlist_key == key, picks.c.resolve_url == url))
                    .values(soundcloud_id=sid)
                )  # fmt: skip

    # -- what SoundCloud said -----------------------------------------------------

    def record_playlist(self, playlist: Playlist) -> MembershipChange:
        """Store the playlist, its tracks and their places; return what changed.

        Tracks leave the playlist only when the listing explains their absence (see
        `catalog.listing`); ids that vanished while the set still counts them stay,
        marked hidden. A Spotify listing's tracks are first matched to the recordings
        the catalog knows (see `catalog.schema`).
        """
        now = utc_now()
        extra: dict[str, Any] = {}
        with self.engine.begin() as conn:
            if playlist.source == Source.SPOTIFY:
                resolved = self._resolve_recordings(conn, playlist)
                playlist = resolved.playlist
                extra = {
                    "merged": resolved.merged,
                    "possible_matches": self._possible_matches(conn, playlist, resolved.merged),
                }
            ids = [_catalog_id(t) for t in playlist.tracks]
            before, verdict = self._read_listing(conn, playlist)
            self._write_tracks(conn, playlist, now)
            if playlist.source == Source.SOUNDCLOUD:
                extra = {"merged": self._absorb_spotify_only(conn, playlist)}
            _upsert(conn, memberships, [
                {"playlist_key": playlist.key, "soundcloud_id": _catalog_id(t),
                 "position": t.position, "last_seen_at": now, "removed_at": None,
                 "hidden_at": None,
                 "first_seen_at": before[_catalog_id(t)].first_seen_at
                 if _catalog_id(t) in before else now,
                 "added_at": _joined(t, before, now)}
                for t in playlist.tracks
            ], ["playlist_key", "soundcloud_id"])  # fmt: skip
            self._mark_members(conn, playlist.key, verdict.removed, removed_at=now)
            self._mark_members(conn, playlist.key, verdict.hidden, hidden_at=now)
            if verdict.hidden:  # deleted or made private by its uploader: nobody can play it
                conn.execute(
                    update(tracks)
                    .where(tracks.c.soundcloud_id.in_(verdict.hidden))
                    .values(availability=str(Availability.GONE), updated_at=now)
                )
            meta = playlist.metadata()
            _upsert(conn, playlists, [{
                "key": playlist.key, "url": playlist.url, "soundcloud_id": playlist.soundcloud_id,
                "title": playlist.title, "description": playlist.description,
                "curator": playlist.curator, "curator_url": playlist.curator_url,
                "artwork_url": playlist.artwork_url, "set_type": playlist.set_type,
                "track_count": playlist.track_count, "tracks_listed": meta["tracks_listed"],
                "ids_complete": playlist.ids_complete, "ids_hash": ids_hash(ids),
                "listing_explained": verdict.explained,
                "explained_track_count": verdict.baseline_count,
                "created_at": playlist.created_at, "last_modified": playlist.last_modified,
                "last_checked_at": now, "source": str(playlist.source),
                "spotify_id": playlist.spotify_id, "snapshot_id": playlist.snapshot_id,
            }], ["key"])  # fmt: skip
        return _change(before, ids, verdict, **extra)

    @staticmethod
    def _write_tracks(conn: Connection, playlist: Playlist, now: str) -> None:
        """Upsert the listing's tracks. A Spotify listing only adds its identity to a
        row another service made; rows it made itself it keeps up to date."""
        if playlist.source == Source.DJAY:
            return  # the djay sync wrote its recordings' rows (catalog.djay)
        ids = [_catalog_id(t) for t in playlist.tracks]
        known = {
            r.soundcloud_id: r
            for r in conn.execute(
                select(tracks.c.soundcloud_id, tracks.c.isrc, tracks.c.spotify_id).where(
                    tracks.c.soundcloud_id.in_(ids)
                )
            )
        }
        fresh, full, identity = [], [], []
        for t in playlist.tracks:
            sid = _catalog_id(t)
            row = {f: getattr(t, f) for f in TRACK_FIELDS}
            row.update(soundcloud_id=sid, tags=list(t.tags),
                       availability=str(t.availability), updated_at=now)  # fmt: skip
            if t.source == Source.SPOTIFY:
                row.update(spotify_id=t.spotify_id, spotify_url=t.spotify_url)
            if sid not in known:
                fresh.append({**row, "first_seen_at": now})
            elif t.source == Source.SPOTIFY and sid > 0:  # SoundCloud's row: identity only
                values = {f: row[f] for f in SPOTIFY_IDENTITY}
                if known[sid].spotify_id not in (None, t.spotify_id):
                    values.pop("spotify_id")  # another Spotify release of it came first
                if not known[sid].isrc and t.isrc:
                    values["isrc"] = t.isrc
                identity.append((sid, values))
            else:
                full.append(row)
        _upsert(conn, tracks, fresh, ["soundcloud_id"])
        _upsert(conn, tracks, full, ["soundcloud_id"])  # known rows keep first_seen_at
        for sid, values in identity:
            conn.execute(update(tracks).where(tracks.c.soundcloud_id == sid).values(**values))

    @staticmethod
    def _absorb_spotify_only(conn: Connection, playlist: Playlist) -> list[int]:
        """A SoundCloud track whose ISRC a recording known only from Spotify has is that
        recording (see `_absorb`). Returns the SoundCloud ids that absorbed one."""
        by_isrc = {t.isrc.upper(): _catalog_id(t) for t in playlist.tracks if t.isrc}
        if not by_isrc:
            return []
        rows = conn.execute(
            select(tracks.c.soundcloud_id, tracks.c.isrc).where(
                and_(tracks.c.soundcloud_id < 0, func.upper(tracks.c.isrc).in_(by_isrc))
            )
        ).all()
        pairs = [(row.soundcloud_id, by_isrc[row.isrc.upper()]) for row in rows]
        for old, sid in pairs:
            Catalog._absorb(conn, old, sid)
        return [sid for _, sid in pairs]

    @staticmethod
    def _absorb(conn: Connection, old_id: int, sid: int) -> None:
        """The row of a recording known only from Spotify (``old_id``) moves onto the
        SoundCloud row ``sid`` of the same recording: its Spotify identity, Notion page
        and playlists, so the page made from Spotify gains the SoundCloud identity and no
        second page is made."""
        old = conn.execute(select(tracks).where(tracks.c.soundcloud_id == old_id)).one()
        keep = conn.execute(select(tracks).where(tracks.c.soundcloud_id == sid)).one()
        values = {
            "spotify_id": keep.spotify_id or old.spotify_id,
            "spotify_url": keep.spotify_url or old.spotify_url,
            "first_seen_at": min(t for t in (keep.first_seen_at, old.first_seen_at) if t),
        }
        for column in DJAY_COLUMNS:  # what djay knows about the recording moves too
            if getattr(keep, column) is None:
                values[column] = getattr(old, column)
        if not keep.notion_page_id:  # the page made from Spotify becomes this one's
            values.update(notion_page_id=old.notion_page_id, notion_hash=old.notion_hash)
        for member in conn.execute(
            select(memberships).where(memberships.c.soundcloud_id == old_id)
        ).all():
            taken = conn.execute(
                select(memberships.c.soundcloud_id).where(
                    and_(memberships.c.playlist_key == member.playlist_key,
                         memberships.c.soundcloud_id == sid)
                )
            ).first()  # fmt: skip
            where = and_(memberships.c.playlist_key == member.playlist_key,
                         memberships.c.soundcloud_id == old_id)  # fmt: skip
            if taken is None:
                conn.execute(update(memberships).where(where).values(soundcloud_id=sid))
            else:
                conn.execute(memberships.delete().where(where))
        conn.execute(tracks.delete().where(tracks.c.soundcloud_id == old_id))
        conn.execute(update(tracks).where(tracks.c.soundcloud_id == sid).values(**values))

    def unsearched_spotify_only(self, key: str, limit: int) -> list[dict[str, Any]]:
        """Recordings of the playlist known only from Spotify, with an ISRC to find them
        by, that SoundCloud was never searched for (playlist order)."""
        query = (
            select(tracks)
            .join(memberships, memberships.c.soundcloud_id == tracks.c.soundcloud_id)
            .where(and_(memberships.c.playlist_key == key, memberships.c.removed_at.is_(None),
                        tracks.c.soundcloud_id < 0, tracks.c.isrc.is_not(None),
                        tracks.c.soundcloud_searched_at.is_(None)))
            .order_by(memberships.c.position)
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def adopt_soundcloud_track(self, old_id: int, track: Track) -> None:
        """SoundCloud has the recording known only from Spotify as ``old_id``: keep it
        under SoundCloud's track (audio can be downloaded from there), in one step."""
        sid = _catalog_id(track)
        now = utc_now()
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(tracks.c.soundcloud_id).where(tracks.c.soundcloud_id == sid)
            ).first()
            if exists is None:
                row = {f: getattr(track, f) for f in TRACK_FIELDS}
                row.update(soundcloud_id=sid, tags=list(track.tags),
                           availability=str(track.availability), updated_at=now,
                           first_seen_at=now)  # fmt: skip
                _upsert(conn, tracks, [row], ["soundcloud_id"])
            self._absorb(conn, old_id, sid)

    @staticmethod
    def _resolve_recordings(conn: Connection, playlist: Playlist) -> _Resolved:
        """Give each Spotify track its catalog id: the row that already has its Spotify
        id, else a row with the same ISRC (a SoundCloud track first), else a new
        negative id. A recording listed twice keeps its first place only."""
        spotify_ids = [t.spotify_id for t in playlist.tracks if t.spotify_id]
        isrcs = {t.isrc.upper() for t in playlist.tracks if t.isrc}
        by_spotify = dict(
            conn.execute(
                select(tracks.c.spotify_id, tracks.c.soundcloud_id).where(
                    tracks.c.spotify_id.in_(spotify_ids)
                )
            ).all()
        )
        by_isrc: dict[str, int] = {}
        rows = conn.execute(
            select(func.upper(tracks.c.isrc), tracks.c.soundcloud_id)
            .where(func.upper(tracks.c.isrc).in_(isrcs))
            .order_by(tracks.c.soundcloud_id.desc())  # SoundCloud's rows (> 0) first
        )
        for isrc, sid in rows:
            by_isrc.setdefault(isrc, sid)
        lowest = conn.execute(select(func.min(tracks.c.soundcloud_id))).scalar() or 0
        next_id = min(lowest, 0) - 1
        out: list[Track] = []
        merged: list[int] = []
        fresh: list[int] = []
        seen: set[int] = set()
        for t in playlist.tracks:
            isrc = t.isrc.upper() if t.isrc else None
            sid = by_spotify.get(t.spotify_id) or (by_isrc.get(isrc) if isrc else None)
            if sid is None:
                sid, next_id = next_id, next_id - 1
                fresh.append(sid)
                if isrc:
                    by_isrc[isrc] = sid  # a second Spotify release of it in this listing
            elif sid > 0 and sid not in merged:
                merged.append(sid)
            if t.spotify_id:
                by_spotify.setdefault(t.spotify_id, sid)
            if sid in seen:
                continue
            seen.add(sid)
            out.append(replace(t, soundcloud_id=sid, position=len(out) + 1))
        return _Resolved(replace(playlist, tracks=tuple(out), track_count=len(out)), merged, fresh)

    @staticmethod
    def _possible_matches(
        conn: Connection, playlist: Playlist, merged: list[int]
    ) -> list[dict[str, Any]]:
        """Spotify tracks that look like a SoundCloud track (same normalised title and
        artist, lengths within 2 s) but have no ISRC in common with it: reported for a
        person to decide, never merged."""
        candidates = [t for t in playlist.tracks if _catalog_id(t) < 0]
        if not candidates:
            return []
        soundcloud_rows = conn.execute(
            select(tracks.c.soundcloud_id, tracks.c.title, tracks.c.artist, tracks.c.duration_ms,
                   tracks.c.isrc)
            .where(and_(tracks.c.soundcloud_id > 0, tracks.c.spotify_id.is_(None)))
        ).all()  # fmt: skip
        by_key: dict[tuple[str, str], list[Any]] = {}
        for row in soundcloud_rows:
            by_key.setdefault(recording_key(row.title, row.artist), []).append(row)
        found = []
        for t in candidates:
            for row in by_key.get(recording_key(t.title, t.artist), []):
                if row.soundcloud_id in merged or not same_length(t.duration_ms, row.duration_ms):
                    continue
                if t.isrc and row.isrc and t.isrc.upper() != row.isrc.upper():
                    continue  # two ISRCs that differ: two recordings that share a name
                found.append({"spotify_id": t.spotify_id, "title": t.title,
                              "artist": t.artist, "soundcloud_id": row.soundcloud_id,
                              "soundcloud_title": row.title})  # fmt: skip
        return found

    def record_tracks(self, listed: Sequence[Track]) -> list[Track]:
        """Store tracks that belong to no playlist (the seed's batch of rows) and return
        them with their catalog ids: a Spotify track joins the recording that has its
        Spotify id or ISRC, else gets a new id (see `catalog.schema`)."""
        now = utc_now()
        with self.engine.begin() as conn:
            spotify = [t for t in listed if t.source == Source.SPOTIFY]
            given: dict[int, int] = {}
            if spotify:
                batch = Playlist(None, "", "", "", tracks=tuple(spotify), source=Source.SPOTIFY)
                resolved = self._resolve_recordings(conn, batch).playlist.tracks
                by_spotify = {t.spotify_id: _catalog_id(t) for t in resolved}
                given = {id(t): by_spotify[t.spotify_id] for t in spotify}
            out = [replace(t, soundcloud_id=given[id(t)]) if id(t) in given else t for t in listed]
            unique = {_catalog_id(t): t for t in reversed(out)}  # first wins
            for source in Source:  # a batch insert takes rows of one shape
                same = [t for t in unique.values() if t.source == source]
                if same:
                    self._write_tracks(conn, batch_of(same), now)
        return out

    def track_ids_by_url(self, urls: Iterable[str]) -> dict[str, int]:
        """The catalog ids of SoundCloud tracks it knows by their page URL."""
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}
        query = select(tracks.c.url, tracks.c.soundcloud_id).where(
            and_(tracks.c.url.in_(wanted), tracks.c.soundcloud_id > 0)
        )
        with self.engine.connect() as conn:
            return {url: int(sid) for url, sid in conn.execute(query)}

    def resolve_recordings(self, playlist: Playlist) -> Playlist:
        """A Spotify listing with each track given the catalog id it would get (ids of
        recordings new to the catalog are provisional): for the dry run."""
        if playlist.source != Source.SPOTIFY:
            return playlist
        with self.engine.connect() as conn:
            return self._resolve_recordings(conn, playlist).playlist

    def preview_playlist(self, playlist: Playlist) -> MembershipChange:
        """What `record_playlist` would report for this listing, writing nothing."""
        with self.engine.connect() as conn:
            if playlist.source == Source.SPOTIFY:
                playlist = self._resolve_recordings(conn, playlist).playlist
            before, verdict = self._read_listing(conn, playlist)
        return _change(before, [_catalog_id(t) for t in playlist.tracks], verdict)

    @staticmethod
    def _read_listing(
        conn: Connection, playlist: Playlist
    ) -> tuple[dict[int, Any], ListingVerdict]:
        """The playlist's memberships as stored, and what the fresh listing means for them."""
        before = {
            r.soundcloud_id: r
            for r in conn.execute(
                select(memberships)
                .where(memberships.c.playlist_key == playlist.key)
                .order_by(memberships.c.position)
            )
        }
        row = conn.execute(
            select(playlists.c.track_count, playlists.c.explained_track_count).where(
                playlists.c.key == playlist.key
            )
        ).first()
        baseline = None
        if row is not None:  # a catalog from before explained listings has only track_count
            baseline = (
                row.explained_track_count
                if row.explained_track_count is not None
                else row.track_count
            )
        live = [r for r in before.values() if r.removed_at is None]
        verdict = explain_listing(
            listed_before=[r.soundcloud_id for r in live if r.hidden_at is None],
            hidden_before={r.soundcloud_id for r in live if r.hidden_at is not None},
            baseline_count=baseline if before else None,
            listed_now=[_catalog_id(t) for t in playlist.tracks],
            count_now=playlist.track_count,
        )
        return before, verdict

    @staticmethod
    def _mark_members(conn: Connection, key: str, ids: list[int], **values: Any) -> None:
        if ids:
            conn.execute(
                update(memberships)
                .where(and_(memberships.c.playlist_key == key,
                            memberships.c.soundcloud_id.in_(ids)))
                .values(**values)
            )  # fmt: skip

    def mark_checked(
        self, key: str, *, ids_hash_value: str | None = None, at: datetime | None = None
    ) -> None:
        when = at.isoformat(timespec="seconds") if at else utc_now()
        values: dict[str, Any] = {"last_checked_at": when}
        if ids_hash_value is not None:
            values["ids_hash"] = ids_hash_value
        with self.engine.begin() as conn:
            conn.execute(update(playlists).where(playlists.c.key == key).values(**values))

    def playlist_tracks(self, key: str, *, include_removed: bool = False) -> pd.DataFrame:
        """The playlist's tracks in playlist order, with everything known about each."""
        query = (
            select(memberships.c.position, memberships.c.removed_at, memberships.c.notion_linked,
                   memberships.c.first_seen_at.label("added_to_playlist_at"),
                   memberships.c.added_at, tracks)
            .join(tracks, tracks.c.soundcloud_id == memberships.c.soundcloud_id)
            .where(memberships.c.playlist_key == key)
            .order_by(memberships.c.removed_at.is_not(None), memberships.c.position)
        )  # fmt: skip
        if not include_removed:
            query = query.where(memberships.c.removed_at.is_(None))
        with self.engine.connect() as conn:
            return pd.DataFrame([dict(r._mapping) for r in conn.execute(query)])

    def removed_tracks(self, key: str, *, still_linked: bool = False) -> list[int]:
        """Tracks that left the playlist (only those still linked in Notion, if asked)."""
        query = select(memberships.c.soundcloud_id).where(
            and_(memberships.c.playlist_key == key, memberships.c.removed_at.is_not(None))
        )
        if still_linked:
            query = query.where(memberships.c.notion_linked.is_(True))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def set_notion_linked(self, key: str, soundcloud_id: int, linked: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(memberships)
                .where(and_(memberships.c.playlist_key == key,
                            memberships.c.soundcloud_id == soundcloud_id))
                .values(notion_linked=linked)
            )  # fmt: skip

    def track_playlists(self, soundcloud_ids: Iterable[int]) -> dict[int, list[str]]:
        """For each track, the keys of every playlist that currently holds it."""
        ids = list(soundcloud_ids)
        out: dict[int, list[str]] = {i: [] for i in ids}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships.c.soundcloud_id, memberships.c.playlist_key).where(
                    and_(memberships.c.soundcloud_id.in_(ids), memberships.c.removed_at.is_(None))
                )
            )
            for track_id, key in rows:
                out[track_id].append(key)
        return out

    # -- what the pipeline did ----------------------------------------------------

    def update_track(self, soundcloud_id: int, **values: Any) -> None:
        self.update_tracks({soundcloud_id: values})

    def update_tracks(self, values_by_id: Mapping[int, Mapping[str, Any]]) -> None:
        """Set status columns (Notion page, files, analysis…) for many tracks at once."""
        if not values_by_id:
            return
        with self.engine.begin() as conn:
            for track_id, values in values_by_id.items():
                conn.execute(
                    update(tracks).where(tracks.c.soundcloud_id == track_id).values(**values)
                )

    def tracks_by_id(self, soundcloud_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        ids = list(soundcloud_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(select(tracks).where(tracks.c.soundcloud_id.in_(ids)))
            return {r.soundcloud_id: dict(r._mapping) for r in rows}

    def update_playlist(self, key: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(playlists).where(playlists.c.key == key).values(**values))

    def status(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """One row per playlist (of `keys`) with its counts, for `soundcloud-sync status`."""
        m, t = memberships, tracks
        live = m.c.removed_at.is_(None)
        query = (
            select(
                playlists.c.key, playlists.c.title, playlists.c.track_count,
                playlists.c.last_synced_at, playlists.c.sync_status,
                func.count(m.c.soundcloud_id).filter(live).label("tracks"),
                func.count().filter(and_(live, t.c.notion_page_id.is_not(None))).label("in_notion"),
                func.count().filter(and_(live, t.c.download_status.in_(AUDIO_ON_DISK))).label("downloaded"),
                func.count().filter(and_(live, t.c.tempo.is_not(None))).label("analysed"),
            )
            .select_from(playlists.outerjoin(m, m.c.playlist_key == playlists.c.key)
                         .outerjoin(t, t.c.soundcloud_id == m.c.soundcloud_id))
            .where(playlists.c.key.in_(list(keys)))
            .group_by(playlists.c.key)
            .order_by(playlists.c.key)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
