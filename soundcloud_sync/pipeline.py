"""The importer: how the packages' results (SoundCloud, Notion, audio) meet the catalog,
step by step.

The Dagster assets call these functions, and so do the read-only paths of the API
(`dry_run`), so there is one implementation of each step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .catalog import AUDIO_ON_DISK, Catalog, joined_at, utc_now
from .errors import SoundCloudSyncError
from .sources import (
    Availability,
    Playlist,
    SinglesRef,
    Source,
    SpotifyPlaylistRef,
    Track,
    TrackRef,
    parse_playlist_url,
    parse_soundcloud_url,
    public_url,
    spotify_track_id,
    track_from_json,
)

Progress = Callable[[str, int, int], None]
PROGRESS_PREFIX = "progress:"


def progress_message(stage: str, done: int, total: int) -> str:
    """The log line a step emits so a terminal can draw a bar per stage."""
    return f"{PROGRESS_PREFIX} {stage} {done}/{total}"


def parse_progress(message: str) -> tuple[str, int, int] | None:
    """The stage and counts of a progress line, or None for any other line."""
    if not message.startswith(PROGRESS_PREFIX):
        return None
    try:
        stage, counts = message[len(PROGRESS_PREFIX) :].split()
        done, total = counts.split("/")
        return stage, int(done), int(total)
    except ValueError:
        return None


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python dicts (NaN becomes None, numpy ints become int)."""
    if frame.empty:
        return []
    plain = frame.astype(object)
    return plain.where(plain.notna(), None).to_dict(orient="records")


# -- SoundCloud -------------------------------------------------------------------------


def read_soundcloud(
    client: Any, catalog: Catalog, url: str, also: Iterable[str] = ()
) -> tuple[Playlist, dict[str, int]]:
    """A SoundCloud listing as the catalog records it, and the ids of hand-picked URLs
    read for the first time. A singles listing is the tracks added by hand (plus
    ``also``: the dry run's track, not added yet); any other is what SoundCloud lists."""
    ref = parse_playlist_url(url)
    if not isinstance(ref, SinglesRef | TrackRef):
        return client.fetch_playlist(url), {}
    singles = ref.singles if isinstance(ref, TrackRef) else ref
    picked = catalog.picks(singles.key)
    known = {pick_url for pick_url, _ in picked}
    extra = [(pick_url, None) for pick_url in also if pick_url not in known]
    playlist, resolved = client.fetch_singles(singles, [*picked, *extra])
    return playlist, resolved


# -- Notion ---------------------------------------------------------------------------


def notion_playlist(playlist_row: Mapping[str, Any]) -> dict[str, Any]:
    """The playlist as the Notion sync wants it (public URL: never the secret token;
    a Spotify playlist's URL goes to its own property)."""
    url = parse_playlist_url(playlist_row["url"]).public_url
    spotify = isinstance(parse_playlist_url(playlist_row["key"]), SpotifyPlaylistRef)
    return {
        "key": playlist_row["key"],
        "url": None if spotify else url,
        "spotify_url": url if spotify else None,
        "name": playlist_row.get("name_override") or playlist_row.get("title"),
        "curator": playlist_row.get("curator"),
        "track_count": playlist_row.get("track_count"),
        # removals are applied only when the catalog could explain the listing
        "ids_complete": bool(playlist_row.get("listing_explained", True)),
    }


def known_pages(catalog_tracks: pd.DataFrame, *, linked: bool | None = None) -> dict[int, Any]:
    """What the catalog remembers of each track's page: no lookup needed for these.
    ``linked`` overrides the playlist link (tracks written without a playlist)."""
    from .notion import KnownPage

    known = {}
    for row in records(catalog_tracks):
        if row.get("notion_page_id"):
            known[int(row["soundcloud_id"])] = KnownPage(
                page_id=row["notion_page_id"],
                hash=row.get("notion_hash"),
                linked=bool(row.get("notion_linked")) if linked is None else linked,
            )
    return known


def with_availability(
    track_rows: list[dict[str, Any]], catalog_tracks: pd.DataFrame
) -> list[dict[str, Any]]:
    """Rows carrying the Availability Notion shows: the last download's verdict, if any,
    else what SoundCloud says."""
    from .notion.schema import availability_label

    downloads = {int(r["soundcloud_id"]): r.get("download_status") for r in records(catalog_tracks)}
    return [
        {
            **row,
            "availability": availability_label(
                row.get("availability"), downloads.get(int(row["soundcloud_id"]))
            ),
        }
        for row in track_rows
    ]


