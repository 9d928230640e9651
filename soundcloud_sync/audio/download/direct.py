"""The direct path: one api-v2 request a track for its stream URL, then the CDN.

The stream of the best transcoding is chosen from the track object the listing already
read (``StreamSource``, the client's stream finder), and yt-dlp's own downloader fetches
it: one GET for a progressive stream, the playlist and its segments for HLS. Previews,
geo-blocks and DRM are known from the track object and raised as `TrackUnavailable`;
anything else that fails sends the track to yt-dlp's full extraction (`ytdlp`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from soundcloud_sync.audio.download.outcome import DownloadRequest


class StreamSource(Protocol):
    """Where each track's stream is, one api-v2 request a track.

    ``find`` gives the yt-dlp format to fetch (``format_id``, ``url``, ``protocol``…),
    raises :class:`TrackUnavailable` for audio that cannot be had, and anything else
    where yt-dlp's own extraction should try instead (the message says why).
    ``expect`` names the tracks about to be asked for, so missing ones are looked up
    together.
    """

    def expect(self, soundcloud_ids: Iterable[int]) -> None: ...

    def find(self, soundcloud_id: int) -> dict[str, Any]: ...


def fetch_direct(
    ydl_for: Callable[[], Any], request: DownloadRequest, streams: StreamSource
) -> dict[str, Any]:
    """Find the track's stream, then download it with the YoutubeDL ``ydl_for`` gives
    (asked only once the stream is known; its caller closes it); yt-dlp's info back."""
    fmt = streams.find(request.soundcloud_id)
    info = {
        "id": str(request.soundcloud_id),
        "title": str(request.soundcloud_id),
        "webpage_url": request.url,
        "extractor": "soundcloud",
        "extractor_key": "Soundcloud",
        "formats": [fmt],
    }
    result: dict[str, Any] = ydl_for().process_ie_result(info, download=True)
    return result
