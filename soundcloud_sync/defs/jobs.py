"""Jobs: everything for one playlist partition."""

from dagster import AssetSelection, define_asset_job

# The Notion audit reads every page back: it runs in its own job, so that a re-sync
# of an unchanged playlist stays at three Notion requests.
NOTION_AUDIT = AssetSelection.checks_for_assets("notion_track_pages")

sync_playlist_job = define_asset_job(
    "sync_playlist",
    selection=AssetSelection.all() - NOTION_AUDIT,
    description="Sync one playlist: SoundCloud → catalog → Notion, and the audio library.",
)

audit_playlist_job = define_asset_job(
    "audit_playlist",
    selection=NOTION_AUDIT,
    description="Read a playlist's pages back from Notion: duplicates, and agreement "
    "with the catalog.",
)
