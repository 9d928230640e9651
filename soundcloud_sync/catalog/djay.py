"""djay Pro's tracks in the catalog: their identity and facts on the recordings' rows.

A djay track matched to a recording (see `steps.djay`) adds its ``titleID`` and facts to
that row; one that matched nothing becomes a recording of its own with the next number
below the lowest (as one known only from Spotify does, see `catalog.schema`), found again on
the next sync by its ``djay_title_id``. All in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update

from ..sources.djay import DjayTrack
from ..sources.models import Availability
from .schema import catalog_meta, tracks
from .sql import lock_recordings
from .store import Catalog, utc_now

MATCH_COLUMNS = (
    "recording_id", "soundcloud_id", "title", "artist", "duration_ms", "isrc", "spotify_id",
    "files", "source_path", "tempo", "key", "djay_title_id",
)  # fmt: skip


DJAY_PATH_KEY = "djay_library_path"


def registered_djay_path(catalog: Catalog) -> Path | None:
    """The library registered with `soundcloud-sync add djay:<path>`, if any."""
    with catalog.engine.connect() as conn:
        row = conn.execute(
            select(catalog_meta.c.value).where(catalog_meta.c.key == DJAY_PATH_KEY)
        ).first()
    return Path(row[0]) if row else None


def register_djay_path(catalog: Catalog, path: Path) -> None:
    with catalog.engine.begin() as conn:
        conn.execute(catalog_meta.delete().where(catalog_meta.c.key == DJAY_PATH_KEY))
        conn.execute(catalog_meta.insert().values(key=DJAY_PATH_KEY, value=str(path)))


# Matches djay tracks to recordings, given every recording's MATCH_COLUMNS: (track,
# recording id or None for a new one) for each track.
Pairing = Callable[[list[dict[str, Any]]], Iterable[tuple[DjayTrack, int | None]]]


def _match_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every recording with the columns a djay track is matched by."""
    rows = conn.execute(select(*(tracks.c[c] for c in MATCH_COLUMNS)))
    return [dict(r._mapping) for r in rows]


def djay_facts(track: DjayTrack) -> dict[str, Any]:
    """The catalog columns a djay track sets on its recording's row."""
    return {
        "djay_title_id": track.title_id,
        "djay_source_uri": track.source_uris[0] if track.source_uris else None,
        "djay_tempo": track.tempo,
        "djay_manual_tempo": track.manual_tempo,
        "djay_key": track.key,
        "djay_camelot": track.camelot,
        "djay_play_count": track.play_count,
        "djay_last_played": track.last_played.isoformat(timespec="seconds")
        if track.last_played
        else None,
        "djay_rating": track.rating,
        "djay_color": track.color,
        "djay_playlists": list(track.playlists),
    }


@dataclass
class DjayRecorded:
    """What recording the djay tracks landed on, and which rows changed."""

    ids: dict[str, int] = field(default_factory=dict)  # titleID -> recording id
    created: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # djay facts differ from before
    # the DJ's tempo set, changed or taken away: the files' tempo tag follows
    tempo_changed: list[int] = field(default_factory=list)
    shared: list[tuple[str, int]] = field(default_factory=list)  # a 2nd djay track on a row


def record_djay(catalog: Catalog, pair_up: Pairing) -> DjayRecorded:
    """Put each djay track's facts on the recording ``pair_up`` matches it to (``None``: a
    new one). The rows it matches against are read under the lock a listing's write
    takes: matched before it, a recording that a listing merged into another in between
    (a SoundCloud track with its ISRC) would get the facts on a row that is gone."""
    out = DjayRecorded()
    now = utc_now()
    with catalog.engine.begin() as conn:
        lock_recordings(conn)  # new recordings take the next free numbers
        pairs = list(pair_up(_match_rows(conn)))
        ids = [rid for _, rid in pairs if rid is not None]
        before = {
            r.recording_id: dict(r._mapping)
            for r in conn.execute(select(tracks).where(tracks.c.recording_id.in_(ids)))
        }
        lowest = conn.execute(select(func.min(tracks.c.recording_id))).scalar() or 0
        next_id = min(lowest, 0) - 1
        taken: set[int] = set()
        for track, rid in pairs:
            facts = djay_facts(track)
            if rid is None:
                rid, next_id = next_id, next_id - 1
                conn.execute(
                    tracks.insert().values(
                        recording_id=rid, title=track.title, artist=track.artist,
                        album=track.album, genre=track.genre, isrc=track.isrc,
                        duration_ms=round(track.duration_s * 1000) if track.duration_s else None,
                        availability=str(Availability.NO_SOURCE), tags=[],
                        first_seen_at=now, updated_at=now, **facts,
                    )
                )  # fmt: skip
                out.created.append(rid)
            elif rid in taken:
                out.shared.append((track.title_id, rid))
                out.ids[track.title_id] = rid
                continue
            else:
                row = before.get(rid, {})
                changed = {k: v for k, v in facts.items() if row.get(k) != v}
                if changed:
                    conn.execute(
                        update(tracks).where(tracks.c.recording_id == rid).values(**changed)
                    )
                    out.changed.append(rid)
                    if "djay_manual_tempo" in changed:
                        out.tempo_changed.append(rid)
            taken.add(rid)
            out.ids[track.title_id] = rid
    return out
