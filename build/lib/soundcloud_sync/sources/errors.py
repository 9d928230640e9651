"""Errors that name the playlist URL at fault."""

from __future__ import annotations

from ..errors import SoundCloudSyncError


class SourceError(SoundCloudSyncError):
    """Something about a SoundCloud URL or answer that the user must act on."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class NotASoundCloudUrl(SourceError):
    pass


class NotAPlaylist(SourceError):
    pass


class PlaylistNotFound(SourceError):
    pass


class PlaylistPrivate(SourceError):
    pass


class EmptyPlaylist(SourceError):
    pass


class SoundCloudUnavailable(SourceError):
    """Network failure, repeated 429/5xx: try again later."""


class SpotifyUnavailable(SourceError):
    """Spotify could not be reached, or its rate limit held: try again later."""
