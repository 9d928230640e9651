"""Catalog → library: download, measure, convert and tag.

Each step reads what it needs from the catalog and records what it did there (the
catalog is the one store); what the UI shows of a step is its metadata.
"""

import statistics
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from ...catalog import Catalog, audio_file, display_name
from ...config import ConfigError
from ...playlists_file import TempoRange, check_tempo_range
from ...steps import audio as audio_steps
from ..partitions import playlists_partitions
from ..resources import (
    CatalogResource,
    LibraryResource,
    RegistryResource,
    SoundCloudResource,
)
from .common import live_tracks, markdown_table, status_counts, step_progress

UNAVAILABLE = ("preview-only", "geo-blocked", "drm", "gone")


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    pool="soundcloud_api",
    deps=["playlist_tracks"],
    description="The original audio of every available track, downloaded once "
    "(never a 30-second preview).",
)
def audio_files(
    context: AssetExecutionContext,
    soundcloud: SoundCloudResource,
    library: LibraryResource,
    catalog: CatalogResource,
) -> MaterializeResult:
    from ...audio.space import WriteFailed, plan_space

    tracks = live_tracks(catalog, context.partition_key)
    plan = plan_space([t.as_dict() for t in tracks], library.formats,
                      downloads=library.downloads, library=library.root)  # fmt: skip
    for line in plan.lines():  # disk space is part of the plan: said before any byte
        (context.log.warning if plan.short else context.log.info)(line)
    try:
        with soundcloud.client() as client:
            results = audio_steps.download_audio(
                client,
                catalog.catalog(),
                tracks,
                library.downloads,
                max_workers=library.max_downloads,
                progress=step_progress(context),
            )
    except WriteFailed as exc:  # the downloads folder itself cannot be made
        raise Failure(description=f"{context.partition_key}: {exc}") from None
    missing = [
        {"recording_id": rid, "soundcloud_id": r.soundcloud_id, "status": str(r.status),
         "reason": r.reason or ""}
        for rid, r in results.items()
        if str(r.status) in (*UNAVAILABLE, "error")
    ]  # fmt: skip
    for row in missing:
        context.log.warning(f"track {row['soundcloud_id']}: {row['status']}: {row['reason']}")
    fallbacks = [r for r in results.values() if r.via == "yt-dlp"]
    for r in fallbacks:
        context.log.info(f"track {r.soundcloud_id}: fetched through yt-dlp ({r.fallback})")
    titles = {t.recording_id: t.title for t in tracks}
    unwritten = [
        {"recording_id": rid, "soundcloud_id": r.soundcloud_id, "title": titles.get(rid),
         "reason": r.reason, "step": "audio_files"}
        for rid, r in results.items() if r.write_failed
    ]  # fmt: skip
    metadata: dict[str, Any] = {
        **status_counts(str(r.status) for r in results.values()),
        # api-v2 requests of this step (stream-URL look-ups, batched track look-ups,
        # yt-dlp's own where it was the fallback) and the tracks yt-dlp fetched
        "soundcloud_requests": client.budget.stats()["requests"],
        "soundcloud_429": client.budget.stats()["rate_limited"],
        "ytdlp_fallbacks": len(fallbacks),
        "dagster/row_count": len(results),
        "space": MetadataValue.json(plan.to_dict()),
        "failed_tracks": MetadataValue.json(unwritten),
        "not_downloaded": MetadataValue.md(
            markdown_table(missing, ["recording_id", "soundcloud_id", "status", "reason"])
        ),
    }
    # all or an error: a download that could not be written fails the step and the run
    # (the others are on disk; the next run fetches the rest)
    if message := audio_steps.files_missing_message(context.partition_key, "download", unwritten):
        raise Failure(description=message, metadata=metadata)
    return MaterializeResult(metadata=metadata)


class AudioFeaturesConfig(Config):
    """Run config of `audio_features` (launchpad or backfill): ``tempo_range`` [low, high]
    BPM for this run wins over playlists.yaml, the genre's prior and the default
    70-180; ``force`` measures every track again, also those at the current version."""

    tempo_range: list[float] | None = None
    force: bool = False


