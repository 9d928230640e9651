"""The downloader: a few tracks at a time, each by the direct path (`direct`: one
api-v2 request, then the CDN) and, where that fails, yt-dlp's full extraction
(`ytdlp`); retries with backoff, a shared pause after a 429, one process at a time per
track (a file lock), and nothing half-written left (`files`)."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from soundcloud_sync.audio.download.direct import StreamSource, fetch_direct
from soundcloud_sync.audio.download.files import LOCKS, STAGING, accept, existing_file
from soundcloud_sync.audio.download.outcome import (
    Downloadable,
    DownloadRequest,
    DownloadResult,
    DownloadStatus,
    TrackUnavailable,
    is_rate_limited,
    short_reason,
)
from soundcloud_sync.audio.download.ytdlp import (
    YoutubeDLFactory,
    default_factory,
    fetch_with_ytdlp,
    youtube_dl_options,
)
from soundcloud_sync.audio.space import WriteFailed, check_written, write_problem

log = logging.getLogger(__name__)


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
        self.factory = youtube_dl or default_factory
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
        self._ydls = threading.local()  # each download thread's (generation, YoutubeDL)
        self._generation = 0
        self._opened: list[Any] = []

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
            lock = FileLock(locks / f"{request.soundcloud_id}.lock")
            try:
                locks.mkdir(parents=True, exist_ok=True)
                lock.acquire()  # makes the lock file: a full disk fails here too
            except OSError as exc:
                return DownloadResult(
                    request.soundcloud_id, request.url, DownloadStatus.ERROR,
                    reason=write_problem(exc, self.dest_dir) or str(exc),
                    write_failed=write_problem(exc, self.dest_dir) is not None,
                )  # fmt: skip
            try:
                return self._download(request)
            finally:
                lock.release()

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
                reason = short_reason(exc)
                if is_rate_limited(reason) and rate_limited < self.rate_limit_retries:
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
        assert self.streams is not None
        info = fetch_direct(lambda: self._thread_ydl(request), request, self.streams)
        return accept(request, info, self._staging_of(request.soundcloud_id), self.dest_dir)

    def _thread_ydl(self, request: DownloadRequest) -> Any:
        """This thread's YoutubeDL for direct downloads, made once and reused: a new one
        per track built a new HTTP session and loaded the CA certificates again (~40 ms
        of CPU a track). Its template names each file by the id the direct path gives
        it, in the track's own staging folder (made new and empty here)."""
        self._new_staging_of(request.soundcloud_id)
        held = getattr(self._ydls, "direct", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        template = str(self.staging / "%(id)s" / "%(id)s.%(ext)s")
        ydl = self.factory(youtube_dl_options(template, self.ydl_params))
        with self._locks_guard:
            self._opened.append(ydl)
            self._ydls.direct = (self._generation, ydl)
        return ydl

    def close(self) -> None:
        """Close the threads' YoutubeDLs (their HTTP sessions): `download_many` does at
        its end; a caller of `download` alone calls it when done."""
        with self._locks_guard:
            opened, self._opened = self._opened, []
            self._generation += 1  # a thread asking again gets a new one
        for ydl in opened:
            with contextlib.suppress(Exception):
                ydl.close()

    def _staging_of(self, soundcloud_id: int) -> Path:
        """The track's own staging folder. Only the holder of the track's lock touches
        it; a run that finishes removes the shared parent only once it is empty, so it
        never pulls the folder from under another process's download."""
        return self.staging / str(soundcloud_id)

    @contextlib.contextmanager
    def _staged(self, request: DownloadRequest) -> Iterator[None]:
        """One attempt: whatever it leaves in staging goes (nothing half-written
        stays), and a failure to write is a WriteFailed naming the folder."""
        try:
            yield
        except BaseException as exc:
            self._clear_staging_of(request.soundcloud_id)
            if not isinstance(exc, TrackUnavailable):
                check_written(exc, self.dest_dir)
            raise
        self._clear_staging_of(request.soundcloud_id)

    def _clear_staging_of(self, soundcloud_id: int) -> None:
        """Remove the track's staging folder, and what an older release staged for it
        in the shared one (``<id>.*``)."""
        shutil.rmtree(self._staging_of(soundcloud_id), ignore_errors=True)
        for stale in self.staging.glob(f"{soundcloud_id}.*"):
            stale.unlink(missing_ok=True)

    def _new_staging_of(self, soundcloud_id: int) -> Path:
        """The track's staging folder, new and empty (a crashed run's leftovers removed)."""
        self._clear_staging_of(soundcloud_id)
        folder = self._staging_of(soundcloud_id)
        for _ in range(3):  # another run may remove the empty parent in between
            try:
                folder.mkdir(parents=True, exist_ok=True)
                break
            except FileNotFoundError:
                continue
        return folder

    def _attempt(self, request: DownloadRequest) -> tuple[Path, str | None, float | None]:
        """The fallback: yt-dlp's own extraction, with a YoutubeDL of its own."""
        folder = self._new_staging_of(request.soundcloud_id)
        template = str(folder / f"{request.soundcloud_id}.%(ext)s")
        info = fetch_with_ytdlp(
            self.factory(youtube_dl_options(template, self.ydl_params)), request
        )
        return accept(request, info, folder, self.dest_dir)  # (fetch_with_ytdlp closed it)

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

        self._sweep_staging()
        try:
            with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
                results = list(pool.map(run, requests))
        finally:
            self.close()
        self._clean_staging()
        return results

    def _sweep_staging(self) -> None:
        """Remove what killed runs left in staging (a power cut mid-download): each
        track's leftovers whose lock no process holds, whether or not this run asks
        for that track again."""
        from filelock import FileLock, Timeout

        try:
            stems = [p.name.split(".")[0] for p in self.staging.iterdir()]
            ids = {int(stem) for stem in stems if stem.isascii() and stem.isdigit()}
        except OSError:
            return  # no staging folder: nothing was left
        for soundcloud_id in sorted(ids):
            try:
                with FileLock(self.dest_dir / LOCKS / f"{soundcloud_id}.lock", timeout=0):
                    self._clear_staging_of(soundcloud_id)
            except (Timeout, OSError):
                continue  # another process is downloading it (or the lock cannot be made)

    def _clean_staging(self) -> None:
        """Drop the staging folder once empty: another process's download keeps its
        track's folder in it, so it is not empty then."""
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
