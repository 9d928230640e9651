"""Audio steps: downloads, analysis and library files (converted and tagged), each
outcome recorded in the catalog as it lands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, audio_file, effective_tempo, utc_now
from .progress import Progress

if TYPE_CHECKING:
    from ..audio.download import DownloadResult, StreamSource
    from ..sources import SoundCloudClient


def is_measured(track: Mapping[str, Any]) -> bool:
    """The catalog holds an analysis of this track's file."""
    return bool(track.get("analyzed_at")) and track.get("tempo") is not None


class _DirectStreams:
    """The client's stream finder in the downloader's terms (`audio.download.StreamSource`):
    the two rooms know nothing of each other, so their words meet here."""

    def __init__(self, client: SoundCloudClient, rows: Iterable[Mapping[str, Any]]) -> None:
        self.finder = client.stream_finder(rows)

    def expect(self, soundcloud_ids: Iterable[int]) -> None:
        self.finder.expect(soundcloud_ids)

    def find(self, soundcloud_id: int) -> dict[str, Any]:
        from ..audio.download import DownloadStatus, TrackUnavailable
        from ..sources.streams import NoDirectStream, StreamUnavailable

        try:
            return self.finder.find(soundcloud_id)
        except StreamUnavailable as exc:
            raise TrackUnavailable(DownloadStatus(exc.status), str(exc)) from exc
        except NoDirectStream as exc:
            raise RuntimeError(f"no direct stream: {exc}") from exc


def direct_streams(
    client: SoundCloudClient, rows: Iterable[Mapping[str, Any]] = ()
) -> StreamSource:
    """Each track's stream for the downloader, one api-v2 request a track: from ``rows``
    (catalog rows with their ``transcodings``) or the tracks ``client`` has read."""
    return _DirectStreams(client, rows)