def page_recorder(
    catalog: Catalog, key: str | None, total: int, progress: Progress | None = None
) -> Callable[[Any], None]:
    """The on_page callback: store each page id (and its link to the playlist ``key``)
    the moment Notion answers, so a run killed later never makes the page twice."""
    done = 0

    def remember(result: Any) -> None:
        nonlocal done
        done += 1
        if result.page_id and result.status != "error":
            catalog.update_track(
                result.soundcloud_id, notion_page_id=result.page_id, notion_hash=result.hash
            )
            if key is not None:
                catalog.set_notion_linked(key, result.soundcloud_id, result.linked)
        if progress and (done == total or done % 25 == 0):
            progress("notion", min(done, total), total)

    return remember


def notion_removals(catalog: Catalog, key: str, pending: Iterable[int] = ()) -> list[int]:
    """Tracks whose link to the playlist's page must go: every track that left the
    playlist and is still linked, plus ``pending`` (left in a listing not yet recorded,
    the dry run's case) when they are linked now."""
    removed = set(catalog.removed_tracks(key, still_linked=True))
    pending = set(pending)
    if pending:
        current = catalog.playlist_tracks(key)
        linked = {int(r["soundcloud_id"]) for r in records(current) if r.get("notion_linked")}
        removed |= pending & linked
    return sorted(removed)


def sync_notion_pages(
    notion_sync: Any,
    catalog: Catalog,
    key: str,
    playlist_row: Mapping[str, Any],
    track_rows: list[dict[str, Any]],
    removed_ids: Iterable[int],
    *,
    dry_run: bool = False,
    max_concurrent: int = 4,
    progress: Progress | None = None,
    joined_after: datetime | None = None,
) -> Any:
    """The Notion step: upsert the playlist's pages, unlink ``removed_ids``; remember
    every page id the moment it is known. ``dry_run`` reads all and writes nothing.

    ``joined_after``: only tracks that joined the playlist after that time are written;
    the others are left as they are (not created, updated or unlinked; `left_out`)."""
    catalog_tracks = catalog.playlist_tracks(key, include_removed=True)
    known = known_pages(catalog_tracks)
    playlist = notion_playlist(playlist_row)
    track_rows = with_availability(track_rows, catalog_tracks)
    left_out: list[dict[str, Any]] = []
    if joined_after is not None:
        track_rows, left_out = split_by_joining(track_rows, joined_after)
        track_rows = [*track_rows, *_untouched(notion_sync, left_out, known)]
        removed_ids = ()
        if any(int(r["soundcloud_id"]) not in known for r in left_out if readable_row(r)):
            playlist["ids_complete"] = False  # some tracks still lack a page: Partial
    removed = {sid: known[sid].page_id if sid in known else None for sid in removed_ids}
    report = notion_sync.upsert_playlist(
        playlist,
        track_rows,
        known=known,
        playlist_page_id=playlist_row.get("notion_page_id"),
        removed=removed,
        dry_run=dry_run,
        max_concurrent=max_concurrent,
        on_page=None if dry_run else page_recorder(catalog, key, len(track_rows), progress),
    )
    if not dry_run:
        for result in report.unlinked:
            if result.status == "unlinked":
                catalog.set_notion_linked(key, result.soundcloud_id, False)
        catalog.update_playlist(
            key,
            notion_page_id=report.playlist_page_id,
            notion_page_url=report.playlist_page_url,
            last_synced_at=utc_now(),
            sync_status=report.sync_status,
        )
    report.left_out = len(left_out)
    return report


def readable_row(row: Mapping[str, Any]) -> bool:
    from .notion.sync import readable

    return readable(row)


def split_by_joining(
    rows: list[dict[str, Any]], since: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows that joined the playlist after ``since``, the others) — see
    `catalog.joined_at`; a track whose joining time is unknown counts as an earlier one."""
    after: list[dict[str, Any]] = []
    before: list[dict[str, Any]] = []
    for row in rows:
        joined = parse_time(joined_at(row))
        (after if joined is not None and joined > since else before).append(row)
    return after, before


def _untouched(
    notion_sync: Any, rows: list[dict[str, Any]], known: dict[int, Any]
) -> list[dict[str, Any]]:
    """Rows left out by time whose page is already linked, handed to the upsert as they
    are so the playlist page keeps its order; it finds nothing to write for them."""
    from .notion import KnownPage

    kept = []
    for row in rows:
        sid = int(row["soundcloud_id"])
        page = known.get(sid)
        if page is not None and page.linked:
            known[sid] = KnownPage(page.page_id, notion_sync.track_hash(row), True)
            kept.append(row)
    return kept


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time as an aware datetime (a naive one is taken as UTC), or None."""
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


