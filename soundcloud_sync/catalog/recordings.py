"""Which recording each listed track is: one row per recording, whatever services list
it (see `catalog.schema`), told apart by the services' own ids and brought together by
ISRC. Used inside the catalog's transactions (`Catalog.record_playlist` and friends)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from ..matching import recording_key, same_length
from ..sources.models import Playlist, Source, Track
from .schema import DJAY_COLUMNS, memberships, tracks
from .sql import upsert

TRACK_FIELDS = (
    "title", "artist", "uploader", "url", "duration_ms", "genre", "tags", "isrc", "album",
    "artwork_url", "created_at", "last_modified", "policy", "monetization_model",
    "downloadable", "availability", "transcodings",
)  # fmt: skip


# What a Spotify listing may set on a row that SoundCloud's listing made: its Spotify
# identity, and an ISRC where SoundCloud had none. Title, artist and the rest stay.
SPOTIFY_IDENTITY = ("spotify_id", "spotify_url")


@dataclass(frozen=True)
class Resolved:
    """A listing with each track given its recording's id."""

    tracks: list[tuple[int, Track]]  # (recording id, track) in listing order
    merged: list[int]  # recordings found to be one another service has (by ISRC)
    track_count: int  # how many tracks the service says the listing holds
    ids: list[int]  # the recording of each listed track, every one (repeats included)


def listed_id(recording_id: int, track: Track) -> int:
    """The id a listing gives a track: SoundCloud's own (what a SoundCloud check
    fingerprints), else the recording's."""
    return (
        track.soundcloud_id
        if track.source == Source.SOUNDCLOUD and track.soundcloud_id is not None
        else recording_id
    )


def resolve(conn: Connection, playlist: Playlist) -> Resolved:
    """Give each listed track its recording: the row with the service's own id, else
    a row with the same ISRC (for a SoundCloud track, one no SoundCloud track has
    yet; for another service's, any, SoundCloud's first), else a new number (see
    `catalog.schema`). In another service's listing a recording listed twice keeps its
    first place only; SoundCloud's listing is kept as it is."""
    listed = playlist.tracks
    soundcloud_ids = [t.soundcloud_id for t in listed if t.soundcloud_id is not None]
    spotify_ids = [t.spotify_id for t in listed if t.spotify_id]
    isrcs = {t.isrc.upper() for t in listed if t.isrc}
    by_soundcloud = dict(conn.execute(
        select(tracks.c.soundcloud_id, tracks.c.recording_id)
        .where(tracks.c.soundcloud_id.in_(soundcloud_ids))
    ).all())  # fmt: skip
    with_soundcloud: set[int] = set()  # recordings SoundCloud has
    by_spotify: dict[str, int] = {}
    for row in conn.execute(
        select(tracks.c.spotify_id, tracks.c.recording_id, tracks.c.soundcloud_id)
        .where(tracks.c.spotify_id.in_(spotify_ids))
    ):  # fmt: skip
        by_spotify[row.spotify_id] = row.recording_id
        if row.soundcloud_id is not None:
            with_soundcloud.add(row.recording_id)
    by_isrc: dict[str, int] = {}  # any row, those with a SoundCloud identity first
    without_soundcloud: dict[str, int] = {}  # rows no SoundCloud track has yet
    rows = conn.execute(
        select(func.upper(tracks.c.isrc), tracks.c.recording_id, tracks.c.soundcloud_id)
        .where(func.upper(tracks.c.isrc).in_(isrcs))
        .order_by(tracks.c.soundcloud_id.is_(None), tracks.c.recording_id.desc())
    )  # fmt: skip
    for isrc, known_id, soundcloud_id in rows:
        by_isrc.setdefault(isrc, known_id)
        if soundcloud_id is None:
            without_soundcloud.setdefault(isrc, known_id)
        else:
            with_soundcloud.add(known_id)
    taken = set(conn.execute(
        select(tracks.c.recording_id).where(tracks.c.recording_id.in_(soundcloud_ids))
    ).scalars())  # fmt: skip
    lowest = conn.execute(select(func.min(tracks.c.recording_id))).scalar() or 0
    next_id = min(lowest, 0) - 1
    out: list[tuple[int, Track]] = []
    ids: list[int] = []
    merged: list[int] = []
    seen: set[int] = set()
    soundcloud = playlist.source == Source.SOUNDCLOUD
    for t in listed:
        isrc = t.isrc.upper() if t.isrc else None
        rid: int | None
        if soundcloud and t.soundcloud_id is not None:
            rid = by_soundcloud.get(t.soundcloud_id)
            if rid is None and isrc in without_soundcloud:
                rid = without_soundcloud.pop(isrc)  # known from another service
                merged.append(rid)
            if rid is None and t.soundcloud_id not in taken:
                rid = t.soundcloud_id
        else:
            rid = by_spotify.get(t.spotify_id) if t.spotify_id else None
            if rid is None and isrc:
                rid = by_isrc.get(isrc)
            if rid is not None and rid in with_soundcloud and rid not in merged:
                merged.append(rid)  # a recording SoundCloud has too
        if rid is None:
            rid, next_id = next_id, next_id - 1
        taken.add(rid)
        ids.append(rid)
        if t.soundcloud_id is not None and soundcloud:
            by_soundcloud.setdefault(t.soundcloud_id, rid)
        if isrc:
            by_isrc.setdefault(isrc, rid)  # a second release of it in this listing
        if t.spotify_id:
            by_spotify.setdefault(t.spotify_id, rid)
        if soundcloud:  # SoundCloud's own list, as it is (what its checks fingerprint)
            out.append((rid, t))
        elif rid not in seen:  # a recording listed twice keeps its first place
            seen.add(rid)
            out.append((rid, replace(t, position=len(out) + 1)))
    return Resolved(out, merged, playlist.track_count if soundcloud else len(out), ids)


