"""The production deployment, for real: PostgreSQL storage, a daemon, Celery workers on Redis.

Exactly what docs/deployment.md tells a user to run: `deploy/dagster.yaml` as the
instance, `deploy/workspace.yaml` as the code location, the catalog in a second
database on the same PostgreSQL server, `dagster-daemon run`, four `celery -A
dagster_celery.app worker -Q dagster` workers and `dagster job backfill` over two
registered playlists (one sharing a track with the other). The runs are queued, launched by
the daemon, and every step executes in a Celery worker; the results are read back
from PostgreSQL (Dagster's tables and the catalog's) and from the Notion emulator.

The workers share one request budget per API, kept in the catalog's PostgreSQL: with
small budgets configured (and the emulators enforcing the same), their steps overlap,
no request is answered 429, and their combined rates reach the configured ones within
5 % without ever exceeding them.

Skipped only when PostgreSQL or Redis is not installed (`.ci/run` installs both).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
from dagster import AssetKey

from soundcloud_sync_tests.emulators.notion import NotionEmulator, SeededCatalog
from soundcloud_sync_tests.emulators.soundcloud import API_ENDPOINTS, SoundCloudEmulator
from soundcloud_sync_tests.servers import (
    PostgresServer,
    RedisServer,
    ServerUnavailable,
    background,
    redis_server,
)

pytestmark = [pytest.mark.scale, pytest.mark.xdist_group("scale")]

REPO = Path(__file__).resolve().parents[1]
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"
DEPLOY_WORKSPACE = REPO / "deploy" / "workspace.yaml"
BIN = Path(sys.executable).parent
DAGSTER_DB, CATALOG_DB = "dagster", "soundcloud_sync"
RUN_TIMEOUT = 720.0  # a hang, not a slow machine: the workers compile numba into a new cache
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
# Sensors and the schedule would request runs of their own while the daemon is up.
AUTOMATION = (("sensor", "new_tracks_sensor"), ("sensor", "playlist_registry_sensor"),
              ("schedule", "incremental_sync_schedule"))  # fmt: skip
# Pools get their limit rows once, at set-up: two runs creating the same default row at
# once fail on PostgreSQL (dagster-io/dagster#33552), as docs/deployment.md explains.
# Two steps per API at once, one on each worker: the shared limiters hold the rates.
POOLS = {"notion_api": 2, "soundcloud_api": 2}
# Small budgets, below what the two workers ask for even on a busy machine: api-v2 40
# requests per 40 s, Notion its real 3 per second.
SOUNDCLOUD_BUDGET, SOUNDCLOUD_WINDOW = 40, 40.0
NOTION_RATE, NOTION_WINDOW = 3.0, 10.0
# A stream-URL look-up each: the downloads (~60 api-v2 requests) outlast a window (39 of
# them go out at once, the rest when it moves), and the Notion steps (a request or more a
# track, ~20 s) two windows.
TRACKS_PER_PLAYLIST = 30
# A request leaves its process a moment after the limiter gave it its slot; on a loaded
# 2-core machine (three test workers beside four Celery workers) that moment can reach a
# second or more, and a late request arrives close to the next one. The limiters leave
# room for it (api-v2: 2 s at 40 per 40 s); Notion's bucket holds 3 s of
# requests (bursts are allowed, external-apis.md; a bucket of 3 answered a late
# request's followers 429), and its rate is read with a second of slack.
JITTER_S = 1.0
NOTION_BURST = 3 * NOTION_RATE


@pytest.fixture
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """The worker's PostgreSQL (the `postgres` fixture) with the deployment's two
    databases, and a Redis of its own."""
    with ExitStack() as stack:
        try:
            pg: PostgresServer = request.getfixturevalue("postgres")
            redis = stack.enter_context(redis_server())
        except ServerUnavailable as exc:
            pytest.skip(f"cannot start the deployment's servers: {exc}")
        pg.create_database(DAGSTER_DB)
        pg.create_database(CATALOG_DB)
        yield pg, redis


@pytest.fixture
def deployment_env(
    tmp_path: Path,
    servers: tuple[PostgresServer, RedisServer],
    emulated_services_env: dict[str, str],
) -> dict[str, str]:
    """The environment every process of the deployment shares (docs/deployment.md)."""
    pg, redis = servers
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(DEPLOY_INSTANCE, dagster_home / "dagster.yaml")
    prefixes = ("NOTION_", "SOUNDCLOUD_", "DAGSTER_", "CELERY_", "EAGLE_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {
        **base,
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_HOST": pg.host,
        "DAGSTER_PG_PORT": str(pg.port),
        "DAGSTER_PG_USER": pg.user,
        "DAGSTER_PG_PASSWORD": pg.password,
        "DAGSTER_PG_DB": DAGSTER_DB,
        "SOUNDCLOUD_SYNC_CATALOG_URL": pg.url(CATALOG_DB),
        "SOUNDCLOUD_SYNC_EXECUTOR": "celery",
        "CELERY_BROKER_URL": redis.url(0),
        "CELERY_RESULT_BACKEND": redis.url(1),
        # A new worker machine: numba's cache starts empty, and both workers compile.
        "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
        **emulated_services_env,
        "SOUNDCLOUD_API_BUDGET": f"{SOUNDCLOUD_BUDGET}/{SOUNDCLOUD_WINDOW:g}s",
        # the sensors are stopped: no share of the small window is held for their checks
        "SOUNDCLOUD_SENSOR_SHARE": "0",
        "NOTION_REQUESTS_PER_SECOND": f"{NOTION_RATE:g}",
    }


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def _wait_for_runs(pg: PostgresServer, backfill_id: str, n: int, logs: list[Path]) -> list[tuple]:
    """Poll Dagster's `runs` table until the backfill's runs have all finished."""
    deadline = time.monotonic() + RUN_TIMEOUT
    rows: list[tuple] = []
    while time.monotonic() < deadline:
        rows = pg.query(
            DAGSTER_DB,
            "SELECT run_id, partition, status FROM runs WHERE backfill_id = %s ORDER BY partition",
            (backfill_id,),
        )
        if len(rows) == n and all(status in FINISHED for _, _, status in rows):
            return rows
        time.sleep(1.0)
    pytest.fail(f"backfill {backfill_id}: runs {rows} not finished\n" + "\n".join(map(_tail, logs)))


def _failures(pg: PostgresServer, run_ids: list[str]) -> str:
    """The failure events of the runs, as stored, for an assertion message."""
    rows = pg.query(
        DAGSTER_DB,
        "SELECT step_key, dagster_event_type, event FROM event_logs WHERE run_id = ANY(%s) "
        "AND dagster_event_type IN ('STEP_FAILURE', 'RUN_FAILURE', 'PIPELINE_FAILURE') "
        "ORDER BY id",
        (run_ids,),
    )
    return "".join(f"--- {kind} {step}: {event[:3000]}\n" for step, kind, event in rows)


def _per_track_extras(emulator: SoundCloudEmulator) -> str:
    """The tracks asked for more than once (stream-URL look-ups, CDN downloads), for an
    assertion message."""
    asked: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for endpoint, status, path in emulator.log:
        if endpoint in ("format_info", "stream") and (found := re.search(r"(\d{4,})", path)):
            asked[found.group(1)][f"{endpoint} {status}"] += 1
    extra = {track: dict(c) for track, c in asked.items() if sum(c.values()) != 2}
    return f"tracks asked for more than once: {extra}\n"


def _retries(pg: PostgresServer, run_ids: list[str]) -> str:
    """The runs' log lines about retries and yt-dlp fallbacks, for an assertion message."""
    rows = pg.query(
        DAGSTER_DB,
        "SELECT step_key, event FROM event_logs WHERE run_id = ANY(%s) "
        "AND (event LIKE '%%retrying%%' OR event LIKE '%%yt-dlp%%') ORDER BY id",
        (run_ids,),
    )
    return "".join(f"--- {step}: {event[:600]}\n" for step, event in rows)


