"""Catalog → library: download, measure, convert and tag, import into Eagle, write back."""

from collections import Counter
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from ... import pipeline
from ..partitions import playlists_partitions
from ..resources import (
    CatalogResource,
    EagleResource,
    LibraryResource,
    NotionResource,
    SoundCloudResource,
)
from ..runner import progress_message

UNAVAILABLE = ("preview-only", "geo-blocked", "drm", "gone")


def _progress(context: AssetExecutionContext):
    return lambda stage, done, total: context.log.info(progress_message(stage, done, total))


def _counts(frame: pd.DataFrame, column: str = "status") -> dict[str, int]:
    return dict(sorted(Counter(frame[column]).items())) if len(frame) else {}


def _live_tracks(catalog: CatalogResource, key: str) -> list[dict]:
    return pipeline.records(catalog.catalog().playlist_tracks(key))


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    pool="soundcloud_api",
    description="The original audio of every available track, downloaded once "
    "(never a 30-second preview).",
)
def audio_files(
    context: AssetExecutionContext,
    playlist_tracks: pd.DataFrame,
    soundcloud: SoundCloudResource,
    library: LibraryResource,
    catalog: CatalogResource,
) -> Output[pd.DataFrame]:
    with soundcloud.client() as client:
        results = pipeline.download_audio(
            client,
            catalog.catalog(),
            pipeline.records(playlist_tracks),
            library.downloads,
            max_workers=library.max_downloads,
            progress=_progress(context),
        )
    frame = pd.DataFrame(
        [
            {"soundcloud_id": r.soundcloud_id, "status": str(r.status),
             "path": str(r.path) if r.path else None, "format_id": r.format_id,
             "reason": r.reason or ""}
            for r in results
        ],
        columns=["soundcloud_id", "status", "path", "format_id", "reason"],
    )  # fmt: skip
    unavailable = frame[frame["status"].isin([*UNAVAILABLE, "error"])]
    for row in unavailable.itertuples():
        context.log.warning(f"track {row.soundcloud_id}: {row.status}: {row.reason}")
    return Output(
        frame,
        metadata={
            **{f"status/{k}": v for k, v in _counts(frame).items()},
            "dagster/row_count": len(frame),
            "not_downloaded": MetadataValue.md(
                unavailable.to_markdown(index=False) if len(unavailable) else "none"
            ),
        },
    )


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    description="Tempo with confidence and beat grid (first beat, first bar start), key "
    "(standard and Camelot) with confidence, duration and loudness of every downloaded "
    "track, with the analysis version that measured them.",
)
def audio_features(
    context: AssetExecutionContext,
    audio_files: pd.DataFrame,
    library: LibraryResource,
    catalog: CatalogResource,
) -> Output[pd.DataFrame]:
    from ...audio import playlist_chart_markdown

    ok = audio_files[audio_files["status"].isin(["downloaded", "skipped-existing"])]
    rows = pipeline.analyse_audio(
        catalog.catalog(),
        ok[["soundcloud_id", "path"]].to_dict(orient="records"),
        workers=library.analysis_workers,
        progress=_progress(context),
    )
    frame = pd.DataFrame(
        rows,
        columns=["soundcloud_id", "title", "artist", "tempo", "key", "camelot",
                 "key_confidence", "duration_s", "lufs", "tempo_confidence", "first_beat_s",
                 "first_downbeat_s", "analysis_version", "status", "message"],
    )  # fmt: skip
    table = frame[["title", "artist", "tempo", "key", "camelot", "lufs"]].round(2)
    metadata: dict[str, Any] = {
        **{f"status/{k}": v for k, v in _counts(frame).items()},
        "dagster/row_count": len(frame),
        "tracks": MetadataValue.md(table.to_markdown(index=False) if len(table) else "none"),
    }
    measured = frame.dropna(subset=["tempo"])
    if len(measured):
        metadata["median_bpm"] = float(measured["tempo"].median())
        metadata["tempo_and_keys"] = MetadataValue.md(
            playlist_chart_markdown(measured["tempo"], measured["camelot"], context.partition_key)
        )
    return Output(frame, metadata=metadata)


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    description="The converted, fully tagged files in the library (AUDIO_FORMATS).",
)
def library_files(
    context: AssetExecutionContext,
    audio_features: pd.DataFrame,
    soundcloud: SoundCloudResource,
    library: LibraryResource,
    catalog: CatalogResource,
) -> Output[pd.DataFrame]:
    key = context.partition_key
    store = catalog.catalog()
    playlist = store.playlist(key) or {}
    measured = set(audio_features.loc[audio_features["status"] != "error", "soundcloud_id"])
    tracks = [t for t in _live_tracks(catalog, key) if t["soundcloud_id"] in measured]
    rows = pipeline.write_library_files(
        store,
        tracks,
        formats=library.formats,
        root=library.root,
        template=library.filename_template,
        album=playlist.get("name_override") or playlist.get("title"),
        artwork_dir=library.downloads,
        proxy=soundcloud.proxy,
        progress=_progress(context),
    )
    frame = pd.DataFrame(rows, columns=["soundcloud_id", "format", "path", "status", "message"])
    for row in frame[frame["status"] == "error"].itertuples():
        context.log.warning(f"track {row.soundcloud_id} ({row.format}): {row.message}")
    return Output(
        frame,
        metadata={
            **{f"status/{k}": v for k, v in _counts(frame).items()},
            "formats": ", ".join(library.formats),
            "library": MetadataValue.path(library.root),
            "dagster/row_count": len(frame),
        },
    )


