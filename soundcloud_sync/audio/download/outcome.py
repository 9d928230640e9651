"""What a download is asked for and what came of it: the request, the result and its
status, and the reading of yt-dlp's error messages (which are permanent, which a 429)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, Union


class DownloadStatus(StrEnum):
    DOWNLOADED = "downloaded"
    SKIPPED_EXISTING = "skipped-existing"
    PREVIEW_ONLY = "preview-only"
    GEO_BLOCKED = "geo-blocked"
    DRM = "drm"
    GONE = "gone"
    NO_SOURCE = "no-source"  # no service we can download from lists it (Spotify only)
    ERROR = "error"


class TrackLike(Protocol):
    """What a download needs to know of a track: a `sources.Track`, a catalog row…"""

    @property
    def url(self) -> str | None: ...
    @property
    def soundcloud_id(self) -> int | None: ...
    @property
    def duration_ms(self) -> int | None: ...
    @property
    def availability(self) -> object: ...


# a track to download: a request, an object with its fields, or a row of them by name
Downloadable = Union["DownloadRequest", TrackLike, Mapping[str, Any]]


@dataclass(frozen=True)
class DownloadRequest:
    url: str  # the track's SoundCloud permalink
    soundcloud_id: int
    duration_s: float | None = None  # the full track's duration, to catch previews
    availability: str | None = None  # sources' Availability when known: skip the hopeless

    @classmethod
    def of(cls, track: Downloadable) -> DownloadRequest:
        """From a DownloadRequest, a ``sources.Track``-like object or a mapping (row)."""
        if isinstance(track, DownloadRequest):
            return track
        raw = track.get if isinstance(track, Mapping) else lambda k: getattr(track, k, None)

        def get(key: str) -> Any:
            value = raw(key)  # a DataFrame row says NaN for "missing"
            return None if isinstance(value, float) and math.isnan(value) else value

        duration_ms = get("duration_ms")
        availability = get("availability")
        return cls(
            url=str(get("url")),
            soundcloud_id=int(get("soundcloud_id")),
            duration_s=float(duration_ms) / 1000 if duration_ms else None,
            availability=str(availability) if availability is not None else None,
        )


@dataclass(frozen=True)
class DownloadResult:
    soundcloud_id: int | None  # None: no SoundCloud track to download it from
    url: str
    status: DownloadStatus
    path: Path | None = None
    format_id: str | None = None
    duration_s: float | None = None
    reason: str | None = None
    attempts: int = 0
    via: str | None = None  # "direct" (one stream-URL look-up) or "yt-dlp" (the fallback)
    fallback: str | None = None  # why the direct path was left for yt-dlp
    write_failed: bool = False  # the file could not be written (disk full, read-only…)

    @property
    def ok(self) -> bool:
        """The file is there (fetched now or before)."""
        return self.status in (DownloadStatus.DOWNLOADED, DownloadStatus.SKIPPED_EXISTING)

    def to_row(self) -> dict[str, Any]:
        """Plain values for a DataFrame row or Dagster metadata."""
        return {
            "soundcloud_id": self.soundcloud_id,
            "url": self.url,
            "status": str(self.status),
            "path": str(self.path) if self.path else None,
            "format_id": self.format_id,
            "duration_s": self.duration_s,
            "reason": self.reason,
            "attempts": self.attempts,
            "via": self.via,
            "fallback": self.fallback,
            "write_failed": self.write_failed,
        }


class TrackUnavailable(Exception):
    """The full audio cannot be had (preview, geo-block, DRM…): no retry, no fallback."""

    def __init__(self, status: DownloadStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def classify_error(message: str) -> DownloadStatus | None:
    """The permanent status a yt-dlp error message means, or None when worth retrying."""
    text = message.lower()
    if "geo restriction" in text or "not available from your location" in text:
        return DownloadStatus.GEO_BLOCKED
    if "drm protected" in text or "drm-protected" in text:
        return DownloadStatus.DRM
    if "http error 404" in text or "http error 410" in text:
        return DownloadStatus.GONE
    if "requested format is not available" in text or "no video formats found" in text:
        return DownloadStatus.ERROR  # nothing we may download: retrying will not change it
    return None


SECRET_RE = re.compile(r"(client_id|oauth_token|secret_token|Signature)=[^&\s'\"]+", re.I)


def is_rate_limited(reason: str) -> bool:
    return "429" in reason or "slow down" in reason.lower() or "rate limit" in reason.lower()


def short_reason(exc: BaseException) -> str:
    """First line of an error, secrets in URLs masked."""
    text = str(exc).replace("ERROR: ", "").strip().splitlines()
    line = text[0][:300] if text else type(exc).__name__
    return SECRET_RE.sub(r"\1=***", line)
