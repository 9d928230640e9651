"""Notion steps: the playlist's track pages upserted and linked, removals unlinked, the
dry run's plan, and the analysis written back to each page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, TrackRow, display_name, effective_tempo, joined_at, utc_now
from ..errors import SoundCloudSyncError
from ..notion.report import readable
from ..sources import DjayPlaylistRef, Playlist, Source, SpotifyPlaylistRef, parse_playlist_url
from .progress import Progress

if TYPE_CHECKING:
    from ..notion import KnownPage, NotionCatalogSync, SchemaMapping, SyncReport, TrackResult


def notion_playlist(playlist_row: Mapping[str, Any]) -> dict[str, Any]:
    """The playlist as the Notion sync wants it (public URL: never the secret token;
    a Spotify playlist's URL goes to its own property)."""
    url = parse_playlist_url(playlist_row["url"]).public_url
    ref = parse_playlist_url(playlist_row["key"])
    spotify = isinstance(ref, SpotifyPlaylistRef)
    return {
        "key": playlist_row["key"],
        # a djay playlist has no address: its page is found by its name
        "url": None if spotify or isinstance(ref, DjayPlaylistRef) else url,
        "spotify_url": url if spotify else None,
        "name": display_name(playlist_row),
        "curator": playlist_row.get("curator"),
        "track_count": playlist_row.get("track_count"),
        # removals are applied only when the catalog could explain the listing
        "ids_complete": bool(playlist_row.get("listing_explained", True)),
    }


def known_pages(tracks: Iterable[TrackRow], *, linked: bool | None = None) -> dict[int, KnownPage]:
    """What the catalog remembers of each recording's page: no lookup needed for these.
    ``linked`` overrides the playlist link (tracks written without a playlist)."""
    from ..notion import KnownPage

    return {
        t.recording_id: KnownPage(
            page_id=t.notion_page_id,
            hash=t.notion_hash,
            linked=t.notion_linked if linked is None else linked,
        )
        for t in tracks
        if t.notion_page_id
    }


def with_availability(
    rows: list[dict[str, Any]], catalog_tracks: Iterable[TrackRow]
) -> list[dict[str, Any]]:
    """Rows (keyed by ``recording_id``) carrying the Availability Notion shows: the last
    download's verdict, if any, else what the service says."""
    from ..notion.schema import availability_label

    downloads = {t.recording_id: t.download_status for t in catalog_tracks}
    return [
        {
            **row,
            "availability": availability_label(
                row.get("availability"), downloads.get(row["recording_id"])
            ),
        }
        for row in rows
    ]


def page_recorder(
    catalog: Catalog,
    key: str | None,
    total: int,
    progress: Progress | None = None,
) -> Callable[[TrackResult], None]:
    """The on_page callback: store each page id (and its link to the playlist ``key``)
    the moment Notion answers, so a run killed later never makes the page twice."""
    done = 0

    def remember(result: TrackResult) -> None:
        nonlocal done
        done += 1
        if result.page_id and result.status != "error":
            catalog.update_track(
                result.recording_id, notion_page_id=result.page_id, notion_hash=result.hash
            )
            if key is not None:
                catalog.set_notion_linked(key, result.recording_id, result.linked)
        if progress and (done == total or done % 25 == 0):
            progress("notion", min(done, total), total)

    return remember


def notion_removals(catalog: Catalog, key: str, pending: Iterable[int] = ()) -> list[int]:
    """Recordings whose link to the playlist's page must go: every one that left the
    playlist and is still linked, plus ``pending`` (left in a listing not yet recorded,
    the dry run's case) when they are linked now."""
    removed = set(catalog.removed_tracks(key, still_linked=True))
    pending = set(pending)
    if pending:
        linked = {t.recording_id for t in catalog.playlist_rows(key) if t.notion_linked}
        removed |= pending & linked
    return sorted(removed)


def _identity(track: TrackRow | None, recording_id: int) -> dict[str, Any]:
    """What a recording's page is found by when its page id is not known: the services'
    ids (never its title: a page that only looks like it is not unlinked)."""
    if track is None:
        return {"recording_id": recording_id}
    return {
        "recording_id": recording_id,
        "soundcloud_id": track.soundcloud_id,
        "spotify_id": track.spotify_id,
    }


def sync_notion_pages(
    notion_sync: NotionCatalogSync,
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
) -> SyncReport:
    """The Notion step: upsert the playlist's pages (``track_rows``, keyed by
    ``recording_id``), unlink ``removed_ids``; remember every page id the moment it is
    known. ``dry_run`` reads all and writes nothing.

    ``joined_after``: only tracks that joined the playlist after that time are written;
    the others are left as they are (not created, updated or unlinked; `left_out`)."""
    catalog_tracks = catalog.playlist_rows(key, include_removed=True)
    known = known_pages(catalog_tracks)
    by_id = {t.recording_id: t for t in catalog_tracks}
    playlist = notion_playlist(playlist_row)
    track_rows = with_availability(track_rows, catalog_tracks)
    left_out: list[dict[str, Any]] = []
    if joined_after is not None:
        track_rows, left_out = split_by_joining(track_rows, joined_after)
        track_rows = [*track_rows, *_untouched(notion_sync, left_out, known)]
        removed_ids = ()
        if any(int(r["recording_id"]) not in known for r in left_out if readable(r)):
            playlist["ids_complete"] = False  # some tracks still lack a page: Partial
    removed: dict[int, str | dict[str, Any]] = {
        rid: {**_identity(by_id.get(rid), rid), "page_id": known[rid].page_id}
        if rid in known
        else _identity(by_id.get(rid), rid)
        for rid in removed_ids
    }
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
                catalog.set_notion_linked(key, result.recording_id, False)
        catalog.update_playlist(
            key,
            notion_page_id=report.playlist_page_id,
            notion_page_url=report.playlist_page_url,
            last_synced_at=utc_now(),
            sync_status=report.sync_status,
        )
    report.left_out = len(left_out)
    return report


def split_by_joining(
    rows: list[dict[str, Any]], since: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows that joined the playlist after ``since``, the others) — see
    `catalog.joined_at`; a track whose joining time is unknown counts as an earlier one.

    The catalog keeps whole seconds: a track that joined in the second ``since`` falls
    in counts as after it (written once more rather than left out)."""
    since = since.replace(microsecond=0)
    after: list[dict[str, Any]] = []
    before: list[dict[str, Any]] = []
    for row in rows:
        joined = joined_at(row)
        (after if joined is not None and joined >= since else before).append(row)
    return after, before


def _untouched(
    notion_sync: NotionCatalogSync, rows: list[dict[str, Any]], known: dict[int, KnownPage]
) -> list[dict[str, Any]]:
    """Rows left out by time whose page is already linked, handed to the upsert as they
    are so the playlist page keeps its order; it finds nothing to write for them."""
    from ..notion import KnownPage

    kept = []
    for row in rows:
        rid = int(row["recording_id"])
        page = known.get(rid)
        if page is not None and page.linked:
            known[rid] = KnownPage(page.page_id, notion_sync.track_hash(row), True)
            kept.append(row)
    return kept


def track_label(track: Mapping[str, Any]) -> str:
    """How a report names a track: its SoundCloud id, else its recording id."""
    if track.get("soundcloud_id"):
        return f"SoundCloud id {track['soundcloud_id']}"
    return f"recording {track['recording_id']}"


def missing_pages_message(key: str, report: SyncReport) -> str | None:
    """One line naming each track left without its page (or its unlink), or None."""
    failed = report.failed_tracks()
    if not failed:
        return None
    named = "; ".join(
        f"{track_label(t)} {t['title']!r}: {t['reason']}" if t["title"]
        else f"{track_label(t)}: {t['reason']}"
        for t in failed
    )  # fmt: skip
    return f"{key}: {len(failed)} track(s) left without their Notion page: {named}"


def upsert_track_pages(
    notion_sync: NotionCatalogSync,
    catalog: Catalog,
    tracks: list[dict[str, Any]],
    *,
    batch_size: int = 50,
    max_concurrent: int = 4,
) -> dict[str, Any]:
    """Tracks into Music Tracks (rows keyed by ``recording_id``, the catalog holding
    each): the same upsert (lookup in bulk, create or fill in, never a duplicate), in
    batches that share one lookup. Rows naming a playlist (``playlist_url``, and
    ``playlist_name`` for a page made for it) are linked to its page in Playlists,
    which is found (or made) once."""
    counts: Counter[str] = Counter()
    page_ids: dict[int, str] = {}
    failed: list[dict[str, Any]] = []
    warnings: list[str] = []
    for playlist_url, rows in _by_playlist(tracks, warnings).items():
        page_id = _playlist_page(notion_sync, catalog, playlist_url, rows) if playlist_url else None
        for start in range(0, len(rows), max(1, batch_size)):
            batch = rows[start : start + max(1, batch_size)]
            in_catalog = list(catalog.rows(int(t["recording_id"]) for t in batch).values())
            report = notion_sync.upsert_tracks(
                with_availability(batch, in_catalog),
                known=known_pages(in_catalog, linked=page_id is None),
                max_concurrent=max_concurrent,
                on_page=page_recorder(catalog, None, len(batch)),
                playlist_page_id=page_id,
            )
            counts.update(r.status for r in report.tracks)
            page_ids.update({r.recording_id: r.page_id for r in report.tracks if r.page_id})
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
    notion_sync: NotionCatalogSync, catalog: Catalog, url: str, rows: list[dict[str, Any]]
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
        "name": name or display_name(known) or url,
    }
    page_id, _ = notion_sync.playlist_page(playlist)
    return page_id


REPORT_COLUMNS = ["recording_id", "soundcloud_id", "title", "page_id", "status", "message"]


def report_rows(report: SyncReport) -> list[dict[str, Any]]:
    """One row per track (and per unlinked track): what happened to its page."""
    return [
        {
            "recording_id": r.recording_id,
            "soundcloud_id": r.soundcloud_id,
            "title": r.title,
            "page_id": r.page_id,
            "status": r.status,
            "message": r.message,
        }
        for r in [*report.tracks, *report.unlinked]
    ]


def property_mapping(path: str | None) -> SchemaMapping | None:
    """The user's property names: NOTION_PROPERTY_MAPPING is the path of a YAML file
    (see docs/notion-mapping.example.yaml), or unset for the default names."""
    if not path:
        return None
    from ..notion import SchemaMapping

    return SchemaMapping.from_yaml(path)


def plan_notion_sync(
    playlist: Playlist,
    catalog: Catalog,
    notion_sync: NotionCatalogSync | None,
    *,
    playlist_name: str | None = None,
) -> dict[str, Any]:
    """`dry_run`: the Notion step itself with writes turned off, on what the service lists
    now (what the listing would change in the catalog is worked out, not stored).
    Without a Notion connection (`notion_sync` None) only the catalog's side is told."""
    known_row = catalog.playlist(playlist.key) or {}
    change = catalog.preview_playlist(playlist)
    rows = catalog.listing_rows(playlist)
    playlist_row = {
        **known_row,
        "key": playlist.key,
        "url": playlist.url,
        "title": playlist.title,
        "name_override": playlist_name or known_row.get("name_override"),
        "curator": playlist.curator,
        # another service's listing counts a recording listed twice once
        "track_count": playlist.track_count if playlist.source == Source.SOUNDCLOUD else len(rows),
    }
    playlist_row["listing_explained"] = change.removals_trusted
    plan: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.url).public_url,
        "skipped_entries": [
            {"position": e.position, "name": e.name, "reason": e.reason} for e in playlist.skipped
        ],
        "playlist_name": display_name(playlist_row),
        "total_tracks": len(rows),
        "new_to_catalog": len(change.added),
        "removed_from_playlist": len(change.removed),
        "dry_run": True,
    }
    if notion_sync is None:
        # No Notion to ask: what the catalog knows. Tracks with a page are counted as
        # skipped (their values may differ in Notion), the readable others as added.
        pages = known_pages(catalog.playlist_rows(playlist.key))
        readable_rows = [r for r in rows if readable(r)]
        return {
            **plan,
            "tracks_added": sum(1 for r in readable_rows if r["recording_id"] not in pages),
            "tracks_updated": 0,
            "tracks_skipped": sum(1 for r in readable_rows if r["recording_id"] in pages),
            "tracks_unlinked": 0,
            "errors": 0,
            "failed_tracks": [],
            "unreadable": len(rows) - len(readable_rows),
            "track_ids": [
                pages[r["recording_id"]].page_id for r in rows if r["recording_id"] in pages
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
            {
                "recording_id": r.recording_id,
                "soundcloud_id": r.soundcloud_id,
                "action": r.status,
                "page_id": r.page_id,
            }
            for r in [*report.tracks, *report.unlinked]
            if r.status != "skipped"
        ],
    }


