"""The importer: how the packages' results (SoundCloud, Notion, audio) meet the catalog,
step by step.

The Dagster assets call these functions, and so do the read-only paths of the API
(`dry_run`), so there is one implementation of each step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from .catalog import AUDIO_ON_DISK, Catalog, utc_now
from .sources import Playlist, SinglesRef, SpotifyPlaylistRef, TrackRef, parse_playlist_url

Progress = Callable[[str, int, int], None]
PROGRESS_PREFIX = "progress:"


def progress_message(stage: str, done: int, total: int) -> str:
    """The log line a step emits so a terminal can draw a bar per stage."""
    return f"{PROGRESS_PREFIX} {stage} {done}/{total}"


def parse_progress(message: str) -> tuple[str, int, int] | None:
    """The stage and counts of a progress line, or None for any other line."""
    if not message.startswith(PROGRESS_PREFIX):
        return None
    try:
        stage, counts = message[len(PROGRESS_PREFIX) :].split()
        done, total = counts.split("/")
        return stage, int(done), int(total)
    except ValueError:
        return None


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python dicts (NaN becomes None, numpy ints become int)."""
    if frame.empty:
        return []
    plain = frame.astype(object)
    return plain.where(plain.notna(), None).to_dict(orient="records")


# -- SoundCloud -------------------------------------------------------------------------


def read_soundcloud(
    client: Any, catalog: Catalog, url: str, also: Iterable[str] = ()
) -> tuple[Playlist, dict[str, int]]:
    """A SoundCloud listing as the catalog records it, and the ids of hand-picked URLs
    read for the first time. A singles listing is the tracks added by hand (plus
    ``also``: the dry run's track, not added yet); any other is what SoundCloud lists."""
    ref = parse_playlist_url(url)
    if not isinstance(ref, SinglesRef | TrackRef):
        return client.fetch_playlist(url), {}
    singles = ref.singles if isinstance(ref, TrackRef) else ref
    picked = catalog.picks(singles.key)
    known = {pick_url for pick_url, _ in picked}
    extra = [(pick_url, None) for pick_url in also if pick_url not in known]
    playlist, resolved = client.fetch_singles(singles, [*picked, *extra])
    return playlist, resolved


# -- Notion ---------------------------------------------------------------------------


def notion_playlist(playlist_row: Mapping[str, Any]) -> dict[str, Any]:
    """The playlist as the Notion sync wants it (public URL: never the secret token;
    a Spotify playlist's URL goes to its own property)."""
    url = parse_playlist_url(playlist_row["url"]).public_url
    spotify = isinstance(parse_playlist_url(playlist_row["key"]), SpotifyPlaylistRef)
    return {
        "key": playlist_row["key"],
        "url": None if spotify else url,
        "spotify_url": url if spotify else None,
        "name": playlist_row.get("name_override") or playlist_row.get("title"),
        "curator": playlist_row.get("curator"),
        "track_count": playlist_row.get("track_count"),
        # removals are applied only when the catalog could explain the listing
        "ids_complete": bool(playlist_row.get("listing_explained", True)),
    }


def known_pages(catalog_tracks: pd.DataFrame, *, linked: bool | None = None) -> dict[int, Any]:
    """What the catalog remembers of each track's page: no lookup needed for these.
    ``linked`` overrides the playlist link (tracks written without a playlist)."""
    from .notion import KnownPage

    known = {}
    for row in records(catalog_tracks):
        if row.get("notion_page_id"):
            known[int(row["soundcloud_id"])] = KnownPage(
                page_id=row["notion_page_id"],
                hash=row.get("notion_hash"),
                linked=bool(row.get("notion_linked")) if linked is None else linked,
            )
    return known


def with_availability(
    track_rows: list[dict[str, Any]], catalog_tracks: pd.DataFrame
) -> list[dict[str, Any]]:
    """Rows carrying the Availability Notion shows: the last download's verdict, if any,
    else what SoundCloud says."""
    from .notion.schema import availability_label

    downloads = {int(r["soundcloud_id"]): r.get("download_status") for r in records(catalog_tracks)}
    return [
        {
            **row,
            "availability": availability_label(
                row.get("availability"), downloads.get(int(row["soundcloud_id"]))
            ),
        }
        for row in track_rows
    ]


