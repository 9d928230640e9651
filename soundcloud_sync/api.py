"""The Python API, built on the pipeline the Dagster assets run.

Syncs are materializations of the playlist's partition on the local Dagster
instance (so they show in `dagster dev`); read-only calls use the
SoundCloud client directly.

Longer than 500 lines on purpose: it is the list of public functions users import from
`soundcloud_sync.api` (the seed's names among them), each a short entry point that
reads the settings once and hands them down; the work is in `runs/` and `steps/`
(what a run did, as stats: `runs.stats`).
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from dagster import DagsterInstance, EventLogEntry

from .catalog import Catalog, parse_time
from .config import ConfigError, Settings
from .errors import SoundCloudSyncError
from .instance import local_instance
from .runs import RunOutcome, run_sync
from .runs.stats import FILE_STEPS, playlist_stats, reanalysis_stats
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

if TYPE_CHECKING:
    from .sources import Playlist, SoundCloudClient
    from .sources.urls import AnyPlaylistRef

PLAYLIST_ASSETS = ("playlist_metadata", "playlist_tracks")
NOTION_ASSETS = (*PLAYLIST_ASSETS, "notion_track_pages")

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def accepts_url_keyword(func: F) -> F:
    """The seed names the first parameter ``playlist_url``; earlier releases of this API
    named it ``url``. Both keywords work."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        if "url" in kwargs:
            if args or "playlist_url" in kwargs:
                raise TypeError(f"{func.__name__}() got the playlist URL twice (url=…)")
            kwargs["playlist_url"] = kwargs.pop("url")
        return func(*args, **kwargs)

    return cast(F, call)


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
def _soundcloud(settings: Settings) -> Iterator[SoundCloudClient]:
    """A SoundCloud client built as a run's resource builds it."""
    from .defs.resources import resources_for

    with resources_for(settings) as resources, resources.soundcloud.client() as client:
        yield client


def playlist_refs(urls: list[str], settings: Settings) -> list[AnyPlaylistRef]:
    """Each URL's playlist, every one checked before anything runs: a Spotify playlist
    without a Spotify app configured is refused here, naming the missing variables."""
    refs = [parse_playlist_url(url) for url in urls]
    for ref in refs:
        if isinstance(ref, SpotifyPlaylistRef):
            settings.require_spotify(ref.public_url)
    return refs


# -- reading SoundCloud ------------------------------------------------------------


@accepts_url_keyword
def get_playlist_metadata(playlist_url: str) -> dict[str, Any]:
    """Name, description, curator (``creator`` too, the seed's word), artwork, track count
    and set type of a playlist, SoundCloud or Spotify."""
    playlist = _read_listing(playlist_url, _settings())
    return {**playlist.metadata(), "creator": playlist.curator}


@accepts_url_keyword
def extract_playlist_tracks(playlist_url: str) -> list[dict[str, Any]]:
    """Every track of the playlist in order, with full metadata and availability; rows
    `batch_create_notion_tracks` takes as they are."""
    playlist = _read_listing(playlist_url, _settings())
    return [
        {
            **track.to_row(),
            "playlist_name": playlist.title,
            "playlist_url": parse_playlist_url(playlist.url).public_url,
            "track_number": track.position,
        }
        for track in playlist.tracks
    ]


def _read_listing(url: str, settings: Settings, *, as_synced: bool = False) -> Playlist:
    """What the playlist lists now (SoundCloud or Spotify), writing nothing anywhere.
    ``as_synced``: a track's URL gives its uploader's singles with it added (what a sync
    of that URL would write), not that track alone."""
    from .defs.resources import resources_for

    ref = playlist_refs([url], settings)[0]
    with resources_for(settings) as resources:
        if isinstance(ref, SpotifyPlaylistRef):
            spotify = resources.spotify.client()
            try:
                return spotify.fetch_playlist(url)
            finally:
                spotify.close()
        with resources.soundcloud.client() as client:
            if isinstance(ref, SinglesRef) or (as_synced and isinstance(ref, TrackRef)):
                also = [ref.url] if isinstance(ref, TrackRef) else []
                return listing.read_soundcloud(client, catalog_for(settings), url, also)[0]
            return client.fetch_playlist(url)


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


def _register(instance: DagsterInstance, catalog: Catalog, refs: list[AnyPlaylistRef]) -> list[str]:
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
    """Every registered playlist with its last sync, counts and where its latest run
    stands (queued, running with its stage and n of m tracks, done, failed and why)."""
    return sync_progress()[0]


