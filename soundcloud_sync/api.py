"""The Python API, built on the pipeline the Dagster assets run.

Syncs are materializations of the playlist's partition on the local Dagster
instance (so they show in `dagster dev`); read-only calls use the
SoundCloud client directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from dagster import DagsterInstance

from .catalog import Catalog, TrackRow, display_name
from .config import ConfigError, Settings
from .errors import SoundCloudSyncError
from .instance import local_instance
from .runs import RunOutcome, run_sync
from .sources import (
    SinglesRef,
    SpotifyPlaylistRef,
    TrackRef,
    UserListingRef,
    parse_playlist_url,
    registry_url,
)
from .steps import listing
from .steps import notion as notion_steps

PLAYLIST_ASSETS = ("playlist_metadata", "playlist_tracks")
NOTION_ASSETS = (*PLAYLIST_ASSETS, "notion_track_pages")


class SyncFailed(SoundCloudSyncError, RuntimeError):
    """A run did not succeed; the message names the playlist and the step's reason.
    ``stats``: what the run did write, when its Notion step got that far."""

    def __init__(self, message: str, stats: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.stats = stats


def _settings() -> Settings:
    """Configuration comes from the environment (and .env), like the Dagster runs': each
    public function reads it here once and hands it down."""
    return Settings.from_env().apply()


def catalog_for(settings: Settings) -> Catalog:
    return Catalog(settings.catalog_database_url)


@contextmanager
def _soundcloud(settings: Settings) -> Iterator[Any]:
    """A SoundCloud client built as a run's resource builds it."""
    from .defs.resources import resources_for

    with resources_for(settings) as resources, resources.soundcloud.client() as client:
        yield client


def playlist_refs(urls: list[str], settings: Settings) -> list[Any]:
    """Each URL's playlist, every one checked before anything runs: a Spotify playlist
    without a Spotify app configured is refused here, naming the missing variables."""
    refs = [parse_playlist_url(url) for url in urls]
    for ref in refs:
        if isinstance(ref, SpotifyPlaylistRef):
            settings.require_spotify(ref.public_url)
    return refs


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


def my_spotify_playlists() -> list[str]:
    """The URLs of every playlist in the Spotify library of SPOTIFY_REFRESH_TOKEN's user."""
    from .defs.resources import resources_for

    settings = _settings()
    settings.require_spotify("--spotify-mine")
    if not settings.spotify_refresh_token:
        raise ConfigError(
            "SPOTIFY_REFRESH_TOKEN: not set, so --spotify-mine cannot know whose playlists "
            "to read (see the README's Spotify section)"
        )
    with resources_for(settings) as resources:
        client = resources.spotify.client()
        try:
            return client.my_playlists()
        finally:
            client.close()


def register_playlists(urls: list[str]) -> list[str]:
    """Register playlists for the sensors and schedules; returns their keys. A track's
    URL joins its uploader's singles listing (`<user>/singles`), which is registered."""
    settings = _settings()
    refs = playlist_refs(urls, settings)
    with local_instance(settings.dagster_home) as instance:
        return _register(instance, catalog_for(settings), refs)


def _register(instance: DagsterInstance, catalog: Catalog, refs: list[Any]) -> list[str]:
    from . import runs

    for ref in refs:  # before the partition exists, so its first run sees the track
        if isinstance(ref, TrackRef):
            catalog.pick_track(ref.key, ref.public_url, ref.url)
    urls_by_key = {ref.key: registry_url(ref) for ref in refs}
    runs.register_playlists(instance, catalog, urls_by_key)
    return list(urls_by_key)


def unregister_playlists(urls: list[str]) -> list[str]:
    """Stop syncing playlists; their Notion pages, catalog rows and files stay. A track's
    URL is taken out of its singles listing instead (the listing stays registered; its
    next sync unlinks the track's page). Returns the keys dropped or changed."""
    from . import runs

    settings = _settings()
    refs = [parse_playlist_url(u) for u in urls]
    catalog = catalog_for(settings)
    for ref in refs:
        if isinstance(ref, TrackRef) and not catalog.unpick_track(ref.key, ref.public_url):
            raise SoundCloudSyncError(f"{ref.public_url}: not among the tracks of {ref.key}")
    keys = [ref.key for ref in refs if not isinstance(ref, TrackRef)]
    with local_instance(settings.dagster_home) as instance:
        runs.unregister_playlists(instance, keys)
    return [ref.key for ref in refs]


