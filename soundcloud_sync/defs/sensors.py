"""Sensors: the playlist registry file, and new tracks on SoundCloud and Spotify.

The new-tracks sensor spends a fixed share of SoundCloud's unpublished budget
(about 600 requests per 10 minutes) on checks: one request per playlist, the
longest-unchecked first, so the interval adapts to the number of playlists. 300
playlists are each looked at every ~10 minutes, 1,000 every ~33, and never faster
than the budget allows; a handful are looked at every `MIN_RECHECK_SECONDS`, not
every tick, so a small registry leaves the budget to the syncs and downloads.

A Spotify playlist is checked in the same line, its check taking a SoundCloud check's
place in the tick (one request for its `snapshot_id`, plus one token per tick): at most
`checks_per_tick()` + 1 Spotify requests every 30 seconds, Spotify's rolling window.

A SoundCloud user's likes or uploads are checked in the same line by their newest 50
entries (one request; two when the user's id is not known yet, which its first sync
learns); the tick stops when its SoundCloud requests reach `checks_per_tick()`, so they
count against the same budget. A listing of tracks added by hand changes only by hand:
never checked.

A playlist no run has listed yet needs its first sync whatever a check would say: it is
requested on the next tick without a check (its run's listing is the look), so adding
fifty playlists starts their runs at once and spends no request on them. The sensor
ticks every `TICK_SECONDS` and checks every `SENSOR_INTERVAL_SECONDS` (its cursor keeps
the last round's time), so that next tick is at most 10 s away.
"""

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ..config import DEFAULT_MIN_RECHECK_SECONDS, ConfigError
from ..instance.queue import UNFINISHED_STATUSES, partitions_with_runs
from ..instance.workers import reap_dead_runs
from ..sources import (
    SinglesRef,
    SourceError,
    TrackRef,
    UserListingRef,
    is_djay_key,
    is_playlist_key,
    is_spotify_key,
    parse_playlist_url,
    registry_url,
)
from ..sources.budget import SENSOR_ROUND_SECONDS
from .jobs import LISTING, LISTING_STEP, sync_playlist_job
from .partitions import PLAYLISTS, playlists_partitions
from .resources import CatalogResource, RegistryResource, SoundCloudResource, SpotifyResource

SENSOR_INTERVAL_SECONDS = SENSOR_ROUND_SECONDS  # a round of checks at most this often
# The sensor ticks more often than it checks: a playlist just added (`soundcloud-sync
# add`) waits at most this long for its first sync, and the ticks between two rounds of
# checks read only the catalog.
TICK_SECONDS = 10
# The sensor's share of SoundCloud's budget by default: 300 of the ~600 requests per 10
# minutes (SOUNDCLOUD_SENSOR_SHARE of SOUNDCLOUD_API_BUDGET), reserved for its checks in
# the limiter every process shares (sources.budget); the downloads use what it leaves.
CHECK_BUDGET_REQUESTS = 300
CHECK_BUDGET_WINDOW_SECONDS = 600
# No playlist is checked more often than this, however few are registered (the default
# of SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS, which the registry resource holds).
MIN_RECHECK_SECONDS = DEFAULT_MIN_RECHECK_SECONDS
# The fingerprint a playlist's first sync is requested under (no check has read it yet).
FIRST_SYNC = "first"
# The sensor's clock (a test's simulated clock replaces it).
clock: Callable[[], float] = time.time


