"""The registry of playlists: one `playlists` partition each on the Dagster instance
(the one registry), and the URL to read each from in the catalog."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dagster import DagsterInstance
from sqlalchemy.exc import IntegrityError

from ..catalog import Catalog
from ..defs.partitions import PLAYLISTS


def register_playlists(
    instance: DagsterInstance, catalog: Catalog, urls_by_key: Mapping[str, str]
) -> list[str]:
    """Register playlists: a `playlists` partition each (the one registry), and the URL to
    read each from in the catalog. Returns the keys that were not registered before."""
    for key, url in urls_by_key.items():
        catalog.remember_playlist_url(key, url)
    new = [k for k in urls_by_key if not instance.has_dynamic_partition(PLAYLISTS, k)]
    if new:
        try:
            instance.add_dynamic_partitions(PLAYLISTS, new)
        except IntegrityError:
            # Another process (a second `sync` of the same new playlist) registered some of
            # them between our look and our write: add what is still missing.
            new = [k for k in new if not instance.has_dynamic_partition(PLAYLISTS, k)]
            if new:
                instance.add_dynamic_partitions(PLAYLISTS, new)
    return new


def unregister_playlists(instance: DagsterInstance, keys: Iterable[str]) -> None:
    """Drop the playlists' partitions; the catalog, Notion and the files keep everything."""
    for key in keys:
        if instance.has_dynamic_partition(PLAYLISTS, key):
            instance.delete_dynamic_partition(PLAYLISTS, key)


def registered_keys(instance: DagsterInstance) -> list[str]:
    """Every registered playlist's key, sorted."""
    return sorted(instance.get_dynamic_partitions(PLAYLISTS))