def audit_playlist(url: str) -> dict[str, bool]:
    """Read the playlist's pages back from Notion; check name -> passed."""
    from .runs import run_audit

    key = parse_playlist_url(url).key
    with local_instance(_settings().dagster_home) as instance:
        return run_audit(instance, key)


def status() -> list[dict[str, Any]]:
    """Every registered playlist with its last sync and counts."""
    from .runs import registered_keys

    settings = _settings()
    with local_instance(settings.dagster_home) as instance:
        keys = registered_keys(instance)
    return catalog_for(settings).status(keys)


def run_playlist(
    url: str,
    asset_keys: tuple[str, ...] | None,
    settings: Settings,
    playlist_name: str | None = None,
    on_event: Any = None,
    origin: str = "api",
    in_process: bool = False,
) -> tuple[str, RunOutcome]:
    """Register the playlist and materialize its partition (all assets, or the named ones).

    ``in_process``: run the steps in this process (see `runs.run_sync`); for a caller
    that runs one sync at a time, as the CLI does, since the run's output capture
    takes this process's stdout and stderr meanwhile."""
    catalog = catalog_for(settings)
    with local_instance(settings.dagster_home) as instance:  # opened once: it costs half a second
        [key] = _register(instance, catalog, playlist_refs([url], settings))
        if playlist_name:
            catalog.update_playlist(key, name_override=playlist_name)
        outcome = run_sync(
            instance,
            settings,
            key,
            asset_keys,
            on_event=on_event,
            origin=origin,
            in_process=in_process,
        )
    return key, outcome


