"""The fallback: yt-dlp's full extraction of a track (a resolve and a look-up per
transcoding), taken only where the direct path failed; and the options every
YoutubeDL of a download gets."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from soundcloud_sync.audio.download.outcome import (
    DownloadRequest,
    DownloadStatus,
    TrackUnavailable,
    classify_error,
    short_reason,
)

# The original upload first, then the best non-preview transcoding.
FORMAT = "download/bestaudio[format_id!*=preview]/best[format_id!*=preview]"

YoutubeDLFactory = Callable[[Mapping[str, Any]], Any]


def default_factory(params: Mapping[str, Any]) -> Any:
    from yt_dlp import YoutubeDL

    return YoutubeDL(dict(params))


def youtube_dl_options(outtmpl: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """A YoutubeDL's options for downloads written to ``outtmpl`` (yt-dlp's template)."""
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "format": FORMAT,
        "outtmpl": {"default": outtmpl},
        "retries": 3,
        "fragment_retries": 3,
        # yt-dlp retries a 429 on format info itself (RetryManager); give it room.
        "extractor_retries": 3,
        "retry_sleep_functions": {"extractor": lambda n: min(60.0, 5.0 * 2**n)},
        "continuedl": False,  # a stale .part may not be a prefix of today's stream
        "overwrites": False,
        "noplaylist": True,
        "writethumbnail": False,
        **extra,
    }


def _is_preview_format(fmt: Mapping[str, Any]) -> bool:
    return "preview" in str(fmt.get("format_id", "")) or fmt.get("preference") == -10


def fetch_with_ytdlp(ydl: Any, request: DownloadRequest) -> dict[str, Any]:
    """Extract the track's formats with ``ydl`` and download the best; yt-dlp's info back.
    A track with previews only, geo-blocked, DRM-protected or gone is `TrackUnavailable`."""
    from yt_dlp.utils import DownloadError, ExtractorError

    try:
        try:
            # process=False: the formats as offered, before any selection.
            info = ydl.extract_info(request.url, download=False, process=False)
        except (DownloadError, ExtractorError) as exc:
            status = classify_error(str(exc))
            if status is not None:
                raise TrackUnavailable(status, short_reason(exc)) from exc
            raise
        formats = info.get("formats") or [info]
        if formats and all(_is_preview_format(f) for f in formats):
            raise TrackUnavailable(
                DownloadStatus.PREVIEW_ONLY, "only a 30-second preview is offered"
            )
        try:
            result: dict[str, Any] = ydl.process_ie_result(info, download=True)
            return result
        except DownloadError as exc:
            status = classify_error(str(exc))
            if status is not None:
                raise TrackUnavailable(status, short_reason(exc)) from exc
            raise
    finally:
        with contextlib.suppress(Exception):
            ydl.close()