def page_recorder(
    catalog: Catalog, key: str | None, total: int, progress: Progress | None = None
) -> Callable[[Any], None]:
    """The on_page callback: store each page id (and its link to the playlist ``key``)
    the moment Notion answers, so a run killed later never makes the page twice."""
    done = 0

    def remember(result: Any) -> None:
        nonlocal done
        done += 1
        if result.page_id and result.status != "error":
            catalog.update_track(
                result.soundcloud_id, notion_page_id=result.page_id, notion_hash=result.hash
            )
            if key is not None:
                catalog.set_notion_linked(key, result.soundcloud_id, result.linked)
        if progress and (done == total or done % 25 == 0):
            progress("notion", min(done, total), total)

    return remember


def notion_removals(catalog: Catalog, key: str, pending: Iterable[int] = ()) -> list[int]:
    """Tracks whose link to the playlist's page must go: every track that left the
    playlist and is still linked, plus ``pending`` (left in a listing not yet recorded,
    the dry run's case) when they are linked now."""
    removed = set(catalog.removed_tracks(key, still_linked=True))
    pending = set(pending)
    if pending:
        current = catalog.playlist_tracks(key)
        linked = {int(r["soundcloud_id"]) for r in records(current) if r.get("notion_linked")}
        removed |= pending & linked
    return sorted(removed)


def sync_notion_pages(
    notion_sync: Any,
    catalog: Catalog,
    key: str,
    playlist_row: Mapping[str, Any],
    track_rows: list[dict[str, Any]],
    removed_ids: Iterable[int],
    *,
    dry_run: bool = False,
    max_concurrent: int = 4,
    progress: Progress | None = None,
) -> Any:
    """The Notion step: upsert the playlist's pages, unlink ``removed_ids``; remember
    every page id the moment it is known. ``dry_run`` reads all and writes nothing."""
    catalog_tracks = catalog.playlist_tracks(key, include_removed=True)
    known = known_pages(catalog_tracks)
    removed = {sid: known[sid].page_id if sid in known else None for sid in removed_ids}
    report = notion_sync.upsert_playlist(
        notion_playlist(playlist_row),
        with_availability(track_rows, catalog_tracks),
        known=known,
        playlist_page_id=playlist_row.get("notion_page_id"),
        removed=removed,
        dry_run=dry_run,
        max_concurrent=max_concurrent,
        on_page=None if dry_run else page_recorder(catalog, key, len(track_rows), progress),
    )
    if not dry_run:
        for result in report.unlinked:
            if result.status == "unlinked":
                catalog.set_notion_linked(key, result.soundcloud_id, False)
        catalog.update_playlist(
            key,
            notion_page_id=report.playlist_page_id,
            notion_page_url=report.playlist_page_url,
            last_synced_at=utc_now(),
            sync_status=report.sync_status,
        )
    return report


def missing_pages_message(key: str, report: Any) -> str | None:
    """One line naming each track left without its page (or its unlink), or None."""
    failed = report.failed_tracks()
    if not failed:
        return None
    named = "; ".join(
        f"{t['soundcloud_id']} {t['title']!r}: {t['reason']}" if t["title"]
        else f"{t['soundcloud_id']}: {t['reason']}"
        for t in failed
    )  # fmt: skip
    return f"{key}: {len(failed)} track(s) left without their Notion page: {named}"


