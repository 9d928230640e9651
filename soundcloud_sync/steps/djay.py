"""djay Pro's library meets the catalog: one recording, one row (and so one Notion page).

Each djay track is matched to the catalog's recordings by, in order:

1. ``known``: the row a previous sync gave it (its djay ``titleID`` is on the row);
2. ``service``: its streaming URI names a recording the catalog has (a Spotify track
   id, a SoundCloud track id);
3. ``isrc``: the same ISRC (compared without regard to case);
4. ``file``: its local file is one of our library files (or a download's source file);
5. otherwise it is a recording of its own (``new``). One that looks like a catalog
   recording (same normalised title and artist, lengths within 2 s) is reported as a
   possible match for a person to decide, never merged.

Then djay's facts are compared with our analysis: a tempo more than 0.5 BPM away after
octave folding (djay's 87 and our 174 agree), or another key, is a disagreement, listed
for the run's metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audio.tags import TaggingError, set_tempo
from ..catalog import Catalog, TrackRow, effective_tempo, tempo_source
from ..catalog.djay import record_djay
from ..catalog.store import ids_hash
from ..matching import recording_key, same_length
from ..sources.djay import DjayPlaylist, DjayTrack, read_library
from ..sources.models import Playlist, Source, Track
from ..sources.urls import DjayPlaylistRef
from .notion import notion_removals, sync_notion_pages, upsert_track_pages

if TYPE_CHECKING:
    from ..notion import NotionCatalogSync

RULES = ("known", "service", "isrc", "file", "new")
TEMPO_TOLERANCE_BPM = 0.5

_SPOTIFY = re.compile(r"^(?:spotify:track:|https?://open\.spotify\.com/track/)([A-Za-z0-9]{22})")
_SOUNDCLOUD = re.compile(r"^soundcloud:tracks?:(\d+)$")


@dataclass(frozen=True)
class DjayMatch:
    """Where one djay track lands in the catalog."""

    track: DjayTrack
    recording_id: int | None  # None: a recording new to the catalog
    rule: str  # one of RULES
    possible_match: int | None = None  # a look-alike recording, reported only


@dataclass(frozen=True)
class Disagreement:
    """djay's analysis and ours differ on one recording."""

    recording_id: int
    title: str
    artist: str | None
    field: str  # "tempo" or "key"
    djay: float | str
    ours: float | str

    def line(self) -> str:
        return (
            f"{self.artist or '?'} - {self.title}: {self.field} djay {self.djay}, ours {self.ours}"
        )


def spotify_id_of(uri: str) -> str | None:
    found = _SPOTIFY.match(uri)
    return found[1] if found else None


def soundcloud_id_of(uri: str) -> int | None:
    found = _SOUNDCLOUD.match(uri)
    return int(found[1]) if found else None


def _path_key(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve(strict=False))


