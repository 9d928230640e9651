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
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

from .errors import SoundCloudSyncError
from .notion.schema import KEY_NOTATIONS

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
DEFAULT_PLAYLISTS_FILE = "playlists.yaml"
# api-v2's unpublished limit ("about 600 requests per 10 minutes", yt-dlp's warning),
# shared by every process and machine; half of it is the new-tracks sensor's.
DEFAULT_SOUNDCLOUD_BUDGET = (600, 600.0)
DEFAULT_SENSOR_SHARE = 0.5
SUPPORTED_FORMATS = ("aiff", "m4a", "wav", "mp3")
EXECUTORS = ("default", "celery")
CATALOG_URL_ENV = "SOUNDCLOUD_SYNC_CATALOG_URL"
# Eagle's local API listens here whenever the app is open (it cannot be moved in Eagle).
DEFAULT_EAGLE_API_URL = "http://localhost:41595"
EAGLE_OFF = ("off", "none", "no", "false", "0")
_DEFAULT_EAGLE: str | None = DEFAULT_EAGLE_API_URL
CELERY_BROKER_ENV = "CELERY_BROKER_URL"
CELERY_BACKEND_ENV = "CELERY_RESULT_BACKEND"

T = TypeVar("T")


class ConfigError(SoundCloudSyncError, ValueError):
    """A setting from the environment that cannot be used; the message names it."""


def load_environment(dotenv_path: str | os.PathLike[str] | None = None) -> None:
    """Read `.env` (never overriding variables already set)."""
    load_dotenv(dotenv_path or Path.cwd() / ".env", override=False)


# -- checks of single values (each raises ConfigError naming the variable) -------------


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


def _positive_number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{name}: {value!r} is not a positive number (e.g. 3 or 2.5)")
    return number


def _budget(name: str, value: str) -> tuple[int, float]:
    """`600/10m` (or `600/600`, seconds): requests per window."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value)
    seconds = float(match[2]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[3]] if match else 0
    if not match or int(match[1]) < 1 or seconds <= 0:
        raise ConfigError(
            f"{name}: {value!r} is not a budget; give requests/window, e.g. 600/10m or 600/600"
        )
    return int(match[1]), seconds


def _share(name: str, value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share < 1:
        raise ConfigError(f"{name}: {value!r} is not a share; give a number from 0 to 0.99")
    return share


def _whole_seconds(name: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value.strip()):
        raise ConfigError(f"{name}: {value!r} is not a whole number of seconds (e.g. 300)")
    return int(value)


def _url(name: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(
            f"{name}: {_without_password(value)!r} is not a URL ({' or '.join(schemes)}://host…)"
        )
    return value


def _without_password(url: str) -> str:
    """A URL fit for a message: any password in it replaced by ***."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", url)


def _eagle_url(name: str, value: str) -> str | None:
    """Eagle's address; ``off`` never asks Eagle at all."""
    if value.strip().lower() in EAGLE_OFF:
        return None
    return _url(name, value)


def _api_base(name: str, value: str) -> str:
    """A base URL that relative paths can be appended to: ends with a slash."""
    return _url(name, value).rstrip("/") + "/"


def _token(name: str, value: str) -> str:
    """Secrets: never shown in the message, only what is wrong with them."""
    if re.search(r"\s", value):
        raise ConfigError(f"{name}: contains spaces or line breaks; paste the token alone")
    return value


def _database_id(name: str, value: str) -> str:
    compact = value.replace("-", "")
    if not re.fullmatch(r"[0-9a-fA-F]{32}", compact):
        raise ConfigError(
            f"{name}: {value!r} is not a Notion database id (32 hexadecimal digits, "
            "dashes allowed; the part of the database's link before '?v=')"
        )
    return value


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: tuple[tuple[int, int, Mapping[str, int]], ...] = (
    (0, 59, {}),  # minute
    (0, 23, {}),  # hour
    (1, 31, {}),  # day of month
    (1, 12, {m: i for i, m in enumerate(_MONTHS, start=1)}),
    (0, 7, {d: i for i, d in enumerate(_WEEKDAYS)}),  # 0 and 7 are both Sunday
)
_CRON_MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")