def upsert_track_pages(
    notion_sync: Any,
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    batch_size: int = 50,
    max_concurrent: int = 4,
) -> dict[str, Any]:
    """Tracks without a playlist into Music Tracks: the same upsert (lookup in bulk,
    create or fill in, never a duplicate), in batches that share one lookup."""
    counts: Counter[str] = Counter()
    page_ids: dict[int, str] = {}
    failed: list[dict[str, Any]] = []
    for start in range(0, len(tracks), max(1, batch_size)):
        batch = tracks[start : start + max(1, batch_size)]
        in_catalog = catalog.tracks_by_id(int(t["soundcloud_id"]) for t in batch)
        report = notion_sync.upsert_tracks(
            with_availability(batch, pd.DataFrame(list(in_catalog.values()))),
            known=known_pages(pd.DataFrame(list(in_catalog.values())), linked=True),
            max_concurrent=max_concurrent,
            on_page=page_recorder(catalog, None, len(batch)),
        )
        counts.update(r.status for r in report.tracks)
        page_ids.update({r.soundcloud_id: r.page_id for r in report.tracks if r.page_id})
        failed.extend(report.failed_tracks())
    return {
        "created": counts["created"],
        "updated": counts["updated"],
        "skipped": counts["skipped"],
        "errors": counts["error"],
        "failed_tracks": failed,
        "unreadable": counts["unreadable"],
        "page_ids": page_ids,
    }


def report_frame(report: Any) -> pd.DataFrame:
    """One row per track (and per unlinked track): what happened to its page."""
    columns = ["soundcloud_id", "title", "page_id", "status", "message"]
    rows = [
        {
            "soundcloud_id": r.soundcloud_id,
            "title": r.title,
            "page_id": r.page_id,
            "status": r.status,
            "message": r.message,
        }
        for r in [*report.tracks, *report.unlinked]
    ]
    return pd.DataFrame(rows, columns=columns)


def property_mapping(path: str | None) -> Any:
    """The user's property names: NOTION_PROPERTY_MAPPING is the path of a YAML file
    (see docs/notion-mapping.example.yaml), or unset for the default names."""
    if not path:
        return None
    from .notion import SchemaMapping

    return SchemaMapping.from_yaml(path)


def plan_notion_sync(
    playlist: Any,
    catalog: Catalog,
    notion_sync: Any | None,
    *,
    playlist_name: str | None = None,
) -> dict[str, Any]:
    """`dry_run`: the Notion step itself with writes turned off, on what SoundCloud lists
    now (what the listing would change in the catalog is worked out, not stored).
    Without a Notion connection (`notion_sync` None) only the catalog's side is told."""
    known_row = catalog.playlist(playlist.key) or {}
    change = catalog.preview_playlist(playlist)
    playlist = catalog.resolve_recordings(playlist)
    playlist_row = {
        **known_row,
        "key": playlist.key,
        "url": playlist.url,
        "title": playlist.title,
        "name_override": playlist_name or known_row.get("name_override"),
        "curator": playlist.curator,
        "track_count": playlist.track_count,
    }
    rows = [t.to_row() for t in playlist.tracks]
    playlist_row["listing_explained"] = change.removals_trusted
    plan: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.url).public_url,
        "skipped_entries": [
            {"position": e.position, "name": e.name, "reason": e.reason} for e in playlist.skipped
        ],
        "playlist_name": playlist_row["name_override"] or playlist.title,
        "total_tracks": len(rows),
        "new_to_catalog": len(change.added),
        "removed_from_playlist": len(change.removed),
        "dry_run": True,
    }
    if notion_sync is None:
        return {**plan, "notion": "skipped: NOTION_TOKEN or NOTION_TRACKS_DATABASE_ID not set"}
    report = sync_notion_pages(
        notion_sync,
        catalog,
        playlist.key,
        playlist_row,
        rows,
        notion_removals(catalog, playlist.key, change.removed),
        dry_run=True,
    )
    stats = report.stats()
    return {
        **plan,
        **{k: stats[k] for k in ("tracks_added", "tracks_updated", "tracks_skipped")},
        **{k: stats[k] for k in ("tracks_unlinked", "errors", "failed_tracks", "unreadable")},
        "notion_requests": stats["notion_requests"],
        "warnings": stats["warnings"],
        "plan": [
            {"soundcloud_id": r.soundcloud_id, "action": r.status, "page_id": r.page_id}
            for r in [*report.tracks, *report.unlinked]
            if r.status != "skipped"
        ],
    }


# -- Spotify-only recordings ------------------------------------------------------------