def missing_pages_message(key: str, report: Any) -> str | None:
    """One line naming each track left without its page (or its unlink), or None."""
    failed = report.failed_tracks()
    if not failed:
        return None
    named = "; ".join(
        f"{t['soundcloud_id']} {t['title']!r}: {t['reason']}" if t["title"]
        else f"{t['soundcloud_id']}: {t['reason']}"
        for t in failed
    )  # fmt: skip
    return f"{key}: {len(failed)} track(s) left without their Notion page: {named}"


def upsert_track_pages(
    notion_sync: Any,
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    batch_size: int = 50,
    max_concurrent: int = 4,
) -> dict[str, Any]:
    """Tracks into Music Tracks: the same upsert (lookup in bulk, create or fill in,
    never a duplicate), in batches that share one lookup. Rows naming a playlist
    (``playlist_url``, and ``playlist_name`` for a page made for it) are linked to its
    page in Playlists, which is found (or made) once."""
    counts: Counter[str] = Counter()
    page_ids: dict[int, str] = {}
    failed: list[dict[str, Any]] = []
    warnings: list[str] = []
    for playlist_url, rows in _by_playlist(tracks, warnings).items():
        page_id = _playlist_page(notion_sync, catalog, playlist_url, rows) if playlist_url else None
        for start in range(0, len(rows), max(1, batch_size)):
            batch = rows[start : start + max(1, batch_size)]
            in_catalog = pd.DataFrame(
                list(catalog.tracks_by_id(int(t["soundcloud_id"]) for t in batch).values())
            )
            report = notion_sync.upsert_tracks(
                with_availability(batch, in_catalog),
                known=known_pages(in_catalog, linked=page_id is None),
                max_concurrent=max_concurrent,
                on_page=page_recorder(catalog, None, len(batch)),
                playlist_page_id=page_id,
            )
            counts.update(r.status for r in report.tracks)
            page_ids.update({r.soundcloud_id: r.page_id for r in report.tracks if r.page_id})
            failed.extend(report.failed_tracks())
    return {
        "created": counts["created"],
        "updated": counts["updated"],
        "skipped": counts["skipped"],
        "errors": counts["error"],
        "failed_tracks": failed,
        "unreadable": counts["unreadable"],
        "page_ids": page_ids,
        "warnings": warnings,
    }


def _by_playlist(
    rows: list[dict[str, Any]], warnings: list[str]
) -> dict[str | None, list[dict[str, Any]]]:
    """Rows grouped by the playlist they name (its public URL), in their order."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    unnamed = 0
    for row in rows:
        url = None
        if row.get("playlist_url"):
            try:
                url = parse_playlist_url(str(row["playlist_url"])).public_url
            except SoundCloudSyncError as err:
                warnings.append(f"not linked to a playlist: {err}")
        elif row.get("playlist_name"):
            unnamed += 1
        groups.setdefault(url, []).append(row)
    if unnamed:
        warnings.append(
            f"{unnamed} row(s) name a playlist without its playlist_url: not linked (a "
            "Playlists page is found by its URL)"
        )
    return groups


def _playlist_page(
    notion_sync: Any, catalog: Catalog, url: str, rows: list[dict[str, Any]]
) -> str | None:
    """The Playlists page of the playlist at ``url``: the catalog's, else found in
    Notion by its URL, else made (named as the rows name it)."""
    ref = parse_playlist_url(url)
    known = catalog.playlist(ref.key) or {}
    if known.get("notion_page_id"):
        return str(known["notion_page_id"])
    spotify = isinstance(ref, SpotifyPlaylistRef)
    name = next((r["playlist_name"] for r in rows if r.get("playlist_name")), None)
    playlist = {
        "url": None if spotify else url,
        "spotify_url": url if spotify else None,
        "name": name or known.get("title") or url,
    }
    page_id, _ = notion_sync.playlist_page(playlist)
    return page_id


@dataclass
class ResolvedRows:
    """The seed's track rows as catalog tracks, and the rows that could not be."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


_TRACK_KEYS = frozenset(f.name for f in fields(Track))


