"""The importer: how the rooms' results meet the catalog, step by step.

The Dagster assets call these functions, and so do the read-only paths of the API
(`dry_run`), so there is one implementation of each step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from .catalog import Catalog, utc_now
from .sources import parse_playlist_url

Progress = Callable[[str, int, int], None]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python dicts (NaN becomes None, numpy ints become int)."""
    if frame.empty:
        return []
    plain = frame.astype(object)
    return plain.where(plain.notna(), None).to_dict(orient="records")


# -- Notion ---------------------------------------------------------------------------


def notion_playlist(playlist_row: Mapping[str, Any]) -> dict[str, Any]:
    """The playlist as the Notion room wants it (public URL: never the secret token)."""
    return {
        "key": playlist_row["key"],
        "url": parse_playlist_url(playlist_row["url"]).public_url,
        "name": playlist_row.get("name_override") or playlist_row.get("title"),
        "curator": playlist_row.get("curator"),
        "track_count": playlist_row.get("track_count"),
        "ids_complete": bool(playlist_row.get("ids_complete", True)),
    }


def known_pages(catalog_tracks: pd.DataFrame) -> dict[int, Any]:
    """What the catalog remembers of each track's page: no lookup needed for these."""
    from .notion import KnownPage

    if catalog_tracks.empty:
        return {}
    known = {}
    for row in records(catalog_tracks):
        if row.get("notion_page_id"):
            known[int(row["soundcloud_id"])] = KnownPage(
                page_id=row["notion_page_id"],
                hash=row.get("notion_hash"),
                linked=bool(row.get("notion_linked")),
            )
    return known


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
) -> Any:
    """Upsert the playlist's pages; remember every page id the moment it is known."""
    catalog_tracks = catalog.playlist_tracks(key, include_removed=True)
    known = known_pages(catalog_tracks)
    removed = {sid: known[sid].page_id if sid in known else None for sid in removed_ids}
    total, done = len(track_rows), 0

    def remember(result: Any) -> None:
        nonlocal done
        done += 1
        if result.page_id and result.status != "error":
            catalog.update_track(
                result.soundcloud_id, notion_page_id=result.page_id, notion_hash=result.hash
            )
            catalog.set_notion_linked(key, result.soundcloud_id, result.linked)
        if progress and (done == total or done % 25 == 0):
            progress("notion", min(done, total), total)

    report = notion_sync.upsert_playlist(
        notion_playlist(playlist_row),
        track_rows,
        known=known,
        playlist_page_id=playlist_row.get("notion_page_id"),
        removed=removed,
        dry_run=dry_run,
        max_concurrent=max_concurrent,
        on_page=None if dry_run else remember,
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
    return report


def report_frame(report: Any) -> pd.DataFrame:
    """One row per track (and per unlinked track): what happened to its page."""
    rows = [
        {
            "soundcloud_id": r.soundcloud_id,
            "page_id": r.page_id,
            "status": r.status,
            "message": r.message,
        }
        for r in [*report.tracks, *report.unlinked]
    ]
    return pd.DataFrame(rows, columns=["soundcloud_id", "page_id", "status", "message"])


def notion_sync_for(settings: Any) -> Any:
    """The Notion room configured from Settings, outside a Dagster run (API, dry run)."""
    from .notion import NotionCatalogSync

    return NotionCatalogSync.from_settings(
        settings.notion_token,
        base_url=settings.notion_base_url,
        tracks_database_id=settings.notion_tracks_database_id,
        playlists_database_id=settings.notion_playlists_database_id,
        requests_per_second=settings.notion_requests_per_second,
        state_dir=settings.home / "state",
        mapping=property_mapping(settings.notion_mapping_file),
    )


def property_mapping(path: str | None) -> Any:
    """The user's property names (NOTION_PROPERTY_MAPPING), or None for the defaults."""
    if not path:
        return None
    from .notion import SchemaMapping

    return SchemaMapping.from_yaml(path)


def plan_notion_sync(
    url: str, *, settings: Any, playlist_name: str | None = None
) -> dict[str, Any]:
    """`dry_run`: read SoundCloud, the catalog and Notion; report what a sync would do."""
    from .sources import SoundCloudClient

    catalog = Catalog(settings.catalog_database_url)
    with SoundCloudClient.from_settings(settings) as client:
        playlist = client.fetch_playlist(url)
    known_row = catalog.playlist(playlist.key) or {}
    playlist_row = {
        **known_row,
        "key": playlist.key,
        "url": playlist.url,
        "title": playlist.title,
        "name_override": playlist_name or known_row.get("name_override"),
        "curator": playlist.curator,
        "track_count": playlist.track_count,
        "ids_complete": playlist.ids_complete,
    }
    rows = [t.to_row() for t in playlist.tracks]
    fresh_ids = {t.soundcloud_id for t in playlist.tracks}
    current = catalog.playlist_tracks(playlist.key)
    current_ids = set(current["soundcloud_id"]) if not current.empty else set()
    new_ids = sorted(fresh_ids - current_ids)
    removed = sorted(current_ids - fresh_ids) if playlist.ids_complete else []
    plan: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.url).public_url,
        "playlist_name": playlist_row["name_override"] or playlist.title,
        "total_tracks": len(rows),
        "new_to_catalog": len(new_ids),
        "removed_from_playlist": len(removed),
        "dry_run": True,
    }
    if not settings.notion_token or not settings.notion_tracks_database_id:
        return {**plan, "notion": "skipped: NOTION_TOKEN or NOTION_TRACKS_DATABASE_ID not set"}
    notion_sync = notion_sync_for(settings)
    report = sync_notion_pages(
        notion_sync, catalog, playlist.key, playlist_row, rows, removed, dry_run=True
    )
    stats = report.stats()
    return {
        **plan,
        "tracks_added": stats["tracks_added"],
        "tracks_updated": stats["tracks_updated"],
        "tracks_skipped": stats["tracks_skipped"],
        "tracks_unlinked": stats["tracks_unlinked"],
        "errors": len(stats["errors"]),
        "notion_requests": stats["notion_requests"],
        "plan": [
            {"soundcloud_id": r.soundcloud_id, "action": r.status, "page_id": r.page_id}
            for r in [*report.tracks, *report.unlinked]
            if r.status != "skipped"
        ],
    }