# At most this many recordings are looked up per run, each costing 1 or 2 SoundCloud
# requests: 50 of SoundCloud's ~600 per 10 minutes; the rest wait for the next run.
SOUNDCLOUD_LOOKUPS_PER_RUN = 25


def find_on_soundcloud(
    soundcloud_client: Any, catalog: Catalog, key: str, limit: int = SOUNDCLOUD_LOOKUPS_PER_RUN
) -> dict[str, Any]:
    """Look up on SoundCloud, by ISRC, the playlist's recordings known only from Spotify
    (each once): one found is kept under SoundCloud's track, so its audio is downloaded
    and its page gains the SoundCloud identity. Returns what was looked up and found."""
    from .sources.lookup import find_recording

    rows = catalog.unsearched_spotify_only(key, limit)
    found, requests = [], 0
    for row in rows:
        track, spent = find_recording(soundcloud_client, row["isrc"], row["title"], row["artist"])
        requests += spent
        if track is None:
            catalog.update_track(row["soundcloud_id"], soundcloud_searched_at=utc_now())
            continue
        catalog.adopt_soundcloud_track(row["soundcloud_id"], track)
        found.append({"spotify_id": row["spotify_id"], "soundcloud_id": track.soundcloud_id,
                      "title": row["title"], "soundcloud_url": track.url})  # fmt: skip
    return {"soundcloud_lookups": len(rows), "soundcloud_lookup_requests": requests,
            "found_on_soundcloud": found}  # fmt: skip


# -- audio ----------------------------------------------------------------------------


def is_measured(track: Mapping[str, Any]) -> bool:
    """The catalog holds an analysis of this track's file."""
    return bool(track.get("analyzed_at")) and track.get("tempo") is not None


def download_audio(
    soundcloud_client: Any,
    catalog: Catalog,
    track_rows: list[dict[str, Any]],
    downloads_dir: Any,
    *,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> list[Any]:
    """Fetch what is not on disk yet; record each outcome as it lands. A recording
    known only from Spotify has nothing to download from yet: "no source", no error."""
    from .audio import download_tracks
    from .audio.download import DownloadResult, DownloadStatus

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

    def remember(result: Any) -> None:
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
    )


