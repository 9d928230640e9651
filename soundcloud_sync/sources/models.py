"""What we know about a playlist and its tracks, independent of how it was fetched."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


def ids_hash(track_ids: Iterable[int]) -> str:
    """A fingerprint of a playlist's ordered id list: equal hashes, unchanged playlist."""
    return hashlib.sha256(",".join(map(str, track_ids)).encode()).hexdigest()[:16]


class Availability(StrEnum):
    """Whether the full audio of a track can be had."""

    OK = "ok"
    PREVIEW_ONLY = "preview-only"  # Go+ track without a subscription token: 30 s snippet
    GEO_BLOCKED = "geo-blocked"  # policy BLOCK
    DRM = "drm"  # only encrypted transcodings
    GONE = "gone"  # deleted or private: absent from the batch answer
    NO_SOURCE = "no-source"  # known only from a service that serves no audio (Spotify)


class Source(StrEnum):
    """The service a playlist (and the track entries read from it) came from."""

    SOUNDCLOUD = "soundcloud"
    SPOTIFY = "spotify"
    DJAY = "djay"  # a djay Pro playlist: its tracks' rows are the djay sync's (catalog.djay)


@dataclass(frozen=True)
class Track:
    # SoundCloud's id of the track; None for a track read from another service (the
    # catalog gives each recording its own id, see catalog.schema)
    soundcloud_id: int | None
    position: int  # 1-based place in the playlist
    title: str | None = None
    artist: str | None = None  # publisher artist when present, else the uploader
    uploader: str | None = None
    url: str | None = None
    duration_ms: int | None = None
    genre: str | None = None
    tags: tuple[str, ...] = ()
    isrc: str | None = None
    album: str | None = None
    artwork_url: str | None = None
    created_at: str | None = None
    last_modified: str | None = None
    policy: str | None = None
    monetization_model: str | None = None
    downloadable: bool = False
    availability: Availability = Availability.OK
    spotify_id: str | None = None
    spotify_url: str | None = None
    source: Source = Source.SOUNDCLOUD
    # When it joined this listing, where the service says so (a Spotify entry's
    # added_at, the time of a like); None for a set, whose entries carry no such time.
    added_at: str | None = None
    # SoundCloud's transcodings (sources.streams.compact_transcodings): where the audio
    # is, so a download asks api-v2 for one stream URL and nothing else
    transcodings: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        del row["transcodings"]  # the catalog's business, not a table's or the API's
        row["tags"] = list(self.tags)
        row["availability"] = str(self.availability)
        row["source"] = str(self.source)
        return row


@dataclass(frozen=True)
class SkippedEntry:
    """A playlist entry that is no track we can keep (a local file, a podcast episode,
    a track removed from the service): never a page; named in the run's report."""

    position: int
    name: str | None
    reason: str


@dataclass(frozen=True)
class Playlist:
    soundcloud_id: int | None  # None for a playlist of another service
    key: str  # canonical partition key, see sources.urls
    url: str  # canonical permalink (with the secret token for private sets)
    title: str
    description: str | None = None
    curator: str | None = None
    curator_url: str | None = None
    artwork_url: str | None = None
    track_count: int = 0  # what SoundCloud says the set holds
    created_at: str | None = None
    last_modified: str | None = None
    set_type: str | None = None
    secret_token: str | None = field(default=None, repr=False)
    tracks: tuple[Track, ...] = ()
    source: Source = Source.SOUNDCLOUD
    spotify_id: str | None = None
    # The listing's version: equal, unchanged. Spotify's snapshot id; for a SoundCloud
    # user's likes or uploads, the fingerprint of its newest entries (see sources.soundcloud)
    snapshot_id: str | None = None
    skipped: tuple[SkippedEntry, ...] = ()

    @property
    def ids_complete(self) -> bool:
        """True when every track of the set is listed; a shorter list is normal when the
        set holds a deleted or private track (the catalog tells those from removals)."""
        return len(self.tracks) >= self.track_count

    def metadata(self) -> dict[str, Any]:
        return {
            "soundcloud_id": self.soundcloud_id,
            "key": self.key,
            "url": self.url,
            "name": self.title,
            "description": self.description,
            "curator": self.curator,
            "curator_url": self.curator_url,
            "artwork_url": self.artwork_url,
            "track_count": self.track_count,
            "tracks_listed": len(self.tracks),
            "ids_complete": self.ids_complete,
            "created_at": self.created_at,
            "last_modified": self.last_modified,
            "set_type": self.set_type,
            "source": str(self.source),
            "spotify_id": self.spotify_id,
            "snapshot_id": self.snapshot_id,
            "skipped_entries": len(self.skipped),
        }


@dataclass(frozen=True)
class PlaylistSnapshot:
    """What one ``/resolve`` tells about a set: enough to notice that it changed."""

    key: str
    soundcloud_id: int
    track_count: int
    last_modified: str | None
    track_ids: tuple[int, ...] = field(repr=False)
    ids_hash: str  # sha256[:16] of the ids in order: equal hashes, same list

    @property
    def ids_complete(self) -> bool:
        return len(self.track_ids) >= self.track_count
