"""The local state store: what was seen, synced, downloaded and measured.

It is the source of truth that makes re-syncs cheap (known Notion page ids, known
files) and lets the whole pipeline run without Notion. Every write is one
transaction, so a crash leaves the previous state, never half of the new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    and_,
    func,
    select,
    update,
)

from ..sources.models import Availability, Playlist, Source, Track, ids_hash
from . import recordings
from .engine import open_engine
from .listing import ListingVerdict, explain_listing
from .rows import AUDIO_ON_DISK, TrackRow
from .schema import memberships, picks, playlists, tracks
from .sql import insert_new, lock_picks, lock_recordings, upsert

if TYPE_CHECKING:
    import pandas as pd


def _joined(recording_id: int, track: Track, before: Mapping[int, Any], now: str) -> str | None:
    """When ``track`` joined the playlist: the service's word; else, for a track new to a
    playlist listed before, now (it joined since that listing); else what was known."""
    if track.added_at:
        return track.added_at
    old = before.get(recording_id)
    if old is not None and old.removed_at is None:
        return old.added_at
    return now if before else None


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
    # Tracks found to be a recording another service has (by ISRC: recording ids), and
    # tracks that only look like one (same title, artist and length, no ISRC to prove it)
    merged: list[int] = field(default_factory=list)
    possible_matches: list[dict[str, Any]] = field(default_factory=list)


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


class Catalog:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)

    # -- registry -----------------------------------------------------------------

    def remember_playlist_url(self, key: str, url: str) -> None:
        """Keep the URL to read a playlist from (it may hold a private set's secret token).

        Which playlists are registered is Dagster's business (the `playlists`
        partitions); the catalog only knows how to reach each one.
        """
        row = {"key": key, "url": url, "registered": True, "registered_at": utc_now()}
        with self.engine.begin() as conn:  # two processes registering at once: one row
            insert_new(conn, playlists, row, ["key"])
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
            lock_picks(conn, key)
            last = select(func.coalesce(func.max(picks.c.position), 0)).where(
                picks.c.playlist_key == key
            )
            row = {"playlist_key": key, "url": url, "resolve_url": resolve_url,
                   "position": conn.execute(last).scalar_one() + 1, "added_at": utc_now()}  # fmt: skip
            added = insert_new(conn, picks, row, ["playlist_key", "url"])
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

    # -- what the services said -----------------------------------------------------

    def record_playlist(
        self, playlist: Playlist, recording_ids: Sequence[int] | None = None
    ) -> MembershipChange:
        """Store the playlist, its tracks and their places; return what changed.

        Each track is first matched to its recording (see `catalog.schema`: by the
        service's own id, then by ISRC), so a recording keeps one row whichever services
        list it; ``recording_ids``: the recording of each listed track, when the caller
        matched them and wrote their rows itself (djay's sync, see `catalog.djay`). Tracks
        leave the playlist only when the listing explains their absence (see
        `catalog.listing`); ids that vanished while the set still counts them stay,
        marked hidden.
        """
        now = utc_now()
        with self.engine.begin() as conn:
            lock_recordings(conn)
            if recording_ids is None:
                resolved = recordings.resolve(conn, playlist)
            else:
                resolved = recordings.given(playlist, recording_ids)
            ids = [rid for rid, _ in resolved.tracks]
            before, verdict = self._read_listing(conn, playlist.key, ids, resolved.track_count)
            if recording_ids is None:
                recordings.write_tracks(conn, resolved.tracks, now)
            merged = list(resolved.merged)
            if playlist.source == Source.SOUNDCLOUD:
                merged += recordings.absorb_twins(conn, resolved.tracks)
            extra: dict[str, Any] = {"merged": merged}
            if playlist.source == Source.SPOTIFY:
                extra["possible_matches"] = recordings.possible_matches(conn, resolved.tracks)
            upsert(conn, memberships, [
                {"playlist_key": playlist.key, "recording_id": rid, "position": t.position,
                 "last_seen_at": now, "removed_at": None, "hidden_at": None,
                 "first_seen_at": before[rid].first_seen_at if rid in before else now,
                 "added_at": _joined(rid, t, before, now)}
                for rid, t in resolved.tracks
            ], ["playlist_key", "recording_id"])  # fmt: skip
            self._mark_members(conn, playlist.key, verdict.removed, removed_at=now)
            self._mark_members(conn, playlist.key, verdict.hidden, hidden_at=now)
            if verdict.hidden:  # deleted or made private by its uploader: nobody can play it
                conn.execute(
                    update(tracks)
                    .where(tracks.c.recording_id.in_(verdict.hidden))
                    .values(availability=str(Availability.GONE), updated_at=now)
                )
            upsert(conn, playlists, [{
                "key": playlist.key, "url": playlist.url, "soundcloud_id": playlist.soundcloud_id,
                "title": playlist.title, "description": playlist.description,
                "curator": playlist.curator, "curator_url": playlist.curator_url,
                "artwork_url": playlist.artwork_url, "set_type": playlist.set_type,
                "track_count": resolved.track_count, "tracks_listed": len(resolved.tracks),
                "ids_complete": len(resolved.tracks) >= resolved.track_count,
                "ids_hash": ids_hash(recordings.listed_id(rid, t) for rid, t in resolved.tracks),
                "listing_explained": verdict.explained,
                "explained_track_count": verdict.baseline_count,
                "created_at": playlist.created_at, "last_modified": playlist.last_modified,
                "last_checked_at": now, "source": str(playlist.source),
                "spotify_id": playlist.spotify_id, "snapshot_id": playlist.snapshot_id,
            }], ["key"])  # fmt: skip
        return _change(before, ids, verdict, **extra)

    def unsearched_without_soundcloud(self, key: str, limit: int) -> list[dict[str, Any]]:
        """Recordings of the playlist without a SoundCloud identity (known only from
        Spotify, say), with an ISRC to find them by, that SoundCloud was never searched
        for (playlist order)."""
        query = (
            select(tracks)
            .join(memberships, memberships.c.recording_id == tracks.c.recording_id)
            .where(and_(memberships.c.playlist_key == key, memberships.c.removed_at.is_(None),
                        tracks.c.soundcloud_id.is_(None), tracks.c.isrc.is_not(None),
                        tracks.c.soundcloud_searched_at.is_(None)))
            .order_by(memberships.c.position)
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def adopt_soundcloud_track(self, recording_id: int, track: Track) -> int:
        """SoundCloud has recording ``recording_id`` as ``track``: the recording gains the
        SoundCloud identity and metadata (so its audio can be downloaded), or, when the
        catalog already holds that SoundCloud track, the two rows become one. Returns the
        recording's id afterwards."""
        if track.soundcloud_id is None:
            raise ValueError(f"track {track.title!r} is no SoundCloud track")
        now = utc_now()
        with self.engine.begin() as conn:
            lock_recordings(conn)  # a listing adding this SoundCloud track meanwhile
            existing = conn.execute(
                select(tracks.c.recording_id).where(tracks.c.soundcloud_id == track.soundcloud_id)
            ).scalar()
            if existing is not None and existing != recording_id:
                recordings.absorb(conn, recording_id, existing)
                return int(existing)
            row = {f: getattr(track, f) for f in recordings.TRACK_FIELDS}
            row.update(soundcloud_id=track.soundcloud_id, tags=list(track.tags),
                       availability=str(track.availability), updated_at=now)  # fmt: skip
            conn.execute(update(tracks).where(tracks.c.recording_id == recording_id).values(**row))
            return recording_id

    def record_tracks(self, listed: Sequence[Track]) -> list[int]:
        """Store tracks that belong to no playlist (the seed's batch of rows); the
        recording id of each, in order. Each track is matched to its recording as a
        listing's are (see `catalog.recordings`); a track given twice is stored once."""
        now = utc_now()
        found: dict[int, int] = {}  # place in ``listed`` -> recording id
        with self.engine.begin() as conn:
            lock_recordings(conn)
            for source in Source:  # one batch per service: each is found by its own ids
                places = [n for n, t in enumerate(listed) if t.source == source]
                if not places:
                    continue
                batch = Playlist(None, "", "", "", source=source,
                                 tracks=tuple(listed[n] for n in places))  # fmt: skip
                resolved = recordings.resolve(conn, batch)
                first = {rid: (rid, t) for rid, t in reversed(resolved.tracks)}  # first wins
                recordings.write_tracks(conn, list(first.values()), now)
                found.update(zip(places, resolved.ids, strict=True))
        return [found[n] for n in range(len(listed))]

    def track_ids_by_url(self, urls: Iterable[str]) -> dict[str, int]:
        """The SoundCloud ids of the SoundCloud tracks the catalog knows, by page URL."""
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}
        query = select(tracks.c.url, tracks.c.soundcloud_id).where(
            and_(tracks.c.url.in_(wanted), tracks.c.soundcloud_id.is_not(None))
        )
        with self.engine.connect() as conn:
            return {url: int(sid) for url, sid in conn.execute(query)}

    def listing_rows(self, playlist: Playlist) -> list[dict[str, Any]]:
        """A listing's tracks as rows, each with the recording id it would get (ids of
        recordings new to the catalog are provisional), writing nothing: for the dry run."""
        with self.engine.connect() as conn:
            resolved = recordings.resolve(conn, playlist)
        return [{**t.to_row(), "recording_id": rid} for rid, t in resolved.tracks]

    def preview_playlist(self, playlist: Playlist) -> MembershipChange:
        """What `record_playlist` would report for this listing, writing nothing."""
        with self.engine.connect() as conn:
            resolved = recordings.resolve(conn, playlist)
            ids = [rid for rid, _ in resolved.tracks]
            before, verdict = self._read_listing(conn, playlist.key, ids, resolved.track_count)
        return _change(before, ids, verdict)

    @staticmethod
    def _read_listing(
        conn: Connection, key: str, listed_now: list[int], count_now: int
    ) -> tuple[dict[int, Any], ListingVerdict]:
        """The playlist's memberships as stored, and what the fresh listing (its
        recordings in order, and how many tracks the service counts) means for them."""
        before = {
            r.recording_id: r
            for r in conn.execute(
                select(memberships)
                .where(memberships.c.playlist_key == key)
                .order_by(memberships.c.position)
            )
        }
        row = conn.execute(
            select(playlists.c.track_count, playlists.c.explained_track_count).where(
                playlists.c.key == key
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
            listed_before=[r.recording_id for r in live if r.hidden_at is None],
            hidden_before={r.recording_id for r in live if r.hidden_at is not None},
            baseline_count=baseline if before else None,
            listed_now=listed_now,
            count_now=count_now,
        )
        return before, verdict

    @staticmethod
    def _mark_members(conn: Connection, key: str, ids: list[int], **values: Any) -> None:
        if ids:
            conn.execute(
                update(memberships)
                .where(and_(memberships.c.playlist_key == key,
                            memberships.c.recording_id.in_(ids)))
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

    def playlist_rows(self, key: str, *, include_removed: bool = False) -> list[TrackRow]:
        """The playlist's tracks in playlist order, with everything known about each
        (those that left it last, when asked for)."""
        query = (
            select(memberships.c.position, memberships.c.removed_at, memberships.c.notion_linked,
                   memberships.c.first_seen_at.label("added_to_playlist_at"),
                   memberships.c.added_at, tracks)
            .join(tracks, tracks.c.recording_id == memberships.c.recording_id)
            .where(memberships.c.playlist_key == key)
            .order_by(memberships.c.removed_at.is_not(None), memberships.c.position)
        )  # fmt: skip
        if not include_removed:
            query = query.where(memberships.c.removed_at.is_(None))
        with self.engine.connect() as conn:
            return [TrackRow.of(dict(r._mapping)) for r in conn.execute(query)]

    def playlist_tracks(self, key: str, *, include_removed: bool = False) -> pd.DataFrame:
        """`playlist_rows` as a table, for reports."""
        rows = self.playlist_rows(key, include_removed=include_removed)
        import pandas as pd  # for the Python API's table; a run's process does without

        return pd.DataFrame([r.as_dict() for r in rows])

    def removed_tracks(self, key: str, *, still_linked: bool = False) -> list[int]:
        """Tracks that left the playlist (only those still linked in Notion, if asked)."""
        query = select(memberships.c.recording_id).where(
            and_(memberships.c.playlist_key == key, memberships.c.removed_at.is_not(None))
        )
        if still_linked:
            query = query.where(memberships.c.notion_linked.is_(True))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def set_notion_linked(self, key: str, recording_id: int, linked: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(memberships)
                .where(and_(memberships.c.playlist_key == key,
                            memberships.c.recording_id == recording_id))
                .values(notion_linked=linked)
            )  # fmt: skip

    def track_playlists(self, recording_ids: Iterable[int]) -> dict[int, list[str]]:
        """For each recording, the keys of every playlist that currently holds it."""
        ids = list(recording_ids)
        out: dict[int, list[str]] = {i: [] for i in ids}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships.c.recording_id, memberships.c.playlist_key).where(
                    and_(memberships.c.recording_id.in_(ids), memberships.c.removed_at.is_(None))
                )
            )
            for track_id, key in rows:
                out[track_id].append(key)
        return out

    # -- what the pipeline did ----------------------------------------------------

    def update_track(self, recording_id: int, **values: Any) -> None:
        self.update_tracks({recording_id: values})

    def update_tracks(self, values_by_id: Mapping[int, Mapping[str, Any]]) -> None:
        """Set status columns (Notion page, files, analysis…) for many recordings at once."""
        if not values_by_id:
            return
        with self.engine.begin() as conn:
            for track_id, values in values_by_id.items():
                conn.execute(
                    update(tracks).where(tracks.c.recording_id == track_id).values(**values)
                )

    def rows(self, recording_ids: Iterable[int]) -> dict[int, TrackRow]:
        """The rows of these recordings, by recording id (those the catalog has)."""
        return {rid: TrackRow.of(row) for rid, row in self.tracks_by_id(recording_ids).items()}

    def tracks_by_id(self, recording_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The rows of these recordings, by recording id (those the catalog has)."""
        ids = list(recording_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(select(tracks).where(tracks.c.recording_id.in_(ids)))
            return {r.recording_id: dict(r._mapping) for r in rows}

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
                func.count(m.c.recording_id).filter(live).label("tracks"),
                func.count().filter(and_(live, t.c.notion_page_id.is_not(None))).label("in_notion"),
                func.count().filter(and_(live, t.c.download_status.in_(AUDIO_ON_DISK))).label("downloaded"),
                func.count().filter(and_(live, t.c.tempo.is_not(None))).label("analysed"),
            )
            .select_from(playlists.outerjoin(m, m.c.playlist_key == playlists.c.key)
                         .outerjoin(t, t.c.recording_id == m.c.recording_id))
            .where(playlists.c.key.in_(list(keys)))
            .group_by(playlists.c.key)
            .order_by(playlists.c.key)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