def enrichment_rows(tracks: Iterable[TrackRow]) -> list[dict[str, Any]]:
    """What the write-back sends per page: analysis, files, Eagle id, when processed."""
    from ..notion.schema import availability_label

    rows = []
    for t in tracks:
        if not t.notion_page_id or not (t.analyzed_at or t.download_status):
            continue  # nothing new to say about it yet
        if t.download_status == "no-source":
            continue  # nothing to download it from: nothing measured, nothing to write
        rows.append(
            {
                "recording_id": t.recording_id,
                "page_id": t.notion_page_id,
                "enrichment_hash": t.enrichment_hash,
                "tempo": effective_tempo(t),  # the DJ's correction in djay wins
                "key": t.key,
                "camelot": t.camelot,
                "key_confidence": t.key_confidence,
                "duration_s": t.duration_s,
                "lufs": t.lufs,
                "analysis_version": t.analysis_version,
                "downloaded": t.has_audio,
                "aiff_path": t.files.get("aiff"),
                "wav_path": t.files.get("wav"),
                "m4a_path": t.files.get("m4a"),
                "eagle_id": t.eagle_id,
                "processed_at": t.analyzed_at,
                "availability": availability_label(t.availability, t.download_status),
            }
        )
    return rows


def write_enrichment(
    notion_sync: NotionCatalogSync,
    catalog: Catalog,
    rows: list[dict[str, Any]],
    *,
    max_concurrent: int = 4,
) -> SyncReport:
    """Send only changed values; remember what was written (its hash) per page."""

    def remember(result: TrackResult) -> None:
        if result.status == "updated":
            catalog.update_track(result.recording_id, enrichment_hash=result.hash)

    report = notion_sync.update_enrichment(rows, max_concurrent=max_concurrent, on_page=remember)
    return report