def sync_playlist_to_notion(
    url: str,
    playlist_name: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Put every track of the playlist into Notion (deduplicated, linked to its playlist)."""
    settings = _settings()
    if dry_run:
        return _plan(url, settings, playlist_name)
    key, outcome = run_playlist(url, NOTION_ASSETS, settings, playlist_name)
    raise_on_failure(url, outcome, failed_run_stats(settings, key, outcome))
    return playlist_stats(catalog_for(settings), key, outcome)


def _plan(url: str, settings: Settings, playlist_name: str | None) -> dict[str, Any]:
    """The dry run: the Notion step with writes turned off, on today's listing."""
    from .defs.resources import resources_for

    ref = playlist_refs([url], settings)[0]
    with resources_for(settings) as resources, resources.soundcloud.client() as client:
        notion = resources.notion
        if isinstance(ref, SpotifyPlaylistRef):
            spotify = resources.spotify.client()
            playlist = spotify.fetch_playlist(url)
            spotify.close()
        else:
            also = [ref.url] if isinstance(ref, TrackRef) else []
            playlist, _ = listing.read_soundcloud(client, catalog_for(settings), url, also)
        return notion_steps.plan_notion_sync(
            playlist,
            catalog_for(settings),
            notion.sync() if notion.enabled else None,
            playlist_name=playlist_name,
        )


def batch_create_notion_tracks(
    tracks: list[dict[str, Any]], batch_size: int = 50, max_concurrent: int = 4
) -> dict[str, Any]:
    """Put tracks (rows like `extract_playlist_tracks` gives) into Notion, deduplicated.

    Batches of `batch_size` share one bulk lookup; `max_concurrent` workers write under
    the machine-wide rate limit. Page ids land in the catalog as they are created.
    """
    from .defs.resources import resources_for

    settings = _settings()
    if not settings.notion_token or not settings.notion_tracks_database_id:
        raise ConfigError("NOTION_TOKEN and NOTION_TRACKS_DATABASE_ID: both must be set")
    with resources_for(settings) as resources:
        return notion_steps.upsert_track_pages(
            resources.notion.sync(),
            catalog_for(settings),
            tracks,
            batch_size=batch_size,
            max_concurrent=max_concurrent,
        )


def sync_soundcloud_playlist(url: str) -> dict[str, Any]:
    """Extract the playlist and add it to Notion; in one call."""
    return sync_playlist_to_notion(url)


def sync_playlist_incremental(url: str, last_sync_time: datetime | None = None) -> dict[str, Any]:
    """Sync only what changed: one cheap SoundCloud check decides whether a run is needed."""
    settings = _settings()
    if not _playlist_changed(url, settings, since=last_sync_time):
        key = parse_playlist_url(url).key
        stats = playlist_stats(catalog_for(settings), key, None)
        return {**stats, "unchanged": True}
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
    raise_on_failure(url, outcome, failed_run_stats(settings, key, outcome, settings.audio_formats))
    return playlist_stats(catalog_for(settings), key, outcome, audio_formats=settings.audio_formats)


# -- measuring again ------------------------------------------------------------------


def reanalyze_playlist(url: str, force: bool = False, on_event: Any = None) -> dict[str, Any]:
    """Measure the playlist's tracks again from the files on disk, never downloading:
    those analysed by an older version, never analysed, or in another tempo range than
    the playlist's (``force``: all of them). New values reach the catalog, the files'
    tags, Notion and the DJ exports; a track whose values did not change is not written.
    Runs the `reanalyze_audio` job, so it shows in the UI."""
    from .definitions import reanalyze_audio_job_def
    from .runs import registered_keys

    settings = _settings()
    key = parse_playlist_url(url).key
    with local_instance(settings.dagster_home) as instance:
        if key not in registered_keys(instance):
            raise SoundCloudSyncError(
                f"{key}: not a registered playlist; sync it first (soundcloud-sync sync URL)"
            )
        outcome = run_sync(
            instance,
            settings,
            key,
            on_event=on_event,
            origin="reanalyze",
            job_def=reanalyze_audio_job_def,
            ops_config={"audio_features": {"force": True}} if force else None,
        )
    raise_on_failure(url, outcome)
    return reanalysis_stats(catalog_for(settings), key, outcome)


def reanalyze_all(force: bool = False) -> list[dict[str, Any]]:
    """`reanalyze_playlist` for every registered playlist, one run each; stops at the
    first that fails (the CLI's `reanalyze --all` goes on past it instead)."""
    return [reanalyze_playlist(key, force) for key in registered_playlist_keys()]


def registered_playlist_keys() -> list[str]:
    """The keys of every registered playlist, sorted."""
    from .runs import registered_keys

    with local_instance(_settings().dagster_home) as instance:
        return sorted(registered_keys(instance))


def reanalysis_stats(catalog: Catalog, key: str, outcome: RunOutcome) -> dict[str, Any]:
    """What a re-analysis run did: tracks measured, kept (already current), failed, and
    the Notion pages it updated."""
    from .audio.analysis import ANALYSIS_VERSION

    playlist = catalog.playlist(key) or {}
    features = outcome.materialized.get("audio_features") or {}
    notion = outcome.materialized.get("notion_enrichment")
    return {
        "playlist_url": parse_playlist_url(playlist.get("url") or key).public_url,
        "playlist_name": display_name(playlist),
        "analysis_version": ANALYSIS_VERSION,
        "tempo_range": features.get("tempo_range"),
        "measured": features.get("status/measured", 0),
        "kept": features.get("status/kept", 0),
        "errors": features.get("status/error", 0),
        "notion_updated": notion.get("status/updated", 0) if notion else None,
        "notion": "synced" if notion is not None else "skipped",
    }


def _playlist_changed(url: str, settings: Settings, since: datetime | None = None) -> bool:
    """Ask SoundCloud once (1 request) whether the playlist differs from the catalog."""
    ref = parse_playlist_url(url)
    known = catalog_for(settings).playlist(ref.key)
    if not known or not known.get("last_synced_at") or known.get("sync_status") != "Synced":
        return True
    if isinstance(ref, SpotifyPlaylistRef):
        return True  # the run's first request compares Spotify's snapshot id: as cheap
    if isinstance(ref, SinglesRef | TrackRef):
        return True  # changed by hand only; a track URL may be new to the listing
    with _soundcloud(settings) as client:
        snapshot = client.check_playlist(ref.url, known.get("soundcloud_id"))
    if isinstance(ref, UserListingRef):  # the fingerprint of its newest entries
        return snapshot.ids_hash != known.get("snapshot_id")
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
    settings: Settings,
    key: str,
    outcome: RunOutcome,
    audio_formats: tuple[str, ...] | None = None,
) -> dict[str, Any] | None:
    """The stats of a run whose Notion step failed after writing what it could (they
    name each track left without a page), else None."""
    if outcome.success or "notion_track_pages" not in outcome.steps_failed:
        return None
    return playlist_stats(catalog_for(settings), key, outcome, audio_formats=audio_formats)


