"""Dagster resources: thin, configurable doors to SoundCloud, Spotify, Notion, Eagle, the
catalog and the library.

Secrets arrive as `EnvVar` (see `definitions.py`), so Dagster shows them as
environment references and never stores their values in run config.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource, InitResourceContext, build_resources
from pydantic import PrivateAttr

from ..catalog import Catalog
from ..config import (
    CATALOG_URL_ENV,
    DEFAULT_ANALYSIS_IDLE_SECONDS,
    DEFAULT_MIN_RECHECK_SECONDS,
    DEFAULT_PLAYLISTS_FILE,
    Settings,
)
from ..playlists_file import PlaylistEntry, read_playlists_file

if TYPE_CHECKING:
    from ..notion import NotionCatalogSync
    from ..ratelimit import RateLimiter
    from ..sources import SoundCloudClient, SpotifyClient


class CatalogResource(ConfigurableResource):
    """The local state store. `url` is any SQLAlchemy URL (SQLite or PostgreSQL)."""

    url: str

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Every step uses the catalog: its process is recorded on the run, so the step
        # can be stopped if the run's own process dies while the step goes on; and
        # before it starts, the processes of runs that died are stopped (a run launched
        # from the UI has no other door where that can happen first).
        run = context.run
        if context.instance is not None and run is not None:
            from ..instance.workers import reap_dead_runs, record_step_process

            for line in reap_dead_runs(context.instance):
                if context.log is not None:
                    context.log.warning(line)
            record_step_process(context.instance, run.run_id)

    def catalog(self) -> Catalog:
        return Catalog(self.url)


class SoundCloudResource(ConfigurableResource):
    """api-v2 access through yt-dlp. Client id and OAuth token come from `EnvVar`.

    Every request takes a slot of one budget (``budget_requests`` per
    ``budget_window_s``, ``sensor_share`` of it reserved for the new-tracks sensor's
    checks) kept in ``state_dir`` (this machine) or, when ``limits_url`` is set (the
    catalog's PostgreSQL, an `EnvVar`), shared by every machine."""

    api_base: str = "https://api-v2.soundcloud.com/"
    client_id: str | None = None
    oauth_token: str | None = None
    proxy: str | None = None
    cache_dir: str
    state_dir: str | None = None
    limits_url: str | None = None
    budget_requests: int = 600
    budget_window_s: float = 600.0
    sensor_share: float = 0.5
    # False: requests are counted, never paced (a test whose sensor ticks on a simulated
    # clock: the real one would make its simulated hour last one)
    paced: bool = True

    def limiter(self) -> RateLimiter | None:
        """The machine's (or every machine's) api-v2 limiter; None when not paced."""
        from ..sources.budget import soundcloud_limiter

        if not self.paced:
            return None
        return soundcloud_limiter(
            self.limits_url or self.state_dir,
            self.budget_requests,
            self.budget_window_s,
            self.sensor_share,
        )

    def client(self, checks: bool = False) -> SoundCloudClient:
        """A client whose requests take slots of the shared budget; ``checks``: the
        sensor's, from its reserved share."""
        from ..sources import SoundCloudClient

        limiter = self.limiter()
        return SoundCloudClient(
            api_base=self.api_base,
            client_id=self.client_id,
            oauth_token=self.oauth_token,
            proxy=self.proxy,
            cache_dir=Path(self.cache_dir),
            limiter=limiter,
            reserved=checks,
        )


class SpotifyResource(ConfigurableResource):
    """The Spotify Web API through spotipy. Without an app (client id and secret) a
    Spotify playlist's step fails with one line naming the missing variables."""

    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    api_base: str = "https://api.spotify.com/v1/"
    accounts_base: str = "https://accounts.spotify.com/"

    @property
    def enabled(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def client(self) -> SpotifyClient:
        from ..sources import SpotifyClient

        return SpotifyClient(
            self.client_id or "",
            self.client_secret or "",
            refresh_token=self.refresh_token,
            api_base=self.api_base,
            accounts_base=self.accounts_base,
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
    limits_url: str | None = None  # the catalog's PostgreSQL: one bucket for every machine
    property_mapping_file: str | None = None  # YAML: {tracks: {tempo: BPM}, playlists: {…}}
    key_notation: str = "standard"  # how Key is written: standard | camelot | both

    _sync: NotionCatalogSync | None = PrivateAttr(default=None)

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.tracks_database_id)

    @property
    def disabled_reason(self) -> str:
        if not self.token:
            return "NOTION_TOKEN is not set: Notion steps are skipped"
        return "NOTION_TRACKS_DATABASE_ID is not set: Notion steps are skipped"

    def sync(self) -> NotionCatalogSync:
        """The Notion upserter; one per resource so schemas are read once per step."""
        if self._sync is None:
            from ..notion import NotionCatalogSync
            from ..steps.notion import property_mapping

            self._sync = NotionCatalogSync.from_settings(
                self.token or "",
                base_url=self.base_url,
                tracks_database_id=self.tracks_database_id,
                playlists_database_id=self.playlists_database_id,
                requests_per_second=self.requests_per_second,
                state_dir=self.state_dir,
                mapping=property_mapping(self.property_mapping_file),
                key_notation=self.key_notation,
                limits_store=self.limits_url,
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
    # The machine's analysis process exits after this long without work; 0: every run
    # measures in its own process (SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS, audio.service).
    analysis_idle_seconds: int = DEFAULT_ANALYSIS_IDLE_SECONDS
    # The playlists' tempo/key charts shown in the UI, kept between runs so an unchanged
    # playlist's chart is not drawn again; empty: drawn on every run.
    charts_cache: str = ""


class DjExportResource(ConfigurableResource):
    """Where the DJ exports are written, and how paths read on the machine that plays.

    `path_map` uses DJ_EXPORT_PATH_MAP's syntax: `/srv/music=/Volumes/music;…`.
    """

    playlists_dir: str
    collection_path: str
    path_map: str = ""


class RegistryResource(ConfigurableResource):
    """The playlists file (`SOUNDCLOUD_SYNC_PLAYLISTS_FILE`: URLs and tempo ranges) and
    how often the sensor may look at one playlist (`SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS`)."""

    playlists_file: str = DEFAULT_PLAYLISTS_FILE
    min_recheck_seconds: int = DEFAULT_MIN_RECHECK_SECONDS

    def entries(self) -> list[PlaylistEntry]:
        """The file's playlists, checked (a ConfigError names the file and the entry)."""
        return read_playlists_file(Path(self.playlists_file))


class EagleResource(ConfigurableResource):
    """Eagle's local API; unset means the Eagle step reports 'not configured'."""

    api_url: str | None = None


class DjayResource(ConfigurableResource):
    """djay Pro's library file (read only): DJAY_LIBRARY_PATH, or the path given with
    `soundcloud-sync add djay:<path>` (kept in the catalog), which wins."""

    library_path: str

    def path(self, catalog: Any) -> Path:
        from ..catalog.djay import registered_djay_path

        return registered_djay_path(catalog) or Path(self.library_path)


def resources_from_settings(settings: Settings) -> dict[str, Any]:
    """Build every resource from the environment, secrets as `EnvVar`."""
    from dagster import EnvVar

    def secret(name: str, value: str | None) -> Any:
        return EnvVar(name) if value else None

    # A database or proxy URL may carry a password: the variable's name, never its value.
    catalog = CatalogResource(
        url=EnvVar(CATALOG_URL_ENV) if settings.catalog_url else settings.catalog_database_url
    )
    # the API budgets' buckets: in the catalog's PostgreSQL (the same variable), else in
    # this machine's state folder
    limits_url = secret(CATALOG_URL_ENV, settings.limits_url)
    return {
        "catalog": catalog,
        "soundcloud": SoundCloudResource(
            api_base=settings.soundcloud_api_base,
            client_id=secret("SOUNDCLOUD_CLIENT_ID", settings.soundcloud_client_id),
            oauth_token=secret("SOUNDCLOUD_OAUTH_TOKEN", settings.soundcloud_oauth_token),
            proxy=secret("SOUNDCLOUD_PROXY", settings.soundcloud_proxy),
            cache_dir=str(settings.cache_dir / "yt-dlp"),
            state_dir=str(settings.home / "state"),
            limits_url=limits_url,
            budget_requests=settings.soundcloud_budget[0],
            budget_window_s=settings.soundcloud_budget[1],
            sensor_share=settings.soundcloud_sensor_share,
        ),
        "spotify": SpotifyResource(
            client_id=secret("SPOTIFY_CLIENT_ID", settings.spotify_client_id),
            client_secret=secret("SPOTIFY_CLIENT_SECRET", settings.spotify_client_secret),
            refresh_token=secret("SPOTIFY_REFRESH_TOKEN", settings.spotify_refresh_token),
            api_base=settings.spotify_api_base,
            accounts_base=settings.spotify_accounts_base,
        ),
        "notion": NotionResource(
            token=secret("NOTION_TOKEN", settings.notion_token),
            base_url=settings.notion_base_url,
            tracks_database_id=settings.notion_tracks_database_id,
            playlists_database_id=settings.notion_playlists_database_id,
            requests_per_second=settings.notion_requests_per_second,
            state_dir=str(settings.home / "state"),
            limits_url=limits_url,
            property_mapping_file=settings.notion_mapping_file,
            key_notation=settings.notion_key_notation,
        ),
        "library": LibraryResource(
            root=str(settings.library_dir),
            downloads=str(settings.home / "downloads"),
            formats=list(settings.audio_formats),
            charts_cache=str(settings.cache_dir / "charts"),
            analysis_idle_seconds=settings.analysis_idle_seconds,
        ),
        "eagle": EagleResource(api_url=settings.eagle_api_url),
        "registry": RegistryResource(
            playlists_file=str(settings.playlists_file),
            min_recheck_seconds=settings.min_recheck_seconds,
        ),
        "djay": DjayResource(library_path=str(settings.djay_library_path)),
        "dj_export": DjExportResource(
            playlists_dir=str(settings.library_dir / "playlists"),
            collection_path=str(settings.library_dir / "rekordbox.xml"),
            path_map=";".join(f"{a}={b}" for a, b in settings.dj_export_path_map),
        ),
    }


@contextmanager
def resources_for(settings: Settings) -> Iterator[Any]:
    """The very resources a run gets, for code outside a run (the Python API, the dry
    run): one way to build the SoundCloud, Notion and Eagle clients."""
    with build_resources(resources_from_settings(settings)) as resources:
        yield resources
