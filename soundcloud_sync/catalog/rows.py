"""What the catalog's rows mean, decided once for every step that reads them: a
playlist's name, which file on disk is a track's audio, and which tempo is a track's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Download outcomes that leave the track's audio on disk: fetched in this run, or found
# there from an earlier one (a re-run records the second).
AUDIO_ON_DISK = ("downloaded", "skipped-existing")


def display_name(playlist: Mapping[str, Any]) -> str | None:
    """What a playlist is called: the user's name for it (`sync --name`), else the
    service's title. Its Notion page, the files' album, the Eagle folder and the DJ
    exports all show this one."""
    return playlist.get("name_override") or playlist.get("title")


# where a track's tempo came from (Notion's Tempo Source)
MANUAL, ANALYSIS = "djay (manual)", "analysis"


def effective_tempo(row: Mapping[str, Any]) -> float | None:
    """The tempo the catalog stands by: the DJ's correction in djay over our measurement
    (Notion's Tempo, the file tags and the DJ exports all show this one)."""
    return row.get("djay_manual_tempo") or row.get("tempo")


def tempo_source(row: Mapping[str, Any]) -> str | None:
    """Where `effective_tempo` came from."""
    if row.get("djay_manual_tempo"):
        return MANUAL
    return ANALYSIS if row.get("tempo") else None


def audio_file(track: Mapping[str, Any], formats: Sequence[str] | None = None) -> str | None:
    """Which file on disk is the track's audio.

    Without ``formats``, the original: the download, or a library file when the download
    was deleted (what is measured and converted); None when the track was never
    downloaded, and the download's path when nothing is left on disk, so the step reading
    it names the missing file. With ``formats``, a library file: the first of those
    formats on disk, else any on disk (what Eagle imports and the DJ exports point at);
    None when there is none.
    """
    files: Mapping[str, str] = track.get("files") or {}
    if formats is None:
        if track.get("download_status") not in AUDIO_ON_DISK:
            return None
        candidates = [track.get("source_path"), *files.values()]
        missing = track.get("source_path")
    else:
        candidates = [*(files.get(f) for f in formats), *files.values()]
        missing = None
    return next((p for p in candidates if p and Path(p).exists()), missing)


def joined_at(row: Mapping[str, Any]) -> datetime | None:
    """The earliest a track can have joined its playlist, as far as the catalog knows:
    when it joined (see `memberships.added_at`), else its upload time (a track cannot
    join a playlist before it exists); None when neither is known."""
    return parse_time(row.get("added_at")) or parse_time(row.get("created_at"))


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time (or a datetime) as an aware datetime, a naive one taken as UTC;
    None for nothing or something that is no time."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
