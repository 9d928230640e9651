"""Jobs: everything for one playlist partition."""

from dagster import AssetKey, AssetSelection, define_asset_job

# The Notion audit reads every page back: it runs in its own job, so that a re-sync
# of an unchanged playlist stays at three Notion requests.
NOTION_AUDIT = AssetSelection.checks_for_assets("notion_track_pages")

# djay's library is one asset of its own, synced by the `sync_djay` job (defs.djay).
DJAY = AssetSelection.groups("djay")

# The assets that read a playlist from its source: a run holding them syncs the playlist,
# whether the schedule, the sensor or the asset graph launched it.
LISTING = (AssetKey("playlist_metadata"), AssetKey("playlist_tracks"))
LISTING_STEP = "playlist_assets"  # the step that materializes them (one multi-asset)

sync_playlist_job = define_asset_job(
    "sync_playlist",
    selection=AssetSelection.all() - NOTION_AUDIT - DJAY,
    description="Sync one playlist: SoundCloud → catalog → Notion, and the audio library.",
)

audit_playlist_job = define_asset_job(
    "audit_playlist",
    selection=NOTION_AUDIT,
    description="Read a playlist's pages back from Notion: duplicates, and agreement "
    "with the catalog.",
)

# Measuring again needs no SoundCloud and no new pages: the features, the tags in the
# library files, the Notion write-back and the DJ exports that carry tempo and key.
# eagle_items stays in (it imports nothing twice): it orders the write-back after the tags.
REANALYSIS = AssetSelection.assets(
    "audio_features",
    "library_files",
    "eagle_items",
    "notion_enrichment",
    "playlist_m3u8",
    "rekordbox_collection",
)

reanalyze_audio_job = define_asset_job(
    "reanalyze_audio",
    selection=REANALYSIS - NOTION_AUDIT,
    description="Measure a playlist's tracks again from the files on disk (no download): "
    "every track analysed by an older version, never analysed, or in another tempo range "
    "(run config `ops: audio_features: config: {force: true}` redoes all), then write the "
    "new values to the catalog, the files' tags, Notion and the DJ exports. Backfill it "
    "over the playlists partitions to re-measure the whole library.",
)
