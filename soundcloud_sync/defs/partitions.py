"""One dynamic partition per registered playlist, keyed `<user>/sets/<slug>`."""

from dagster import DynamicPartitionsDefinition

PLAYLISTS = "playlists"
playlists_partitions = DynamicPartitionsDefinition(name=PLAYLISTS)