class _Index:
    """The catalog's recordings, looked up by each identity a djay track can carry."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.by_title_id: dict[str, int] = {}
        self.by_spotify: dict[str, int] = {}
        self.by_soundcloud: dict[int, int] = {}
        self.by_isrc: dict[str, int] = {}
        self.by_file: dict[str, int] = {}
        self.by_name: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        # SoundCloud's rows first: the ISRC's recording is theirs
        for row in sorted(rows, key=lambda r: (r["soundcloud_id"] is None, -r["recording_id"])):
            rid = row["recording_id"]
            if row.get("djay_title_id"):
                self.by_title_id[row["djay_title_id"]] = rid
            if row.get("spotify_id"):
                self.by_spotify.setdefault(row["spotify_id"], rid)
            if row["soundcloud_id"] is not None:
                self.by_soundcloud[row["soundcloud_id"]] = rid
            if row.get("isrc"):
                self.by_isrc.setdefault(row["isrc"].upper(), rid)
            for path in (row.get("source_path"), *(row.get("files") or {}).values()):
                if path:
                    self.by_file.setdefault(_path_key(path), rid)
            self.by_name.setdefault(recording_key(row.get("title"), row.get("artist")), []).append(
                row
            )

    def match(self, track: DjayTrack) -> DjayMatch:
        if track.title_id in self.by_title_id:
            return DjayMatch(track, self.by_title_id[track.title_id], "known")
        for uri in track.service_uris:
            spotify = spotify_id_of(uri)
            if spotify and spotify in self.by_spotify:
                return DjayMatch(track, self.by_spotify[spotify], "service")
            soundcloud = soundcloud_id_of(uri)
            if soundcloud and soundcloud in self.by_soundcloud:
                return DjayMatch(track, self.by_soundcloud[soundcloud], "service")
        if track.isrc and track.isrc.upper() in self.by_isrc:
            return DjayMatch(track, self.by_isrc[track.isrc.upper()], "isrc")
        if track.file_path is not None and _path_key(track.file_path) in self.by_file:
            return DjayMatch(track, self.by_file[_path_key(track.file_path)], "file")
        return DjayMatch(track, None, "new", self._look_alike(track))

    def _look_alike(self, track: DjayTrack) -> int | None:
        ms = round(track.duration_s * 1000) if track.duration_s else None
        for row in self.by_name.get(recording_key(track.title, track.artist), []):
            if not same_length(ms, row.get("duration_ms")):
                continue
            if track.isrc and row.get("isrc") and track.isrc.upper() != row["isrc"].upper():
                continue  # two ISRCs: two recordings that share a name
            return int(row["recording_id"])
        return None


def match_tracks(tracks: Iterable[DjayTrack], rows: Iterable[Mapping[str, Any]]) -> list[DjayMatch]:
    """Each djay track with the catalog recording it is (see the module's rules).

    Two djay tracks that land on one recording stay two djay entries of one row: the
    first keeps the row's djay identity (`catalog.djay` records the facts of each)."""
    index = _Index(rows)
    return [index.match(track) for track in tracks]


def tempos_agree(a: float, b: float, tolerance: float = TEMPO_TOLERANCE_BPM) -> bool:
    """Equal within ``tolerance`` once the slower is doubled or halved to the faster's
    octave (djay's 87 BPM and our 174 are one tempo)."""
    if a <= 0 or b <= 0:
        return False
    while a > b * 1.5:
        a /= 2
    while a < b / 1.5:
        a *= 2
    return abs(a - b) <= tolerance


def disagreements(pairs: Iterable[tuple[DjayTrack, TrackRow]]) -> list[Disagreement]:
    """djay's analysed tempo and key against ours, for tracks both have measured."""
    found = []
    for track, row in pairs:
        rid = row.recording_id
        ours_tempo, ours_key = row.tempo, row.key
        if track.tempo and ours_tempo and not tempos_agree(track.tempo, ours_tempo):
            found.append(
                Disagreement(
                    rid,
                    track.title,
                    track.artist,
                    "tempo",
                    round(track.tempo, 2),
                    round(ours_tempo, 2),
                )
            )
        if track.key and ours_key and track.key != ours_key:
            found.append(Disagreement(rid, track.title, track.artist, "key", track.key, ours_key))
    return found


# --------------------------------------------------------------------------- the step


@dataclass
class DjayReport:
    """What one djay sync read, matched, wrote and found."""

    path: str
    tracks_read: int = 0
    matched: dict[str, int] = field(default_factory=dict)  # rule -> tracks
    new_pages: int = 0
    pages_updated: int = 0
    files_retagged: int = 0
    corrections: list[str] = field(default_factory=list)  # the DJ's tempo over ours
    disagreements: list[Disagreement] = field(default_factory=list)
    possible_matches: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # from the library and from Notion
    playlists: dict[str, list[int]] = field(default_factory=dict)  # key -> recording ids
    notion_requests: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "library": self.path,
            "tracks_read": self.tracks_read,
            **{f"matched/{rule}": self.matched.get(rule, 0) for rule in RULES},
            "new_pages": self.new_pages,
            "pages_updated": self.pages_updated,
            "files_retagged": self.files_retagged,
            "corrections": len(self.corrections),
            "disagreements": len(self.disagreements),
            "possible_matches": len(self.possible_matches),
            "problems": len(self.problems),
            "playlists": len(self.playlists),
            "notion_requests": self.notion_requests,
        }


