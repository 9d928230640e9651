"""Audio steps: downloads, analysis and library files (converted and tagged), each
outcome recorded in the catalog as it lands."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, TrackRow, audio_file, effective_tempo, utc_now
from .progress import Progress

if TYPE_CHECKING:
    from ..audio.download import DownloadResult, StreamSource
    from ..audio.service import AnalysisService
    from ..sources import SoundCloudClient


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
    tracks: list[TrackRow],
    downloads_dir: str | Path,
    *,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> dict[int, DownloadResult]:
    """Fetch what is not on disk yet; record each outcome as it lands. A recording
    SoundCloud does not have (known from another service) has nothing to download from
    yet: "no source", no error. Returns each recording's outcome."""
    from ..audio import download_tracks
    from ..audio.download import DownloadResult, DownloadStatus

    reason = "not on SoundCloud (known from another service): no audio source yet"
    outcomes = {
        t.recording_id: DownloadResult(None, t.spotify_url or t.url or "",
                                       DownloadStatus.NO_SOURCE, reason=reason)
        for t in tracks
        if t.soundcloud_id is None
    }  # fmt: skip
    catalog.update_tracks(
        {rid: {"download_status": str(r.status), "download_reason": reason}
         for rid, r in outcomes.items()}
    )  # fmt: skip
    on_soundcloud = [t for t in tracks if t.soundcloud_id is not None]
    recording_of = {t.soundcloud_id: t.recording_id for t in on_soundcloud}
    total, done = len(on_soundcloud), 0

    def remember(result: DownloadResult) -> None:
        nonlocal done
        done += 1
        values: dict[str, Any] = {
            "download_status": str(result.status),
            "download_reason": result.reason,
        }
        if result.ok and result.path is not None:
            values.update(source_path=str(result.path), downloaded_at=utc_now())
        catalog.update_track(recording_of[result.soundcloud_id], **values)
        if progress:
            progress("download", done, total)

    results = download_tracks(
        on_soundcloud,
        downloads_dir,
        soundcloud_client.youtube_dl,
        max_workers=max_workers,
        on_result=remember,
        # one api-v2 request a track, from the transcodings the listing recorded
        streams=direct_streams(soundcloud_client, [t.as_dict() for t in on_soundcloud]),
    )
    outcomes.update({recording_of[r.soundcloud_id]: r for r in results})
    return outcomes


def range_label(tempo_range: tuple[float, float] | None) -> str | None:
    """How the catalog records a playlist's tempo range: "150-185", or None for none."""
    return None if tempo_range is None else f"{tempo_range[0]:g}-{tempo_range[1]:g}"


def track_tempo_ranges(
    catalog: Catalog,
    recording_ids: Iterable[int],
    ranges_by_playlist: Mapping[str, tuple[float, float] | None],
) -> dict[int, tuple[float, float] | None]:
    """Each recording's tempo range: the narrowest range among the playlists that hold
    it (a track in a drum & bass set and in a warm-up mix keeps one range, whichever
    playlist is synced, instead of being measured again by each in turn); None when
    none of its playlists sets one."""
    out: dict[int, tuple[float, float] | None] = {}
    for rid, keys in catalog.track_playlists(recording_ids).items():
        out[rid] = narrowest(*(ranges_by_playlist.get(k) for k in keys))
    return out


def narrowest(*ranges: tuple[float, float] | None) -> tuple[float, float] | None:
    """The narrowest of the tempo ranges given (None: no range), the same on every call."""
    given = [r for r in ranges if r]
    return min(given, key=lambda r: (r[1] - r[0], r)) if given else None


def needs_analysis(track: TrackRow, tempo_range: tuple[float, float] | None = None) -> bool:
    """Whether the track's audio must be measured: never measured, an older analysis
    version, or another tempo range than the one the playlist asks for now."""
    from ..audio.analysis import ANALYSIS_VERSION

    return not (
        track.analyzed_at
        and track.analysis_version == ANALYSIS_VERSION
        and track.tempo_range == range_label(tempo_range)
    )