# -- audio ----------------------------------------------------------------------------


def download_audio(
    soundcloud_client: Any,
    catalog: Catalog,
    track_rows: list[dict[str, Any]],
    downloads_dir: Any,
    *,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> list[Any]:
    """Fetch what is not on disk yet; record each outcome as it lands."""
    from .audio import download_tracks

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

    return download_tracks(
        track_rows,
        downloads_dir,
        soundcloud_client.youtube_dl,
        max_workers=max_workers,
        on_result=remember,
    )


def analyse_audio(
    catalog: Catalog,
    files: list[dict[str, Any]],
    *,
    workers: int = 2,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Measure each downloaded file once (a file already analysed by this analysis
    version is not redone; one measured by an older version is, from the same file)."""
    from .audio import analyze_files
    from .audio.analysis import ANALYSIS_VERSION

    known = catalog.tracks_by_id(f["soundcloud_id"] for f in files)
    todo = [
        f
        for f in files
        if not (known.get(f["soundcloud_id"], {}).get("analyzed_at")
                and known[f["soundcloud_id"]].get("source_path") == f["path"]
                and known[f["soundcloud_id"]].get("analysis_version") == ANALYSIS_VERSION)
    ]  # fmt: skip
    errors: dict[int, str] = {}
    measured: set[int] = set()
    if todo:
        if progress:
            progress("analysis", 0, len(todo))
        # SoundCloud's genre settles the tempo octave where the beat leaves it in doubt.
        genres = [known.get(f["soundcloud_id"], {}).get("genre") for f in todo]
        results = analyze_files([f["path"] for f in todo], max_workers=workers, genres=genres)
        for f, result in zip(todo, results, strict=True):
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
    rows = []
    for t in records(catalog_tracks):
        if not t.get("notion_page_id") or not t.get("analyzed_at"):
            continue
        files = t.get("files") or {}
        rows.append(
            {
                "soundcloud_id": t["soundcloud_id"],
                "page_id": t["notion_page_id"],
                "enrichment_hash": t.get("enrichment_hash"),
                "tempo": t.get("tempo"),
                "key": t.get("musical_key"),
                "key_confidence": t.get("key_confidence"),
                "duration_s": t.get("duration_s"),
                "lufs": t.get("lufs"),
                "downloaded": t.get("download_status") in ("downloaded", "skipped-existing"),
                "aiff_path": files.get("aiff"),
                "wav_path": files.get("wav"),
                "m4a_path": files.get("m4a"),
                "eagle_id": t.get("eagle_id"),
                "processed_at": t.get("analyzed_at"),
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