def _djay_values(row: TrackRow) -> dict[str, Any]:
    """What the djay sync writes to a recording's page: djay's facts, and Tempo with
    where it came from."""
    values: dict[str, Any] = {k: getattr(row, k) for k in DJAY_NOTION_KEYS}
    values["tempo_source"] = tempo_source(row)
    # Tempo with its source: the DJ's, or ours again once the DJ took theirs back
    values["tempo"] = effective_tempo(row)
    return values


DJAY_NOTION_KEYS = (
    "djay_tempo", "djay_key", "djay_camelot", "djay_play_count", "djay_last_played",
    "djay_rating", "djay_color", "djay_playlists",
)  # fmt: skip


def _facts_hash(values: Mapping[str, Any]) -> str:
    blob = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def sync_library(
    path: Path,
    catalog: Catalog,
    notion_sync: NotionCatalogSync | None,
    *,
    max_concurrent: int = 4,
    log: Callable[[str], None] = lambda line: None,
) -> DjayReport:
    """Read the library, put its tracks on the catalog's recordings, give every one a
    page with djay's facts, and retag our files where the DJ corrected the tempo.

    An unchanged library sends nothing to Notion: pages are known, and the facts last
    written are remembered per recording (``djay_notion_hash``)."""
    library = read_library(path)
    report = DjayReport(path=str(path), tracks_read=len(library.tracks))
    report.problems.extend(library.problems)
    matches: list[DjayMatch] = []

    def pair_up(rows: list[dict[str, Any]]) -> list[tuple[DjayTrack, int | None]]:
        matches[:] = match_tracks(library.tracks, rows)
        return [(m.track, m.recording_id) for m in matches]

    recorded = record_djay(catalog, pair_up)  # matches under the catalog's lock
    for m in matches:
        report.matched[m.rule] = report.matched.get(m.rule, 0) + 1
    for title_id, rid in recorded.shared:
        log(f"djay track {title_id} is the same recording as another djay track ({rid})")
    rows = catalog.rows(set(recorded.ids.values()))
    by_title_id = {m.track.title_id: m for m in matches}
    look_alikes = catalog.rows({m.possible_match for m in matches if m.possible_match})
    for m in matches:
        if m.possible_match is not None:
            alike = look_alikes.get(m.possible_match)
            report.possible_matches.append(
                f"{m.track.artist or '?'} - {m.track.title} may be recording {m.possible_match} "
                f"({(alike and alike.title) or 'catalog'}): no identity to "
                "prove it, so it keeps a page of its own"
            )
    pairs = [(by_title_id[t].track, rows[r]) for t, r in recorded.ids.items() if r in rows]
    report.disagreements = disagreements(pairs)
    for track, row in pairs:
        if track.manual_tempo:
            ours = row.tempo
            report.corrections.append(
                f"{track.artist or '?'} - {track.title}: tempo {track.manual_tempo:g} set by "
                f"hand in djay" + (f" (our analysis: {ours:g})" if ours else "")
            )
    # the DJ's tempo in our files (each checked: a sync stopped half-way is caught up);
    # a tempo the DJ took back gives the files ours again
    corrected = {row.recording_id for track, row in pairs if track.manual_tempo}
    for rid in sorted(corrected | set(recorded.tempo_changed)):
        changed = rows.get(rid)
        tempo = effective_tempo(changed) if changed else None
        if not changed or not tempo:
            continue
        for file in changed.files.values():
            try:
                report.files_retagged += set_tempo(file, tempo)
            except (OSError, TaggingError) as exc:
                report.problems.append(f"{file}: tempo tag not written ({exc})")
    listings = _record_playlists(catalog, library.playlists, recorded.ids, rows, report)
    if notion_sync is not None:
        _write_pages(notion_sync, catalog, report, list(rows.values()), max_concurrent)
        for key, unchanged in listings:
            if not unchanged:
                _write_playlist(notion_sync, catalog, key, report, max_concurrent)
    return report


