"""What a djay Pro library holds, once read: tracks, playlists, plays, and what went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from ...errors import SoundCloudSyncError


class DjayLibraryError(SoundCloudSyncError):
    """The library cannot be read at all; the message names the file and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"djay library {path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class DjayTrack:
    """One djay track (djay's ``titleID``), with what djay knows about it."""

    title_id: str  # 32 hex digits: the key shared by all of djay's records of the track
    title: str
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    duration_s: float | None = None
    isrc: str | None = None
    source_uris: tuple[str, ...] = ()  # file:///…, spotify:track:…, …
    tempo: float | None = None  # djay's analysis
    manual_tempo: float | None = None  # the DJ's own correction in djay
    key: str | None = None  # "A minor", from djay's analysis
    camelot: str | None = None
    play_count: int | None = None
    last_played: datetime | None = None
    rating: int | None = None
    color: int | None = None  # djay's colour index
    playlists: tuple[str, ...] = ()  # names of the djay playlists holding it

    @property
    def file_path(self) -> Path | None:
        """The local file of a ``file://`` source, decoded."""
        for uri in self.source_uris:
            if uri.startswith("file:"):
                parsed = urlparse(uri)
                return Path(unquote(parsed.path)) if parsed.path else None
        return None

    @property
    def service_uris(self) -> tuple[str, ...]:
        """The streaming services' URIs (everything but local files)."""
        return tuple(u for u in self.source_uris if not u.startswith("file:"))


@dataclass(frozen=True)
class DjayPlaylist:
    """A playlist made in djay: its name and its tracks in djay's order."""

    key: str
    name: str
    title_ids: tuple[str, ...]


@dataclass(frozen=True)
class DjayPlay:
    """One track played in one history session."""

    title_id: str
    played_at: datetime | None
    session: str | None = None


@dataclass
class DjayLibrary:
    """Everything read from one snapshot of ``MediaLibrary.db``."""

    path: Path
    tracks: list[DjayTrack] = field(default_factory=list)
    playlists: list[DjayPlaylist] = field(default_factory=list)
    plays: list[DjayPlay] = field(default_factory=list)
    # one line per thing that could not be read (file, table, row or track named)
    problems: list[str] = field(default_factory=list)
    rows_read: int = 0
