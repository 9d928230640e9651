"""Finding on SoundCloud a recording known only from Spotify, where its audio can be had.

Only a track with the same ISRC is taken for the recording: SoundCloud's search is
asked for the ISRC, then for "artist title"; a hit that merely looks the same is not
proof (the two might be different mixes) and is left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..matching import recording_key
from .models import Track

if TYPE_CHECKING:
    from .soundcloud import SoundCloudClient

SEARCH_RESULTS = 5


def find_recording(
    client: SoundCloudClient, isrc: str, title: str | None, artist: str | None
) -> tuple[Track | None, int]:
    """SoundCloud's track with this ISRC, or None; and the requests spent (1 or 2)."""
    core_title, first_artist = recording_key(title, artist)
    queries = [isrc, f"{first_artist} {core_title}".strip()]
    for spent, query in enumerate(dict.fromkeys(q for q in queries if q), start=1):
        for track in client.search_tracks(query, limit=SEARCH_RESULTS):
            if track.isrc and track.isrc.upper() == isrc.upper():
                return track, spent
    return None, len(queries)
