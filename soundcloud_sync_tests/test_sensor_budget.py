"""The new-tracks sensor with 300 registered playlists on the SoundCloud emulator.

Ticks are evaluated with `build_sensor_context` once per simulated
`SENSOR_INTERVAL_SECONDS`; the emulator's 600-requests-per-10-minutes window and the
sensor's own clock run on the same simulated time, so a sensor over budget would meet
real 429s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from dagster import DagsterInstance, RunRequest, build_sensor_context, instance_for_test

from soundcloud_sync.catalog import Catalog
from soundcloud_sync.defs import sensors
from soundcloud_sync.defs.partitions import PLAYLISTS
from soundcloud_sync.defs.resources import (
    CatalogResource,
    RegistryResource,
    SoundCloudResource,
    SpotifyResource,
)
from soundcloud_sync.defs.sensors import (
    MIN_RECHECK_SECONDS,
    SENSOR_INTERVAL_SECONDS,
    TICK_SECONDS,
    new_tracks_sensor,
)
from soundcloud_sync.ratelimit import BucketState
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync.sources.models import ids_hash
from soundcloud_sync_tests.emulators.soundcloud import (
    PROXY_API_BASE,
    EmuPlaylist,
    SoundCloudEmulator,
)

REGISTERED = 300
BUDGET = 600  # SoundCloud api-v2 requests per 10 minutes
SENSOR_SHARE = 300
TICKS_PER_WINDOW = 600 // SENSOR_INTERVAL_SECONDS


@dataclass
class Watched:
    """300 synced playlists, a Dagster instance, and a sensor ticking on a simulated clock."""

    emulator: SoundCloudEmulator
    instance: DagsterInstance
    catalog: Catalog
    resources: dict
    playlists: list[EmuPlaylist]
    clock: list[float] = field(default_factory=lambda: [0.0])
    cursor: str | None = None
    requests_per_tick: list[int] = field(default_factory=list)

    def tick(self) -> list[RunRequest]:
        before = self.emulator.api_requests
        context = build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        )
        result = new_tracks_sensor(context)
        self.cursor = context.cursor
        self.requests_per_tick.append(self.emulator.api_requests - before)
        self.clock[0] += SENSOR_INTERVAL_SECONDS
        return list(result) if isinstance(result, list) else []

    def ticks(self, n: int) -> list[RunRequest]:
        return [request for _ in range(n) for request in self.tick()]

    def sync(self, playlist: EmuPlaylist) -> None:
        """What a run's `playlist_tracks` step does: fetch the set, record it."""
        resource = self.resources["soundcloud"]
        with SoundCloudClient(
            api_base=resource.api_base,
            proxy=resource.proxy,
            client_id=resource.client_id,
            cache_dir=Path(resource.cache_dir),
        ) as client:
            self.catalog.record_playlist(client.fetch_playlist(playlist.url))


def watch(
    emulator: SoundCloudEmulator, tmp_path: Path, n: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watched]:
    clock = [time.time()]
    emulator._clock = lambda: clock[0]  # the rate window follows the simulated ticks
    monkeypatch.setattr(sensors, "clock", lambda: clock[0])
    cache = tmp_path / "yt-dlp"
    emulator.seed_client_id_cache(cache)
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = Catalog(url)
    playlists = [emulator.add_playlist(f"curator-{i % 9}", f"set-{i:03d}", 3) for i in range(n)]
    for p in playlists:
        catalog.remember_playlist_url(p.key, p.url)
        # synced before: the catalog knows the set's ids (as `record_playlist` leaves them)
        catalog.update_playlist(p.key, ids_hash=ids_hash(p.track_ids))
    resources = {
        "catalog": CatalogResource(url=url),
        "soundcloud": SoundCloudResource(
            api_base=PROXY_API_BASE,
            proxy=emulator.proxy_url,
            client_id=emulator.client_id,
            cache_dir=str(cache),
            paced=False,  # simulated time: the sensor's own budget is what is tested
        ),
        "spotify": SpotifyResource(),  # no Spotify app: SoundCloud playlists only
        "registry": RegistryResource(),  # the default SOUNDCLOUD_SYNC_MIN_RECHECK_SECONDS
    }
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(PLAYLISTS, [p.key for p in playlists])
        yield Watched(emulator, instance, catalog, resources, playlists, clock)


@pytest.fixture
def watched(
    soundcloud_emulator: SoundCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watched]:
    yield from watch(soundcloud_emulator, tmp_path, REGISTERED, monkeypatch)


@pytest.fixture
def few_watched(
    soundcloud_emulator: SoundCloudEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watched]:
    yield from watch(soundcloud_emulator, tmp_path, 3, monkeypatch)