def checks_per_tick(
    interval_seconds: int = SENSOR_INTERVAL_SECONDS,
    budget: int = CHECK_BUDGET_REQUESTS,
    window_seconds: float = CHECK_BUDGET_WINDOW_SECONDS,
) -> int:
    return max(1, int(budget * interval_seconds // window_seconds))


def sensor_checks_per_tick(soundcloud: SoundCloudResource) -> int:
    """The checks a tick may make: the sensor's reserved share of the configured budget."""
    share = int(soundcloud.budget_requests * soundcloud.sensor_share)
    return checks_per_tick(budget=share, window_seconds=soundcloud.budget_window_s)


def playlists_to_check(
    keys: Sequence[str],
    last_checked: Mapping[str, datetime | None],
    now: datetime,
    limit: int,
    min_interval_seconds: float,
) -> list[str]:
    """The `limit` longest-unchecked playlists (never-checked first) that are due.

    Longest-unchecked first is a round robin that survives added and removed
    playlists, and a playlist a run just synced goes to the back of the line.
    """
    never = datetime.min.replace(tzinfo=UTC)

    def checked(key: str) -> datetime:
        return last_checked.get(key) or never

    due = [k for k in keys if (now - checked(k)).total_seconds() >= min_interval_seconds]
    return sorted(due, key=lambda k: (checked(k), k))[:limit]


def never_listed(playlist: Mapping[str, Any] | None) -> bool:
    """Whether no run has listed the playlist yet (its catalog row has no track list)."""
    return not (playlist and (playlist.get("ids_hash") or playlist.get("snapshot_id")))


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class RegistryChange:
    add: dict[str, str]  # key -> url
    remove: list[str]
    # tracks (from the file or typed in the UI) for their uploader's singles list, and the
    # singles lists a track was typed into in the UI
    picks: list[TrackRef] = field(default_factory=list)
    typed: set[str] = field(default_factory=set)
    unpicks: list[TrackRef] = field(default_factory=list)  # tracks the file no longer lists


def registry_change(
    file_urls: list[str], previous_file_keys: set[str], partition_keys: Sequence[str]
) -> RegistryChange:
    """What to add and drop so partitions match the file, with one key per playlist.

    Partitions typed in the UI as full URLs are replaced by their canonical key.
    Playlists added from the CLI are left alone: the file only removes its own. The
    same for tracks: one the file listed before and lists no more leaves its singles
    list (``previous_file_keys`` holds their public URLs beside the keys).
    """
    wanted, picks = {}, []
    for url in file_urls:
        ref = parse_playlist_url(url)
        wanted[ref.key] = registry_url(ref)
        picks += [ref] if isinstance(ref, TrackRef) else []
    existing = set(partition_keys)
    add = {k: u for k, u in wanted.items() if k not in existing}
    remove = sorted((previous_file_keys - set(wanted)) & existing)
    typed = set()
    for key in partition_keys:
        if is_playlist_key(key):
            continue
        remove.append(key)
        try:
            ref = parse_playlist_url(key)
        except SourceError:
            continue
        if isinstance(ref, TrackRef):
            picks.append(ref)
            typed.add(ref.key)
        if ref.key not in existing:
            add.setdefault(ref.key, registry_url(ref))
    listed = {ref.public_url for ref in picks}
    unpicks = [
        ref
        for entry in sorted(previous_file_keys)
        if entry.startswith("https://")  # a track's public URL; the rest are keys
        for ref in [parse_playlist_url(entry)]
        if isinstance(ref, TrackRef) and ref.public_url not in listed
    ]
    return RegistryChange(add=add, remove=remove, picks=picks, typed=typed, unpicks=unpicks)


@sensor(
    job=sync_playlist_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Keeps the `playlists` partitions in step with playlists.yaml and "
    "turns URLs typed into the UI's 'add partition' dialog into canonical keys.",
)
def playlist_registry_sensor(
    context: SensorEvaluationContext, catalog: CatalogResource, registry: RegistryResource
):
    for line in reap_dead_runs(context.instance):  # also when new_tracks_sensor is off
        context.log.warning(line)
    path = Path(registry.playlists_file)
    try:
        urls = [entry.url for entry in registry.entries()]
        previous = set(json.loads(context.cursor or "[]"))
        partition_keys = context.instance.get_dynamic_partitions(PLAYLISTS)
        change = registry_change(urls, previous, partition_keys)
    except ConfigError as exc:  # names the file, the playlist and the field
        return SkipReason(str(exc))
    except (ValueError, SourceError) as exc:
        return SkipReason(f"{path}: {exc}")
    store = catalog.catalog()
    # a singles list whose tracks changed gets a run (the new-tracks sensor never checks one)
    rerun = set(change.typed)
    for ref in change.picks:  # before any run of its singles list
        if store.pick_track(ref.key, ref.public_url, ref.url):
            rerun.add(ref.key)
    for ref in change.unpicks:  # its page is unlinked by that run
        if store.unpick_track(ref.key, ref.public_url):
            rerun.add(ref.key)
    # a singles list keeps its partition while it holds tracks added another way
    change.remove = [
        k
        for k in change.remove
        if not (is_playlist_key(k) and k.endswith("/singles") and store.picks(k))
    ]
    for key, url in change.add.items():
        store.remember_playlist_url(key, url)
    refs = [parse_playlist_url(u) for u in urls]
    tracks = [ref.public_url for ref in refs if isinstance(ref, TrackRef)]
    context.update_cursor(json.dumps(sorted({ref.key for ref in refs} | set(tracks))))
    requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
    if change.add:
        requests.append(playlists_partitions.build_add_request(sorted(change.add)))
    if change.remove:
        requests.append(playlists_partitions.build_delete_request(change.remove))
    rerun = {k for k in rerun if k not in change.remove}
    if not requests and not rerun:
        return SkipReason(f"partitions match {path}")
    return SensorResult(
        run_requests=[RunRequest(partition_key=k) for k in sorted(set(change.add) | rerun)],
        dynamic_partitions_requests=requests,
    )


def _read_cursor(text: str | None) -> tuple[dict[str, str], float]:
    """The fingerprints last requested per playlist, and when the last round of checks
    ran (0 in a cursor written before rounds were timed: a round is due)."""
    data = json.loads(text or "{}")
    if isinstance(data.get("requested"), dict):
        return data["requested"], float(data.get("checked_at") or 0.0)
    return data, 0.0


def _round_of_checks_due(checked_at: float, now: datetime, soundcloud: SoundCloudResource) -> bool:
    """Every SENSOR_INTERVAL_SECONDS (a clock set back makes one due), and only when
    api-v2's window has room now: a backfill that filled it leaves the checks for a
    later tick instead of a tick asleep until the window moves."""
    elapsed = now.timestamp() - checked_at
    if 0 <= elapsed < SENSOR_INTERVAL_SECONDS:
        return False
    limiter = soundcloud.limiter()
    return limiter is None or limiter.delay(reserved=True) < TICK_SECONDS


@sensor(
    job=sync_playlist_job,
    minimum_interval_seconds=TICK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Checks registered playlists longest-unchecked first (one SoundCloud or "
    "Spotify request each, within a fixed share of SoundCloud's budget) and requests a run "
    "for exactly the partitions whose track list changed.",
)
def new_tracks_sensor(
    context: SensorEvaluationContext,
    catalog: CatalogResource,
    soundcloud: SoundCloudResource,
    spotify: SpotifyResource,
    registry: RegistryResource,
):
    # Every tick cleans up after runs whose process died (their slots would block others)
    for line in reap_dead_runs(context.instance):
        context.log.warning(line)
    # URL-shaped keys typed in the UI wait for the registry sensor's canonical key;
    # Spotify playlists need a Spotify app (without one, their runs say so)
    keys = sorted(
        k
        for k in context.instance.get_dynamic_partitions(PLAYLISTS)
        if is_playlist_key(k)
        and not is_djay_key(k)  # djay's file has a sensor of its own (defs.djay)
        and (spotify.enabled or not is_spotify_key(k))
        and not isinstance(parse_playlist_url(k), SinglesRef)
    )
    if not keys:
        return SkipReason("no playlists registered")
    # The cursor holds the track-list fingerprint last requested per playlist: a
    # change is requested once, even before its run has updated the catalog.
    requested, checked_at = _read_cursor(context.cursor)
    registered = set(keys)
    requested = {k: v for k, v in requested.items() if k in registered}
    store = catalog.catalog()
    known = {row["key"]: row for row in store.playlists(keys)}
    now = datetime.fromtimestamp(clock(), UTC)
    first = [k for k in keys if never_listed(known.get(k)) and k not in requested]
    per_tick = sensor_checks_per_tick(soundcloud)
    batch = (
        playlists_to_check(
            [k for k in keys if k not in first],
            {k: _parse_time(known[k]["last_checked_at"]) for k in keys if k in known},
            now,
            limit=per_tick,
            min_interval_seconds=registry.min_recheck_seconds,
        )
        if (round_due := _round_of_checks_due(checked_at, now, soundcloud))
        else []
    )
    if not batch and not first:
        return SkipReason(f"none of {len(keys)} playlists is due for a check yet")
    changed = dict.fromkeys(first, FIRST_SYNC)  # key -> the track list's new fingerprint
    spotify_client = spotify.client() if any(map(is_spotify_key, batch)) else None
    # checks take slots of the sensor's reserved share: never behind a backfill's downloads
    with soundcloud.client(checks=True) as client:  # closes yt-dlp's connections every tick
        for key in batch:  # (opening the client costs no request)
            if client.total_requests >= per_tick:
                break  # a first check of a user's likes took two: the rest wait a tick
            row = known.get(key)
            if row is None:  # a partition added in the UI under its canonical key
                store.remember_playlist_url(key, parse_playlist_url(key).url)
                row = store.playlist(key) or {}
            url = row.get("url") or parse_playlist_url(key).url
            try:
                if spotify_client is not None and is_spotify_key(key):
                    fingerprint, stored = spotify_client.head(url).snapshot_id, "snapshot_id"
                else:
                    snapshot = client.check_playlist(url, row.get("soundcloud_id"))
                    by_head = isinstance(parse_playlist_url(key), UserListingRef)
                    fingerprint = snapshot.ids_hash
                    stored = "snapshot_id" if by_head else "ids_hash"
            except SourceError as exc:
                context.log.warning(str(exc))  # checked: retried after the interval
            else:
                if fingerprint and fingerprint not in (row.get(stored), requested.get(key)):
                    changed[key] = fingerprint
            store.mark_checked(key, at=now)
    if spotify_client is not None:
        spotify_client.close()
    busy = (
        partitions_with_runs(
            context.instance, sync_playlist_job.name, UNFINISHED_STATUSES, LISTING, LISTING_STEP
        )
        if changed
        else set()
    )
    run_requests = []
    for key, fingerprint in changed.items():
        if key in busy:  # its run, queued or running, syncs it; a missed change is seen later
            continue
        requested[key] = fingerprint
        # The run key also stops Dagster from launching a change twice (a first sync's is
        # the tick's: a playlist removed and added again gets one again).
        suffix = f"first-{now:%Y%m%dT%H%M%S}" if fingerprint == FIRST_SYNC else fingerprint
        run_requests.append(RunRequest(partition_key=key, run_key=f"{key}@{suffix}"))
        if fingerprint == FIRST_SYNC:  # its regular check comes after the interval: if no
            if key not in known:  # run has listed it by then (it died), that requests it
                store.remember_playlist_url(key, parse_playlist_url(key).url)
            store.mark_checked(key, at=now)
    checked_at = now.timestamp() if round_due else checked_at
    context.update_cursor(json.dumps({"requested": requested, "checked_at": checked_at},
                                     sort_keys=True))  # fmt: skip
    if not run_requests:
        return SkipReason(f"checked {len(batch)} of {len(keys)} playlists: no changes")
    return run_requests
