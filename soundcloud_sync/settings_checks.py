"""Checks of single settings: each turns one environment value into a usable one.

Every check takes the variable's name and its text and either returns the value in the
form the code needs or raises `ConfigError` with a one-line message naming the variable
and what it accepts. `config.Settings.from_env` applies them; nothing else reads the
environment.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SoundCloudSyncError
from .notion.schema import KEY_NOTATIONS

if TYPE_CHECKING:
    from .export.paths import PathMap

SUPPORTED_FORMATS = ("aiff", "m4a", "wav", "mp3")
EXECUTORS = ("default", "celery")
EAGLE_OFF = ("off", "none", "no", "false", "0")


class ConfigError(SoundCloudSyncError, ValueError):
    """A setting from the environment that cannot be used; the message names it."""


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


def positive_number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise ConfigError(f"{name}: {value!r} is not a positive number (e.g. 3 or 2.5)")
    return number


def budget(name: str, value: str) -> tuple[int, float]:
    """`600/10m` (or `600/600`, seconds): requests per window."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value)
    seconds = float(match[2]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[3]] if match else 0
    if not match or int(match[1]) < 1 or seconds <= 0:
        raise ConfigError(
            f"{name}: {value!r} is not a budget; give requests/window, e.g. 600/10m or 600/600"
        )
    return int(match[1]), seconds


def share(name: str, value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share < 1:
        raise ConfigError(f"{name}: {value!r} is not a share; give a number from 0 to 0.99")
    return share


def whole_seconds(name: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value.strip()):
        raise ConfigError(f"{name}: {value!r} is not a whole number of seconds (e.g. 300)")
    return int(value)


def url(name: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(
            f"{name}: {without_password(value)!r} is not a URL ({' or '.join(schemes)}://host…)"
        )
    return value


def without_password(url: str) -> str:
    """A URL fit for a message: any password in it replaced by ***."""
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", url)


def eagle_url(name: str, value: str) -> str | None:
    """Eagle's address; ``off`` never asks Eagle at all."""
    if value.strip().lower() in EAGLE_OFF:
        return None
    return url(name, value)


def api_base(name: str, value: str) -> str:
    """A base URL that relative paths can be appended to: ends with a slash."""
    return url(name, value).rstrip("/") + "/"


def token(name: str, value: str) -> str:
    """Secrets: never shown in the message, only what is wrong with them."""
    if re.search(r"\s", value):
        raise ConfigError(f"{name}: contains spaces or line breaks; paste the token alone")
    return value


def database_id(name: str, value: str) -> str:
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


def cron(name: str, value: str) -> str:
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


def timezone(name: str, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name}: {value!r} is not a time zone (an IANA name such as UTC or Europe/Berlin)"
        ) from None
    return value


def executor(name: str, value: str) -> str:
    if value not in EXECUTORS:
        raise ConfigError(
            f"{name}: {value!r} is not an executor; choose one of {', '.join(EXECUTORS)}"
        )
    return value


def catalog_url(name: str, value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(value)
    except ArgumentError:
        raise ConfigError(
            f"{name}: {without_password(value)!r} is not a database URL "
            "(e.g. sqlite:////path/catalog.sqlite or postgresql+psycopg2://user@host/db)"
        ) from None
    return value


def ffmpeg(name: str, value: str) -> str:
    found = shutil.which(value)
    if not found:
        raise ConfigError(f"{name}: {value!r} is not an executable (give a path or a name on PATH)")
    return found


def mapping_file(name: str, value: str) -> str:
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


def file(name: str, value: str) -> Path:
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"{name}: {value!r} is a folder; give a file")
    return path


def djay_library_file(value: str) -> Path:
    """djay's MediaLibrary.db, given as the file or as the .djayMediaLibrary folder (or
    any folder) that holds it."""
    path = Path(value).expanduser().resolve()
    return path / "MediaLibrary.db" if path.suffix == ".djayMediaLibrary" or path.is_dir() else path


def djay_library(name: str, value: str) -> Path:
    return djay_library_file(value)


def folder(name: str, value: str) -> Path:
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}: {value!r} is a file; give a folder")
    return path


def key_notation(name: str, value: str) -> str:
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