def sync_progress() -> tuple[list[dict[str, Any]], Any]:
    """`status()`'s rows and an estimate of the time the queued and running syncs need
    (`runs.status.Estimate`: tracks left, pace, seconds left)."""
    from .runs import registered_keys
    from .runs.status import status_rows

    settings = _settings()
    with local_instance(settings.dagster_home) as instance:
        keys = registered_keys(instance)
        return status_rows(instance, catalog_for(settings).status(keys), keys)


def space_plan(urls: list[str] | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """The disk space the audio of these playlists (all registered: a backfill's) still
    needs per format, what is free where it goes, and the playlists not listed yet
    (their tracks are known after their first listing). ``settings``: the caller's
    (the CLI's), else read from the environment."""
    from .audio.space import plan_space
    from .runs import registered_keys

    settings = settings or _settings()
    if urls:
        keys = [ref.key for ref in playlist_refs(urls, settings)]
    else:
        with local_instance(settings.dagster_home) as instance:
            keys = registered_keys(instance)
    catalog = catalog_for(settings)
    tracks: dict[int, dict[str, Any]] = {}
    unlisted = []
    for key in keys:
        rows = catalog.playlist_rows(key)
        if not rows:
            unlisted.append(key)
        tracks.update({r.recording_id: r.as_dict() for r in rows})  # a shared track once
    plan = plan_space(
        tracks.values(),
        settings.audio_formats,
        downloads=settings.home / "downloads",
        library=settings.library_dir,
    )
    return {**plan.to_dict(), "lines": plan.lines(), "not_listed_yet": unlisted}


def run_playlist(
    url: str,
    asset_keys: tuple[str, ...] | None,
    settings: Settings,
    playlist_name: str | None = None,
    on_event: Callable[[EventLogEntry], None] | None = None,
    origin: str = "api",
    in_process: bool = False,
    ops_config: dict[str, Any] | None = None,
    capture_logs: bool = False,
) -> tuple[str, RunOutcome]:
    """Register the playlist and materialize its partition (all assets, or the named ones).

    ``in_process``: one step at a time; ``capture_logs``: this process's stdout and
    stderr go to the run's log meanwhile (the CLI's own process; see `runs.run_sync`)."""
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
            ops_config=ops_config,
            capture_logs=capture_logs,
        )
    return key, outcome


