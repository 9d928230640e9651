"""Talking to SoundCloud and Spotify: URLs, canonical keys, and the listings (sets,
a user's likes and uploads, hand-picked tracks, Spotify playlists) with their tracks.

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
    DjayPlaylistRef,
    PlaylistRef,
    SinglesRef,
    SpotifyPlaylistRef,
    TrackRef,
    UserListingRef,
    is_djay_key,
    is_playlist_key,
    is_spotify_key,
    parse_playlist_url,
    parse_soundcloud_url,
    playlist_key,
    public_url,
    registry_url,
    spotify_track_id,
)

__all__ = [
    "Availability",
    "DjayPlaylistRef",
    "EmptyPlaylist",
    "NotAPlaylist",
    "NotASoundCloudUrl",
    "Playlist",
    "PlaylistNotFound",
    "PlaylistPrivate",
    "PlaylistRef",
    "PlaylistSnapshot",
    "SinglesRef",
    "SkippedEntry",
    "SoundCloudClient",
    "SoundCloudUnavailable",
    "Source",
    "SourceError",
    "SpotifyClient",
    "SpotifyPlaylistRef",
    "SpotifyUnavailable",
    "Track",
    "TrackRef",
    "UserListingRef",
    "availability_of",
    "is_djay_key",
    "is_playlist_key",
    "is_spotify_key",
    "parse_playlist_url",
    "parse_soundcloud_url",
    "parse_tags",
    "playlist_key",
    "public_url",
    "registry_url",
    "spotify_track_id",
    "track_from_json",
]