def _cron_value(text: str, low: int, high: int, names: Mapping[str, int]) -> bool:
    number = names.get(text.lower()) if not text.isdigit() else int(text)
    return number is not None and low <= number <= high


def _cron_part(part: str, low: int, high: int, names: Mapping[str, int]) -> bool:
    """One comma-separated item: `*`, `5`, `1-5`, `*/15`, `1-30/2`, `mon-fri`."""
    body, _, step = part.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        return False
    if body == "*":
        return True
    first, _, last = body.partition("-")
    return _cron_value(first, low, high, names) and (
        not last or _cron_value(last, low, high, names)
    )


def _cron(name: str, value: str) -> str:
    text = value.strip()
    fields = text.split()
    valid = text.lower() in _CRON_MACROS or (
        len(fields) == len(_CRON_FIELDS)
        and all(
            all(_cron_part(part, low, high, names) for part in item.split(","))
            for item, (low, high, names) in zip(fields, _CRON_FIELDS, strict=True)
        )
    )
    if not valid:
        raise ConfigError(
            f"{name}: {value!r} is not a cron schedule (five fields: minute hour "
            "day-of-month month day-of-week, e.g. '0 4 * * *')"
        )
    return text


def _timezone(name: str, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}: {value!r} is not a time zone (an IANA name such as UTC or Europe/Berlin)"
        ) from None
    return value


def _executor(name: str, value: str) -> str:
    if value not in EXECUTORS:
        raise ConfigError(
            f"{name}: {value!r} is not an executor; choose one of {', '.join(EXECUTORS)}"
        )
    return value


def _catalog_url(name: str, value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(value)
    except ArgumentError:
        raise ConfigError(
            f"{name}: {_without_password(value)!r} is not a database URL "
            "(e.g. sqlite:////path/catalog.sqlite or postgresql+psycopg2://user@host/db)"
        ) from None
    return value


def _ffmpeg(name: str, value: str) -> str:
    found = shutil.which(value)
    if not found:
        raise ConfigError(f"{name}: {value!r} is not an executable (give a path or a name on PATH)")
    return found


def _mapping_file(name: str, value: str) -> str:
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"{name}: no file {value!r} (give the path of a YAML file such as "
            "'tracks: {tempo: BPM}')"
        )
    import yaml

    from .notion.schema import SchemaMapping

    example = "a YAML mapping such as 'tracks: {tempo: BPM}'"
    try:
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: {value}: expected {example}")
        SchemaMapping.from_dict(data)
    except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{name}: {value}: {first_line}") from None
    return str(path.resolve())


def _file(name: str, value: str) -> Path:
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"{name}: {value!r} is a folder; give a file")
    return path


def djay_library_file(value: str) -> Path:
    """djay's MediaLibrary.db, given as the file or as the .djayMediaLibrary folder (or
    any folder) that holds it."""
    path = Path(value).expanduser().resolve()
    return path / "MediaLibrary.db" if path.suffix == ".djayMediaLibrary" or path.is_dir() else path


def _djay_library(name: str, value: str) -> Path:
    return djay_library_file(value)


def _folder(name: str, value: str) -> Path:
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}: {value!r} is a file; give a folder")
    return path


# -- the settings ----------------------------------------------------------------------


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


