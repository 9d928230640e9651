"""`playlists.yaml` (SOUNDCLOUD_SYNC_PLAYLISTS_FILE): the playlists to keep in sync, each
with an optional tempo range, read and checked in one place. Every error is one line
naming the file, the playlist and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError
from .sources import SourceError, parse_playlist_url

# The tempi a playlist's range may span: slower or faster is not a danceable beat.
TEMPO_LIMITS = (40.0, 250.0)
TempoRange = tuple[float, float]


@dataclass(frozen=True)
class PlaylistEntry:
    """One playlist of `playlists.yaml`: its URL, key and optional tempo range."""

    url: str
    key: str
    tempo_range: TempoRange | None = None


def check_tempo_range(where: str, value: object) -> TempoRange:
    """``[lo, hi]`` BPM as two numbers with 40 <= lo < hi <= 250; else a one-line
    ConfigError starting with ``where`` (the file or run config, the playlist, the field)."""
    lo_limit, hi_limit = TEMPO_LIMITS
    usage = f"give [low, high] BPM with {lo_limit:g} <= low < high <= {hi_limit:g}"
    numbers = value if isinstance(value, list | tuple) else None
    if (
        numbers is None
        or len(numbers) != 2
        or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
    ):
        raise ConfigError(f"{where}: {value!r} is not a tempo range; {usage}")
    lo, hi = float(numbers[0]), float(numbers[1])
    if not lo_limit <= lo < hi <= hi_limit:
        raise ConfigError(f"{where}: {lo:g}-{hi:g} is not a tempo range; {usage}")
    return lo, hi


def _playlist_entry(path: Path, item: object) -> PlaylistEntry:
    url = item.get("url") if isinstance(item, dict) else item
    if not isinstance(url, str):
        raise ConfigError(f"{path}: {item!r} is not a playlist URL or {{url: …, tempo_range: …}}")
    try:
        key = parse_playlist_url(url).key
    except SourceError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(item, dict):
        return PlaylistEntry(url, key)
    unknown = sorted(set(item) - {"url", "tempo_range"})
    if unknown:
        raise ConfigError(f"{path}: {key}: unknown field(s) {', '.join(map(str, unknown))}")
    bpm_range = item.get("tempo_range")
    if bpm_range is None:
        return PlaylistEntry(url, key)
    return PlaylistEntry(url, key, check_tempo_range(f"{path}: {key}: tempo_range", bpm_range))


def read_playlists_file(path: Path) -> list[PlaylistEntry]:
    """`playlists.yaml`: a list (or `{playlists: [...]}`) of URLs or `{url, tempo_range}`
    mappings. A missing file is an empty list; every error is one line naming the file."""
    import yaml

    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{path}: not YAML: {first_line}") from None
    if isinstance(data, dict):
        data = data.get("playlists") or []
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of playlist URLs")
    return [_playlist_entry(path, item) for item in data]
