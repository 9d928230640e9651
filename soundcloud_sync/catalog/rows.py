"""The catalog's track row as the steps pass it along (`TrackRow`), and what rows mean,
decided once for every step that reads them: a playlist's name, which file on disk is a
track's audio, and which tempo is a track's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

# Download outcomes that leave the track's audio on disk: fetched in this run, or found
# there from an earlier one (a re-run records the second).
AUDIO_ON_DISK = ("downloaded", "skipped-existing")


@dataclass(frozen=True)
class TrackRow:
    """A recording as the catalog holds it (the `tracks` table), and, read as one of a
    playlist's tracks, its place in the playlist. The row every step takes and passes on:
    the same names as the columns, and as `analyze_file`, the tags and Notion use."""

    recording_id: int  # the catalog's own id (see catalog.schema)
    soundcloud_id: int | None = None
    title: str | None = None
    artist: str | None = None
    uploader: str | None = None
    url: str | None = None
    duration_ms: int | None = None
    genre: str | None = None
    tags: list[str] = field(default_factory=list)
    isrc: str | None = None
    album: str | None = None
    artwork_url: str | None = None
    created_at: str | None = None
    last_modified: str | None = None
    policy: str | None = None
    monetization_model: str | None = None
    downloadable: bool | None = None
    availability: str | None = None
    # where the audio is, as the listing gave it (sources.streams): one request a download
    transcodings: list[dict[str, Any]] | None = None
    first_seen_at: str | None = None
    updated_at: str | None = None
    # Notion
    notion_page_id: str | None = None
    notion_hash: str | None = None
    # audio
    download_status: str | None = None
    download_reason: str | None = None
    source_path: str | None = None
    downloaded_at: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # format -> library file
    tempo: float | None = None
    key: str | None = None
    camelot: str | None = None
    key_confidence: float | None = None
    duration_s: float | None = None
    lufs: float | None = None
    analyzed_at: str | None = None
    tempo_confidence: float | None = None
    first_beat_s: float | None = None
    first_downbeat_s: float | None = None
    analysis_version: str | None = None
    tempo_range: str | None = None
    eagle_id: str | None = None
    enrichment_hash: str | None = None
    dj_track_id: int | None = None
    spotify_id: str | None = None
    spotify_url: str | None = None
    soundcloud_searched_at: str | None = None
    # djay Pro: its titleID there and what djay knows (see catalog.djay)
    djay_title_id: str | None = None
    djay_source_uri: str | None = None
    djay_tempo: float | None = None
    djay_manual_tempo: float | None = None  # the DJ's correction of our tempo
    djay_key: str | None = None
    djay_camelot: str | None = None
    djay_play_count: int | None = None
    djay_last_played: str | None = None
    djay_rating: int | None = None
    djay_color: int | None = None
    djay_playlists: list[str] | None = None
    djay_notion_hash: str | None = None
    # its place in a playlist (read as one of a playlist's tracks)
    position: int | None = None
    removed_at: str | None = None
    notion_linked: bool = False
    added_to_playlist_at: str | None = None  # when the catalog first saw it there
    added_at: str | None = None  # when it joined the playlist, if known (see `joined_at`)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        """From a row of the catalog's tables (columns it does not name are left out)."""
        values = {f.name: row[f.name] for f in fields(cls) if f.name in row}
        values["tags"] = list(values.get("tags") or [])
        values["files"] = dict(values.get("files") or {})
        values["notion_linked"] = bool(values.get("notion_linked"))
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Plain values by name: what the Notion sync and the file names read."""
        return asdict(self)

    @property
    def has_audio(self) -> bool:
        """A download left the track's audio on disk (this run's or an earlier one's)."""
        return self.download_status in AUDIO_ON_DISK

    @property
    def is_measured(self) -> bool:
        """The catalog holds an analysis of the track's audio."""
        return bool(self.analyzed_at) and self.tempo is not None


def display_name(playlist: Mapping[str, Any]) -> str | None:
    """What a playlist is called: the user's name for it (`sync --name`), else the
    service's title. Its Notion page, the files' album, the Eagle folder and the DJ
    exports all show this one."""
    return playlist.get("name_override") or playlist.get("title")


# where a track's tempo came from (Notion's Tempo Source)
MANUAL, ANALYSIS = "djay (manual)", "analysis"


def effective_tempo(track: TrackRow) -> float | None:
    """The tempo the catalog stands by: the DJ's correction in djay over our measurement
    (Notion's Tempo, the file tags and the DJ exports all show this one)."""
    return track.djay_manual_tempo or track.tempo


def tempo_source(track: TrackRow) -> str | None:
    """Where `effective_tempo` came from."""
    if track.djay_manual_tempo:
        return MANUAL
    return ANALYSIS if track.tempo else None


def audio_file(track: TrackRow, formats: Sequence[str] | None = None) -> str | None:
    """Which file on disk is the track's audio.

    Without ``formats``, the original: the download, or a library file when the download
    was deleted (what is measured and converted); None when the track was never
    downloaded, and the download's path when nothing is left on disk, so the step reading
    it names the missing file. With ``formats``, a library file: the first of those
    formats on disk, else any on disk (what Eagle imports and the DJ exports point at);
    None when there is none.
    """
    files = track.files
    if formats is None:
        if not track.has_audio:
            return None
        candidates = [track.source_path, *files.values()]
        missing = track.source_path
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
