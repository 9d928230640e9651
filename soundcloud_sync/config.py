"""Settings read from the environment (and a `.env` file), in one place.

`Settings.from_env()` is the only reader of the project's environment variables: it
checks every value once and turns a bad one into a one-line `ConfigError` naming the
variable and what it accepts. Only the entry points call it — the CLI's command group,
each function of the Python API, and the loading of the Dagster definitions — and hand
the `Settings` down; everything below takes plain values from it (the Dagster layer
through its resources, secrets as `EnvVar`, so they never become part of run config).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dotenv import load_dotenv

from . import settings_checks as checks
from .settings_checks import (
    ConfigError,
    parse_formats,
    parse_path_map,
)

if TYPE_CHECKING:
    from .export.paths import PathMap

DEFAULT_HOME = "./.soundcloud_sync"
DEFAULT_API_BASE = "https://api-v2.soundcloud.com/"
DEFAULT_NOTION_BASE_URL = "https://api.notion.com"
DEFAULT_SPOTIFY_API_BASE = "https://api.spotify.com/v1/"
DEFAULT_DJAY_LIBRARY_PATH = "~/Music/djay/djay Media Library.djayMediaLibrary/MediaLibrary.db"
DEFAULT_SPOTIFY_ACCOUNTS_BASE = "https://accounts.spotify.com/"
DEFAULT_SYNC_SCHEDULE = "0 4 * * *"
DEFAULT_AUDIT_SCHEDULE = "0 6 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_MIN_RECHECK_SECONDS = 300
DEFAULT_ANALYSIS_IDLE_SECONDS = 300  # the machine's analysis process (audio.service)
DEFAULT_PLAYLISTS_FILE = "playlists.yaml"
# api-v2's unpublished limit ("about 600 requests per 10 minutes", yt-dlp's warning),
# shared by every process and machine; half of it is the new-tracks sensor's.
DEFAULT_SOUNDCLOUD_BUDGET = (600, 600.0)
DEFAULT_SENSOR_SHARE = 0.5
CATALOG_URL_ENV = "SOUNDCLOUD_SYNC_CATALOG_URL"
# Eagle's local API listens here whenever the app is open (it cannot be moved in Eagle).
DEFAULT_EAGLE_API_URL = "http://localhost:41595"
_DEFAULT_EAGLE: str | None = DEFAULT_EAGLE_API_URL
CELERY_BROKER_ENV = "CELERY_BROKER_URL"
CELERY_BACKEND_ENV = "CELERY_RESULT_BACKEND"

T = TypeVar("T")


def load_environment(dotenv_path: str | os.PathLike[str] | None = None) -> None:
    """Read `.env` (never overriding variables already set)."""
    load_dotenv(dotenv_path or Path.cwd() / ".env", override=False)


class _Reader:
    """Reads variables from one environment; empty values count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def raw(self, name: str) -> str | None:
        value = (self.environ.get(name) or "").strip()
        return value or None

    def get(self, name: str, check: Callable[[str, str], T], default: T) -> T:
        value = self.raw(name)
        return default if value is None else check(name, value)