# -- stats -------------------------------------------------------------------------


def playlist_stats(
    catalog: Catalog,
    key: str,
    outcome: RunOutcome | None,
    *,
    audio_formats: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The stats object: what the run reported (its assets' metadata), and the catalog's
    state of the playlist after it. Without a run (nothing changed) nothing was written."""
    playlist = catalog.playlist(key) or {}
    tracks = catalog.playlist_rows(key)
    pages = None
    if outcome is not None:  # what the Notion step reported, done or failed part-way
        pages = outcome.materialized.get("notion_track_pages") or outcome.failure_metadata.get(
            "notion_track_pages"
        )
    reported = pages or {}
    counts = Counter({k: v for k, v in reported.items() if isinstance(v, int)})
    if outcome is None:  # unchanged: every page the catalog knows was left as it is
        counts["skipped"] = sum(1 for t in tracks if t.notion_page_id)
    stats: dict[str, Any] = {
        "playlist_url": parse_playlist_url(playlist.get("url") or key).public_url,
        "playlist_name": display_name(playlist),
        "total_tracks": len(tracks),
        "tracks_added": counts["created"],
        "tracks_skipped": counts["skipped"],
        "tracks_updated": counts["updated"] + counts["linked"],
        "tracks_unlinked": counts["unlinked"],
        "errors": counts["errors"],
        "failed_tracks": reported.get("failed_tracks") or [],
        "unreadable": counts["unreadable"],
        "unreadable_tracks": reported.get("unreadable_tracks") or [],
        "track_ids": [t.notion_page_id for t in tracks if t.notion_page_id],
        "notion": "synced"
        if pages is not None
        else ("unchanged" if outcome is None else "skipped"),
        "sync_status": playlist.get("sync_status"),
    }
    if playlist.get("source") == "spotify":
        stats.update(_spotify_stats(outcome))
    elif outcome is not None and "skipped" in (outcome.materialized.get("playlist_tracks") or {}):
        # a SoundCloud user's liked playlists: entries that are no track
        stats["skipped_entries"] = outcome.materialized["playlist_tracks"]["skipped"]
    if audio_formats:  # the audio chain ran
        stats.update(_audio_stats(tracks, audio_formats))
    return stats


def _spotify_stats(outcome: RunOutcome | None) -> dict[str, Any]:
    """What the listing step said of a Spotify playlist: entries that are no track, the
    recordings found on SoundCloud by ISRC, and look-alikes left for a person to judge."""
    listed = (outcome.materialized.get("playlist_tracks") if outcome else None) or {}
    return {
        "skipped_entries": listed.get("skipped") or [],
        "merged_by_isrc": listed.get("merged_by_isrc", 0),
        "possible_matches": listed.get("possible_match_list") or [],
        "spotify_unchanged": bool(listed.get("unchanged")) if outcome else True,
    }


def _audio_stats(tracks: list[TrackRow], formats: tuple[str, ...]) -> dict[str, int]:
    """Where the playlist's audio stands: on disk, measured, in every format, or why not."""
    status = Counter(t.download_status for t in tracks)
    return {
        "downloaded": sum(1 for t in tracks if t.has_audio),
        "analysed": sum(1 for t in tracks if t.is_measured),
        "converted": sum(1 for t in tracks if set(formats) <= set(t.files)),
        "previews": status["preview-only"],
        "unavailable": status["geo-blocked"] + status["drm"] + status["gone"],
        "no_source": status["no-source"],  # not on SoundCloud: nothing to download
        "download_errors": status["error"],
    }
