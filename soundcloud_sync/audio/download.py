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

How yt-dlp talks to SoundCloud (api base, proxy, client-id cache, OAuth, the shared
request budget) is the business of `soundcloud_sync.sources`: pass
``SoundCloudClient.youtube_dl`` as ``youtube_dl`` and ``steps.audio.direct_streams(client,
rows)`` (the client's stream finder, in this module's terms) as ``streams``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, Union

from soundcloud_sync.audio.space import WriteFailed, check_written, write_problem

log = logging.getLogger(__name__)

STAGING = ".downloading"
LOCKS = ".locks"  # one lock file per track id: a download is one process's at a time
# The original upload first, then the best non-preview transcoding.
FORMAT = "download/bestaudio[format_id!*=preview]/best[format_id!*=preview]"
UNFINISHED_SUFFIXES = (".part", ".ytdl", ".temp", ".tmp")
DURATION_TOLERANCE_S = 3.0  # encoders pad or trim a little; a preview is 30 s of a longer track


class DownloadStatus(StrEnum):
    DOWNLOADED = "downloaded"
    SKIPPED_EXISTING = "skipped-existing"
    PREVIEW_ONLY = "preview-only"
    GEO_BLOCKED = "geo-blocked"
    DRM = "drm"
    GONE = "gone"
    NO_SOURCE = "no-source"  # no service we can download from lists it (Spotify only)
    ERROR = "error"


class TrackLike(Protocol):
    """What a download needs to know of a track: a `sources.Track`, a catalog row…"""

    @property
    def url(self) -> str | None: ...
    @property
    def soundcloud_id(self) -> int | None: ...
    @property
    def duration_ms(self) -> int | None: ...
    @property
    def availability(self) -> object: ...


# a track to download: a request, an object with its fields, or a row of them by name
Downloadable = Union["DownloadRequest", TrackLike, Mapping[str, Any]]


@dataclass(frozen=True)
class DownloadRequest:
    url: str  # the track's SoundCloud permalink
    soundcloud_id: int
    duration_s: float | None = None  # the full track's duration, to catch previews
    availability: str | None = None  # sources' Availability when known: skip the hopeless

    @classmethod
    def of(cls, track: Downloadable) -> DownloadRequest:
        """From a DownloadRequest, a ``sources.Track``-like object or a mapping (row)."""
        if isinstance(track, DownloadRequest):
            return track
        raw = track.get if isinstance(track, Mapping) else lambda k: getattr(track, k, None)

        def get(key: str) -> Any:
            value = raw(key)  # a DataFrame row says NaN for "missing"
            return None if isinstance(value, float) and math.isnan(value) else value

        duration_ms = get("duration_ms")
        availability = get("availability")
        return cls(
            url=str(get("url")),
            soundcloud_id=int(get("soundcloud_id")),
            duration_s=float(duration_ms) / 1000 if duration_ms else None,
            availability=str(availability) if availability is not None else None,
        )


@dataclass(frozen=True)
class DownloadResult:
    soundcloud_id: int | None  # None: no SoundCloud track to download it from
    url: str
    status: DownloadStatus
    path: Path | None = None
    format_id: str | None = None
    duration_s: float | None = None
    reason: str | None = None
    attempts: int = 0
    via: str | None = None  # "direct" (one stream-URL look-up) or "yt-dlp" (the fallback)
    fallback: str | None = None  # why the direct path was left for yt-dlp
    write_failed: bool = False  # the file could not be written (disk full, read-only…)

    @property
    def ok(self) -> bool:
        """The file is there (fetched now or before)."""
        return self.status in (DownloadStatus.DOWNLOADED, DownloadStatus.SKIPPED_EXISTING)

    def to_row(self) -> dict[str, Any]:
        """Plain values for a DataFrame row or Dagster metadata."""
        return {
            "soundcloud_id": self.soundcloud_id,
            "url": self.url,
            "status": str(self.status),
            "path": str(self.path) if self.path else None,
            "format_id": self.format_id,
            "duration_s": self.duration_s,
            "reason": self.reason,
            "attempts": self.attempts,
            "via": self.via,
            "fallback": self.fallback,
            "write_failed": self.write_failed,
        }


YoutubeDLFactory = Callable[[Mapping[str, Any]], Any]


