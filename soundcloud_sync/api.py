"""The Python API the seed asks for, built on the pipeline the Dagster assets run.

Syncs are materializations of the playlist's partition on the local Dagster
instance (so they show in `dagster dev`); read-only calls use the rooms directly.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pandas as pd

from .catalog import Catalog
from .config import Settings
from .defs.runner import RunOutcome, local_instance, run_sync
from .sources import parse_playlist_url

PLAYLIST_ASSETS = ("playlist_metadata", "playlist_tracks")
NOTION_ASSETS = (*PLAYLIST_ASSETS, "notion_track_pages")


class SyncFailed(RuntimeError):
    """A run did not succeed; the message names the playlist and the step's reason.
    ``stats``: what the run did write, when its Notion step got that far."""

    def __init__(self, message: str, stats: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.stats = stats


def _settings() -> Settings:
    """Configuration comes from the environment (and .env), like the Dagster runs'."""
    return Settings.from_env()


def catalog_for(settings: Settings) -> Catalog:
    return Catalog(settings.catalog_database_url)


def _soundcloud(settings: Settings) -> Any:
    from .sources import SoundCloudClient

    return SoundCloudClient.from_settings(settings)


# -- reading SoundCloud ------------------------------------------------------------


def get_playlist_metadata(url: str) -> dict[str, Any]:
    """Name, description, curator, artwork, track count, set type of a playlist."""
    with _soundcloud(_settings()) as client:
        return client.fetch_playlist(url).metadata()


def extract_playlist_tracks(url: str) -> list[dict[str, Any]]:
    """Every track of the playlist in order, with full metadata and availability."""
    with _soundcloud(_settings()) as client:
        playlist = client.fetch_playlist(url)
    return [
        {
            **track.to_row(),
            "playlist_name": playlist.title,
            "playlist_url": parse_playlist_url(playlist.url).public_url,
            "track_number": track.position,
        }
        for track in playlist.tracks
    ]


# -- syncing -----------------------------------------------------------------------


def register_playlists(urls: list[str]) -> list[str]:
    """Register playlists (catalog + Dagster partitions); returns their keys."""
    from .defs.runner import register_partitions

    settings = _settings()
    refs = [parse_playlist_url(u) for u in urls]
    catalog = catalog_for(settings)
    for ref in refs:
        catalog.register_playlist(ref.key, ref.url)
    with local_instance(settings) as instance:
        register_partitions(instance, [r.key for r in refs])
    return [r.key for r in refs]


def unregister_playlists(urls: list[str]) -> list[str]:
    """Stop syncing playlists: drop their partitions; Notion pages and files stay."""
    from .defs.partitions import PLAYLISTS

    settings = _settings()
    keys = [parse_playlist_url(u).key for u in urls]
    catalog = catalog_for(settings)
    with local_instance(settings) as instance:
        for key in keys:
            catalog.unregister_playlist(key)
            if instance.has_dynamic_partition(PLAYLISTS, key):
                instance.delete_dynamic_partition(PLAYLISTS, key)
    return keys


def run_playlist(
    url: str,
    asset_keys: tuple[str, ...] | None,
    settings: Settings,
    playlist_name: str | None = None,
    on_event: Any = None,
    origin: str = "api",
) -> tuple[str, RunOutcome]:
    """Register the playlist and materialize its partition (all assets, or the named ones)."""
    key = register_playlists([url])[0]
    if playlist_name:
        catalog_for(settings).update_playlist(key, name_override=playlist_name)
    with local_instance(settings) as instance:
        outcome = run_sync(instance, key, asset_keys, on_event=on_event, origin=origin)
    return key, outcome


