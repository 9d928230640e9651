"""Talking to SoundCloud: URLs, canonical keys, playlist and track extraction.

Knows nothing of Notion or Dagster.
"""

from .errors import (
    EmptyPlaylist,
    NotAPlaylist,
    NotASoundCloudUrl,
    PlaylistNotFound,
    PlaylistPrivate,
    SoundCloudUnavailable,
    SourceError,
)
from .models import Availability, Playlist, Track
from .urls import PlaylistRef, is_playlist_key, parse_playlist_url, playlist_key, public_url

__all__ = [
    "Availability",
    "EmptyPlaylist",
    "NotAPlaylist",
    "NotASoundCloudUrl",
    "Playlist",
    "PlaylistNotFound",
    "PlaylistPrivate",
    "PlaylistRef",
    "SoundCloudUnavailable",
    "SourceError",
    "Track",
    "is_playlist_key",
    "parse_playlist_url",
    "playlist_key",
    "public_url",
]