def given(playlist: Playlist, recording_ids: Sequence[int]) -> Resolved:
    """A listing whose tracks' recordings the caller matched (djay's sync): as listed."""
    listed = list(zip(recording_ids, playlist.tracks, strict=True))
    return Resolved(listed, [], len(listed), list(recording_ids))


def write_tracks(conn: Connection, listed: list[tuple[int, Track]], now: str) -> None:
    """Upsert the listing's tracks. Another service's listing only adds its identity
    to a row SoundCloud's made (and an ISRC where SoundCloud had none); rows without
    a SoundCloud identity it keeps up to date."""
    ids = [rid for rid, _ in listed]
    known = {
        r.recording_id: r
        for r in conn.execute(
            select(tracks.c.recording_id, tracks.c.isrc, tracks.c.spotify_id,
                   tracks.c.soundcloud_id).where(tracks.c.recording_id.in_(ids))
        )
    }  # fmt: skip
    fresh, full, identity = [], [], []
    for rid, t in listed:
        row = {f: getattr(t, f) for f in TRACK_FIELDS}
        row.update(recording_id=rid, tags=list(t.tags),
                   availability=str(t.availability), updated_at=now)  # fmt: skip
        if t.source == Source.SOUNDCLOUD:
            row["soundcloud_id"] = t.soundcloud_id
        else:
            row.update(spotify_id=t.spotify_id, spotify_url=t.spotify_url)
        if rid not in known:
            fresh.append({**row, "first_seen_at": now})
        elif t.source != Source.SOUNDCLOUD and known[rid].soundcloud_id is not None:
            values = {f: row[f] for f in SPOTIFY_IDENTITY}
            if known[rid].spotify_id not in (None, t.spotify_id):
                values.pop("spotify_id")  # another Spotify release of it came first
            if not known[rid].isrc and t.isrc:
                values["isrc"] = t.isrc
            identity.append((rid, values))
        else:
            full.append(row)
    upsert(conn, tracks, fresh, ["recording_id"])
    upsert(conn, tracks, full, ["recording_id"])  # known rows keep first_seen_at
    for rid, values in identity:
        conn.execute(update(tracks).where(tracks.c.recording_id == rid).values(**values))