def download_audio(
    soundcloud_client: SoundCloudClient,
    catalog: Catalog,
    track_rows: list[dict[str, Any]],
    downloads_dir: str | Path,
    *,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> list[DownloadResult]:
    """Fetch what is not on disk yet; record each outcome as it lands. A recording
    known only from Spotify has nothing to download from yet: "no source", no error."""
    from ..audio import download_tracks
    from ..audio.download import DownloadResult, DownloadStatus

    without_source = [r for r in track_rows if int(r["soundcloud_id"]) <= 0]
    track_rows = [r for r in track_rows if int(r["soundcloud_id"]) > 0]
    reason = "known only from Spotify: no audio source yet"
    skipped = [
        DownloadResult(int(r["soundcloud_id"]), r.get("spotify_url") or "",
                       DownloadStatus.NO_SOURCE, reason=reason)
        for r in without_source
    ]  # fmt: skip
    catalog.update_tracks(
        {r.soundcloud_id: {"download_status": str(r.status), "download_reason": reason}
         for r in skipped}
    )  # fmt: skip
    total, done = len(track_rows), 0

    def remember(result: DownloadResult) -> None:
        nonlocal done
        done += 1
        values: dict[str, Any] = {
            "download_status": str(result.status),
            "download_reason": result.reason,
        }
        if result.ok and result.path is not None:
            values.update(source_path=str(result.path), downloaded_at=utc_now())
        catalog.update_track(result.soundcloud_id, **values)
        if progress:
            progress("download", done, total)

    return skipped + download_tracks(
        track_rows,
        downloads_dir,
        soundcloud_client.youtube_dl,
        max_workers=max_workers,
        on_result=remember,
        streams=direct_streams(soundcloud_client, track_rows),  # one api-v2 request a track
    )


def range_label(tempo_range: tuple[float, float] | None) -> str | None:
    """How the catalog records a playlist's tempo range: "150-185", or None for none."""
    return None if tempo_range is None else f"{tempo_range[0]:g}-{tempo_range[1]:g}"


def track_tempo_ranges(
    catalog: Catalog,
    soundcloud_ids: Iterable[int],
    ranges_by_playlist: Mapping[str, tuple[float, float] | None],
) -> dict[int, tuple[float, float] | None]:
    """Each track's tempo range: the narrowest range among the playlists that hold it
    (a track in a drum & bass set and in a warm-up mix keeps one range, whichever
    playlist is synced, instead of being measured again by each in turn); None when
    none of its playlists sets one."""
    out: dict[int, tuple[float, float] | None] = {}
    for sid, keys in catalog.track_playlists(soundcloud_ids).items():
        out[sid] = narrowest(*(ranges_by_playlist.get(k) for k in keys))
    return out


def narrowest(*ranges: tuple[float, float] | None) -> tuple[float, float] | None:
    """The narrowest of the tempo ranges given (None: no range), the same on every call."""
    given = [r for r in ranges if r]
    return min(given, key=lambda r: (r[1] - r[0], r)) if given else None


def needs_analysis(
    track: Mapping[str, Any],
    tempo_range: tuple[float, float] | None = None,
) -> bool:
    """Whether the track's audio must be measured: never measured, an older analysis
    version, or another tempo range than the one the playlist asks for now."""
    from ..audio.analysis import ANALYSIS_VERSION

    return not (
        track.get("analyzed_at")
        and track.get("analysis_version") == ANALYSIS_VERSION
        and track.get("tempo_range") == range_label(tempo_range)
    )


def measure_files(
    paths: list[str],
    tempo_range: tuple[float, float],
    genres: list[str | None],
    workers: int = 2,
) -> list[Any]:
    """Measure files in threads of this process, ``workers`` at once, results in order.

    Threads, not a pool of processes: the run's process has librosa imported and its
    kernels loaded once (seconds of CPU that each worker process paid again), and the
    decode (ffmpeg), FFTs and matrix products release the GIL. A file that cannot be
    measured gives a result with its error instead of stopping the others.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..audio.analysis import AnalysisError, AnalysisResult, analyze_file, warm_up

    def one(job: tuple[str, str | None]) -> AnalysisResult:
        path, genre = job
        try:
            return AnalysisResult(path, analyze_file(path, tempo_range, genre))
        except AnalysisError as exc:
            return AnalysisResult(path, None, str(exc))

    jobs = list(zip(paths, genres, strict=True))
    warm_up()  # once, before the threads: numba's kernels are loaded under a lock
    if workers <= 1 or len(jobs) <= 1:
        return [one(job) for job in jobs]
    with ThreadPoolExecutor(min(workers, len(jobs)), thread_name_prefix="analysis") as pool:
        return list(pool.map(one, jobs))


def analyse_audio(
    catalog: Catalog,
    files: list[dict[str, Any]],
    *,
    workers: int = 2,
    progress: Progress | None = None,
    tempo_ranges: Mapping[int, tuple[float, float] | None] | None = None,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Measure each file on disk once: a file already measured by this analysis version
    in this tempo range is not redone (unless ``force``); one measured by an older version
    is, from the same file, never downloaded again. ``tempo_ranges``: each track's own
    range (its playlists'), which wins over the genre's prior and the default range."""
    from ..audio.analysis import DEFAULT_TEMPO_RANGE

    ranges = tempo_ranges or {}
    known = catalog.tracks_by_id(f["soundcloud_id"] for f in files)
    todo = [
        f
        for f in files
        if force
        or needs_analysis(known.get(f["soundcloud_id"], {}), ranges.get(f["soundcloud_id"]))
    ]
    errors: dict[int, str] = {}
    measured: set[int] = set()
    if todo:
        if progress:
            progress("analysis", 0, len(todo))
        by_range: dict[tuple[float, float] | None, list[dict[str, Any]]] = {}
        for f in todo:
            by_range.setdefault(ranges.get(f["soundcloud_id"]), []).append(f)
        for tempo_range, group in by_range.items():
            # SoundCloud's genre settles the tempo octave where the beat leaves it in
            # doubt, unless the track's playlist sets its own range.
            genres = [
                None if tempo_range else known.get(f["soundcloud_id"], {}).get("genre")
                for f in group
            ]
            results = measure_files(
                [f["path"] for f in group], tempo_range or DEFAULT_TEMPO_RANGE, genres, workers
            )
            for f, result in zip(group, results, strict=True):
                if result.features is None:
                    errors[f["soundcloud_id"]] = f"{f['path']}: {result.error}"
                    continue
                measured.add(f["soundcloud_id"])
                features = result.features
                catalog.update_track(
                    f["soundcloud_id"],
                    tempo=features.tempo,
                    key=features.key,
                    camelot=features.camelot,
                    key_confidence=features.key_confidence,
                    duration_s=features.duration_s,
                    lufs=features.lufs,
                    tempo_confidence=features.tempo_confidence,
                    first_beat_s=features.first_beat_s,
                    first_downbeat_s=features.first_downbeat_s,
                    analysis_version=features.analysis_version,
                    tempo_range=range_label(tempo_range),
                    analyzed_at=utc_now(),
                )
        if progress:
            progress("analysis", len(todo), len(todo))
    now = catalog.tracks_by_id(f["soundcloud_id"] for f in files)
    rows = []
    for f in files:
        sid, track = f["soundcloud_id"], now.get(f["soundcloud_id"], {})
        failed = sid in errors
        rows.append(
            {
                "soundcloud_id": sid,
                "title": track.get("title"),
                "artist": track.get("artist"),
                "tempo": None if failed else track.get("tempo"),
                "key": None if failed else track.get("key"),
                "camelot": None if failed else track.get("camelot"),
                "key_confidence": track.get("key_confidence"),
                "duration_s": track.get("duration_s"),
                "lufs": track.get("lufs"),
                "tempo_confidence": track.get("tempo_confidence"),
                "first_beat_s": None if failed else track.get("first_beat_s"),
                "first_downbeat_s": None if failed else track.get("first_downbeat_s"),
                "analysis_version": track.get("analysis_version"),
                "status": "error" if failed else ("measured" if sid in measured else "kept"),
                "message": errors.get(sid, ""),
            }
        )
    return rows


def write_library_files(
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    formats: Iterable[str],
    root: str | Path,
    template: str,
    album: str | None,
    artwork_dir: str | Path,
    proxy: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Convert and tag each measured track into every configured format; a track whose
    files cannot be written gets an error row saying why ("no space left on …")."""
    from ..audio import TrackTags, export_track, fetch_artwork
    from ..audio.space import write_problem

    rows, formats = [], list(formats)
    for done, track in enumerate(tracks, start=1):
        sid = int(track["soundcloud_id"])
        tags = TrackTags(
            title=track.get("title"), artist=track.get("artist"), album=album,
            genre=track.get("genre"), tempo=effective_tempo(track), key=track.get("key"),
            camelot=track.get("camelot"), isrc=track.get("isrc"), url=track.get("url"),
            soundcloud_id=sid, track_number=track.get("position"),
            artwork=fetch_artwork(track.get("artwork_url"), artwork_dir, sid, proxy=proxy),
        )  # fmt: skip
        fields = {**{k: v for k, v in track.items() if v is not None}, "album": album or ""}
        try:
            source = audio_file(track)
            if source is None:
                raise FileNotFoundError("no audio on disk (not downloaded)")
            files = export_track(source, root, formats, fields, tags, template)
        except Exception as exc:  # one bad file must not stop the rest
            rows.append({"soundcloud_id": sid, "title": track.get("title"),
                         "format": ",".join(formats), "path": None, "status": "error",
                         "message": write_problem(exc, root) or str(exc)})  # fmt: skip
            continue
        catalog.update_track(sid, files={fmt: str(path) for fmt, path in files.items()})
        rows.extend(
            {
                "soundcloud_id": sid,
                "title": track.get("title"),
                "format": fmt,
                "path": str(path),
                "status": "ok",
                "message": "",
            }
            for fmt, path in files.items()
        )
        if progress:
            progress("files", done, len(tracks))
    return rows


def files_missing_message(key: str, stage: str, failed: list[dict[str, Any]]) -> str | None:
    """One line naming each track left without its file and why, or None."""
    if not failed:
        return None
    named = "; ".join(
        f"{t['soundcloud_id']} {t['title']!r}: {t['reason']}" if t.get("title")
        else f"{t['soundcloud_id']}: {t['reason']}"
        for t in failed
    )  # fmt: skip
    return f"{key}: {len(failed)} track(s) left without their {stage}: {named}"