def measure_files(
    paths: list[str],
    tempo_range: tuple[float, float],
    genres: list[str | None],
    workers: int = 2,
    *,
    library_root: str | Path | None = None,
    stage: list[list[str]] | None = None,
    service: AnalysisService | None = None,
) -> list[Any]:
    """Measure files, ``workers`` at once, results in order: in the machine's analysis
    process (``service``: librosa and numba loaded once for every run), or in threads
    of this process where there is none or it cannot be reached (the decode, FFTs and
    matrix products release the GIL). A file that cannot be measured gives a result with
    its error instead of stopping the others. ``stage``: for each file, the library
    formats it still lacks, written under ``library_root`` by the decode that feeds the
    analysis (`audio.staged`: one decode per track), for the library step to move in.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..audio.analysis import AnalysisResult, warm_up
    from ..audio.service import TrackJob, measure_track

    # absolute: the machine's analysis process works from a folder of its own
    root = None if library_root is None else os.path.abspath(library_root)
    jobs = [
        TrackJob(os.path.abspath(path), genre, tempo_range, root, tuple(formats))
        for path, genre, formats in zip(paths, genres, stage or [[] for _ in paths], strict=True)
    ]

    def one(job: TrackJob) -> AnalysisResult:
        measured = service.measure(job) if service is not None else None
        if measured is not None:
            return measured
        warm_up()  # once a process: numba's kernels are loaded under a lock
        return measure_track(job)

    if workers <= 1 or len(jobs) <= 1:
        return [one(job) for job in jobs]
    with ThreadPoolExecutor(min(workers, len(jobs)), thread_name_prefix="analysis") as pool:
        return list(pool.map(one, jobs))


def missing_formats(track: TrackRow, formats: Iterable[str]) -> list[str]:
    """The library formats ``track`` has no file of on disk yet."""
    return [f for f in formats if not (track.files.get(f) and Path(track.files[f]).exists())]


def analyse_audio(
    catalog: Catalog,
    tracks: list[TrackRow],
    *,
    workers: int = 2,
    progress: Progress | None = None,
    tempo_ranges: Mapping[int, tuple[float, float] | None] | None = None,
    force: bool = False,
    library_root: str | Path | None = None,
    formats: Iterable[str] = (),
    service: AnalysisService | None = None,
) -> list[dict[str, Any]]:
    """Measure each track's audio on disk (`audio_file`) once: a track already measured
    by this analysis version in this tempo range is not redone (unless ``force``); one
    measured by an older version is, from the same file, never downloaded again.
    ``tempo_ranges``: each recording's own range (its playlists'), which wins over the
    genre's prior and the default range. With ``library_root``, the one decode of each
    track also stages the ``formats`` it lacks for `write_library_files` (no second
    decode). ``service``: the machine's analysis process (`audio.service`), where it
    can be reached. Returns one report row per track."""
    from ..audio.analysis import DEFAULT_TEMPO_RANGE

    ranges = tempo_ranges or {}
    paths = {t.recording_id: audio_file(t) for t in tracks}
    on_disk = [t for t in tracks if paths[t.recording_id]]
    todo = [t for t in on_disk if force or needs_analysis(t, ranges.get(t.recording_id))]
    errors: dict[int, str] = {}
    measured: set[int] = set()
    if todo:
        if progress:
            progress("analysis", 0, len(todo))
        by_range: dict[tuple[float, float] | None, list[TrackRow]] = {}
        for t in todo:
            by_range.setdefault(ranges.get(t.recording_id), []).append(t)
        for tempo_range, group in by_range.items():
            # the service's genre settles the tempo octave where the beat leaves it in
            # doubt, unless the track's playlist sets its own range
            results = measure_files(
                [str(paths[t.recording_id]) for t in group],
                tempo_range or DEFAULT_TEMPO_RANGE,
                [None if tempo_range else t.genre for t in group],
                workers,
                library_root=library_root,
                stage=[missing_formats(t, formats) for t in group],
                service=service,
            )
            for t, result in zip(group, results, strict=True):
                if result.features is None:
                    errors[t.recording_id] = f"{paths[t.recording_id]}: {result.error}"
                    continue
                measured.add(t.recording_id)
                features = result.features
                catalog.update_track(
                    t.recording_id,
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
    now = catalog.rows(t.recording_id for t in on_disk)
    rows = []
    for listed in on_disk:  # playlist order
        rid = listed.recording_id
        t, failed = now.get(rid, listed), rid in errors
        rows.append(
            {
                "recording_id": rid,
                "soundcloud_id": t.soundcloud_id,
                "title": t.title,
                "artist": t.artist,
                "tempo": None if failed else t.tempo,
                "key": None if failed else t.key,
                "camelot": None if failed else t.camelot,
                "key_confidence": t.key_confidence,
                "duration_s": t.duration_s,
                "lufs": t.lufs,
                "tempo_confidence": t.tempo_confidence,
                "first_beat_s": None if failed else t.first_beat_s,
                "first_downbeat_s": None if failed else t.first_downbeat_s,
                "analysis_version": t.analysis_version,
                "status": "error" if failed else ("measured" if rid in measured else "kept"),
                "message": errors.get(rid, ""),
            }
        )
    return rows


def write_library_files(
    catalog: Catalog,
    tracks: list[TrackRow],
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
        rid = track.recording_id
        tags = TrackTags(
            title=track.title, artist=track.artist, album=album, genre=track.genre,
            tempo=effective_tempo(track),  # the DJ's correction in djay wins
            key=track.key, camelot=track.camelot, isrc=track.isrc, url=track.url, soundcloud_id=track.soundcloud_id, track_number=track.position,
            artwork=fetch_artwork(track.artwork_url, artwork_dir, track.soundcloud_id or rid,
                                  proxy=proxy),
        )  # fmt: skip
        fields = {**{k: v for k, v in track.as_dict().items() if v is not None},
                  "album": album or ""}  # fmt: skip
        try:
            source = audio_file(track)
            if source is None:
                raise FileNotFoundError("no audio on disk (not downloaded)")
            files = export_track(source, root, formats, fields, tags, template)
        except Exception as exc:  # one bad file must not stop the rest
            rows.append({"recording_id": rid, "title": track.title,
                         "format": ",".join(formats), "path": None, "status": "error",
                         "message": write_problem(exc, root) or str(exc)})  # fmt: skip
            continue
        catalog.update_track(rid, files={fmt: str(path) for fmt, path in files.items()})
        rows.extend(
            {
                "recording_id": rid,
                "title": track.title,
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
        f"{t['recording_id']} {t['title']!r}: {t['reason']}" if t.get("title")
        else f"{t['recording_id']}: {t['reason']}"
        for t in failed
    )  # fmt: skip
    return f"{key}: {len(failed)} track(s) left without their {stage}: {named}"