def _most_in_window(times: list[float], window: float) -> int:
    """The most requests any ``window`` seconds held (half-open, as the APIs count)."""
    times = sorted(times)
    return max((sum(1 for u in times if t - window < u <= t) for t in times), default=0)


def _step_spans(pg: PostgresServer, run_ids: list[str], step: str) -> list[tuple[float, float]]:
    """When ``step`` of each run started and finished (Dagster's event log)."""
    spans = []
    for run_id in run_ids:
        rows = pg.query(
            DAGSTER_DB,
            "SELECT dagster_event_type, extract(epoch from timestamp) FROM event_logs "
            "WHERE run_id = %s AND step_key = %s AND dagster_event_type IN "
            "('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE')",
            (run_id, step),
        )
        times = {kind: float(at) for kind, at in rows}
        spans.append((times["STEP_START"], times.get("STEP_SUCCESS", times.get("STEP_FAILURE"))))
    return spans


def _run_of_own_track(first: list[int], second: list[int]) -> Callable[[int | None], str | None]:
    """Which playlist's run a track is of; None for the shared track (either run's)."""
    own = {**dict.fromkeys(first, "first"), **dict.fromkeys(second, "second")}
    for shared in set(first) & set(second):
        del own[shared]
    return lambda track_id: own.get(track_id) if track_id is not None else None