def _default_factory(params: Mapping[str, Any]) -> Any:
    from yt_dlp import YoutubeDL

    return YoutubeDL(dict(params))


class TrackUnavailable(Exception):
    """The full audio cannot be had (preview, geo-block, DRM…): no retry, no fallback."""

    def __init__(self, status: DownloadStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


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


def classify_error(message: str) -> DownloadStatus | None:
    """The permanent status a yt-dlp error message means, or None when worth retrying."""
    text = message.lower()
    if "geo restriction" in text or "not available from your location" in text:
        return DownloadStatus.GEO_BLOCKED
    if "drm protected" in text or "drm-protected" in text:
        return DownloadStatus.DRM
    if "http error 404" in text or "http error 410" in text:
        return DownloadStatus.GONE
    if "requested format is not available" in text or "no video formats found" in text:
        return DownloadStatus.ERROR  # nothing we may download: retrying will not change it
    return None


def existing_file(dest_dir: Path, soundcloud_id: int) -> Path | None:
    """A finished download of this id in ``dest_dir`` (never a ``.part`` or temp file)."""
    for path in sorted(dest_dir.glob(f"{soundcloud_id}.*")):
        if path.is_file() and not path.name.endswith(UNFINISHED_SUFFIXES) and path.stat().st_size:
            return path
    return None


def media_duration(path: Path) -> float | None:
    """Duration of an audio file in seconds (mutagen, else a decode by ffmpeg)."""
    try:
        from mutagen import File as MutagenFile

        info = MutagenFile(path)
        length = getattr(info.info, "length", None) if info is not None else None
        if length:
            return float(length)
    except Exception:  # mutagen raises many kinds on odd files
        pass
    from soundcloud_sync.audio.analysis import decode

    try:
        return len(decode(path, 8000)) / 8000
    except Exception:
        return None


def _is_preview_format(fmt: Mapping[str, Any]) -> bool:
    return "preview" in str(fmt.get("format_id", "")) or fmt.get("preference") == -10


class Downloader:
    """Downloads into ``dest_dir`` with ``youtube_dl`` (a YoutubeDL factory); thread-safe."""

    def __init__(
        self,
        dest_dir: str | os.PathLike[str],
        youtube_dl: YoutubeDLFactory | None = None,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        rate_limit_retries: int = 6,
        rate_limit_wait: float = 30.0,
        ydl_params: Mapping[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        streams: StreamSource | None = None,
    ) -> None:
        self.dest_dir = Path(dest_dir)
        self.streams = streams
        self.staging = self.dest_dir / STAGING
        self.factory = youtube_dl or _default_factory
        self.retries = retries
        self.backoff = backoff
        self.rate_limit_retries = rate_limit_retries
        self.rate_limit_wait = rate_limit_wait
        self._cooldown_until = 0.0  # shared by all workers after a 429
        self._cooldown_lock = threading.Lock()
        self.ydl_params = dict(ydl_params or {})
        self._sleep = sleep
        self._id_locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _params(self, request: DownloadRequest) -> dict[str, Any]:
        return {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "format": FORMAT,
            "outtmpl": {"default": str(self.staging / f"{request.soundcloud_id}.%(ext)s")},
            "retries": 3,
            "fragment_retries": 3,
            # yt-dlp retries a 429 on format info itself (RetryManager); give it room.
            "extractor_retries": 3,
            "retry_sleep_functions": {"extractor": lambda n: min(60.0, 5.0 * 2**n)},
            "continuedl": False,  # a stale .part may not be a prefix of today's stream
            "overwrites": False,
            "noplaylist": True,
            "writethumbnail": False,
            **self.ydl_params,
        }

    def _lock_for(self, soundcloud_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._id_locks.setdefault(soundcloud_id, threading.Lock())

    def download(self, track: Downloadable) -> DownloadResult:
        """Download one track (a DownloadRequest or Track-like); never raises for its failures.

        Two runs holding the same track (playlists download side by side) take turns: a
        file lock per id, which the kernel frees if its process dies; the second finds
        the first's file and fetches nothing."""
        from filelock import FileLock

        request = DownloadRequest.of(track)
        locks = self.dest_dir / LOCKS
        with self._lock_for(request.soundcloud_id):
            try:
                locks.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                return DownloadResult(
                    request.soundcloud_id, request.url, DownloadStatus.ERROR,
                    reason=write_problem(exc, self.dest_dir) or str(exc),
                    write_failed=write_problem(exc, self.dest_dir) is not None,
                )  # fmt: skip
            with FileLock(locks / f"{request.soundcloud_id}.lock"):
                return self._download(request)

    def _download(self, request: DownloadRequest) -> DownloadResult:
        done = existing_file(self.dest_dir, request.soundcloud_id)
        if done is not None:
            return DownloadResult(
                request.soundcloud_id, request.url, DownloadStatus.SKIPPED_EXISTING, done
            )
        hopeless = {
            "preview-only": DownloadStatus.PREVIEW_ONLY,
            "geo-blocked": DownloadStatus.GEO_BLOCKED,
            "drm": DownloadStatus.DRM,
            "gone": DownloadStatus.GONE,
        }.get(request.availability or "")
        if hopeless is not None:
            return DownloadResult(
                request.soundcloud_id, request.url, hopeless, reason=f"track is {hopeless}"
            )
        attempt = rate_limited = 0
        fallback = None if self.streams is not None else "no stream finder given"
        while True:
            attempt += 1
            self._wait_for_cooldown()
            via = "yt-dlp" if fallback else "direct"
            try:
                with self._staged(request):
                    if fallback:
                        path, format_id, duration = self._attempt(request)
                    else:
                        path, format_id, duration = self._attempt_direct(request)
                return DownloadResult(
                    request.soundcloud_id, request.url, DownloadStatus.DOWNLOADED, path,
                    format_id, duration, attempts=attempt, via=via, fallback=fallback,
                )  # fmt: skip
            except TrackUnavailable as exc:
                return DownloadResult(
                    request.soundcloud_id, request.url, exc.status, reason=str(exc),
                    attempts=attempt, via=via, fallback=fallback,
                )  # fmt: skip
            except WriteFailed as exc:  # no retry, no fallback: neither would find room
                return DownloadResult(
                    request.soundcloud_id, request.url, DownloadStatus.ERROR, reason=str(exc),
                    attempts=attempt, via=via, fallback=fallback, write_failed=True,
                )  # fmt: skip
            except Exception as exc:
                reason = _short(exc)
                if _is_rate_limited(reason) and rate_limited < self.rate_limit_retries:
                    # api-v2 allows ~600 requests / 10 min: everyone pauses, then tries again.
                    rate_limited += 1
                    attempt -= 1
                    self._cool_down(self.rate_limit_wait * 2 ** (rate_limited - 1))
                    continue
                if not fallback:  # the direct path failed: yt-dlp's extraction, at once
                    fallback = reason
                    attempt -= 1
                    log.info("track %s: %s; downloading it through yt-dlp", request.url, reason)
                    continue
                if attempt > self.retries:
                    return DownloadResult(
                        request.soundcloud_id, request.url, DownloadStatus.ERROR, reason=reason,
                        attempts=attempt, via=via, fallback=fallback,
                    )  # fmt: skip
                delay = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
                log.info(
                    "download of %s failed (%s); retrying in %.1fs", request.url, reason, delay
                )
                self._sleep(delay)

    def _cool_down(self, seconds: float) -> None:
        wait = min(seconds, 600.0)
        log.info("SoundCloud says slow down (429): pausing downloads for %.0fs", wait)
        with self._cooldown_lock:
            self._cooldown_until = max(self._cooldown_until, time.monotonic() + wait)

    def _wait_for_cooldown(self) -> None:
        while (left := self._cooldown_until - time.monotonic()) > 0:
            self._sleep(left)

    def _attempt_direct(self, request: DownloadRequest) -> tuple[Path, str | None, float | None]:
        """The stream of the best transcoding (one api-v2 request), fetched from the CDN
        by yt-dlp's downloader; previews, geo-blocks and DRM known from the track object."""
        assert self.streams is not None
        fmt = self.streams.find(request.soundcloud_id)
        info = {
            "id": str(request.soundcloud_id),
            "title": str(request.soundcloud_id),
            "webpage_url": request.url,
            "extractor": "soundcloud",
            "extractor_key": "Soundcloud",
            "formats": [fmt],
        }
        ydl = self._fresh_ydl(request)
        try:
            info = ydl.process_ie_result(info, download=True)
        finally:
            with contextlib.suppress(Exception):
                ydl.close()
        return self._accept(request, info)

    @contextlib.contextmanager
    def _staged(self, request: DownloadRequest) -> Iterator[None]:
        """One attempt: whatever it leaves in staging goes when it fails (nothing
        half-written stays), and a failure to write is a WriteFailed naming the folder."""
        try:
            yield
        except BaseException as exc:
            for partial in self.staging.glob(f"{request.soundcloud_id}.*"):
                partial.unlink(missing_ok=True)
            if not isinstance(exc, TrackUnavailable):
                check_written(exc, self.dest_dir)
            raise

    def _fresh_ydl(self, request: DownloadRequest) -> Any:
        """A YoutubeDL for this track, its staging names free (a crashed run's removed)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        for stale in self.staging.glob(f"{request.soundcloud_id}.*"):
            stale.unlink(missing_ok=True)  # left by a crashed run: start clean
        return self.factory(self._params(request))

    def _attempt(self, request: DownloadRequest) -> tuple[Path, str | None, float | None]:
        from yt_dlp.utils import DownloadError, ExtractorError

        ydl = self._fresh_ydl(request)
        try:
            try:
                # process=False: the formats as offered, before any selection.
                info = ydl.extract_info(request.url, download=False, process=False)
            except (DownloadError, ExtractorError) as exc:
                status = classify_error(str(exc))
                if status is not None:
                    raise TrackUnavailable(status, _short(exc)) from exc
                raise
            formats = info.get("formats") or [info]
            if formats and all(_is_preview_format(f) for f in formats):
                raise TrackUnavailable(
                    DownloadStatus.PREVIEW_ONLY, "only a 30-second preview is offered"
                )
            try:
                info = ydl.process_ie_result(info, download=True)
            except DownloadError as exc:
                status = classify_error(str(exc))
                if status is not None:
                    raise TrackUnavailable(status, _short(exc)) from exc
                raise
        finally:
            with contextlib.suppress(Exception):
                ydl.close()
        return self._accept(request, info)

    def _accept(
        self, request: DownloadRequest, info: Mapping[str, Any]
    ) -> tuple[Path, str | None, float | None]:
        """Verify the staged file and move it to its final name."""
        downloads = info.get("requested_downloads") or [info]
        staged = Path(downloads[0].get("filepath") or downloads[0].get("_filename") or "")
        if not staged.is_file():
            found = existing_file(self.staging, request.soundcloud_id)
            if found is None:
                raise RuntimeError(
                    f"yt-dlp reported success for track {request.soundcloud_id} but wrote no file"
                )
            staged = found
        format_id = info.get("format_id")
        if format_id and "preview" in str(format_id):
            staged.unlink(missing_ok=True)
            raise TrackUnavailable(DownloadStatus.PREVIEW_ONLY, f"yt-dlp chose preview {format_id}")
        duration = media_duration(staged)
        expected = request.duration_s
        if expected and duration is not None and duration < expected - DURATION_TOLERANCE_S:
            staged.unlink(missing_ok=True)
            raise TrackUnavailable(
                DownloadStatus.PREVIEW_ONLY,
                f"got {duration:.1f}s of a {expected:.1f}s track (a preview or a cut stream)",
            )
        final = self.dest_dir / f"{request.soundcloud_id}{staged.suffix}"
        os.replace(staged, final)
        return final, format_id, duration

    def download_many(
        self,
        tracks: Iterable[Downloadable],
        max_workers: int = 4,
        on_result: Callable[[DownloadResult], None] | None = None,
    ) -> list[DownloadResult]:
        """Download many tracks, ``max_workers`` at a time; results in input order."""
        requests = [DownloadRequest.of(t) for t in tracks]
        try:
            self.dest_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            check_written(exc, self.dest_dir)
            raise
        if self.streams is not None:  # tracks the finder lacks are looked up together
            self.streams.expect(
                r.soundcloud_id for r in requests
                if existing_file(self.dest_dir, r.soundcloud_id) is None
            )  # fmt: skip

        def run(request: DownloadRequest) -> DownloadResult:
            result = self.download(request)
            if on_result is not None:
                on_result(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            results = list(pool.map(run, requests))
        self._clean_staging()
        return results

    def _clean_staging(self) -> None:
        """Drop the staging folder once empty (kept while it holds resumable parts)."""
        with contextlib.suppress(OSError):
            self.staging.rmdir()


def download_tracks(
    tracks: Iterable[Downloadable],
    dest_dir: str | os.PathLike[str],
    youtube_dl: YoutubeDLFactory | None = None,
    max_workers: int = 4,
    *,
    retries: int = 3,
    backoff: float = 1.0,
    rate_limit_retries: int = 6,
    rate_limit_wait: float = 30.0,
    ydl_params: Mapping[str, Any] | None = None,
    on_result: Callable[[DownloadResult], None] | None = None,
    streams: StreamSource | None = None,
) -> list[DownloadResult]:
    """Download ``tracks`` (DownloadRequest, sources.Track or row mappings) into ``dest_dir``.

    ``streams`` (``steps.audio.direct_streams(client, rows)``) takes each track's stream
    with one api-v2 request; without it, or where that fails, yt-dlp extracts it.
    ``youtube_dl`` builds a YoutubeDL from options (``SoundCloudClient.youtube_dl``);
    ``ydl_params`` adds yt-dlp options (``ratelimit``, ``proxy``…). Files are named
    ``<soundcloud_id>.<ext>``; see :class:`DownloadResult` for the per-track outcome.
    """
    downloader = Downloader(
        dest_dir,
        youtube_dl,
        retries=retries,
        backoff=backoff,
        rate_limit_retries=rate_limit_retries,
        rate_limit_wait=rate_limit_wait,
        ydl_params=ydl_params,
        streams=streams,
    )
    return downloader.download_many(tracks, max_workers=max_workers, on_result=on_result)


def fetch_artwork(
    url: str | None,
    dest_dir: str | os.PathLike[str],
    soundcloud_id: int,
    *,
    proxy: str | None = None,
    timeout: float = 30.0,
) -> bytes | None:
    """The artwork at ``url``, cached as ``<dest_dir>/artwork/<id>.<ext>``; None if unavailable.

    Pass the largest size's URL (``sources.soundcloud.largest_artwork``). A failure is not
    an error: a track without artwork is still a track.
    """
    if not url:
        return None
    folder = Path(dest_dir) / "artwork"
    for cached in folder.glob(f"{soundcloud_id}.*"):
        if cached.suffix in (".jpg", ".png") and cached.stat().st_size:
            return cached.read_bytes()
    import requests

    proxies = {"http": proxy, "https": proxy} if proxy else None
    try:
        response = requests.get(url, timeout=timeout, proxies=proxies)
        response.raise_for_status()
    except requests.RequestException as exc:
        log.info("no artwork for %s: %s", soundcloud_id, _SECRET_RE.sub(r"\1=***", str(exc)))
        return None
    data = response.content
    if not data:
        return None
    ext = ".png" if data.startswith(b"\x89PNG") else ".jpg"
    tmp = folder / f".{soundcloud_id}{ext}.tmp"
    try:  # only a cache: a full disk costs the next run a download, not this track
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, folder / f"{soundcloud_id}{ext}")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.info("artwork of %s not cached in %s: %s", soundcloud_id, folder, exc)
    return data


def remove_staging(dest_dir: str | os.PathLike[str]) -> None:
    """Forget unfinished downloads (they would otherwise be resumed)."""
    shutil.rmtree(Path(dest_dir) / STAGING, ignore_errors=True)


_SECRET_RE = re.compile(r"(client_id|oauth_token|secret_token|Signature)=[^&\s'\"]+", re.I)


def _is_rate_limited(reason: str) -> bool:
    return "429" in reason or "slow down" in reason.lower() or "rate limit" in reason.lower()


def _short(exc: BaseException) -> str:
    """First line of an error, secrets in URLs masked."""
    text = str(exc).replace("ERROR: ", "").strip().splitlines()
    line = text[0][:300] if text else type(exc).__name__
    return _SECRET_RE.sub(r"\1=***", line)


__all__ = [
    "DownloadRequest",
    "DownloadResult",
    "DownloadStatus",
    "Downloader",
    "classify_error",
    "download_tracks",
    "existing_file",
    "fetch_artwork",
    "remove_staging",
]
