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
from .models import Availability, Playlist, PlaylistSnapshot, Track
from .soundcloud import SoundCloudClient, availability_of, parse_tags, track_from_json
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
    "PlaylistSnapshot",
    "SoundCloudClient",
    "SoundCloudUnavailable",
    "SourceError",
    "Track",
    "availability_of",
    "is_playlist_key",
    "parse_playlist_url",
    "parse_tags",
    "playlist_key",
    "public_url",
    "track_from_json",
]
