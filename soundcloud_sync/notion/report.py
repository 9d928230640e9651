"""What a sync did, track by track: the report types the Notion upsert hands back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class KnownPage:
    """What the catalog remembers of a track's page."""

    page_id: str
    hash: str | None = None  # values_hash of the track properties last written
    linked: bool = False  # already related to this playlist's page


@dataclass
class TrackResult:
    recording_id: int  # the row's key (the catalog's id for the recording)
    status: str  # created | updated | skipped | unlinked | unreadable | error
    page_id: str | None = None
    hash: str | None = None  # store it: equal hash next time means nothing to write
    linked: bool = False
    message: str = ""
    title: str | None = None
    link_changed: bool = False  # this run added its link (or would, in a dry run)
    soundcloud_id: int | None = None  # the row's SoundCloud id, when it has one


UNREADABLE = "SoundCloud gives no title for it (deleted by its uploader, or private): no page made"


def readable(row: Mapping[str, Any]) -> bool:
    """A track SoundCloud let us read. A deleted or private track of a public set
    comes back as a bare id: a page for it would have no title, so none is made."""
    return bool(row.get("title"))


@dataclass
class SyncReport:
    playlist_url: str | None = None
    playlist_name: str | None = None
    playlist_page_id: str | None = None
    playlist_page_url: str | None = None
    sync_status: str | None = None
    dry_run: bool = False
    tracks: list[TrackResult] = field(default_factory=list)
    unlinked: list[TrackResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    requests: int = 0
    rate_limited: int = 0
    left_out: int = 0  # tracks that joined before the time asked for: not written

    def count(self, status: str) -> int:
        return sum(1 for t in self.tracks if t.status == status)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def errors(self) -> int:
        return self.count("error") + sum(1 for t in self.unlinked if t.status == "error")

    def failed_tracks(self) -> list[dict[str, Any]]:
        """Each track left without its page (or its unlink), and why."""
        return [
            {
                "recording_id": t.recording_id,
                "soundcloud_id": t.soundcloud_id,
                "title": t.title,
                "reason": t.message,
            }
            for t in [*self.tracks, *self.unlinked]
            if t.status == "error"
        ]

    def unreadable_tracks(self) -> list[dict[str, Any]]:
        """Tracks SoundCloud would not let us read, so no page was made for them."""
        return [
            {"recording_id": t.recording_id, "soundcloud_id": t.soundcloud_id, "reason": t.message}
            for t in self.tracks
            if t.status == "unreadable"
        ]

    def stats(self) -> dict[str, Any]:
        """The stats object: the counts the API promises, plus what went wrong, by track."""
        return {
            "playlist_url": self.playlist_url,
            "playlist_name": self.playlist_name,
            "playlist_page_id": self.playlist_page_id,
            "playlist_page_url": self.playlist_page_url,
            "sync_status": self.sync_status,
            "dry_run": self.dry_run,
            "total_tracks": len(self.tracks),
            "tracks_added": self.created,
            "tracks_updated": self.updated,
            "tracks_skipped": self.skipped,
            "tracks_unlinked": sum(1 for t in self.unlinked if t.status == "unlinked"),
            "errors": self.errors,
            "failed_tracks": self.failed_tracks(),
            "unreadable": self.count("unreadable"),
            "unreadable_tracks": self.unreadable_tracks(),
            "tracks_left_out": self.left_out,
            "track_ids": {t.recording_id: t.page_id for t in self.tracks if t.page_id},
            "notion_requests": self.requests,
            "rate_limited": self.rate_limited,
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