def _given_track(row: Mapping[str, Any], **identity: Any) -> Track | None:
    """A row that carries every field of a track (as `extract_playlist_tracks` gives):
    taken as it is, no request needed. A row with less is looked up."""
    if not set(row) >= _TRACK_KEYS or not row.get("title"):
        return None
    values = {k: row[k] for k in _TRACK_KEYS}
    values.update(tags=tuple(row.get("tags") or ()), **identity)
    values["availability"] = Availability(row.get("availability") or Availability.OK)
    values["source"] = Source(row.get("source") or Source.SOUNDCLOUD)
    return Track(**values)


def resolve_track_rows(
    rows: Sequence[Mapping[str, Any]],
    soundcloud: Any,
    spotify: Callable[[], Any] | None,
    catalog: Catalog,
) -> ResolvedRows:
    """The seed's rows (``title``, ``artist``, ``url``; or what `extract_playlist_tracks`
    gives) as catalog tracks, each a recording with its catalog id, in the given order.

    A SoundCloud row is found by its id, else by its page URL (the catalog first; one
    ``/resolve`` for a URL it does not know); ids are read in batches of 50. A Spotify
    row (``spotify_id`` or a Spotify track URL) with less than a full track costs one
    Spotify request. A row that cannot be found is named in ``failed`` with the reason."""
    out = ResolvedRows()
    tracks: dict[int, Track] = {}  # by row index
    by_id: dict[int, list[int]] = {}  # SoundCloud id -> rows that need its full object
    urls = {i: public_url(str(r["url"])) for i, r in enumerate(rows) if _is_soundcloud_url(r)}
    known_urls = catalog.track_ids_by_url(urls.values())

    spotify_client = None  # made on the first Spotify row that needs a lookup

    def fail(i: int, reason: str) -> None:
        row = rows[i]
        out.failed.append({"soundcloud_id": row.get("soundcloud_id"), "title": row.get("title"),
                           "url": row.get("url"), "reason": reason})  # fmt: skip

    for i, row in enumerate(rows):
        sid = _positive_int(row.get("soundcloud_id"))
        spotify_id = row.get("spotify_id") or spotify_track_id(
            row.get("spotify_url") or row.get("url")
        )
        try:
            if sid is None and i in urls:
                sid = known_urls.get(urls[i])
                if sid is None:
                    tracks[i] = soundcloud.resolve_track(str(row["url"]))
                    continue
            if sid is not None:
                given = _given_track(row, soundcloud_id=sid)
                if given is not None:
                    tracks[i] = given
                else:
                    by_id.setdefault(sid, []).append(i)
            elif spotify_id:
                given = _given_track(row, soundcloud_id=None, spotify_id=str(spotify_id))
                if given is not None:
                    tracks[i] = given
                elif spotify is None:
                    fail(i, "a Spotify track: SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET not set")
                else:
                    spotify_client = spotify_client or spotify()
                    tracks[i] = spotify_client.fetch_track(str(spotify_id))
            else:
                fail(i, "no SoundCloud or Spotify track id or URL to find it by")
        except SoundCloudSyncError as err:
            fail(i, str(err))
    if by_id:
        found = soundcloud.fetch_track_json(by_id)
        for sid, places in by_id.items():
            for i in places:
                if sid in found:
                    tracks[i] = track_from_json(found[sid], 0)
                else:
                    fail(i, f"SoundCloud id {sid}: no such track (deleted, or private)")
    if spotify_client is not None:
        spotify_client.close()
    ordered = [i for i in range(len(rows)) if i in tracks]
    recorded = catalog.record_tracks([tracks[i] for i in ordered])
    for i, track in zip(ordered, recorded, strict=True):
        row = rows[i]
        out.rows.append({
            **track.to_row(),
            **{k: row[k] for k in ("playlist_name", "playlist_url", "track_number") if k in row},
        })  # fmt: skip
    return out


def _is_soundcloud_url(row: Mapping[str, Any]) -> bool:
    url = row.get("url")
    if not url or spotify_track_id(str(url)):
        return False
    try:
        return isinstance(parse_soundcloud_url(str(url)), TrackRef)
    except SoundCloudSyncError:
        return False


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def report_frame(report: Any) -> pd.DataFrame:
    """One row per track (and per unlinked track): what happened to its page."""
    columns = ["soundcloud_id", "title", "page_id", "status", "message"]
    rows = [
        {
            "soundcloud_id": r.soundcloud_id,
            "title": r.title,
            "page_id": r.page_id,
            "status": r.status,
            "message": r.message,
        }
        for r in [*report.tracks, *report.unlinked]
    ]
    return pd.DataFrame(rows, columns=columns)


