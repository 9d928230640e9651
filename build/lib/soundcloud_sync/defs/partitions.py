"""One dynamic partition per registered listing: a set `<user>/sets/<slug>`, a user's
`<user>/likes` or `<user>/tracks`, the tracks added by hand `<user>/singles`, a Spotify
playlist `spotify/playlist/<id>` (see sources.urls)."""

from dagster import DynamicPartitionsDefinition

PLAYLISTS = "playlists"
playlists_partitions = DynamicPartitionsDefinition(name=PLAYLISTS)

# Runs that concern one playlist without being a partition run (the Notion audit).
PLAYLIST_TAG = "soundcloud_sync/playlist"
