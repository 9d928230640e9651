"""Catalog → Notion: one page per track, linked to the playlist's page."""

from collections import Counter

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    Failure,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from ...pipeline import records, report_frame, sync_notion_pages
from ..partitions import playlists_partitions
from ..resources import CatalogResource, NotionResource
from ..runner import progress_message


def _progress(context: AssetExecutionContext):
    return lambda stage, done, total: context.log.info(progress_message(stage, done, total))


@asset(
    partitions_def=playlists_partitions,
    group_name="notion",
    pool="notion_api",
    ins={"playlist_tracks": AssetIn()},
    output_required=False,
    description="The Notion upsert: a page per track (created / updated / skipped / "
    "unlinked / error), linked both ways with the playlist's page.",
)
def notion_track_pages(
    context: AssetExecutionContext,
    playlist_tracks: pd.DataFrame,
    notion: NotionResource,
    catalog: CatalogResource,
):
    if not notion.enabled:
        context.log.warning(notion.disabled_reason)
        return
    from ...notion import NotionError, SchemaError

    key = context.partition_key
    store = catalog.catalog()
    playlist_row = store.playlist(key) or {"key": key, "url": key}
    try:
        report = sync_notion_pages(
            notion.sync(),
            store,
            key,
            playlist_row,
            records(playlist_tracks),
            store.removed_tracks(key, still_linked=True),
            max_concurrent=notion.max_concurrent,
            progress=_progress(context),
        )
    except (SchemaError, NotionError) as exc:
        raise Failure(description=f"{key}: {exc}") from exc
    for warning in report.warnings:
        context.log.warning(warning)
    frame = report_frame(report)
    counts = Counter(frame["status"])
    metadata = {
        "created": counts["created"],
        "updated": counts["updated"],
        "skipped": counts["skipped"],
        "unlinked": counts["unlinked"],
        "errors": counts["error"],
        "sync_status": report.sync_status or "",
        "notion_requests": report.requests,
        "rate_limited_429s": report.rate_limited,
        "dagster/row_count": len(frame),
    }
    if report.playlist_page_url:
        metadata["playlist_page"] = MetadataValue.url(report.playlist_page_url)
    errors = frame[frame["status"] == "error"]
    if len(errors):
        metadata["error_rows"] = MetadataValue.md(errors.head(20).to_markdown(index=False))
    yield Output(frame, metadata=metadata)


@asset_check(
    asset=notion_track_pages,
    description="No track has two pages: page ids are unique within the playlist "
    "and every SoundCloud id maps to one page.",
)
def no_duplicate_notion_pages(context, notion_track_pages: pd.DataFrame) -> AssetCheckResult:
    pages = notion_track_pages[notion_track_pages["status"] != "unlinked"].dropna(
        subset=["page_id"]
    )
    by_track = pages.groupby("soundcloud_id")["page_id"].nunique()
    by_page = pages.groupby("page_id")["soundcloud_id"].nunique()
    duplicates = sorted(by_track[by_track > 1].index.tolist())
    shared = sorted(by_page[by_page > 1].index.tolist())
    return AssetCheckResult(
        passed=not duplicates and not shared,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "tracks_with_several_pages": len(duplicates),
            "pages_shared_by_tracks": len(shared),
            "examples": ", ".join(map(str, (duplicates + shared)[:10])),
        },
    )
