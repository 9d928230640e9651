"""Settings read from the environment (and a `.env` file), in one place.

Every room takes plain values from here; the Dagster layer passes secrets through
`EnvVar` instead, so they never become part of run config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_HOME = "./.soundcloud_sync"
DEFAULT_API_BASE = "https://api-v2.soundcloud.com/"
DEFAULT_NOTION_BASE_URL = "https://api.notion.com"
SUPPORTED_FORMATS = ("aiff", "m4a", "wav", "mp3")


class ConfigError(ValueError):
    """A setting from the environment that cannot be used; the message names it."""


def load_environment(dotenv_path: str | os.PathLike[str] | None = None) -> None:
    """Read `.env` (never overriding variables already set)."""
    load_dotenv(dotenv_path or Path.cwd() / ".env", override=False)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def parse_formats(value: str | None) -> tuple[str, ...]:
    """`"aiff, m4a"` -> `("aiff", "m4a")`; unknown formats are an error naming them."""
    formats = tuple(f.strip().lower() for f in (value or "aiff").split(",") if f.strip())
    unknown = [f for f in formats if f not in SUPPORTED_FORMATS]
    if unknown:
        raise ConfigError(
            f"AUDIO_FORMATS: unsupported format(s) {', '.join(unknown)}; "
            f"choose from {', '.join(SUPPORTED_FORMATS)}"
        )
    return formats or ("aiff",)


PathMap = tuple[tuple[str, str], ...]


def parse_path_map(value: str | None) -> PathMap:
    """`"/srv/music=/Volumes/music;/data=D:/Music"` -> the (from, to) prefix pairs.

    A library synced on one machine and played on another sits under another folder
    there; the exports write the other machine's paths.
    """
    pairs = []
    for item in (value or "").split(";"):
        if not item.strip():
            continue
        source, sep, target = (part.strip() for part in item.partition("="))
        if not sep or not source or not target:
            raise ConfigError(
                f"DJ_EXPORT_PATH_MAP: {item.strip()!r} is not FROM=TO "
                "(pairs like /srv/music=/Volumes/music, separated by ';')"
            )
        if not source.startswith("/"):
            raise ConfigError(
                f"DJ_EXPORT_PATH_MAP: {source!r} is not an absolute path of this machine"
            )
        pairs.append((source, target))
    return tuple(pairs)


@dataclass(frozen=True)
class Settings:
    home: Path
    soundcloud_api_base: str = DEFAULT_API_BASE
    soundcloud_client_id: str | None = field(default=None, repr=False)
    soundcloud_oauth_token: str | None = field(default=None, repr=False)
    soundcloud_proxy: str | None = None
    notion_token: str | None = field(default=None, repr=False)
    notion_base_url: str = DEFAULT_NOTION_BASE_URL
    notion_tracks_database_id: str | None = None
    notion_playlists_database_id: str | None = None
    notion_requests_per_second: float = 3.0
    notion_mapping_file: str | None = None
    eagle_api_url: str | None = None
    audio_formats: tuple[str, ...] = ("aiff",)
    catalog_url: str | None = None
    executor: str | None = None  # "celery" runs each step on a Celery worker (deploy/)
    dj_export_path_map: PathMap = ()

    @property
    def catalog_database_url(self) -> str:
        return self.catalog_url or f"sqlite:///{self.home / 'catalog.sqlite'}"

    @property
    def library_dir(self) -> Path:
        return self.home / "library"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @classmethod
    def from_env(cls) -> Settings:
        load_environment()
        return cls(
            home=Path(_env("SOUNDCLOUD_SYNC_HOME", DEFAULT_HOME) or DEFAULT_HOME).resolve(),
            soundcloud_api_base=_env("SOUNDCLOUD_API_BASE", DEFAULT_API_BASE) or DEFAULT_API_BASE,
            soundcloud_client_id=_env("SOUNDCLOUD_CLIENT_ID"),
            soundcloud_oauth_token=_env("SOUNDCLOUD_OAUTH_TOKEN"),
            soundcloud_proxy=_env("SOUNDCLOUD_PROXY"),
            notion_token=_env("NOTION_TOKEN"),
            notion_base_url=_env("NOTION_BASE_URL", DEFAULT_NOTION_BASE_URL)
            or DEFAULT_NOTION_BASE_URL,
            notion_tracks_database_id=_env("NOTION_TRACKS_DATABASE_ID"),
            notion_playlists_database_id=_env("NOTION_PLAYLISTS_DATABASE_ID"),
            notion_requests_per_second=float(_env("NOTION_REQUESTS_PER_SECOND", "3") or 3),
            notion_mapping_file=_env("NOTION_PROPERTY_MAPPING"),
            eagle_api_url=_env("EAGLE_API_URL"),
            audio_formats=parse_formats(_env("AUDIO_FORMATS")),
            catalog_url=_env("SOUNDCLOUD_SYNC_CATALOG_URL"),
            executor=_env("SOUNDCLOUD_SYNC_EXECUTOR"),
            dj_export_path_map=parse_path_map(_env("DJ_EXPORT_PATH_MAP")),
        )