@asset(
    partitions_def=playlists_partitions,
    group_name="audio",
    description="Each library file imported once into Eagle (when Eagle is running).",
)
def eagle_items(
    context: AssetExecutionContext,
    library_files: pd.DataFrame,
    eagle: EagleResource,
    catalog: CatalogResource,
) -> Output[pd.DataFrame]:
    from ...eagle import EagleClient

    columns = ["soundcloud_id", "eagle_id", "status", "message"]
    if not eagle.api_url:
        context.log.info("EAGLE_API_URL is not set: Eagle import skipped")
        return Output(pd.DataFrame(columns=columns), metadata={"eagle": "not configured"})
    key = context.partition_key
    store = catalog.catalog()
    playlist = store.playlist(key) or {}
    with EagleClient(eagle.api_url) as client:
        status = client.status()
        if not status.running:
            context.log.warning(status.message)
            return Output(pd.DataFrame(columns=columns), metadata={"eagle": status.message})
        written = set(library_files.loc[library_files["status"] != "error", "soundcloud_id"])
        tracks = [t for t in _live_tracks(catalog, key) if t["soundcloud_id"] in written]
        rows = pipeline.import_into_eagle(
            client,
            store,
            tracks,
            folder=playlist.get("name_override") or playlist.get("title") or key,
            progress=_progress(context),
        )
    frame = pd.DataFrame(rows, columns=columns)
    return Output(
        frame,
        metadata={
            "eagle": f"running at {eagle.api_url}",
            **{f"status/{k}": v for k, v in _counts(frame).items()},
        },
    )


@asset(
    partitions_def=playlists_partitions,
    group_name="notion",
    pool="notion_api",
    output_required=False,
    description="Tempo, key, duration, loudness, file paths, Eagle id and Downloaded "
    "written back to each track's Notion page, only where a value changed.",
)
def notion_enrichment(
    context: AssetExecutionContext,
    notion_track_pages: pd.DataFrame,
    eagle_items: pd.DataFrame,
    notion: NotionResource,
    catalog: CatalogResource,
):
    if not notion.enabled:
        context.log.warning(notion.disabled_reason)
        return
    key = context.partition_key
    store = catalog.catalog()
    rows = pipeline.enrichment_rows(store.playlist_tracks(key))
    report = pipeline.write_enrichment(
        notion.sync(), store, rows, max_concurrent=notion.max_concurrent
    )
    frame = pipeline.report_frame(report)
    yield Output(
        frame,
        metadata={
            **{f"status/{k}": v for k, v in _counts(frame).items()},
            "notion_requests": report.requests,
            "dagster/row_count": len(frame),
        },
    )


@asset_check(asset=audio_files, description="Every available track has its audio on disk.")
def every_available_track_downloaded(audio_files: pd.DataFrame) -> AssetCheckResult:
    missing = audio_files[audio_files["status"] == "error"]
    return AssetCheckResult(
        passed=missing.empty,
        metadata={
            "missing": len(missing),
            "examples": ", ".join(map(str, missing["soundcloud_id"].head(10))),
        },
    )


@asset_check(
    asset=library_files,
    description="No file in the library is a preview: each lasts as long as its track.",
)
def no_previews_in_library(
    library_files: pd.DataFrame, catalog: CatalogResource
) -> AssetCheckResult:
    from ...audio.download import media_duration

    paths = library_files.dropna(subset=["path"])
    expected = catalog.catalog().tracks_by_id(paths["soundcloud_id"])
    short = []
    for row in paths.itertuples():
        full_ms = expected.get(row.soundcloud_id, {}).get("duration_ms")
        length = media_duration(row.path)
        if full_ms and length is not None and length < full_ms / 1000 - 5:
            short.append(row.path)
    return AssetCheckResult(
        passed=not short,
        metadata={
            "files_checked": len(paths),
            "short_files": len(short),
            "examples": "\n".join(short[:5]),
        },
    )