def _tempo_ranges(
    key: str,
    config: AudioFeaturesConfig,
    registry: RegistryResource,
    catalog: Catalog,
    recording_ids: list[int],
) -> tuple[dict[int, TempoRange | None], TempoRange | None]:
    """Each track's range and the playlist's own: this run's range for every track, else
    the narrowest that playlists.yaml sets for any playlist holding the track, else None
    (the default range and the genre's prior)."""
    try:
        if config.tempo_range is not None:
            tempo_range = check_tempo_range(f"run config: {key}: tempo_range", config.tempo_range)
            return dict.fromkeys(recording_ids, tempo_range), tempo_range
        entries = registry.entries()
    except ConfigError as exc:
        raise Failure(description=str(exc)) from None
    by_playlist: dict[str, TempoRange | None] = {}
    for e in entries:  # several track lines share one singles list: none drops another's
        by_playlist[e.key] = audio_steps.narrowest(by_playlist.get(e.key), e.tempo_range)
    ranges = audio_steps.track_tempo_ranges(catalog, recording_ids, by_playlist)
    return ranges, by_playlist.get(key)


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    deps=[audio_files],
    description="Tempo with confidence and beat grid (first beat, first bar start), key "
    "(standard and Camelot) with confidence, duration and loudness of every downloaded "
    "track, with the analysis version that measured them. Measures only what is new, "
    "measured by an older version or in another tempo range, from the file on disk.",
)
def audio_features(
    context: AssetExecutionContext,
    config: AudioFeaturesConfig,
    library: LibraryResource,
    catalog: CatalogResource,
    registry: RegistryResource,
) -> MaterializeResult:
    from ...audio.charts import cached_chart_markdown, playlist_chart_markdown
    from ...audio.service import AnalysisService
    from ...audio.service import available as service_available

    key = context.partition_key
    tracks = [t for t in live_tracks(catalog, key) if audio_file(t)]
    tempo_ranges, tempo_range = _tempo_ranges(
        key, config, registry, catalog.catalog(), [t.recording_id for t in tracks]
    )
    service = None
    if library.analysis_idle_seconds > 0 and service_available():  # librosa loaded once
        service = AnalysisService(library.analysis_idle_seconds)
    rows = audio_steps.analyse_audio(
        catalog.catalog(),
        tracks,
        workers=library.analysis_workers,
        progress=step_progress(context),
        tempo_ranges=tempo_ranges,
        force=config.force,
        # one decode per track: it also stages the library files `library_files` moves in
        library_root=library.root,
        formats=library.formats,
        service=service,
    )
    for row in rows:
        if row["status"] == "error":
            context.log.warning(f"track {row['title']!r} ({row['recording_id']}): {row['message']}")
    if service is not None and service.measured_by.get("here"):
        context.log.warning(
            f"{service.measured_by['here']} track(s) measured in this run's process instead "
            f"of the machine's analysis process: {service.unreachable}"
        )
    table = [{k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
             for row in rows]  # fmt: skip
    metadata: dict[str, Any] = {
        **status_counts(row["status"] for row in rows),
        "dagster/row_count": len(rows),
        "tempo_range": audio_steps.range_label(tempo_range) or "default (genre prior, 70-180)",
        "tracks": MetadataValue.md(
            markdown_table(table, ["title", "artist", "tempo", "key", "camelot", "lufs"])
        ),
    }
    if any(row["status"] == "measured" for row in rows):
        metadata["measured_by"] = (
            service.describe()
            if service
            else "this run's process (no analysis process: SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS=0)"
        )
    measured = [row for row in rows if row["tempo"] is not None]
    if measured:
        tempos, keys = [r["tempo"] for r in measured], [r["camelot"] for r in measured]
        metadata["median_tempo"] = float(statistics.median(tempos))
        chart = (
            cached_chart_markdown(tempos, keys, key, Path(library.charts_cache))
            if library.charts_cache
            else playlist_chart_markdown(tempos, keys, key)
        )
        metadata["tempo_and_keys"] = MetadataValue.md(chart)
    return MaterializeResult(metadata=metadata)


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    deps=[audio_features],
    description="The converted, fully tagged files in the library (AUDIO_FORMATS).",
)
def library_files(
    context: AssetExecutionContext,
    soundcloud: SoundCloudResource,
    library: LibraryResource,
    catalog: CatalogResource,
) -> MaterializeResult:
    key = context.partition_key
    store = catalog.catalog()
    playlist = store.playlist(key) or {}
    tracks = [t for t in live_tracks(catalog, key) if t.is_measured]
    rows = audio_steps.write_library_files(
        store,
        tracks,
        formats=library.formats,
        root=library.root,
        template=library.filename_template,
        album=display_name(playlist),
        artwork_dir=library.downloads,
        proxy=soundcloud.proxy,
        progress=step_progress(context),
    )
    failed = [
        {"recording_id": r["recording_id"], "title": r.get("title"), "reason": r["message"],
         "step": "library_files"}
        for r in rows if r["status"] == "error"
    ]  # fmt: skip
    metadata: dict[str, Any] = {
        **status_counts(r["status"] for r in rows),
        "formats": ", ".join(library.formats),
        "library": MetadataValue.path(library.root),
        "dagster/row_count": len(rows),
        "failed_tracks": MetadataValue.json(failed),
    }
    # all or an error, as the Notion step: every measured track gets its files, or the
    # run fails naming each one left without them and why (the next run completes them)
    if message := audio_steps.files_missing_message(key, "library files", failed):
        raise Failure(description=message, metadata=metadata)
    return MaterializeResult(metadata=metadata)


@asset_check(asset=audio_files, description="Every available track has its audio on disk.")
def every_available_track_downloaded(
    context: AssetCheckExecutionContext, catalog: CatalogResource
) -> AssetCheckResult:
    tracks = live_tracks(catalog, context.partition_key)
    missing = [t.soundcloud_id for t in tracks if t.download_status == "error"]
    return AssetCheckResult(
        passed=not missing,
        metadata={"missing": len(missing), "examples": ", ".join(map(str, missing[:10]))},
    )


@asset_check(
    asset=library_files,
    description="No file in the library is a preview: each lasts as long as its track.",
)
def no_previews_in_library(
    context: AssetCheckExecutionContext, catalog: CatalogResource
) -> AssetCheckResult:
    from ...audio.download import media_duration

    short, checked = [], 0
    for track in live_tracks(catalog, context.partition_key):
        full_ms = track.duration_ms
        for path in track.files.values():
            checked += 1
            length = media_duration(Path(path))
            if full_ms and length is not None and length < full_ms / 1000 - 5:
                short.append(path)
    return AssetCheckResult(
        passed=not short,
        metadata={
            "files_checked": checked,
            "short_files": len(short),
            "examples": "\n".join(short[:5]),
        },
    )
