"""Jobs: everything for one playlist partition."""

from dagster import AssetSelection, define_asset_job

sync_playlist_job = define_asset_job(
    "sync_playlist",
    selection=AssetSelection.all(),
    description="Sync one playlist: SoundCloud → catalog → Notion, and the audio library.",
)