def audio_on_disk(track: Mapping[str, Any]) -> str | None:
    """The file to measure: the download, or a library file when the download was
    deleted; None when the track has no audio on disk."""
    from pathlib import Path

    if track.get("download_status") not in AUDIO_ON_DISK:
        return None
    candidates = [track.get("source_path"), *(track.get("files") or {}).values()]
    existing = [p for p in candidates if p and Path(p).exists()]
    return existing[0] if existing else track.get("source_path")


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
    path: str,
    tempo_range: tuple[float, float] | None = None,
) -> bool:
    """Whether ``path`` must be measured: never measured, another file, an older analysis
    version, or another tempo range than the one the playlist asks for now."""
    from .audio.analysis import ANALYSIS_VERSION

    same_file = path in (track.get("source_path"), *(track.get("files") or {}).values())
    return not (
        track.get("analyzed_at")
        and same_file
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

    from .audio.analysis import AnalysisError, AnalysisResult, analyze_file, warm_up

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
    from .audio.analysis import DEFAULT_TEMPO_RANGE

    ranges = tempo_ranges or {}
    known = catalog.tracks_by_id(f["soundcloud_id"] for f in files)
    todo = [
        f
        for f in files
        if force
        or needs_analysis(
            known.get(f["soundcloud_id"], {}), f["path"], ranges.get(f["soundcloud_id"])
        )
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
                    musical_key=features.key,
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
                "key": None if failed else track.get("musical_key"),
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
    root: Any,
    template: str,
    album: str | None,
    artwork_dir: Any,
    proxy: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Convert and tag each measured track into every configured format."""
    from .audio import TrackTags, export_track, fetch_artwork

    rows, formats = [], list(formats)
    for done, track in enumerate(tracks, start=1):
        sid = int(track["soundcloud_id"])
        tags = TrackTags(
            title=track.get("title"), artist=track.get("artist"), album=album,
            genre=track.get("genre"), bpm=track.get("tempo"), key=track.get("musical_key"),
            camelot=track.get("camelot"), isrc=track.get("isrc"), url=track.get("url"),
            soundcloud_id=sid, track_number=track.get("position"),
            artwork=fetch_artwork(track.get("artwork_url"), artwork_dir, sid, proxy=proxy),
        )  # fmt: skip
        fields = {**{k: v for k, v in track.items() if v is not None}, "album": album or ""}
        try:
            files = export_track(track["source_path"], root, formats, fields, tags, template)
        except Exception as exc:  # one bad file must not stop the rest
            rows.append({"soundcloud_id": sid, "format": ",".join(formats), "path": None,
                         "status": "error", "message": str(exc)})  # fmt: skip
            continue
        catalog.update_track(sid, files={fmt: str(path) for fmt, path in files.items()})
        rows.extend(
            {"soundcloud_id": sid, "format": fmt, "path": str(path), "status": "ok", "message": ""}
            for fmt, path in files.items()
        )
        if progress:
            progress("files", done, len(tracks))
    return rows


def import_into_eagle(
    eagle: Any,
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    folder: str,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Import each track's first library file once; remember the Eagle item id."""
    from .eagle import track_tags

    rows = []
    for done, track in enumerate(tracks, start=1):
        files = track.get("files") or {}
        path = next(iter(files.values()), None)
        if not path:
            continue
        outcome = eagle.import_file(
            path,
            name=f"{track.get('artist')} - {track.get('title')}",
            website=track["url"],
            folder=folder,
            tags=track_tags(folder, track.get("genre"), track.get("musical_key"),
                            track.get("camelot"), track.get("tempo")),
            annotation=f"SoundCloud id {track['soundcloud_id']}",
        )  # fmt: skip
        if outcome.item_id:
            catalog.update_track(track["soundcloud_id"], eagle_id=outcome.item_id)
        rows.append({"soundcloud_id": track["soundcloud_id"], "eagle_id": outcome.item_id,
                     "status": outcome.status, "message": outcome.reason or ""})  # fmt: skip
        if outcome.status == "not-running":
            break
        if progress:
            progress("eagle", done, len(tracks))
    return rows


def enrichment_rows(catalog_tracks: pd.DataFrame) -> list[dict[str, Any]]:
    """What the write-back sends per page: analysis, files, Eagle id, when processed."""
    from .notion.schema import availability_label

    rows = []
    for t in records(catalog_tracks):
        if not t.get("notion_page_id") or not (t.get("analyzed_at") or t.get("download_status")):
            continue  # nothing new to say about it yet
        if t.get("download_status") == "no-source":
            continue  # nothing to download it from: nothing measured, nothing to write
        files = t.get("files") or {}
        rows.append(
            {
                "soundcloud_id": t["soundcloud_id"],
                "page_id": t["notion_page_id"],
                "enrichment_hash": t.get("enrichment_hash"),
                "tempo": t.get("tempo"),
                "key": t.get("musical_key"),
                "camelot": t.get("camelot"),
                "key_confidence": t.get("key_confidence"),
                "duration_s": t.get("duration_s"),
                "lufs": t.get("lufs"),
                "analysis_version": t.get("analysis_version"),
                "downloaded": t.get("download_status") in AUDIO_ON_DISK,
                "aiff_path": files.get("aiff"),
                "wav_path": files.get("wav"),
                "m4a_path": files.get("m4a"),
                "eagle_id": t.get("eagle_id"),
                "processed_at": t.get("analyzed_at"),
                "availability": availability_label(t.get("availability"), t.get("download_status")),
            }
        )
    return rows


def write_enrichment(
    notion_sync: Any,
    catalog: Catalog,
    rows: list[dict[str, Any]],
    *,
    max_concurrent: int = 4,
) -> Any:
    """Send only changed values; remember what was written (its hash) per page."""

    def remember(result: Any) -> None:
        if result.status == "updated":
            catalog.update_track(result.soundcloud_id, enrichment_hash=result.hash)

    report = notion_sync.update_enrichment(rows, max_concurrent=max_concurrent, on_page=remember)
    return report