def sync_playlist_to_notion(
    url: str,
    playlist_name: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Put every track of the playlist into Notion (deduplicated, linked to its playlist)."""
    settings = _settings()
    if dry_run:
        from .pipeline import plan_notion_sync

        return plan_notion_sync(url, settings=settings, playlist_name=playlist_name)
    key, outcome = run_playlist(url, NOTION_ASSETS, settings, playlist_name)
    raise_on_failure(url, outcome, failed_run_stats(settings, key, outcome, NOTION_ASSETS))
    return playlist_stats(catalog_for(settings), key, NOTION_ASSETS)


def batch_create_notion_tracks(
    tracks: list[dict[str, Any]], batch_size: int = 50, max_concurrent: int = 4
) -> dict[str, Any]:
    """Put tracks (rows like `extract_playlist_tracks` gives) into Notion, deduplicated.

    Batches of `batch_size` share one bulk lookup; `max_concurrent` workers write under
    the machine-wide rate limit. Page ids land in the catalog as they are created.
    """
    from .pipeline import notion_sync_for, upsert_track_pages

    settings = _settings()
    if not settings.notion_token or not settings.notion_tracks_database_id:
        raise ValueError("NOTION_TOKEN and NOTION_TRACKS_DATABASE_ID must be set")
    return upsert_track_pages(
        notion_sync_for(settings),
        catalog_for(settings),
        tracks,
        batch_size=batch_size,
        max_concurrent=max_concurrent,
    )


def sync_soundcloud_playlist(url: str) -> dict[str, Any]:
    """Extract the playlist and add it to Notion; the seed's one-call entry point."""
    return sync_playlist_to_notion(url)


def sync_playlist_incremental(url: str, last_sync_time: datetime | None = None) -> dict[str, Any]:
    """Sync only what changed: one cheap SoundCloud check decides whether a run is needed."""
    settings = _settings()
    if not _playlist_changed(url, settings, since=last_sync_time):
        key = parse_playlist_url(url).key
        return {**playlist_stats(catalog_for(settings), key, NOTION_ASSETS), "unchanged": True}
    return {**sync_playlist_to_notion(url), "unchanged": False}


def ensure_playlist_synced(url: str, playlist_name: str | None = None) -> bool:
    """True when the playlist is in sync (syncing it first if SoundCloud moved on)."""
    settings = _settings()
    if not _playlist_changed(url, settings):
        return True
    try:
        stats = sync_playlist_to_notion(url, playlist_name)
    except SyncFailed:
        return False
    return stats["errors"] == 0


def sync_and_download_playlist(url: str, playlist_name: str | None = None) -> dict[str, Any]:
    """The whole chain: Notion pages, downloads, analysis, files, Eagle, write-back."""
    settings = _settings()
    key, outcome = run_playlist(url, None, settings, playlist_name)
    raise_on_failure(url, outcome, failed_run_stats(settings, key, outcome, None))
    return playlist_stats(catalog_for(settings), key, None)


def _playlist_changed(url: str, settings: Settings, since: datetime | None = None) -> bool:
    """Ask SoundCloud once (1 request) whether the playlist differs from the catalog."""
    ref = parse_playlist_url(url)
    known = catalog_for(settings).playlist(ref.key)
    if not known or not known.get("last_synced_at") or known.get("sync_status") != "Synced":
        return True
    with _soundcloud(settings) as client:
        snapshot = client.check_playlist(ref.url)
    modified = snapshot.last_modified
    if since is not None and modified and _parse_time(modified) > since:
        return True
    return snapshot.ids_hash != known.get("ids_hash")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def raise_on_failure(url: str, outcome: RunOutcome, stats: dict[str, Any] | None = None) -> None:
    if not outcome.success:
        reason = outcome.failure or f"step(s) failed: {', '.join(outcome.steps_failed)}"
        raise SyncFailed(
            f"{parse_playlist_url(url).public_url}: {reason} (run {outcome.run_id})", stats
        )


def failed_run_stats(
    settings: Settings, key: str, outcome: RunOutcome, assets_run: tuple[str, ...] | None
) -> dict[str, Any] | None:
    """The stats of a run whose Notion step failed after writing what it could (they
    name each track left without a page), else None."""
    if outcome.success or "notion_track_pages" not in outcome.steps_failed:
        return None
    return playlist_stats(catalog_for(settings), key, assets_run)


# -- stats -------------------------------------------------------------------------


def _output(catalog: Catalog, asset: str, key: str) -> pd.DataFrame | None:
    try:
        return catalog.load_output(asset, key)
    except KeyError:
        return None


def playlist_stats(
    catalog: Catalog, key: str, assets_run: tuple[str, ...] | None
) -> dict[str, Any]:
    """The seed's stats object, plus download and analysis counts when those ran."""
    playlist = catalog.playlist(key) or {}
    tracks = catalog.playlist_tracks(key)
    pages = _output(catalog, "notion_track_pages", key)
    statuses = Counter(pages["status"]) if pages is not None and len(pages) else Counter()
    stats: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.get("url") or key).public_url,
        "playlist_name": playlist.get("name_override") or playlist.get("title"),
        "total_tracks": len(tracks),
        "tracks_added": statuses["created"],
        "tracks_skipped": statuses["skipped"],
        "tracks_updated": statuses["updated"] + statuses["linked"],
        "tracks_unlinked": statuses["unlinked"],
        "errors": statuses["error"],
        "failed_tracks": _tracks_with_status(pages, "error"),
        "unreadable": statuses["unreadable"],
        "unreadable_tracks": _tracks_with_status(pages, "unreadable"),
        "track_ids": [p for p in (tracks.get("notion_page_id", pd.Series()).dropna())],
        "notion": "synced" if pages is not None else "skipped",
        "sync_status": playlist.get("sync_status"),
    }
    if assets_run is None:
        stats.update(_audio_stats(catalog, key))
    return stats


def _tracks_with_status(pages: pd.DataFrame | None, status: str) -> list[dict[str, Any]]:
    """soundcloud_id, title and reason of each track of the Notion step with ``status``."""
    if pages is None or pages.empty or "title" not in pages:
        return []
    rows = pages[pages["status"] == status]
    return [
        {
            "soundcloud_id": int(r.soundcloud_id),
            "title": r.title if isinstance(r.title, str) else None,
            "reason": r.message,
        }
        for r in rows.itertuples()
    ]


def _tracks_with_files(library: pd.DataFrame | None) -> int:
    """Tracks whose every configured format is in the library (written now or before)."""
    if library is None or library.empty:
        return 0
    failed = set(library.loc[library["status"] == "error", "soundcloud_id"])
    return len(set(library["soundcloud_id"]) - failed)


def _audio_stats(catalog: Catalog, key: str) -> dict[str, int]:
    files = _output(catalog, "audio_files", key)
    counts = Counter(files["status"]) if files is not None and len(files) else Counter()
    features = _output(catalog, "audio_features", key)
    library = _output(catalog, "library_files", key)
    return {
        "downloaded": counts["downloaded"] + counts["skipped-existing"],
        "analysed": int(features["tempo"].notna().sum()) if features is not None else 0,
        "converted": _tracks_with_files(library),
        "previews": counts["preview-only"],
        "unavailable": counts["geo-blocked"] + counts["drm"] + counts["gone"],
        "download_errors": counts["error"],
    }