@accepts_url_keyword
def sync_playlist_to_notion(
    playlist_url: str,
    playlist_name: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Put every track of the playlist into Notion (deduplicated, linked to its playlist).
    ``dry_run``: what would be created, updated and unlinked; nothing is written."""
    settings = _settings()
    if dry_run:
        return _plan(playlist_url, settings, playlist_name)
    return _sync_to_notion(playlist_url, settings, playlist_name)


def _sync_to_notion(
    url: str,
    settings: Settings,
    playlist_name: str | None = None,
    ops_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    key, outcome = run_playlist(url, NOTION_ASSETS, settings, playlist_name, ops_config=ops_config)
    raise_on_failure(url, outcome, failed_run_stats(settings, key, outcome))
    return playlist_stats(catalog_for(settings), key, outcome)


def _plan(url: str, settings: Settings, playlist_name: str | None) -> dict[str, Any]:
    """The dry run: the Notion step with writes turned off, on today's listing."""
    from .defs.resources import resources_for

    playlist = _read_listing(url, settings, as_synced=True)
    catalog = catalog_for(settings)
    with resources_for(settings) as resources:
        notion = resources.notion
        return notion_steps.plan_notion_sync(
            playlist,
            catalog,
            notion.sync() if notion.enabled else None,
            playlist_name=playlist_name,
        )


def batch_create_notion_tracks(
    tracks: list[dict[str, Any]], batch_size: int = 50, max_concurrent: int = 4
) -> dict[str, Any]:
    """Put tracks into Notion, deduplicated: rows as `extract_playlist_tracks` gives them,
    or the seed's own (``title``, ``artist``, ``url``, optional ``playlist_name`` /
    ``playlist_url`` / ``track_number``). A row with a SoundCloud or Spotify track URL
    and no id is looked up (≤ 50 per request, like a playlist); a row that cannot be is
    counted in ``errors`` and named in ``failed_tracks``. Rows naming a playlist are
    linked to its page in Playlists.

    Batches of `batch_size` share one bulk lookup; `max_concurrent` workers write under
    the machine-wide rate limit. Page ids land in the catalog as they are created.
    """
    from .defs.resources import resources_for

    settings = _settings()
    settings.require_notion()
    catalog = catalog_for(settings)
    with resources_for(settings) as resources, resources.soundcloud.client() as soundcloud:
        spotify = resources.spotify.client if settings.spotify_enabled else None
        resolved = listing.resolve_track_rows(tracks, soundcloud, spotify, catalog)
        stats = notion_steps.upsert_track_pages(
            resources.notion.sync(),
            catalog,
            resolved.rows,
            batch_size=batch_size,
            max_concurrent=max_concurrent,
        )
    stats["errors"] += len(resolved.failed)
    stats["failed_tracks"] = [*resolved.failed, *stats["failed_tracks"]]
    return stats


@accepts_url_keyword
def sync_soundcloud_playlist(playlist_url: str) -> dict[str, Any]:
    """Extract the playlist and add it to Notion; in one call."""
    return sync_playlist_to_notion(playlist_url)


@accepts_url_keyword
def sync_playlist_incremental(
    playlist_url: str, last_sync_time: datetime | None = None
) -> dict[str, Any]:
    """Sync only what is new. One cheap check decides whether a run is needed at all.
    With ``last_sync_time`` (naive: UTC) only the tracks that joined the playlist after
    it are written; the others are left as they are and counted in ``tracks_left_out``.
    When a track joined: Spotify and SoundCloud likes say; for a set, the listing that
    first showed it, else its upload time (a set's first listing tells no more)."""
    settings = _settings()
    since = parse_time(last_sync_time)
    if not _playlist_changed(playlist_url, settings, since=since):
        key = parse_playlist_url(playlist_url).key
        stats = playlist_stats(catalog_for(settings), key, None)
        return {**stats, "unchanged": True}
    config = None
    if since is not None:
        config = {"notion_track_pages": {"joined_after": since.isoformat()}}
    stats = _sync_to_notion(playlist_url, settings, ops_config=config)
    return {**stats, "unchanged": False}


@accepts_url_keyword
def ensure_playlist_synced(playlist_url: str, playlist_name: str | None = None) -> bool:
    """True when the playlist is in sync (syncing it first if it moved on). Anything the
    user can fix (a bad URL, a missing setting, a failed run) is logged and gives False."""
    try:
        settings = _settings()
        if not _playlist_changed(playlist_url, settings):
            return True
        stats = _sync_to_notion(playlist_url, settings, playlist_name)
    except (SoundCloudSyncError, OSError) as err:
        log.error("ensure_playlist_synced(%s): %s", _shown(playlist_url), err)
        return False
    if stats["errors"]:
        log.error(
            "ensure_playlist_synced(%s): %d track(s) without their page",
            _shown(playlist_url),
            stats["errors"],
        )
    return stats["errors"] == 0


def _shown(url: str) -> str:
    """A URL fit for a log line: the public form, never a private link's token."""
    try:
        return parse_playlist_url(url).public_url
    except SoundCloudSyncError:
        return "the URL given"


@accepts_url_keyword
def sync_and_download_playlist(
    playlist_url: str, playlist_name: str | None = None
) -> dict[str, Any]:
    """The whole chain: Notion pages, downloads, analysis, files, Eagle, write-back."""
    settings = _settings()
    key, outcome = run_playlist(playlist_url, None, settings, playlist_name)
    formats = settings.audio_formats
    raise_on_failure(playlist_url, outcome, failed_run_stats(settings, key, outcome, formats))
    return playlist_stats(catalog_for(settings), key, outcome, audio_formats=formats)


# -- Spotify, as the seed's SpotifyNotionSync offered it --------------------------------


def sync_user_playlists() -> dict[str, Any]:
    """Every playlist in the Spotify library of SPOTIFY_REFRESH_TOKEN's user, registered
    and synced into Notion, one run each (going on past one that fails). Returns the
    totals and each playlist's stats (``playlists``) or reason (``failed``)."""
    urls = my_spotify_playlists()
    register_playlists(urls)
    settings = _settings()
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for url in urls:
        try:
            done.append(_sync_to_notion(url, settings))
        except SoundCloudSyncError as err:
            failed.append({"playlist_url": url, "reason": str(err)})
    counted = ("total_tracks", "tracks_added", "tracks_updated", "tracks_skipped")
    totals: Counter[str] = Counter()
    for stats in done:
        totals.update({k: stats[k] for k in (*counted, "errors")})
    return {
        "total_playlists": len(urls),
        "synced_playlists": len(done),
        **{k: totals[k] for k in counted},
        "errors": totals["errors"] + len(failed),
        "playlists": done,
        "failed": failed,
    }


@accepts_url_keyword
def get_new_spotify_tracks(
    playlist_url: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The tracks of a Spotify playlist that are new: added to it after ``since`` (naive:
    UTC) by Spotify's own ``added_at``, or, without ``since``, not yet in the catalog for
    this playlist. Reads Spotify only (no run, nothing written); rows as
    `extract_playlist_tracks` gives them, with ``added_at``."""
    ref = parse_playlist_url(playlist_url)
    if not isinstance(ref, SpotifyPlaylistRef):
        raise SoundCloudSyncError(f"{_shown(playlist_url)}: not a Spotify playlist URL")
    rows = extract_playlist_tracks(playlist_url)
    moment = parse_time(since)
    if moment is not None:
        return [r for r in rows if (parse_time(r.get("added_at")) or moment) > moment]
    known = catalog_for(_settings()).playlist_rows(ref.key)
    seen = {t.spotify_id for t in known if t.spotify_id}
    return [r for r in rows if r.get("spotify_id") not in seen]


# -- measuring again ------------------------------------------------------------------


def reanalyze_playlist(
    url: str, force: bool = False, on_event: Callable[[EventLogEntry], None] | None = None
) -> dict[str, Any]:
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
    modified = parse_time(snapshot.last_modified)
    if since is not None and modified and modified > since:
        return True
    return snapshot.ids_hash != known.get("ids_hash")


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
    """The stats of a run whose Notion or file step failed after writing what it could
    (they name each track left without a page or a file), else None."""
    if outcome.success or not set(outcome.steps_failed) & {"notion_track_pages", *FILE_STEPS}:
        return None
    return playlist_stats(catalog_for(settings), key, outcome, audio_formats=audio_formats)


# -- djay Pro -------------------------------------------------------------------------

DJAY_TARGET = "djay"
DJAY_ASSET = "djay_library"  # defs.assets.djay


def is_djay_target(target: str) -> bool:
    """``djay`` (the library of DJAY_LIBRARY_PATH or the one added) or ``djay:<path>``."""
    return target == DJAY_TARGET or target.startswith(f"{DJAY_TARGET}:")


def register_djay_library(path: str) -> str:
    """Remember djay's library (``MediaLibrary.db`` or its ``.djayMediaLibrary`` folder)
    for `sync djay`, the sensor and the schedule; returns the file's path."""
    return str(_register_djay(path, _settings()))


def _register_djay(path: str, settings: Settings) -> Path:
    from .catalog.djay import register_djay_path
    from .settings_checks import djay_library_file
    from .sources.djay.snapshot import check_sqlite

    file = djay_library_file(path.removeprefix(f"{DJAY_TARGET}:"))
    check_sqlite(file)
    register_djay_path(catalog_for(settings), file)
    return file


def sync_djay_library(library_path: str | None = None, *, origin: str = "api") -> dict[str, Any]:
    """Sync djay Pro's library: a run of the `sync_djay` job on the local instance.

    Returns the djay asset's figures: tracks read, matched by each rule, new pages,
    corrections, disagreements, problems. ``library_path`` registers that library first.
    """
    return run_djay_library(_settings(), library_path, origin=origin)


def run_djay_library(
    settings: Settings, library_path: str | None = None, *, origin: str = "api"
) -> dict[str, Any]:
    """`sync_djay_library` with the caller's settings (the CLI's)."""
    from .runs import run_djay

    if library_path:
        _register_djay(library_path, settings)
    with local_instance(settings.dagster_home) as instance:
        outcome = run_djay(instance, settings, origin)
    stats = outcome.materialized.get(DJAY_ASSET) or {}
    if not outcome.success:
        reason = (outcome.failure or "the run failed").removeprefix(f"{DJAY_ASSET}: ")
        raise SyncFailed(reason if "djay" in reason else f"djay library: {reason}",
                         stats or None)  # fmt: skip
    return stats


# The seed's name for syncing djay's media items (its NotionSyncManager.sync_media_items).
sync_media_items = sync_djay_library


def djay_status() -> dict[str, Any] | None:
    """The last djay sync's figures (those `sync_djay_library` returned) and when it
    ran, or None when it never ran."""
    from dagster import AssetKey

    with local_instance(_settings().dagster_home) as instance:
        event = instance.get_latest_materialization_event(AssetKey(DJAY_ASSET))
    if event is None or event.asset_materialization is None:
        return None
    meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    return {"last_synced_at": datetime.fromtimestamp(event.timestamp).isoformat(timespec="seconds"),
            **meta}  # fmt: skip