@dataclass(frozen=True)
class Settings:
    home: Path
    soundcloud_api_base: str = DEFAULT_API_BASE
    soundcloud_client_id: str | None = field(default=None, repr=False)
    soundcloud_oauth_token: str | None = field(default=None, repr=False)
    soundcloud_proxy: str | None = None
    soundcloud_budget: tuple[int, float] = DEFAULT_SOUNDCLOUD_BUDGET  # requests, seconds
    soundcloud_sensor_share: float = DEFAULT_SENSOR_SHARE
    notion_token: str | None = field(default=None, repr=False)
    notion_base_url: str = DEFAULT_NOTION_BASE_URL
    notion_tracks_database_id: str | None = None
    notion_playlists_database_id: str | None = None
    notion_requests_per_second: float = 3.0
    notion_mapping_file: str | None = None  # absolute path of a YAML file
    notion_key_notation: str = "standard"
    eagle_api_url: str | None = None
    spotify_client_id: str | None = field(default=None, repr=False)
    spotify_client_secret: str | None = field(default=None, repr=False)
    spotify_refresh_token: str | None = field(default=None, repr=False)
    spotify_api_base: str = DEFAULT_SPOTIFY_API_BASE
    spotify_accounts_base: str = DEFAULT_SPOTIFY_ACCOUNTS_BASE
    audio_formats: tuple[str, ...] = ("aiff",)
    catalog_url: str | None = None
    playlists_file: Path = Path(DEFAULT_PLAYLISTS_FILE)
    sync_schedule: str = DEFAULT_SYNC_SCHEDULE
    audit_schedule: str = DEFAULT_AUDIT_SCHEDULE
    timezone: str = DEFAULT_TIMEZONE
    min_recheck_seconds: int = DEFAULT_MIN_RECHECK_SECONDS
    analysis_idle_seconds: int = DEFAULT_ANALYSIS_IDLE_SECONDS
    executor: str | None = None  # "celery" runs each step on a Celery worker (deploy/)
    celery_broker_url: str | None = field(default=None, repr=False)  # may hold a password
    celery_result_backend: str | None = field(default=None, repr=False)
    ffmpeg_binary: str | None = None  # resolved path; None = ffmpeg on PATH, else bundled
    numba_cache: Path | None = None  # None = <home>/cache/numba
    dj_export_path_map: PathMap = ()
    # djay Pro's library, read only (see sources.djay); a missing file is no error here
    djay_library_path: Path = field(
        default_factory=lambda: Path(DEFAULT_DJAY_LIBRARY_PATH).expanduser()
    )

    @property
    def catalog_database_url(self) -> str:
        return self.catalog_url or f"sqlite:///{self.home / 'catalog.sqlite'}"

    @property
    def limits_url(self) -> str | None:
        """The catalog's PostgreSQL, where the API budgets' buckets live so every machine
        shares them; None: each machine keeps its own under ``home/state``."""
        if self.catalog_url and self.catalog_url.startswith("postgresql"):
            return self.catalog_url
        return None

    @property
    def library_dir(self) -> Path:
        return self.home / "library"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def numba_cache_dir(self) -> Path:
        return self.numba_cache or self.cache_dir / "numba"

    @property
    def spotify_enabled(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    def require_spotify(self, url: str) -> None:
        """Refuse a Spotify playlist before anything runs when no Spotify app is set up."""
        if not self.spotify_enabled:
            missing = [
                name
                for name, value in (
                    ("SPOTIFY_CLIENT_ID", self.spotify_client_id),
                    ("SPOTIFY_CLIENT_SECRET", self.spotify_client_secret),
                )
                if not value
            ]
            raise ConfigError(
                f"{' and '.join(missing)}: not set, so the Spotify playlist {url} cannot be "
                "read (create a Spotify app: see the README's Spotify section)"
            )

    def require_notion(self) -> None:
        """Refuse a Notion-only call before anything runs when Notion is not set up."""
        missing = [
            name
            for name, value in (
                ("NOTION_TOKEN", self.notion_token),
                ("NOTION_TRACKS_DATABASE_ID", self.notion_tracks_database_id),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"{' and '.join(missing)}: not set, so Notion cannot be written")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting, checked; `.env` is read first unless an environment is given."""
        if environ is None:
            load_environment()
            environ = os.environ
        env = _Reader(environ)
        executor = env.get("SOUNDCLOUD_SYNC_EXECUTOR", checks.executor, None)
        broker = env.get(CELERY_BROKER_ENV, lambda _n, v: v, None)
        if executor == "celery" and not broker:
            raise ConfigError(
                f"SOUNDCLOUD_SYNC_EXECUTOR: celery needs {CELERY_BROKER_ENV} "
                "(e.g. redis://host:6379/0)"
            )
        return cls(
            home=env.get("SOUNDCLOUD_SYNC_HOME", checks.folder, Path(DEFAULT_HOME).resolve()),
            soundcloud_api_base=env.get("SOUNDCLOUD_API_BASE", checks.api_base, DEFAULT_API_BASE),
            soundcloud_client_id=env.get("SOUNDCLOUD_CLIENT_ID", checks.token, None),
            soundcloud_oauth_token=env.get("SOUNDCLOUD_OAUTH_TOKEN", checks.token, None),
            soundcloud_proxy=env.get(
                "SOUNDCLOUD_PROXY",
                lambda n, v: checks.url(n, v, ("http", "https", "socks4", "socks5", "socks5h")),
                None,
            ),
            soundcloud_budget=env.get(
                "SOUNDCLOUD_API_BUDGET", checks.budget, DEFAULT_SOUNDCLOUD_BUDGET
            ),
            soundcloud_sensor_share=env.get(
                "SOUNDCLOUD_SENSOR_SHARE", checks.share, DEFAULT_SENSOR_SHARE
            ),
            notion_token=env.get("NOTION_TOKEN", checks.token, None),
            notion_base_url=env.get("NOTION_BASE_URL", checks.url, DEFAULT_NOTION_BASE_URL),
            notion_tracks_database_id=env.get(
                "NOTION_TRACKS_DATABASE_ID", checks.database_id, None
            ),
            notion_playlists_database_id=env.get(
                "NOTION_PLAYLISTS_DATABASE_ID", checks.database_id, None
            ),
            notion_requests_per_second=env.get(
                "NOTION_REQUESTS_PER_SECOND", checks.positive_number, 3.0
            ),
            notion_mapping_file=env.get("NOTION_PROPERTY_MAPPING", checks.mapping_file, None),
            notion_key_notation=env.get("NOTION_KEY_NOTATION", checks.key_notation, "standard"),
            eagle_api_url=env.get("EAGLE_API_URL", checks.eagle_url, _DEFAULT_EAGLE),
            spotify_client_id=env.get("SPOTIFY_CLIENT_ID", checks.token, None),
            spotify_client_secret=env.get("SPOTIFY_CLIENT_SECRET", checks.token, None),
            spotify_refresh_token=env.get("SPOTIFY_REFRESH_TOKEN", checks.token, None),
            spotify_api_base=env.get("SPOTIFY_API_BASE", checks.api_base, DEFAULT_SPOTIFY_API_BASE),
            spotify_accounts_base=env.get(
                "SPOTIFY_ACCOUNTS_BASE", checks.api_base, DEFAULT_SPOTIFY_ACCOUNTS_BASE
            ),
            audio_formats=parse_formats(env.raw("AUDIO_FORMATS")),
            catalog_url=env.get(CATALOG_URL_ENV, checks.catalog_url, None),
            playlists_file=env.get(
                "SOUNDCLOUD_SYNC_PLAYLISTS_FILE", checks.file, Path(DEFAULT_PLAYLISTS_FILE)
            ),
            sync_schedule=env.get("SOUNDCLOUD_SYNC_SCHEDULE", checks.cron, DEFAULT_SYNC_SCHEDULE),
            audit_schedule=env.get(
                "SOUNDCLOUD_SYNC_AUDIT_SCHEDULE", checks.cron, DEFAULT_AUDIT_SCHEDULE
            ),
            timezone=env.get("SOUNDCLOUD_SYNC_TIMEZONE", checks.timezone, DEFAULT_TIMEZONE),
            min_recheck_seconds=env.get(
                "SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS",
                checks.whole_seconds,
                DEFAULT_MIN_RECHECK_SECONDS,
            ),
            analysis_idle_seconds=env.get(
                "SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS",
                checks.whole_seconds,
                DEFAULT_ANALYSIS_IDLE_SECONDS,
            ),
            executor=executor,
            celery_broker_url=broker,
            celery_result_backend=env.raw(CELERY_BACKEND_ENV),
            ffmpeg_binary=env.get("FFMPEG_BINARY", checks.ffmpeg, None),
            numba_cache=env.get("NUMBA_CACHE_DIR", checks.folder, None),
            dj_export_path_map=parse_path_map(env.raw("DJ_EXPORT_PATH_MAP")),
            djay_library_path=env.get(
                "DJAY_LIBRARY_PATH",
                checks.djay_library,
                Path(DEFAULT_DJAY_LIBRARY_PATH).expanduser(),
            ),
        )

    def apply(self) -> Settings:
        """Set what the settings decide for the whole process: the ffmpeg every audio
        step runs, and where numba caches librosa's kernels (numba reads its variable
        when first imported; one already set wins). Each entry point calls it once,
        right after reading the settings."""
        from .audio.ffmpeg import use_ffmpeg

        use_ffmpeg(self.ffmpeg_binary)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(self.numba_cache_dir))
        return self

    def child_environment(self) -> dict[str, str]:
        """The variables that name paths, made absolute, for a process started elsewhere.

        `soundcloud-sync dev` starts Dagster in another folder; relative paths from the
        user's `.env` would point somewhere else there.
        """
        values = {
            "SOUNDCLOUD_SYNC_HOME": str(self.home),
            "SOUNDCLOUD_SYNC_PLAYLISTS_FILE": str(self.playlists_file.resolve()),
            "NUMBA_CACHE_DIR": str(self.numba_cache_dir),
            "DJAY_LIBRARY_PATH": str(self.djay_library_path),
        }
        if self.notion_mapping_file:
            values["NOTION_PROPERTY_MAPPING"] = self.notion_mapping_file
        return values