def test_300_playlists_one_run_per_change_none_when_unchanged_within_budget(
    watched: Watched,
) -> None:
    in_key_order = sorted(watched.playlists, key=lambda p: p.key)  # the sensor's order
    changed = [in_key_order[10], in_key_order[100]]
    for playlist in changed:
        watched.emulator.append_tracks(playlist, 2)

    # One rotation (10 simulated minutes) looks at every playlist once: a run request
    # for each changed playlist, none for the 298 unchanged ones.
    first = watched.ticks(TICKS_PER_WINDOW)
    assert sorted(r.partition_key for r in first) == sorted(p.key for p in changed)
    assert len({r.run_key for r in first}) == len(changed)
    checked = [
        p
        for p in watched.catalog.playlists(p.key for p in watched.playlists)
        if p["last_checked_at"]
    ]
    assert len(checked) == REGISTERED

    # The runs sync those two; the next rotation's first half (with both) requests nothing.
    for playlist in changed:
        watched.sync(playlist)
    assert watched.ticks(TICKS_PER_WINDOW // 2 + 1) == []

    # Budget: the sensor's share in any 10 simulated minutes, and no 429s.
    per_tick = watched.requests_per_tick
    windows = [
        sum(per_tick[i : i + TICKS_PER_WINDOW]) for i in range(len(per_tick) - TICKS_PER_WINDOW + 1)
    ]
    assert max(windows) <= SENSOR_SHARE <= BUDGET
    assert all(n == per_tick[0] for n in per_tick)  # one cheap request per check, no retries
    assert watched.emulator.statuses[429] == 0


def test_a_change_is_requested_once_and_few_playlists_are_not_polled_every_tick(
    few_watched: Watched,
) -> None:
    """Seen again before its run finished, a change is not requested again (the cursor
    remembers it); a further change is. Three playlists are checked once per
    `MIN_RECHECK_SECONDS`, not on every tick."""
    recheck_ticks = MIN_RECHECK_SECONDS // SENSOR_INTERVAL_SECONDS
    playlist = few_watched.playlists[1]
    few_watched.emulator.append_tracks(playlist, 1)
    [first] = few_watched.tick()  # never checked: all three are due
    assert first.partition_key == playlist.key
    assert few_watched.requests_per_tick == [3]

    # not due again until MIN_RECHECK_SECONDS have passed; then not synced yet, and
    # still the same change: nothing new to request
    assert few_watched.ticks(2 * recheck_ticks) == []
    assert sum(few_watched.requests_per_tick) == 3 + 2 * 3

    few_watched.emulator.append_tracks(playlist, 1)
    [newer] = few_watched.ticks(recheck_ticks)
    assert newer.partition_key == playlist.key
    assert newer.run_key != first.run_key

    few_watched.sync(playlist)
    assert few_watched.ticks(2 * recheck_ticks) == []
    # 3 playlists over ~25 simulated minutes: a handful of requests, not 3 per tick
    assert sum(few_watched.requests_per_tick) <= 3 * 6
    assert few_watched.emulator.statuses[429] == 0


def test_due_playlists_longest_unchecked_first() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    ago = {"a/sets/x": now - timedelta(minutes=20), "b/sets/y": None,
           "c/sets/z": now - timedelta(minutes=9), "d/sets/w": now - timedelta(minutes=1)}  # fmt: skip
    keys = sorted(ago)
    assert sensors.playlists_to_check(keys, ago, now, 2, 300) == ["b/sets/y", "a/sets/x"]
    assert sensors.playlists_to_check(keys, ago, now, 9, 300) == [
        "b/sets/y", "a/sets/x", "c/sets/z"
    ]  # fmt: skip
    assert sensors.playlists_to_check(keys, ago, now, 9, 3600) == ["b/sets/y"]


def test_no_second_run_while_one_is_queued_or_running(few_watched: Watched) -> None:
    """The registry sensor's first sync or the schedule's run already covers the playlist."""
    from dagster import DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test

    from soundcloud_sync.defs.jobs import sync_playlist_job

    playlist = few_watched.playlists[0]
    run = create_run_for_test(
        few_watched.instance,
        job_name=sync_playlist_job.name,
        status=DagsterRunStatus.STARTED,
        tags={"dagster/partition": playlist.key},
    )
    few_watched.emulator.append_tracks(playlist, 1)
    assert few_watched.tick() == []  # checked, but its run is under way

    few_watched.instance.delete_run(run.run_id)  # that run is gone without syncing it
    recheck_ticks = MIN_RECHECK_SECONDS // SENSOR_INTERVAL_SECONDS
    [request] = few_watched.ticks(recheck_ticks)
    assert request.partition_key == playlist.key


def test_a_new_playlist_is_requested_at_once_without_a_check(few_watched: Watched) -> None:
    """Playlists no run has listed yet (`soundcloud-sync add`): the next tick requests
    their first syncs and spends no api-v2 request on them. Requested once; a first run
    that died before listing is requested again after the playlist's regular check."""
    recheck_ticks = MIN_RECHECK_SECONDS // SENSOR_INTERVAL_SECONDS
    assert few_watched.tick() == []  # the three synced ones, checked and unchanged
    new = [few_watched.emulator.add_playlist("newcomer", f"set-new-{i}", 3) for i in range(2)]
    few_watched.instance.add_dynamic_partitions(PLAYLISTS, [p.key for p in new])
    for p in new[:1]:  # as `add` leaves it; the other as a partition added in the UI
        few_watched.catalog.remember_playlist_url(p.key, p.url)

    first = few_watched.tick()
    assert sorted(r.partition_key for r in first) == sorted(p.key for p in new)
    assert len({r.run_key for r in first}) == 2
    assert few_watched.requests_per_tick[-1] == 0  # no check spent on them
    assert few_watched.tick() == []  # requested once

    few_watched.sync(new[0])  # its run listed it; new[1]'s run died before listing
    again = few_watched.ticks(recheck_ticks)
    assert [r.partition_key for r in again] == [new[1].key]
    assert again[0].run_key not in {r.run_key for r in first}
    assert few_watched.emulator.statuses[429] == 0


def test_a_playlist_added_between_two_rounds_of_checks_waits_one_short_tick(
    watched: Watched,
) -> None:
    """The sensor ticks every TICK_SECONDS and checks every SENSOR_INTERVAL_SECONDS: a
    playlist added just after a round of checks gets its first sync on the next short
    tick, and the ticks between two rounds spend no api-v2 request."""
    assert new_tracks_sensor.minimum_interval_seconds == TICK_SECONDS < SENSOR_INTERVAL_SECONDS
    assert watched.tick() == [] and watched.requests_per_tick[-1] > 0  # a round of checks
    watched.clock[0] -= SENSOR_INTERVAL_SECONDS - TICK_SECONDS  # the next tick, 10 s later
    new = watched.emulator.add_playlist("newcomer", "set-between", 3)
    watched.instance.add_dynamic_partitions(PLAYLISTS, [new.key])
    watched.catalog.remember_playlist_url(new.key, new.url)
    [request] = watched.tick()
    assert request.partition_key == new.key and watched.requests_per_tick[-1] == 0
    watched.clock[0] -= SENSOR_INTERVAL_SECONDS - TICK_SECONDS
    assert watched.tick() == [] and watched.requests_per_tick[-1] == 0  # 20 s: no round yet
    watched.clock[0] -= SENSOR_INTERVAL_SECONDS - TICK_SECONDS
    assert watched.tick() == [] and watched.requests_per_tick[-1] > 0  # 30 s: the next round


def test_a_round_of_checks_waits_while_a_backfill_fills_the_api_window(
    few_watched: Watched, tmp_path: Path
) -> None:
    """A round is not started while api-v2's window has no room for it now (a tick must
    not sleep until the window moves); it runs on the first tick after there is room."""
    unpaced = few_watched.resources["soundcloud"]
    paced = SoundCloudResource(
        api_base=unpaced.api_base, proxy=unpaced.proxy, client_id=unpaced.client_id,
        cache_dir=unpaced.cache_dir, state_dir=str(tmp_path / "limits"), budget_requests=20,
    )  # fmt: skip
    few_watched.resources["soundcloud"] = paced
    limiter = paced.limiter()
    assert limiter is not None

    def fill(state: BucketState, now: float) -> tuple[BucketState, None]:
        return replace(state, sent=(now,) * 20), None  # a backfill's whole window

    limiter.store.update(limiter.name, fill)
    assert few_watched.tick() == [] and few_watched.requests_per_tick[-1] == 0
    limiter.store.update(limiter.name, lambda state, now: (replace(state, sent=()), None))
    # its round: one check a tick at 10 of 20 requests per 10 minutes
    assert few_watched.tick() == [] and few_watched.requests_per_tick[-1] == 1


def test_a_first_sync_already_queued_gets_no_second_run(few_watched: Watched) -> None:
    """The registry sensor's first sync of the new playlist runs: none from this sensor,
    and no catalog write while it waits; that run failed before listing: requested."""
    from dagster import DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test

    from soundcloud_sync.defs.jobs import sync_playlist_job

    assert few_watched.tick() == []  # the three synced ones
    new = few_watched.emulator.add_playlist("newcomer", "set-queued", 3)
    few_watched.instance.add_dynamic_partitions(PLAYLISTS, [new.key])
    few_watched.catalog.remember_playlist_url(new.key, new.url)
    run = create_run_for_test(
        few_watched.instance,
        job_name=sync_playlist_job.name,
        status=DagsterRunStatus.STARTED,
        tags={"dagster/partition": new.key},
    )
    assert few_watched.tick() == [] and few_watched.tick() == []
    assert few_watched.catalog.playlist(new.key)["last_checked_at"] is None

    few_watched.instance.report_run_failed(run)  # it died before listing the playlist
    [request] = few_watched.tick()
    assert request.partition_key == new.key and request.run_key.startswith(f"{new.key}@first-")
    assert few_watched.requests_per_tick[-1] == 0
