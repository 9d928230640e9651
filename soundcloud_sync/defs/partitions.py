"""One dynamic partition per registered playlist, keyed `<user>/sets/<slug>`."""

from dagster import DynamicPartitionsDefinition

PLAYLISTS = "playlists"
playlists_partitions = DynamicPartitionsDefinition(name=PLAYLISTS)

# Runs that concern one playlist without being a partition run (the Notion audit).
PLAYLIST_TAG = "soundcloud_sync/playlist"
