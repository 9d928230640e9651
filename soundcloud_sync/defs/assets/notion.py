"""Catalog → Notion: one page per track, linked to the playlist's page; the analysis
written back; the audit that reads the pages back."""

from collections import Counter
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset_check,
)

from ...catalog import parse_time
from ...notion.report import readable
from ...steps import notion as notion_steps
from ...steps.notion import (
    REPORT_COLUMNS,
    missing_pages_message,
    notion_removals,
    report_rows,
    sync_notion_pages,
    track_label,
)
from ..partitions import PLAYLIST_TAG, PLAYLISTS, playlists_partitions
from ..resources import CatalogResource, NotionResource
from .common import markdown_table, status_counts, step_progress


class NotionTrackPagesConfig(Config):
    """Run config of the Notion step (all optional)."""

    # ISO-8601 time: write only the tracks that joined the playlist after it (a naive
    # time is UTC); the others are left as they are. The seed's `last_sync_time`.
    joined_after: str | None = None


@asset(
    partitions_def=playlists_partitions,
    group_name="notion",
    pool="notion_api",
    deps=["playlist_tracks"],
    output_required=False,
    description="A page per track in Music Tracks (created, updated, skipped, unlinked), "
    "linked both ways with the playlist's page; page ids are kept in the catalog.",
)
def notion_track_pages(
    context: AssetExecutionContext,
    config: NotionTrackPagesConfig,
    notion: NotionResource,
    catalog: CatalogResource,
):
    if not notion.enabled:
        context.log.warning(notion.disabled_reason)
        return
    from ...notion import NotionError, SchemaError

    key = context.partition_key
    joined_after = parse_time(config.joined_after)
    if config.joined_after and joined_after is None:
        raise Failure(description=f"{key}: joined_after: {config.joined_after!r} is no ISO time")
    store = catalog.catalog()
    playlist_row = store.playlist(key) or {"key": key, "url": key}
    try:
        report = sync_notion_pages(
            notion.sync(),
            store,
            key,
            playlist_row,
            [t.as_dict() for t in store.playlist_rows(key)],
            notion_removals(store, key),
            max_concurrent=notion.max_concurrent,
            progress=step_progress(context),
            joined_after=joined_after,
        )
    except (SchemaError, NotionError) as exc:
        raise Failure(description=f"{key}: {exc}") from exc
    for warning in report.warnings:
        context.log.warning(warning)
    rows = report_rows(report)
    counts = Counter(r["status"] for r in rows)
    metadata: dict[str, Any] = {
        "created": counts["created"],
        "updated": counts["updated"],
        "skipped": counts["skipped"],
        "linked": counts["linked"],
        "unlinked": counts["unlinked"],
        "unreadable": counts["unreadable"],
        "left_out": report.left_out,
        "errors": counts["error"],
        "sync_status": report.sync_status or "",
        "notion_requests": report.requests,
        "rate_limited_429s": report.rate_limited,
        "dagster/row_count": len(rows),
    }
    if report.playlist_page_url:
        metadata["playlist_page"] = MetadataValue.url(report.playlist_page_url)
    for status, name in (("unreadable", "unreadable_rows"), ("error", "error_rows")):
        if picked := [r for r in rows if r["status"] == status]:
            metadata[name] = MetadataValue.md(markdown_table(picked, REPORT_COLUMNS))
    metadata["failed_tracks"] = MetadataValue.json(report.failed_tracks())
    metadata["unreadable_tracks"] = MetadataValue.json(report.unreadable_tracks())
    for track in report.unreadable_tracks():
        context.log.warning(f"{key}: {track_label(track)}: {track['reason']}")
    missing = missing_pages_message(key, report)
    if missing:
        # everything that could be written is written; the run must not pass for complete
        for track in report.failed_tracks():
            context.log.error(
                f"{key}: no Notion page for {track_label(track)} "
                f"({track['title'] or 'untitled'}): {track['reason']}"
            )
        raise Failure(description=missing, metadata=metadata)
    yield MaterializeResult(metadata=metadata)