def property_mapping(path: str | None) -> Any:
    """The user's property names: NOTION_PROPERTY_MAPPING is the path of a YAML file
    (see docs/notion-mapping.example.yaml), or unset for the default names."""
    if not path:
        return None
    from .notion import SchemaMapping

    return SchemaMapping.from_yaml(path)


def plan_notion_sync(
    playlist: Any,
    catalog: Catalog,
    notion_sync: Any | None,
    *,
    playlist_name: str | None = None,
) -> dict[str, Any]:
    """`dry_run`: the Notion step itself with writes turned off, on what SoundCloud lists
    now (what the listing would change in the catalog is worked out, not stored).
    Without a Notion connection (`notion_sync` None) only the catalog's side is told."""
    known_row = catalog.playlist(playlist.key) or {}
    change = catalog.preview_playlist(playlist)
    playlist = catalog.resolve_recordings(playlist)
    playlist_row = {
        **known_row,
        "key": playlist.key,
        "url": playlist.url,
        "title": playlist.title,
        "name_override": playlist_name or known_row.get("name_override"),
        "curator": playlist.curator,
        "track_count": playlist.track_count,
    }
    rows = [t.to_row() for t in playlist.tracks]
    playlist_row["listing_explained"] = change.removals_trusted
    plan: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.url).public_url,
        "skipped_entries": [
            {"position": e.position, "name": e.name, "reason": e.reason} for e in playlist.skipped
        ],
        "playlist_name": playlist_row["name_override"] or playlist.title,
        "total_tracks": len(rows),
        "new_to_catalog": len(change.added),
        "removed_from_playlist": len(change.removed),
        "dry_run": True,
    }
    if notion_sync is None:
        # No Notion to ask: what the catalog knows. Tracks with a page are counted as
        # skipped (their values may differ in Notion), the readable others as added.
        pages = known_pages(catalog.playlist_tracks(playlist.key))
        readable_rows = [r for r in rows if readable_row(r)]
        return {
            **plan,
            "tracks_added": sum(1 for r in readable_rows if r["soundcloud_id"] not in pages),
            "tracks_updated": 0,
            "tracks_skipped": sum(1 for r in readable_rows if r["soundcloud_id"] in pages),
            "tracks_unlinked": 0,
            "errors": 0,
            "failed_tracks": [],
            "unreadable": len(rows) - len(readable_rows),
            "track_ids": [
                pages[r["soundcloud_id"]].page_id for r in rows if r["soundcloud_id"] in pages
            ],
            "notion": "skipped: NOTION_TOKEN or NOTION_TRACKS_DATABASE_ID not set",
        }
    report = sync_notion_pages(
        notion_sync,
        catalog,
        playlist.key,
        playlist_row,
        rows,
        notion_removals(catalog, playlist.key, change.removed),
        dry_run=True,
    )
    stats = report.stats()
    return {
        **plan,
        "track_ids": [t.page_id for t in report.tracks if t.page_id],
        **{k: stats[k] for k in ("tracks_added", "tracks_updated", "tracks_skipped")},
        **{k: stats[k] for k in ("tracks_unlinked", "errors", "failed_tracks", "unreadable")},
        "notion_requests": stats["notion_requests"],
        "warnings": stats["warnings"],
        "plan": [
            {"soundcloud_id": r.soundcloud_id, "action": r.status, "page_id": r.page_id}
            for r in [*report.tracks, *report.unlinked]
            if r.status != "skipped"
        ],
    }


# -- Spotify-only recordings ------------------------------------------------------------

# At most this many recordings are looked up per run, each costing 1 or 2 SoundCloud
# requests: 50 of SoundCloud's ~600 per 10 minutes; the rest wait for the next run.
SOUNDCLOUD_LOOKUPS_PER_RUN = 25


