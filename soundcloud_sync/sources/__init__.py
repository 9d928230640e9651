"""Talking to SoundCloud and Spotify: URLs, canonical keys, playlist and track extraction.

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
    SpotifyUnavailable,
)
from .models import Availability, Playlist, PlaylistSnapshot, SkippedEntry, Source, Track
from .soundcloud import SoundCloudClient, availability_of, parse_tags, track_from_json
from .spotify import SpotifyClient
from .urls import (
    PlaylistRef,
    SpotifyPlaylistRef,
    is_playlist_key,
    is_spotify_key,
    parse_playlist_url,
    parse_soundcloud_url,
    playlist_key,
    public_url,
)

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
    "SkippedEntry",
    "SoundCloudClient",
    "SoundCloudUnavailable",
    "Source",
    "SourceError",
    "SpotifyClient",
    "SpotifyPlaylistRef",
    "SpotifyUnavailable",
    "Track",
    "availability_of",
    "is_playlist_key",
    "is_spotify_key",
    "parse_playlist_url",
    "parse_soundcloud_url",
    "parse_tags",
    "playlist_key",
    "public_url",
    "track_from_json",
]
