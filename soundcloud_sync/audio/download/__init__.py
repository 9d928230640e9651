"""Downloading tracks' audio with yt-dlp (the library), a few at a time.

* Best original quality: the uploader's original file when SoundCloud offers it
  (yt-dlp's format ``download``), else the best transcoding.
* A 30-second preview is never taken for the track: preview formats (``preview`` in
  the format id, preference -10) are excluded from the selection, a track that only
  has previews is reported ``preview-only``, and every download's duration is
  checked against the track's before it is accepted.
* Crash-safe and idempotent: yt-dlp writes into ``<dest>/.downloading/`` (its own
  ``.part`` files included); a file is moved to ``<dest>/<id>.<ext>`` only once it is
  complete and verified, and an id that already has a file there is not fetched again.
  Leftovers of a crashed run are discarded, not resumed (a signed stream URL may
  not serve the same bytes twice).
* Bounded concurrency (one ``YoutubeDL`` per worker thread) and retries with
  exponential backoff for transient failures (5xx, timeouts). A 429 ("about 600
  requests per 10 minutes") pauses every worker, for 30 s doubling each time, and
  does not use up the ordinary retries. Geo-blocked, DRM
  and deleted tracks are reported with their reason, never retried, and never fail
  the others.

* One api-v2 request per track (given ``streams``, a :class:`StreamSource`):
  the stream of the best transcoding is chosen from the track object the listing
  already read, and yt-dlp's own downloader fetches it from the CDN (one GET, or an HLS
  playlist and its segments). yt-dlp's full extraction (a resolve and a look-up per
  transcoding) is the fallback, taken only where that path fails: no usable
  transcoding known, a stream URL api-v2 no longer knows, a failed CDN download. Each
  result says which path fetched it (``via``) and why the fallback was taken.

The parts: `outcome` (request, result, status, yt-dlp's errors read), `direct` (the
stream-URL path, HLS or progressive), `ytdlp` (the fallback's extraction and every
YoutubeDL's options), `files` (the downloads folder, staging, the check before a file
is accepted), `downloader` (retries, 429 pauses, locks, a few at a time), `artwork`.

How yt-dlp talks to SoundCloud (api base, proxy, client-id cache, OAuth, the shared
request budget) is the business of `soundcloud_sync.sources`: pass
``SoundCloudClient.youtube_dl`` as ``youtube_dl`` and ``steps.audio.direct_streams(client,
rows)`` (the client's stream finder, in this module's terms) as ``streams``.
"""

from soundcloud_sync.audio.download.artwork import fetch_artwork
from soundcloud_sync.audio.download.direct import StreamSource
from soundcloud_sync.audio.download.downloader import Downloader, download_tracks
from soundcloud_sync.audio.download.files import existing_file, media_duration
from soundcloud_sync.audio.download.outcome import (
    DownloadRequest,
    DownloadResult,
    DownloadStatus,
    TrackUnavailable,
    classify_error,
)

__all__ = [
    "DownloadRequest",
    "DownloadResult",
    "DownloadStatus",
    "Downloader",
    "StreamSource",
    "TrackUnavailable",
    "classify_error",
    "download_tracks",
    "existing_file",
    "fetch_artwork",
    "media_duration",
]