def find_on_soundcloud(
    soundcloud_client: Any, catalog: Catalog, key: str, limit: int = SOUNDCLOUD_LOOKUPS_PER_RUN
) -> dict[str, Any]:
    """Look up on SoundCloud, by ISRC, the playlist's recordings known only from Spotify
    (each once): one found is kept under SoundCloud's track, so its audio is downloaded
    and its page gains the SoundCloud identity. Returns what was looked up and found."""
    from .sources.lookup import find_recording

    rows = catalog.unsearched_spotify_only(key, limit)
    found, requests = [], 0
    for row in rows:
        track, spent = find_recording(soundcloud_client, row["isrc"], row["title"], row["artist"])
        requests += spent
        if track is None:
            catalog.update_track(row["soundcloud_id"], soundcloud_searched_at=utc_now())
            continue
        catalog.adopt_soundcloud_track(row["soundcloud_id"], track)
        found.append({"spotify_id": row["spotify_id"], "soundcloud_id": track.soundcloud_id,
                      "title": row["title"], "soundcloud_url": track.url})  # fmt: skip
    return {"soundcloud_lookups": len(rows), "soundcloud_lookup_requests": requests,
            "found_on_soundcloud": found}  # fmt: skip


# -- audio ----------------------------------------------------------------------------


def is_measured(track: Mapping[str, Any]) -> bool:
    """The catalog holds an analysis of this track's file."""
    return bool(track.get("analyzed_at")) and track.get("tempo") is not None


