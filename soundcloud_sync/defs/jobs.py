"""Jobs: everything for one playlist partition."""

from dagster import AssetSelection, define_asset_job

from .partitions import playlists_partitions

sync_playlist_job = define_asset_job(
    "sync_playlist",
    selection=AssetSelection.all(),
    partitions_def=playlists_partitions,
    description="Sync one playlist: SoundCloud → catalog → Notion, and the audio library.",
)