def _key_notation(name: str, value: str) -> str:
    """How Notion's Key property spells a key."""
    notation = value.strip().lower()
    if notation not in KEY_NOTATIONS:
        raise ConfigError(
            f"{name}: {value!r} is not a key notation; choose from {', '.join(KEY_NOTATIONS)}"
        )
    return notation


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
        executor = env.get("SOUNDCLOUD_SYNC_EXECUTOR", _executor, None)
        broker = env.get(CELERY_BROKER_ENV, lambda _n, v: v, None)
        if executor == "celery" and not broker:
            raise ConfigError(
                f"SOUNDCLOUD_SYNC_EXECUTOR: celery needs {CELERY_BROKER_ENV} "
                "(e.g. redis://host:6379/0)"
            )
        return cls(
            home=env.get("SOUNDCLOUD_SYNC_HOME", _folder, Path(DEFAULT_HOME).resolve()),
            soundcloud_api_base=env.get("SOUNDCLOUD_API_BASE", _api_base, DEFAULT_API_BASE),
            soundcloud_client_id=env.get("SOUNDCLOUD_CLIENT_ID", _token, None),
            soundcloud_oauth_token=env.get("SOUNDCLOUD_OAUTH_TOKEN", _token, None),
            soundcloud_proxy=env.get(
                "SOUNDCLOUD_PROXY",
                lambda n, v: _url(n, v, ("http", "https", "socks4", "socks5", "socks5h")),
                None,
            ),
            soundcloud_budget=env.get("SOUNDCLOUD_API_BUDGET", _budget, DEFAULT_SOUNDCLOUD_BUDGET),
            soundcloud_sensor_share=env.get(
                "SOUNDCLOUD_SENSOR_SHARE", _share, DEFAULT_SENSOR_SHARE
            ),
            notion_token=env.get("NOTION_TOKEN", _token, None),
            notion_base_url=env.get("NOTION_BASE_URL", _url, DEFAULT_NOTION_BASE_URL),
            notion_tracks_database_id=env.get("NOTION_TRACKS_DATABASE_ID", _database_id, None),
            notion_playlists_database_id=env.get(
                "NOTION_PLAYLISTS_DATABASE_ID", _database_id, None
            ),
            notion_requests_per_second=env.get("NOTION_REQUESTS_PER_SECOND", _positive_number, 3.0),
            notion_mapping_file=env.get("NOTION_PROPERTY_MAPPING", _mapping_file, None),
            notion_key_notation=env.get("NOTION_KEY_NOTATION", _key_notation, "standard"),
            eagle_api_url=env.get("EAGLE_API_URL", _eagle_url, _DEFAULT_EAGLE),
            spotify_client_id=env.get("SPOTIFY_CLIENT_ID", _token, None),
            spotify_client_secret=env.get("SPOTIFY_CLIENT_SECRET", _token, None),
            spotify_refresh_token=env.get("SPOTIFY_REFRESH_TOKEN", _token, None),
            spotify_api_base=env.get("SPOTIFY_API_BASE", _api_base, DEFAULT_SPOTIFY_API_BASE),
            spotify_accounts_base=env.get(
                "SPOTIFY_ACCOUNTS_BASE", _api_base, DEFAULT_SPOTIFY_ACCOUNTS_BASE
            ),
            audio_formats=parse_formats(env.raw("AUDIO_FORMATS")),
            catalog_url=env.get(CATALOG_URL_ENV, _catalog_url, None),
            playlists_file=env.get(
                "SOUNDCLOUD_SYNC_PLAYLISTS_FILE", _file, Path(DEFAULT_PLAYLISTS_FILE)
            ),
            sync_schedule=env.get("SOUNDCLOUD_SYNC_SCHEDULE", _cron, DEFAULT_SYNC_SCHEDULE),
            audit_schedule=env.get("SOUNDCLOUD_SYNC_AUDIT_SCHEDULE", _cron, DEFAULT_AUDIT_SCHEDULE),
            timezone=env.get("SOUNDCLOUD_SYNC_TIMEZONE", _timezone, DEFAULT_TIMEZONE),
            min_recheck_seconds=env.get(
                "SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS", _whole_seconds, DEFAULT_MIN_RECHECK_SECONDS
            ),
            executor=executor,
            celery_broker_url=broker,
            celery_result_backend=env.raw(CELERY_BACKEND_ENV),
            ffmpeg_binary=env.get("FFMPEG_BINARY", _ffmpeg, None),
            numba_cache=env.get("NUMBA_CACHE_DIR", _folder, None),
            dj_export_path_map=parse_path_map(env.raw("DJ_EXPORT_PATH_MAP")),
            djay_library_path=env.get(
                "DJAY_LIBRARY_PATH", _djay_library, Path(DEFAULT_DJAY_LIBRARY_PATH).expanduser()
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