def _track_in_media_path(path: str) -> int | None:
    """The track of an api-v2 stream-URL look-up (``/media/soundcloud:tracks:<id>/...``)."""
    match = re.match(r"/media/soundcloud:tracks:(\d+)/", path)
    return int(match[1]) if match else None


def _track_in_page(body: str) -> int | None:
    """The SoundCloud track a Notion page create is for (None: a playlist's page)."""
    try:
        return int(json.loads(body)["properties"]["SoundCloud ID"]["number"])
    except (ValueError, KeyError, TypeError):
        return None


def test_two_playlist_backfill_through_celery_workers_on_postgres(
    tmp_path: Path,
    deployment_env: dict[str, str],
    servers: tuple[PostgresServer, RedisServer],
    soundcloud_emulator: SoundCloudEmulator,
    notion_emulator: NotionEmulator,
    notion_catalog: SeededCatalog,
) -> None:
    pg, _ = servers
    env = deployment_env
    # The services enforce the budgets the deployment is configured with.
    soundcloud_emulator.rate_limit, soundcloud_emulator.rate_window = (
        SOUNDCLOUD_BUDGET,
        SOUNDCLOUD_WINDOW,
    )
    notion_emulator.set_rate(NOTION_RATE, burst=NOTION_BURST)
    soundcloud_emulator.audio_seconds = 6.0  # many tracks, little audio to measure
    n = TRACKS_PER_PLAYLIST
    first = soundcloud_emulator.add_playlist("crate-digger", "warehouse", n)
    # One track in both playlists: the two runs must share its Notion page.
    shared = soundcloud_emulator.tracks[first.track_ids[0]]
    second = soundcloud_emulator.add_playlist("night-owl", "afterhours", n - 1, tracks=[shared])
    keys = sorted([first.key, second.key])
    all_tracks = set(first.track_ids) | set(second.track_ids)
    workspace = ["-w", str(DEPLOY_WORKSPACE)]
    # The runs' processes, and their steps, start apart on a loaded machine (in one CI run
    # one run's downloads were over 2 s before the other's began). Requests are held
    # until the other run has sent its own (25 s at most each, under the clients'
    # timeouts): each run's playlist resolve, which lines up the runs' starts; then each
    # step's first stream-URL look-up and first page create of its own tracks. A step
    # cannot end while its request is held, so both runs' download steps, and both
    # Notion steps, are running at the moment their meeting is complete.
    run_of = _run_of_own_track(first.track_ids, second.track_ids)
    soundcloud_emulator.hold_until_met("resolve", 2, within_s=25.0)
    meetings = {
        "audio_files": soundcloud_emulator.hold_until_met(
            "format_info", 2, within_s=25.0, key=lambda path: run_of(_track_in_media_path(path))
        ),
        "notion_track_pages": notion_emulator.hold_until_met(
            "POST", "/v1/pages", 2, within_s=25.0, key=lambda body: run_of(_track_in_page(body))
        ),
    }

    # Dagster's tables first, from one process (docs/deployment.md: processes meeting an
    # empty database at once race to create them). Then register both playlists (catalog
    # + dynamic partitions, both in PostgreSQL), set the pools' limits and switch the
    # automation off, in parallel.
    _cli(env, tmp_path, "dagster", "instance", "migrate")
    with ThreadPoolExecutor(4) as pool:
        # every process of the deployment paces its slot claims (no core spent waiting)
        storage = pool.submit(_cli, env, tmp_path, "python", "-c",
                              "from dagster import DagsterInstance; print(type("
                              "DagsterInstance.get().event_log_storage).__name__)")  # fmt: skip
        jobs = [pool.submit(_cli, env, tmp_path, "soundcloud-sync", "add", first.url, second.url)]
        jobs += [
            pool.submit(_cli, env, tmp_path, "dagster", kind, "stop", name, *workspace)
            for kind, name in AUTOMATION
        ]
        jobs += [
            pool.submit(_cli, env, tmp_path, "dagster", "instance", "concurrency", "set",
                        name, str(limit))
            for name, limit in POOLS.items()
        ]  # fmt: skip
        for job in jobs:
            job.result()
    assert storage.result().stdout.strip() == "PatientPostgresEventLogStorage"

    # Two worker machines of two solo workers each (a step's analysis starts processes of
    # its own, which Celery's prefork pool forbids): both runs' SoundCloud and Notion
    # steps can run side by side, each worker taking slots of the same budgets.
    logs = [tmp_path / "daemon.log", *(tmp_path / f"worker{i}.log" for i in range(1, 5))]
    with ExitStack() as stack:
        for i in range(1, 5):
            stack.enter_context(background(
                [str(BIN / "celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster",
                 "--pool", "solo", "-n", f"worker{i}@%h", "--without-gossip",
                 "--without-mingle",
                 "--loglevel", "INFO"],
                env, logs[i], tmp_path,
            ))  # fmt: skip
        stack.enter_context(
            background([str(BIN / "dagster-daemon"), "run", *workspace], env, logs[0], tmp_path)
        )
        launched = _cli(
            env, tmp_path, "dagster", "job", "backfill", "-j", "sync_playlist",
            "--partitions", ",".join(keys), "--noprompt", *workspace,
        )  # fmt: skip
        match = re.search(r"Launched backfill job `([^`]+)`", launched.stdout)
        assert match, launched.stdout
        backfill_id = match.group(1)
        runs = _wait_for_runs(pg, backfill_id, len(keys), logs)

    # Dagster's storage in PostgreSQL: one successful run per playlist ...
    assert [(partition, status) for _, partition, status in runs] == [
        (k, "SUCCESS") for k in keys
    ], _failures(pg, [run_id for run_id, _, _ in runs]) + "\n".join(map(_tail, logs))
    for run_id, partition, _ in runs:
        # ... whose every step was executed by a Celery worker ...
        steps_done = {
            step for (step,) in pg.query(DAGSTER_DB,
                "SELECT step_key FROM event_logs WHERE run_id = %s "
                "AND dagster_event_type = 'STEP_SUCCESS'", (run_id,))
        }  # fmt: skip
        steps_in_celery = {
            step for (step,) in pg.query(DAGSTER_DB,
                "SELECT step_key FROM event_logs WHERE run_id = %s "
                "AND dagster_event_type = 'ENGINE_EVENT' AND event LIKE %s",
                (run_id, "%in celery worker%"))
        }  # fmt: skip
        assert {"playlist_assets", "notion_track_pages"} <= steps_done
        assert steps_done <= steps_in_celery, partition
        # ... and recorded its materializations there, for its own partition.
        materialized = {
            key for (key,) in pg.query(DAGSTER_DB,
                "SELECT asset_key FROM event_logs WHERE run_id = %s "
                "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND partition = %s",
                (run_id, partition))
        }  # fmt: skip
        for asset in ("playlist_metadata", "playlist_tracks", "notion_track_pages"):
            assert AssetKey(asset).to_string() in materialized
    assert pg.query(DAGSTER_DB, "SELECT partition FROM dynamic_partitions ORDER BY partition") == [
        (k,) for k in keys
    ]

    # The catalog, in its own database on the same server.
    playlists = dict(pg.query(
        CATALOG_DB, "SELECT key, track_count FROM playlists WHERE ids_hash IS NOT NULL",
    ))  # fmt: skip
    assert playlists == {first.key: n, second.key: n}
    members = pg.query(
        CATALOG_DB,
        "SELECT playlist_key, count(*) FROM memberships WHERE removed_at IS NULL "
        "GROUP BY playlist_key ORDER BY playlist_key",
    )
    assert members == [(k, n) for k in keys]
    tracks = dict(pg.query(CATALOG_DB, "SELECT soundcloud_id, notion_page_id FROM tracks"))
    assert set(tracks) == all_tracks
    assert all(tracks.values()), "every track knows its Notion page"
    synced = pg.query(
        CATALOG_DB,
        "SELECT key FROM playlists WHERE sync_status = 'Synced' AND notion_page_id IS NOT NULL "
        "ORDER BY key",
    )
    assert synced == [(k,) for k in keys]

    # Notion: one page per track, the shared one linked to both playlists' pages.
    pages: dict[int, list[str]] = {}
    for page_id in notion_emulator.pages_in(notion_catalog.tracks_data_source_id):
        pages.setdefault(int(notion_emulator.plain(page_id)["SoundCloud ID"]), []).append(page_id)
    assert {sid: len(ids) for sid, ids in pages.items()} == dict.fromkeys(all_tracks, 1)
    assert set(tracks.values()) == {ids[0] for ids in pages.values()}
    playlist_pages = notion_emulator.pages_in(notion_catalog.playlists_data_source_id)
    assert len(playlist_pages) == 2
    [shared_page] = pages[shared.id]
    assert sorted(notion_emulator.plain(shared_page)["Playlists"]) == sorted(playlist_pages)

    # One budget per API for both workers, kept in the catalog's PostgreSQL ...
    buckets = {name for (name,) in pg.query(CATALOG_DB, "SELECT name FROM rate_limits")}
    assert buckets == {"soundcloud", "notion"}
    # ... never a 429, and together at the configured rates (never above, 5 % below at most)
    notion_start = min(t for t, *_ in notion_emulator.log)  # the log is in answer order
    late = [(round(t - notion_start, 1), m, r)
            for t, m, r, status in notion_emulator.log if status == 429]  # fmt: skip
    assert soundcloud_emulator.statuses[429] == 0 and notion_emulator.statuses[429] == 0, late
    # one stream-URL look-up per download from the CDN, no yt-dlp fallback (whose resolves
    # would come on top of the two playlists'), every track downloaded once
    counts = soundcloud_emulator.counts
    why = _per_track_extras(soundcloud_emulator) + _retries(pg, [run_id for run_id, _, _ in runs])
    assert counts["format_info"] == counts["stream"] and counts["resolve"] == len(keys), why
    assert counts["stream"] == len(all_tracks), why
    api = [t for t, (endpoint, _, _) in zip(soundcloud_emulator.times, soundcloud_emulator.log,
                                            strict=True) if endpoint in API_ENDPOINTS]  # fmt: skip
    soundcloud_most = _most_in_window(api, SOUNDCLOUD_WINDOW)
    notion_most = _most_in_window([t for t, *_ in notion_emulator.log], NOTION_WINDOW)
    rates = f"api-v2 {soundcloud_most}/{SOUNDCLOUD_BUDGET}, Notion {notion_most}/{NOTION_RATE * NOTION_WINDOW:g}"
    assert 0.95 * SOUNDCLOUD_BUDGET <= soundcloud_most <= SOUNDCLOUD_BUDGET, rates
    notion_budget = NOTION_RATE * NOTION_WINDOW
    assert 0.95 * notion_budget <= notion_most <= notion_budget + 1 + NOTION_RATE * JITTER_S, rates
    # ... while the two runs' download steps, and their Notion steps, ran at the same time
    run_ids = [run_id for run_id, _, _ in runs]
    for step in ("audio_files", "notion_track_pages"):
        (a_start, a_end), (b_start, b_end) = _step_spans(pg, run_ids, step)
        meeting = meetings[step]
        came = {run: round(t - a_start, 1) for run, t in meeting.arrivals.items()}
        assert meeting.met and min(a_end, b_end) - max(a_start, b_start) > 0, (
            f"{step} did not overlap: {a_start:.1f}-{a_end:.1f}, {b_start:.1f}-{b_end:.1f}; "
            f"each run's first held request came {came} s after the first run's step started"
        )


def test_executor_is_dagsters_default_unless_celery_is_asked_for(monkeypatch) -> None:
    from soundcloud_sync.config import ConfigError, Settings
    from soundcloud_sync.definitions import build_definitions
    from soundcloud_sync.defs.executors import executor_for

    assert executor_for(Settings(home=Path("/nonexistent"))).name == "local_threads"
    with pytest.raises(ConfigError, match="SOUNDCLOUD_SYNC_EXECUTOR: 'k8s'"):
        Settings.from_env({"SOUNDCLOUD_SYNC_EXECUTOR": "k8s"})
    with pytest.raises(ConfigError, match="needs CELERY_BROKER_URL"):
        executor_for(Settings(home=Path("/nonexistent"), executor="celery"))
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    settings = Settings(
        home=Path("/nonexistent"), executor="celery", celery_broker_url="redis://127.0.0.1:1/0"
    )
    job = build_definitions(settings).resolve_job_def("sync_playlist")
    assert job.executor_def.name == "celery"
    default = build_definitions(Settings(home=Path("/nonexistent"))).resolve_job_def(
        "sync_playlist"
    )
    assert default.executor_def.name == "local_threads"
