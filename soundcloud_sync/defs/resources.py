"""Dagster resources: thin, configurable doors to the rooms.

Secrets arrive as `EnvVar` (see `definitions.py`), so Dagster shows them as
environment references and never stores their values in run config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext
from pydantic import PrivateAttr

from ..catalog import Catalog
from ..config import Settings


class CatalogResource(ConfigurableResource):
    """The local state store. `url` is any SQLAlchemy URL (SQLite or PostgreSQL)."""

    url: str

    def catalog(self) -> Catalog:
        return Catalog(self.url)


class CatalogIOManager(ConfigurableIOManager):
    """Stores each asset partition's DataFrame in the catalog database.

    Like Dagster's warehouse IO managers: one row per (asset, partition), so a
    run on another machine (Celery worker) reads what this one wrote.
    """

    catalog: CatalogResource

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if obj is None:
            return
        self.catalog.catalog().save_output(
            context.asset_key.to_user_string(), _partition(context), obj
        )

    def load_input(self, context: InputContext) -> pd.DataFrame:
        return self.catalog.catalog().load_output(
            context.asset_key.to_user_string(), _partition(context)
        )


def _partition(context: InputContext | OutputContext) -> str:
    if not context.has_asset_partitions:
        return "__all__"
    if isinstance(context, InputContext) and context.has_partition_key:
        # An unpartitioned asset check reading a partitioned asset sees every partition
        # upstream; the run's partition is the one it checks.
        keys = context.asset_partition_keys
        if len(keys) != 1:
            return context.partition_key
    return context.asset_partition_key


class SoundCloudResource(ConfigurableResource):
    """api-v2 access through yt-dlp. Client id and OAuth token come from `EnvVar`."""

    api_base: str = "https://api-v2.soundcloud.com/"
    client_id: str | None = None
    oauth_token: str | None = None
    proxy: str | None = None
    cache_dir: str

    def client(self) -> Any:
        from ..sources import SoundCloudClient

        return SoundCloudClient(
            api_base=self.api_base,
            client_id=self.client_id,
            oauth_token=self.oauth_token,
            proxy=self.proxy,
            cache_dir=Path(self.cache_dir),
        )


class NotionResource(ConfigurableResource):
    """The Notion catalog. Without a token every Notion step skips cleanly."""

    token: str | None = None
    base_url: str = "https://api.notion.com"
    tracks_database_id: str | None = None
    playlists_database_id: str | None = None
    requests_per_second: float = 3.0
    max_concurrent: int = 4
    state_dir: str
    property_mapping_file: str | None = None  # YAML: {tracks: {tempo: BPM}, playlists: {…}}

    _sync: Any = PrivateAttr(default=None)

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.tracks_database_id)

    @property
    def disabled_reason(self) -> str:
        if not self.token:
            return "NOTION_TOKEN is not set: Notion steps are skipped"
        return "NOTION_TRACKS_DATABASE_ID is not set: Notion steps are skipped"

    def sync(self) -> Any:
        """The room's upserter; one per resource so schemas are read once per step."""
        if self._sync is None:
            from ..notion import NotionCatalogSync
            from ..pipeline import property_mapping

            self._sync = NotionCatalogSync.from_settings(
                self.token or "",
                base_url=self.base_url,
                tracks_database_id=self.tracks_database_id,
                playlists_database_id=self.playlists_database_id,
                requests_per_second=self.requests_per_second,
                state_dir=self.state_dir,
                mapping=property_mapping(self.property_mapping_file),
            )
        return self._sync


class LibraryResource(ConfigurableResource):
    """Where audio lands and in which formats.

    `downloads` holds the originals as fetched (`<soundcloud id>.<ext>`); `root` holds
    the converted, tagged files, one folder per format.
    """

    root: str
    downloads: str
    formats: list[str] = ["aiff"]
    filename_template: str = "{artist} - {title}"
    max_downloads: int = 4
    analysis_workers: int = 2


class DjExportResource(ConfigurableResource):
    """Where the DJ exports are written, and how paths read on the machine that plays.

    `path_map` uses DJ_EXPORT_PATH_MAP's syntax: `/srv/music=/Volumes/music;…`.
    """

    playlists_dir: str
    collection_path: str
    path_map: str = ""


class EagleResource(ConfigurableResource):
    """Eagle's local API; unset means the Eagle step reports 'not configured'."""

    api_url: str | None = None


def resources_from_settings(settings: Settings) -> dict[str, Any]:
    """Build every resource from the environment, secrets as `EnvVar`."""
    import os

    from dagster import EnvVar

    def secret(name: str) -> Any:
        return EnvVar(name) if os.environ.get(name) else None

    catalog = CatalogResource(url=settings.catalog_database_url)
    return {
        "catalog": catalog,
        "io_manager": CatalogIOManager(catalog=catalog),
        "soundcloud": SoundCloudResource(
            api_base=settings.soundcloud_api_base,
            client_id=secret("SOUNDCLOUD_CLIENT_ID"),
            oauth_token=secret("SOUNDCLOUD_OAUTH_TOKEN"),
            proxy=settings.soundcloud_proxy,
            cache_dir=str(settings.cache_dir / "yt-dlp"),
        ),
        "notion": NotionResource(
            token=secret("NOTION_TOKEN"),
            base_url=settings.notion_base_url,
            tracks_database_id=settings.notion_tracks_database_id,
            playlists_database_id=settings.notion_playlists_database_id,
            requests_per_second=settings.notion_requests_per_second,
            state_dir=str(settings.home / "state"),
            property_mapping_file=settings.notion_mapping_file,
        ),
        "library": LibraryResource(
            root=str(settings.library_dir),
            downloads=str(settings.home / "downloads"),
            formats=list(settings.audio_formats),
        ),
        "eagle": EagleResource(api_url=settings.eagle_api_url),
        "dj_export": DjExportResource(
            playlists_dir=str(settings.library_dir / "playlists"),
            collection_path=str(settings.library_dir / "rekordbox.xml"),
            path_map=";".join(f"{a}={b}" for a, b in settings.dj_export_path_map),
        ),
    }
