"""What the exports contain, read from the catalog in a few queries.

A track is exported when it has a library file that exists on disk: the file of
the first format in `AUDIO_FORMATS`, else any format it was written in. Playlists
are the registered ones, their live tracks in playlist order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..audio.paths import sanitize_component
from ..catalog import Catalog, TrackRow, audio_file, display_name, effective_tempo
from ..catalog.schema import memberships, playlists, tracks

TRACK_COLUMNS = (
    tracks.c.recording_id, tracks.c.dj_track_id, tracks.c.title, tracks.c.artist,
    tracks.c.uploader, tracks.c.album, tracks.c.genre, tracks.c.url, tracks.c.files,
    tracks.c.duration_s, tracks.c.duration_ms, tracks.c.tempo, tracks.c.key,
    tracks.c.first_beat_s, tracks.c.first_downbeat_s, tracks.c.first_seen_at,
    tracks.c.djay_manual_tempo,
)  # fmt: skip


@dataclass(frozen=True)
class ExportTrack:
    track_id: int  # rekordbox TrackID: assigned once, kept forever
    recording_id: int
    title: str
    artist: str
    album: str
    genre: str
    url: str
    path: str  # the library file on this machine
    format: str  # "aiff", "m4a", "wav", "mp3"
    size: int
    duration_s: float | None
    tempo: float | None
    key: str | None  # "A minor"
    first_beat_s: float | None
    first_downbeat_s: float | None
    date_added: str  # yyyy-mm-dd: when the catalog first saw the track


@dataclass(frozen=True)
class ExportPlaylist:
    key: str
    name: str  # unique among the exported playlists, also as a file name
    source: str  # "SoundCloud", "Spotify": the folder it goes in
    track_ids: tuple[int, ...]  # recording ids of tracks with a file, playlist order


@dataclass(frozen=True)
class Library:
    tracks: dict[int, ExportTrack]  # by recording id
    playlists: list[ExportPlaylist]


def load_library(
    catalog: Catalog, formats: Sequence[str], playlist_key: str | None = None
) -> Library:
    """Every exportable track and registered playlist, or only `playlist_key`'s (which a
    run may export while it is unregistered)."""
    assign_track_ids(catalog)
    with catalog.engine.connect() as conn:
        playlist_rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(playlists)
                .where(or_(playlists.c.registered.is_(True), playlists.c.key == playlist_key))
                .order_by(
                    playlists.c.registered_at.is_(None), playlists.c.registered_at, playlists.c.key
                )
            )
        ]
        live = memberships.c.removed_at.is_(None)
        member_query = (
            select(memberships.c.playlist_key, memberships.c.recording_id)
            .where(live)
            .order_by(memberships.c.playlist_key, memberships.c.position)
        )
        track_query = select(*TRACK_COLUMNS)
        if playlist_key is not None:
            member_query = member_query.where(memberships.c.playlist_key == playlist_key)
            track_query = track_query.join(
                memberships,
                and_(memberships.c.recording_id == tracks.c.recording_id, live,
                     memberships.c.playlist_key == playlist_key),
            )  # fmt: skip
        members: dict[str, list[int]] = {}
        for key, rid in conn.execute(member_query):
            members.setdefault(key, []).append(rid)
        rows = [TrackRow.of(dict(r._mapping)) for r in conn.execute(track_query)]
    exported = {}
    for row in rows:
        track = _export_track(row, formats)
        if track is not None:
            exported[track.recording_id] = track
    names = playlist_names(playlist_rows)
    wanted = [p for p in playlist_rows if playlist_key in (None, p["key"])]
    return Library(
        tracks=dict(sorted(exported.items(), key=lambda item: item[1].track_id)),
        playlists=[
            ExportPlaylist(
                key=p["key"],
                name=names[p["key"]],
                source=source_name(p["url"]),
                track_ids=tuple(i for i in members.get(p["key"], []) if i in exported),
            )
            for p in wanted
        ],
    )


def _export_track(row: TrackRow, formats: Sequence[str]) -> ExportTrack | None:
    path = audio_file(row, formats)
    if path is None:
        return None  # no library file on disk: nothing a DJ program could load
    chosen = next(f for f, p in row.files.items() if p == path)
    try:
        size = os.stat(path).st_size
    except OSError:
        return None  # the file left the library: nothing a DJ program could load
    duration = row.duration_s or (row.duration_ms / 1000 if row.duration_ms else None)
    if row.dj_track_id is None:
        return None  # recorded since the TrackIDs were given out: the next export has it
    return ExportTrack(
        track_id=row.dj_track_id,
        recording_id=row.recording_id,
        title=row.title or "",
        artist=row.artist or row.uploader or "",
        album=row.album or "",
        genre=row.genre or "",
        url=row.url or "",
        path=path,
        format=chosen,
        size=size,
        duration_s=duration,
        tempo=effective_tempo(row),  # the DJ's correction in djay wins
        key=row.key,
        first_beat_s=row.first_beat_s,
        first_downbeat_s=row.first_downbeat_s,
        date_added=(row.first_seen_at or "")[:10],
    )


def assign_track_ids(catalog: Catalog, attempts: int = 5) -> None:
    """Give every track without one the next free TrackID, in the order they arrived.

    Stored, never recomputed: a track removed from every playlist and added again
    keeps its id, so cues and play counts in the DJ program stay attached.
    """
    for attempt in range(attempts):
        try:
            with catalog.engine.begin() as conn:
                missing = conn.execute(
                    select(tracks.c.recording_id)
                    .where(tracks.c.dj_track_id.is_(None))
                    .order_by(tracks.c.first_seen_at, tracks.c.recording_id)
                ).scalars().all()  # fmt: skip
                if not missing:
                    return
                start = conn.execute(select(func.max(tracks.c.dj_track_id))).scalar() or 0
                conn.execute(
                    update(tracks)
                    .where(tracks.c.recording_id == bindparam("b_rid"))
                    .where(tracks.c.dj_track_id.is_(None))  # never renumber a track
                    .values(dj_track_id=bindparam("b_tid")),
                    [{"b_rid": rid, "b_tid": start + n} for n, rid in enumerate(missing, 1)],
                )
            return
        except IntegrityError:  # another export took the same ids first: read again
            if attempt == attempts - 1:
                raise


def source_name(url: str) -> str:
    """The service a playlist comes from, as its folder is named in the DJ program."""
    host = urlparse(url).hostname or ""
    if host.endswith("spotify.com"):
        return "Spotify"
    return "SoundCloud"


def playlist_names(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Key -> display name, made unique (also as a file name on a case-blind disk).

    The earlier-registered playlist keeps the plain name; a later namesake gets its key.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for row in rows:
        name = (display_name(row) or row["key"]).strip()
        if _fold(name) in taken:
            name = f"{name} [{row['key']}]"
        taken.add(_fold(name))
        names[row["key"]] = name
    return names


def _fold(name: str) -> str:
    return sanitize_component(name).casefold()
