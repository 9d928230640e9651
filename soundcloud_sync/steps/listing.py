"""Listing steps: a playlist's tracks as the catalog records them, and recordings known
only from Spotify looked up on SoundCloud."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, utc_now
from ..errors import SoundCloudSyncError
from ..sources import (
    Availability,
    Playlist,
    SinglesRef,
    Source,
    Track,
    TrackRef,
    parse_playlist_url,
    parse_soundcloud_url,
    public_url,
    spotify_track_id,
    track_from_json,
)

if TYPE_CHECKING:
    from ..sources import SoundCloudClient, SpotifyClient


def read_soundcloud(
    client: SoundCloudClient, catalog: Catalog, url: str, also: Iterable[str] = ()
) -> tuple[Playlist, dict[str, int]]:
    """A SoundCloud listing as the catalog records it, and the ids of hand-picked URLs
    read for the first time. A singles listing is the tracks added by hand (plus
    ``also``: the dry run's track, not added yet); any other is what SoundCloud lists."""
    ref = parse_playlist_url(url)
    if not isinstance(ref, SinglesRef | TrackRef):
        return client.fetch_playlist(url), {}
    singles = ref.singles if isinstance(ref, TrackRef) else ref
    picked = catalog.picks(singles.key)
    known = {pick_url for pick_url, _ in picked}
    extra = [(pick_url, None) for pick_url in also if pick_url not in known]
    playlist, resolved = client.fetch_singles(singles, [*picked, *extra])
    return playlist, resolved


def read_spotify(client: SpotifyClient, catalog: Catalog, key: str, url: str) -> Playlist | None:
    """The Spotify playlist with its entries, or None when its snapshot is the one the
    catalog already holds (one request, plus the token's)."""
    head = client.head(url)
    known = catalog.playlist(key) or {}
    if head.snapshot_id and known.get("snapshot_id") == head.snapshot_id:
        return None
    return client.fetch_playlist(url, head)


# -- the seed's track rows ----------------------------------------------------------------


@dataclass
class ResolvedRows:
    """The seed's track rows as catalog tracks, and the rows that could not be."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


_TRACK_KEYS = frozenset(f.name for f in fields(Track))


def _given_track(row: Mapping[str, Any], **identity: Any) -> Track | None:
    """A row that carries every field of a track (as `extract_playlist_tracks` gives):
    taken as it is, no request needed. A row with less is looked up."""
    if not set(row) >= _TRACK_KEYS or not row.get("title"):
        return None
    values = {k: row[k] for k in _TRACK_KEYS}
    values.update(tags=tuple(row.get("tags") or ()), **identity)
    values["availability"] = Availability(row.get("availability") or Availability.OK)
    values["source"] = Source(row.get("source") or Source.SOUNDCLOUD)
    return Track(**values)


def resolve_track_rows(
    rows: Sequence[Mapping[str, Any]],
    soundcloud: SoundCloudClient,
    spotify: Callable[[], SpotifyClient] | None,
    catalog: Catalog,
) -> ResolvedRows:
    """The seed's rows (``title``, ``artist``, ``url``; or what `extract_playlist_tracks`
    gives) as catalog tracks, each a recording with its catalog id, in the given order.

    A SoundCloud row is found by its id, else by its page URL (the catalog first; one
    ``/resolve`` for a URL it does not know); ids are read in batches of 50. A Spotify
    row (``spotify_id`` or a Spotify track URL) with less than a full track costs one
    Spotify request. A row that cannot be found is named in ``failed`` with the reason."""
    out = ResolvedRows()
    tracks: dict[int, Track] = {}  # by row index
    by_id: dict[int, list[int]] = {}  # SoundCloud id -> rows that need its full object
    urls = {i: public_url(str(r["url"])) for i, r in enumerate(rows) if _is_soundcloud_url(r)}
    known_urls = catalog.track_ids_by_url(urls.values())

    spotify_client = None  # made on the first Spotify row that needs a lookup

    def fail(i: int, reason: str) -> None:
        row = rows[i]
        out.failed.append({"recording_id": None, "soundcloud_id": row.get("soundcloud_id"),
                           "title": row.get("title"), "url": row.get("url"),
                           "reason": reason})  # fmt: skip

    for i, row in enumerate(rows):
        sid = _positive_int(row.get("soundcloud_id"))
        spotify_id = row.get("spotify_id") or spotify_track_id(
            row.get("spotify_url") or row.get("url")
        )
        try:
            if sid is None and i in urls:
                sid = known_urls.get(urls[i])
                if sid is None:
                    tracks[i] = soundcloud.resolve_track(str(row["url"]))
                    continue
            if sid is not None:
                given = _given_track(row, soundcloud_id=sid)
                if given is not None:
                    tracks[i] = given
                else:
                    by_id.setdefault(sid, []).append(i)
            elif spotify_id:
                given = _given_track(row, soundcloud_id=None, spotify_id=str(spotify_id))
                if given is not None:
                    tracks[i] = given
                elif spotify is None:
                    fail(i, "a Spotify track: SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET not set")
                else:
                    spotify_client = spotify_client or spotify()
                    tracks[i] = spotify_client.fetch_track(str(spotify_id))
            else:
                fail(i, "no SoundCloud or Spotify track id or URL to find it by")
        except SoundCloudSyncError as err:
            fail(i, str(err))
    if by_id:
        found = soundcloud.fetch_track_json(by_id)
        for sid, places in by_id.items():
            for i in places:
                if sid in found:
                    tracks[i] = track_from_json(found[sid], 0)
                else:
                    fail(i, f"SoundCloud id {sid}: no such track (deleted, or private)")
    if spotify_client is not None:
        spotify_client.close()
    ordered = [i for i in range(len(rows)) if i in tracks]
    recorded = catalog.record_tracks([tracks[i] for i in ordered])
    for i, recording_id in zip(ordered, recorded, strict=True):
        row = rows[i]
        out.rows.append({
            **tracks[i].to_row(), "recording_id": recording_id,
            **{k: row[k] for k in ("playlist_name", "playlist_url", "track_number") if k in row},
        })  # fmt: skip
    return out


def _is_soundcloud_url(row: Mapping[str, Any]) -> bool:
    url = row.get("url")
    if not url or spotify_track_id(str(url)):
        return False
    try:
        return isinstance(parse_soundcloud_url(str(url)), TrackRef)
    except SoundCloudSyncError:
        return False


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


# -- Spotify-only recordings ------------------------------------------------------------

# At most this many recordings are looked up per run, each costing 1 or 2 SoundCloud
# requests: 50 of SoundCloud's ~600 per 10 minutes; the rest wait for the next run.
SOUNDCLOUD_LOOKUPS_PER_RUN = 25


def find_on_soundcloud(
    soundcloud_client: SoundCloudClient,
    catalog: Catalog,
    key: str,
    limit: int = SOUNDCLOUD_LOOKUPS_PER_RUN,
) -> dict[str, Any]:
    """Look up on SoundCloud, by ISRC, the playlist's recordings SoundCloud's identity is
    missing from (known only from Spotify, say), each once: one found gains SoundCloud's
    track, so its audio is downloaded and its page gains the SoundCloud identity. Returns
    what was looked up and found."""
    from ..sources.lookup import find_recording

    rows = catalog.unsearched_without_soundcloud(key, limit)
    found, requests = [], 0
    for row in rows:
        track, spent = find_recording(soundcloud_client, row["isrc"], row["title"], row["artist"])
        requests += spent
        if track is None:
            catalog.update_track(row["recording_id"], soundcloud_searched_at=utc_now())
            continue
        recording_id = catalog.adopt_soundcloud_track(row["recording_id"], track)
        found.append({"recording_id": recording_id, "spotify_id": row["spotify_id"],
                      "soundcloud_id": track.soundcloud_id, "title": row["title"],
                      "soundcloud_url": track.url})  # fmt: skip
    return {"soundcloud_lookups": len(rows), "soundcloud_lookup_requests": requests,
            "found_on_soundcloud": found}  # fmt: skip