def absorb_twins(conn: Connection, listed: list[tuple[int, Track]]) -> list[int]:
    """A SoundCloud track whose ISRC a recording without SoundCloud identity has is
    that recording (see `_absorb`). Returns the recordings that absorbed one."""
    by_isrc = {t.isrc.upper(): rid for rid, t in listed if t.isrc}
    if not by_isrc:
        return []
    rows = conn.execute(
        select(tracks.c.recording_id, tracks.c.isrc).where(
            and_(tracks.c.soundcloud_id.is_(None), func.upper(tracks.c.isrc).in_(by_isrc))
        )
    ).all()
    pairs = [(row.recording_id, by_isrc[row.isrc.upper()]) for row in rows]
    for old, rid in pairs:
        absorb(conn, old, rid)
    return [rid for _, rid in pairs]


def absorb(conn: Connection, old_id: int, rid: int) -> None:
    """The row of recording ``old_id`` moves onto the row ``rid`` of the same
    recording: the identities it has and ``rid`` lacks, its Notion page (when ``rid``
    has none) and its playlists, so no second page is made."""
    old = conn.execute(select(tracks).where(tracks.c.recording_id == old_id)).one()
    keep = conn.execute(select(tracks).where(tracks.c.recording_id == rid)).one()
    values = {
        "spotify_id": keep.spotify_id or old.spotify_id,
        "spotify_url": keep.spotify_url or old.spotify_url,
        "first_seen_at": min(t for t in (keep.first_seen_at, old.first_seen_at) if t),
    }
    for column in DJAY_COLUMNS:  # what djay knows about the recording moves too
        if getattr(keep, column) is None:
            values[column] = getattr(old, column)
    if not keep.notion_page_id:  # the page made from the other service becomes this one's
        values.update(notion_page_id=old.notion_page_id, notion_hash=old.notion_hash)
    for member in conn.execute(
        select(memberships).where(memberships.c.recording_id == old_id)
    ).all():
        taken = conn.execute(
            select(memberships.c.recording_id).where(
                and_(memberships.c.playlist_key == member.playlist_key,
                     memberships.c.recording_id == rid)
            )
        ).first()  # fmt: skip
        where = and_(memberships.c.playlist_key == member.playlist_key,
                     memberships.c.recording_id == old_id)  # fmt: skip
        if taken is None:
            conn.execute(update(memberships).where(where).values(recording_id=rid))
        else:
            conn.execute(memberships.delete().where(where))
    conn.execute(tracks.delete().where(tracks.c.recording_id == old_id))
    conn.execute(update(tracks).where(tracks.c.recording_id == rid).values(**values))


def possible_matches(conn: Connection, listed: list[tuple[int, Track]]) -> list[dict[str, Any]]:
    """Tracks of another service without a SoundCloud identity that look like a
    SoundCloud track (same normalised title and artist, lengths within 2 s) but have
    no ISRC in common with it: reported for a person to decide, never merged."""
    ids = [rid for rid, _ in listed]
    with_soundcloud = set(conn.execute(
        select(tracks.c.recording_id)
        .where(and_(tracks.c.recording_id.in_(ids), tracks.c.soundcloud_id.is_not(None)))
    ).scalars())  # fmt: skip
    candidates = [(rid, t) for rid, t in listed if rid not in with_soundcloud]
    if not candidates:
        return []
    soundcloud_rows = conn.execute(
        select(tracks.c.recording_id, tracks.c.soundcloud_id, tracks.c.title,
               tracks.c.artist, tracks.c.duration_ms, tracks.c.isrc)
        .where(and_(tracks.c.soundcloud_id.is_not(None), tracks.c.spotify_id.is_(None)))
    ).all()  # fmt: skip
    by_key: dict[tuple[str, str], list[Any]] = {}
    for row in soundcloud_rows:
        by_key.setdefault(recording_key(row.title, row.artist), []).append(row)
    found = []
    for _, t in candidates:
        for row in by_key.get(recording_key(t.title, t.artist), []):
            if not same_length(t.duration_ms, row.duration_ms):
                continue
            if t.isrc and row.isrc and t.isrc.upper() != row.isrc.upper():
                continue  # two ISRCs that differ: two recordings that share a name
            found.append({"spotify_id": t.spotify_id, "title": t.title,
                          "artist": t.artist, "soundcloud_id": row.soundcloud_id,
                          "soundcloud_title": row.title})  # fmt: skip
    return found
