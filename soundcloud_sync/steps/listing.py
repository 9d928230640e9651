"""Listing steps: a playlist's tracks as the catalog records them, and recordings known
only from Spotify looked up on SoundCloud."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, utc_now
from ..sources import Playlist, SinglesRef, TrackRef, parse_playlist_url

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