@asset(
    partitions_def=playlists_partitions,
    group_name="notion",
    pool="notion_api",
    deps=["notion_track_pages", "eagle_items"],
    output_required=False,
    description="Tempo, key, duration, loudness, file paths, Eagle id and Downloaded "
    "written back to each track's Notion page, only where a value changed.",
)
def notion_enrichment(
    context: AssetExecutionContext, notion: NotionResource, catalog: CatalogResource
):
    if not notion.enabled:
        context.log.warning(notion.disabled_reason)
        return
    store = catalog.catalog()
    rows = notion_steps.enrichment_rows(store.playlist_rows(context.partition_key))
    report = notion_steps.write_enrichment(
        notion.sync(), store, rows, max_concurrent=notion.max_concurrent
    )
    statuses = [r.status for r in report.tracks]
    yield MaterializeResult(
        metadata={
            **status_counts(statuses),
            "notion_requests": report.requests,
            "dagster/row_count": len(statuses),
        }
    )


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "no_duplicate_notion_pages",
            asset="notion_track_pages",
            description="In Notion, no SoundCloud id has two pages linked to the playlist.",
        ),
        AssetCheckSpec(
            "catalog_and_notion_agree",
            asset="notion_track_pages",
            description="Notion links the playlist's page to exactly the tracks the "
            "catalog holds for it.",
        ),
    ],
    pool="notion_api",
)
def notion_audit(context, notion: NotionResource, catalog: CatalogResource):
    """Reads pages back from Notion (one query per 100): the tagged playlist, or all."""
    store = catalog.catalog()
    key = context.run.tags.get(PLAYLIST_TAG) or context.run.tags.get("dagster/partition")
    playlists = store.playlists(
        [key] if key else context.instance.get_dynamic_partitions(PLAYLISTS)
    )
    playlists = [p for p in playlists if p and p.get("notion_page_id")]
    if not notion.enabled or not playlists:
        reason = notion.disabled_reason if not notion.enabled else "no playlist in Notion yet"
        for name in ("no_duplicate_notion_pages", "catalog_and_notion_agree"):
            yield AssetCheckResult(check_name=name, passed=True, metadata={"skipped": reason})
        return
    duplicates: dict[str, list] = {}
    disagree: dict[str, str] = {}
    for playlist in playlists:
        members = notion.sync().playlist_members(playlist["notion_page_id"])
        dupes = [sid for sid, pages in members.items() if sid and len(pages) > 1]
        if dupes:
            duplicates[playlist["key"]] = dupes
        # each track by its SoundCloud id, a track without one by its page; a track
        # SoundCloud would not let us read has no page, rightly
        in_catalog = {
            ("soundcloud", t.soundcloud_id) if t.soundcloud_id else ("page", t.notion_page_id)
            for t in store.playlist_rows(playlist["key"])
            if readable(t.as_dict()) or t.notion_page_id
        }
        in_notion = {
            ("soundcloud", sid) if sid else ("page", page)
            for sid, pages in members.items()
            for page in pages
        }
        if in_catalog != in_notion:
            disagree[playlist["key"]] = (
                f"{len(in_catalog - in_notion)} missing in Notion, "
                f"{len(in_notion - in_catalog)} extra"
            )
    checked = ", ".join(p["key"] for p in playlists)
    yield AssetCheckResult(
        check_name="no_duplicate_notion_pages",
        passed=not duplicates,
        severity=AssetCheckSeverity.ERROR,
        metadata={"playlists": checked, "duplicates": str(duplicates)[:2000]},
    )
    yield AssetCheckResult(
        check_name="catalog_and_notion_agree",
        passed=not disagree,
        severity=AssetCheckSeverity.WARN,
        metadata={"playlists": checked, "disagreements": str(disagree)[:2000]},
    )