def download_audio(
    soundcloud_client: Any,
    catalog: Catalog,
    track_rows: list[dict[str, Any]],
    downloads_dir: Any,
    *,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> list[Any]:
    """Fetch what is not on disk yet; record each outcome as it lands. A recording
    known only from Spotify has nothing to download from yet: "no source", no error."""
    from .audio import download_tracks
    from .audio.download import DownloadResult, DownloadStatus

    without_source = [r for r in track_rows if int(r["soundcloud_id"]) <= 0]
    track_rows = [r for r in track_rows if int(r["soundcloud_id"]) > 0]
    reason = "known only from Spotify: no audio source yet"
    skipped = [
        DownloadResult(int(r["soundcloud_id"]), r.get("spotify_url") or "",
                       DownloadStatus.NO_SOURCE, reason=reason)
        for r in without_source
    ]  # fmt: skip
    catalog.update_tracks(
        {r.soundcloud_id: {"download_status": str(r.status), "download_reason": reason}
         for r in skipped}
    )  # fmt: skip
    total, done = len(track_rows), 0

    def remember(result: Any) -> None:
        nonlocal done
        done += 1
        values: dict[str, Any] = {
            "download_status": str(result.status),
            "download_reason": result.reason,
        }
        if result.ok and result.path is not None:
            values.update(source_path=str(result.path), downloaded_at=utc_now())
        catalog.update_track(result.soundcloud_id, **values)
        if progress:
            progress("download", done, total)

    return skipped + download_tracks(
        track_rows,
        downloads_dir,
        soundcloud_client.youtube_dl,
        max_workers=max_workers,
        on_result=remember,
    )


def audio_on_disk(track: Mapping[str, Any]) -> str | None:
    """The file to measure: the download, or a library file when the download was
    deleted; None when the track has no audio on disk."""
    from pathlib import Path

    if track.get("download_status") not in AUDIO_ON_DISK:
        return None
    candidates = [track.get("source_path"), *(track.get("files") or {}).values()]
    existing = [p for p in candidates if p and Path(p).exists()]
    return existing[0] if existing else track.get("source_path")


def range_label(tempo_range: tuple[float, float] | None) -> str | None:
    """How the catalog records a playlist's tempo range: "150-185", or None for none."""
    return None if tempo_range is None else f"{tempo_range[0]:g}-{tempo_range[1]:g}"


def track_tempo_ranges(
    catalog: Catalog,
    soundcloud_ids: Iterable[int],
    ranges_by_playlist: Mapping[str, tuple[float, float] | None],
) -> dict[int, tuple[float, float] | None]:
    """Each track's tempo range: the narrowest range among the playlists that hold it
    (a track in a drum & bass set and in a warm-up mix keeps one range, whichever
    playlist is synced, instead of being measured again by each in turn); None when
    none of its playlists sets one."""
    out: dict[int, tuple[float, float] | None] = {}
    for sid, keys in catalog.track_playlists(soundcloud_ids).items():
        out[sid] = narrowest(*(ranges_by_playlist.get(k) for k in keys))
    return out


def narrowest(*ranges: tuple[float, float] | None) -> tuple[float, float] | None:
    """The narrowest of the tempo ranges given (None: no range), the same on every call."""
    given = [r for r in ranges if r]
    return min(given, key=lambda r: (r[1] - r[0], r)) if given else None


def needs_analysis(
    track: Mapping[str, Any],
    path: str,
    tempo_range: tuple[float, float] | None = None,
) -> bool:
    """Whether ``path`` must be measured: never measured, another file, an older analysis
    version, or another tempo range than the one the playlist asks for now."""
    from .audio.analysis import ANALYSIS_VERSION

    same_file = path in (track.get("source_path"), *(track.get("files") or {}).values())
    return not (
        track.get("analyzed_at")
        and same_file
        and track.get("analysis_version") == ANALYSIS_VERSION
        and track.get("tempo_range") == range_label(tempo_range)
    )


def analyse_audio(
    catalog: Catalog,
    files: list[dict[str, Any]],
    *,
    workers: int = 2,
    progress: Progress | None = None,
    tempo_ranges: Mapping[int, tuple[float, float] | None] | None = None,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Measure each file on disk once: a file already measured by this analysis version
    in this tempo range is not redone (unless ``force``); one measured by an older version
    is, from the same file, never downloaded again. ``tempo_ranges``: each track's own
    range (its playlists'), which wins over the genre's prior and the default range."""
    from .audio import analyze_files
    from .audio.analysis import DEFAULT_TEMPO_RANGE

    ranges = tempo_ranges or {}
    known = catalog.tracks_by_id(f["soundcloud_id"] for f in files)
    todo = [
        f
        for f in files
        if force
        or needs_analysis(
            known.get(f["soundcloud_id"], {}), f["path"], ranges.get(f["soundcloud_id"])
        )
    ]
    errors: dict[int, str] = {}
    measured: set[int] = set()
    if todo:
        if progress:
            progress("analysis", 0, len(todo))
        by_range: dict[tuple[float, float] | None, list[dict[str, Any]]] = {}
        for f in todo:
            by_range.setdefault(ranges.get(f["soundcloud_id"]), []).append(f)
        for tempo_range, group in by_range.items():
            # SoundCloud's genre settles the tempo octave where the beat leaves it in
            # doubt, unless the track's playlist sets its own range.
            genres = [
                None if tempo_range else known.get(f["soundcloud_id"], {}).get("genre")
                for f in group
            ]
            results = analyze_files(
                [f["path"] for f in group],
                max_workers=workers,
                tempo_range=tempo_range or DEFAULT_TEMPO_RANGE,
                genres=genres,
            )
            for f, result in zip(group, results, strict=True):
                if result.features is None:
                    errors[f["soundcloud_id"]] = f"{f['path']}: {result.error}"
                    continue
                measured.add(f["soundcloud_id"])
                features = result.features
                catalog.update_track(
                    f["soundcloud_id"],
                    tempo=features.tempo,
                    musical_key=features.key,
                    camelot=features.camelot,
                    key_confidence=features.key_confidence,
                    duration_s=features.duration_s,
                    lufs=features.lufs,
                    tempo_confidence=features.tempo_confidence,
                    first_beat_s=features.first_beat_s,
                    first_downbeat_s=features.first_downbeat_s,
                    analysis_version=features.analysis_version,
                    tempo_range=range_label(tempo_range),
                    analyzed_at=utc_now(),
                )
        if progress:
            progress("analysis", len(todo), len(todo))
    now = catalog.tracks_by_id(f["soundcloud_id"] for f in files)
    rows = []
    for f in files:
        sid, track = f["soundcloud_id"], now.get(f["soundcloud_id"], {})
        failed = sid in errors
        rows.append(
            {
                "soundcloud_id": sid,
                "title": track.get("title"),
                "artist": track.get("artist"),
                "tempo": None if failed else track.get("tempo"),
                "key": None if failed else track.get("musical_key"),
                "camelot": None if failed else track.get("camelot"),
                "key_confidence": track.get("key_confidence"),
                "duration_s": track.get("duration_s"),
                "lufs": track.get("lufs"),
                "tempo_confidence": track.get("tempo_confidence"),
                "first_beat_s": None if failed else track.get("first_beat_s"),
                "first_downbeat_s": None if failed else track.get("first_downbeat_s"),
                "analysis_version": track.get("analysis_version"),
                "status": "error" if failed else ("measured" if sid in measured else "kept"),
                "message": errors.get(sid, ""),
            }
        )
    return rows


def write_library_files(
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    formats: Iterable[str],
    root: Any,
    template: str,
    album: str | None,
    artwork_dir: Any,
    proxy: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Convert and tag each measured track into every configured format."""
    from .audio import TrackTags, export_track, fetch_artwork

    rows, formats = [], list(formats)
    for done, track in enumerate(tracks, start=1):
        sid = int(track["soundcloud_id"])
        tags = TrackTags(
            title=track.get("title"), artist=track.get("artist"), album=album,
            genre=track.get("genre"), bpm=track.get("tempo"), key=track.get("musical_key"),
            camelot=track.get("camelot"), isrc=track.get("isrc"), url=track.get("url"),
            soundcloud_id=sid, track_number=track.get("position"),
            artwork=fetch_artwork(track.get("artwork_url"), artwork_dir, sid, proxy=proxy),
        )  # fmt: skip
        fields = {**{k: v for k, v in track.items() if v is not None}, "album": album or ""}
        try:
            files = export_track(track["source_path"], root, formats, fields, tags, template)
        except Exception as exc:  # one bad file must not stop the rest
            rows.append({"soundcloud_id": sid, "format": ",".join(formats), "path": None,
                         "status": "error", "message": str(exc)})  # fmt: skip
            continue
        catalog.update_track(sid, files={fmt: str(path) for fmt, path in files.items()})
        rows.extend(
            {"soundcloud_id": sid, "format": fmt, "path": str(path), "status": "ok", "message": ""}
            for fmt, path in files.items()
        )
        if progress:
            progress("files", done, len(tracks))
    return rows


def import_into_eagle(
    eagle: Any,
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    folder: str,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Import each track's first library file once; remember the Eagle item id."""
    from .eagle import track_tags

    rows = []
    for done, track in enumerate(tracks, start=1):
        files = track.get("files") or {}
        path = next(iter(files.values()), None)
        if not path:
            continue
        outcome = eagle.import_file(
            path,
            name=f"{track.get('artist')} - {track.get('title')}",
            website=track["url"],
            folder=folder,
            tags=track_tags(folder, track.get("genre"), track.get("musical_key"),
                            track.get("camelot"), track.get("tempo")),
            annotation=f"SoundCloud id {track['soundcloud_id']}",
        )  # fmt: skip
        if outcome.item_id:
            catalog.update_track(track["soundcloud_id"], eagle_id=outcome.item_id)
        rows.append({"soundcloud_id": track["soundcloud_id"], "eagle_id": outcome.item_id,
                     "status": outcome.status, "message": outcome.reason or ""})  # fmt: skip
        if outcome.status == "not-running":
            break
        if progress:
            progress("eagle", done, len(tracks))
    return rows


def enrichment_rows(catalog_tracks: pd.DataFrame) -> list[dict[str, Any]]:
    """What the write-back sends per page: analysis, files, Eagle id, when processed."""
    from .notion.schema import availability_label

    rows = []
    for t in records(catalog_tracks):
        if not t.get("notion_page_id") or not (t.get("analyzed_at") or t.get("download_status")):
            continue  # nothing new to say about it yet
        if t.get("download_status") == "no-source":
            continue  # nothing to download it from: nothing measured, nothing to write
        files = t.get("files") or {}
        rows.append(
            {
                "soundcloud_id": t["soundcloud_id"],
                "page_id": t["notion_page_id"],
                "enrichment_hash": t.get("enrichment_hash"),
                "tempo": t.get("tempo"),
                "key": t.get("musical_key"),
                "camelot": t.get("camelot"),
                "key_confidence": t.get("key_confidence"),
                "duration_s": t.get("duration_s"),
                "lufs": t.get("lufs"),
                "analysis_version": t.get("analysis_version"),
                "downloaded": t.get("download_status") in AUDIO_ON_DISK,
                "aiff_path": files.get("aiff"),
                "wav_path": files.get("wav"),
                "m4a_path": files.get("m4a"),
                "eagle_id": t.get("eagle_id"),
                "processed_at": t.get("analyzed_at"),
                "availability": availability_label(t.get("availability"), t.get("download_status")),
            }
        )
    return rows


def write_enrichment(
    notion_sync: Any,
    catalog: Catalog,
    rows: list[dict[str, Any]],
    *,
    max_concurrent: int = 4,
) -> Any:
    """Send only changed values; remember what was written (its hash) per page."""

    def remember(result: Any) -> None:
        if result.status == "updated":
            catalog.update_track(result.soundcloud_id, enrichment_hash=result.hash)

    report = notion_sync.update_enrichment(rows, max_concurrent=max_concurrent, on_page=remember)
    return report