def _record_playlists(
    catalog: Catalog,
    playlists: Iterable[DjayPlaylist],
    ids: Mapping[str, int],
    rows: Mapping[int, TrackRow],
    report: DjayReport,
) -> list[tuple[str, bool]]:
    """Each djay playlist as a listing of its recordings, in djay's order (partition key
    ``djay/playlist/<name>``); with whether its Notion side is already as it should be."""
    out: list[tuple[str, bool]] = []
    for playlist in playlists:
        ref = DjayPlaylistRef(playlist.name)
        if ref.key in report.playlists:
            report.problems.append(f"djay playlist {playlist.name!r}: a second playlist of "
                                   "that name; only the first is synced")  # fmt: skip
            continue
        order = list(dict.fromkeys(ids[t] for t in playlist.title_ids if t in ids))
        report.playlists[ref.key] = order
        before = catalog.playlist(ref.key) or {}
        tracks = tuple(
            Track(soundcloud_id=None, position=n, title=rows[rid].title,
                  artist=rows[rid].artist, source=Source.DJAY)
            for n, rid in enumerate(order, start=1)
        )  # fmt: skip
        change = catalog.record_playlist(
            Playlist(
                soundcloud_id=None,
                key=ref.key,
                url=ref.url,
                title=playlist.name,
                curator="djay Pro",
                track_count=len(tracks),
                tracks=tracks,
                source=Source.DJAY,
            ),
            recording_ids=order,  # matched and written by this sync (catalog.djay)
        )
        members = catalog.playlist_rows(ref.key)
        unchanged = (
            not change.added
            and not change.removed
            and before.get("ids_hash") == ids_hash(order)
            and before.get("notion_page_id") is not None
            and before.get("sync_status") == "Synced"
            and all(t.notion_linked for t in members)
        )
        out.append((ref.key, unchanged))
    return out


def _write_playlist(
    notion_sync: NotionCatalogSync,
    catalog: Catalog,
    key: str,
    report: DjayReport,
    max_concurrent: int,
) -> None:
    """The playlist's page in Playlists, its tracks linked in djay's order, the tracks
    taken out of it in djay unlinked: the same Notion step as every playlist's."""
    outcome = sync_notion_pages(
        notion_sync,
        catalog,
        key,
        catalog.playlist(key) or {"key": key, "url": key},
        [t.as_dict() for t in catalog.playlist_rows(key)],
        notion_removals(catalog, key),
        max_concurrent=max_concurrent,
    )
    report.notion_requests += outcome.requests
    report.problems.extend(
        f"{key}: {t['recording_id']} {t['title']!r}: {t['reason']}" for t in outcome.failed_tracks()
    )
    report.problems.extend(w for w in outcome.warnings if "djay's facts" not in w)


def _write_pages(
    notion_sync: NotionCatalogSync,
    catalog: Catalog,
    report: DjayReport,
    rows: list[TrackRow],
    max_concurrent: int,
) -> None:
    without_page = [r for r in rows if not r.notion_page_id]
    if without_page:
        outcome = upsert_track_pages(
            notion_sync, catalog, [r.as_dict() for r in without_page], max_concurrent=max_concurrent
        )
        report.new_pages = outcome["created"]
        report.problems.extend(
            f"{t['recording_id']} {t['title']!r}: no Notion page ({t['reason']})"
            for t in outcome["failed_tracks"]
        )
        rows = list(catalog.rows(r.recording_id for r in rows).values())
    todo = []
    for row in rows:
        values = _djay_values(row)
        digest = _facts_hash(values)
        if row.notion_page_id and row.djay_notion_hash != digest:
            todo.append({"recording_id": row.recording_id, "page_id": row.notion_page_id,
                         "enrichment_hash": None, "facts_hash": digest, **values})  # fmt: skip
    if not todo:
        return
    written = notion_sync.update_enrichment(
        todo, max_concurrent=max_concurrent, groups=("djay", "enrichment")
    )
    report.notion_requests += written.requests
    digests = {r["recording_id"]: r["facts_hash"] for r in todo}
    catalog.update_tracks(
        {
            r.recording_id: {"djay_notion_hash": digests[r.recording_id]}
            for r in written.tracks
            if r.status in ("updated", "skipped")
        }
    )
    report.pages_updated = sum(r.status == "updated" for r in written.tracks)
    report.problems.extend(
        f"{r.recording_id}: djay's facts not written ({r.message})"
        for r in written.tracks
        if r.status == "error"
    )
    report.problems.extend(written.warnings)
