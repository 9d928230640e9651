"""SoundCloud: api-v2 reads of sets, a user's likes and uploads, and tracks added by hand.

`api` holds the HTTP client over yt-dlp (retries, client id, request counts, secrets
kept out of messages), `tracks` turns api-v2's JSON into our models, `client` reads the
listings (`SoundCloudClient`, the door the rest of the project uses).
"""

from .api import DEFAULT_API_BASE, SOUNDCLOUD_EXTRACTORS, SoundCloudApi
from .client import BATCH_SIZE, LISTING_PAGE_SIZE, SoundCloudClient
from .tracks import (
    HEAD_SIZE,
    availability_of,
    gone_track,
    head_fingerprint,
    is_full_track,
    largest_artwork,
    parse_tags,
    track_from_json,
)

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_API_BASE",
    "HEAD_SIZE",
    "LISTING_PAGE_SIZE",
    "SOUNDCLOUD_EXTRACTORS",
    "SoundCloudApi",
    "SoundCloudClient",
    "availability_of",
    "gone_track",
    "head_fingerprint",
    "is_full_track",
    "largest_artwork",
    "parse_tags",
    "track_from_json",
]
