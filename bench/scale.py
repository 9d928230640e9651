"""Scale benchmark: a backfill over many playlists, and the new-tracks sensor's budget.

    python bench/scale.py backfill [--playlists 50] [--tracks 200] [--concurrency 3]
    python bench/scale.py backfill --with-audio [--playlists 20] [--tracks 10] [--seconds 60]
    python bench/scale.py backfill --with-audio --quick     # seconds, for a test
    python bench/scale.py sensor [--playlists 300] [--minutes 30]

``backfill --with-audio`` is a DJ's first import as a user does it: `soundcloud-sync
dev` runs, `soundcloud-sync add` registers every playlist, the new-tracks sensor
requests a first sync per playlist and the daemon's run queue executes them with
their audio (download, analysis, AIFF, tags, Notion pages and write-back, exports);
then the same playlists are re-synced unchanged as a backfill launched through the
UI's GraphQL API. Every process (`dev` and all it starts) is measured by bench/cpu.py;
the idle UI's CPU, measured before, is taken out. Printed per phase: each floor (busy
CPU / cores, Notion requests / rate, api-v2 requests beyond one 10-minute window), the
wall time and its ratio to the largest, CPU-seconds per audio minute, api-v2 requests
per downloaded track, 429s, peak RSS; then the fixed cost per run (the re-sync's CPU
per run), the cost per audio minute after it, and the projection for 300 playlists x
50 tracks x 5 minutes.

``backfill`` registers N playlists of M tracks on the SoundCloud emulator (api-v2
limited to 600 requests per 10 minutes) and launches one run of the ``sync_playlist``
job per playlist partition, ``--concurrency`` at a time as the run queue would
(``max_concurrent_runs: 5`` in our dagster.yaml), every run a separate process
(``soundcloud-sync sync URL --no-download``: ``execute_job`` on one DAGSTER_HOME, the
Notion limiter's state shared under SOUNDCLOUD_SYNC_HOME). The Notion emulator
answers 3 requests/s (bucket of 3) with a ``--notion-latency`` round trip. Scope is
``--no-download`` (playlist_metadata, playlist_tracks, notion_track_pages):
downloading and analysing thousands of tracks is out of reach on a 2-core machine
and is measured per track in bench/audio_pipeline.py. Prints requests per API, 429s,
wall time against the Notion floor (Notion requests / rate), the Notion request rate
over sliding windows (do concurrent runs together stay at the configured rate?),
SoundCloud requests in any 10 minutes, and the peak RSS of a run's process tree.

``sensor`` registers N playlists (already synced: their ids hash in the catalog),
evaluates ``new_tracks_sensor`` with ``build_sensor_context`` once per simulated
``SENSOR_INTERVAL_SECONDS`` (the SoundCloud emulator's rate window runs on the same
simulated clock), changes a few playlists along the way, and prints api-v2 requests
per 10 simulated minutes, the time until every playlist was checked once, and the
run requests per changed playlist.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cpu import descendants
from bench.quick import quick_option
from bench.resync import emulated_env
from soundcloud_sync.sources.budget import soundcloud_limiter
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    seed_music_catalog,
)
from soundcloud_sync_tests.emulators.soundcloud import (
    PROXY_API_BASE,
    SoundCloudEmulator,
    audio_bytes,
)

SOUNDCLOUD_BUDGET = 600  # api-v2 requests per 10 minutes, as yt-dlp reports it
WINDOW = 600.0
CLI = str(Path(sys.executable).parent / "soundcloud-sync")
RESULTS = Path(__file__).resolve().parent / "results"


# -- process tree memory ------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pid: int) -> tuple[float, float]:
    """(sum over the process tree, largest single process) in MiB: a run's footprint,
    less the machine's analysis process a run started (it serves every run)."""
    sizes = [_rss_kib(p) for p in [pid, *descendants(pid)] if not is_analysis_process(p)]
    return sum(sizes) / 1024, max(sizes, default=0) / 1024


def is_analysis_process(pid: int) -> bool:
    """Whether ``pid`` is the machine's analysis process (`audio.service`)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"soundcloud_sync.audio.service" in fh.read()
    except OSError:
        return False


# -- the backfill ---------------------------------------------------------------------


@dataclass
class RunResult:
    key: str
    code: int
    wall: float
    peak_tree_mib: float
    peak_process_mib: float
    stats: dict = field(default_factory=dict)
    error: str = ""


@dataclass
class Sampler:
    """Samples cumulative counters once a second, for per-window rates afterwards."""

    soundcloud: SoundCloudEmulator
    times: list[float] = field(default_factory=list)
    api: list[int] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    active: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def loop(self) -> None:
        while not self.stop.is_set():
            self.times.append(time.time())
            self.api.append(self.soundcloud.api_requests)
            self.running.append(self.active)
            self.stop.wait(1.0)

    def max_in_window(self, window: float) -> int:
        best = 0
        for i, t in enumerate(self.times):
            j = bisect.bisect_left(self.times, t - window)
            best = max(best, self.api[i] - (self.api[j - 1] if j > 0 else 0))
        return best


def run_one(
    env: dict[str, str], url: str, key: str, sampler: Sampler, lock: threading.Lock
) -> RunResult:
    started = time.perf_counter()
    with lock:
        sampler.active += 1
    proc = subprocess.Popen(
        [CLI, "sync", url, "--no-download", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=env["SOUNDCLOUD_SYNC_HOME"],
    )
    peak_tree = peak_proc = 0.0
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),
        threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),
    ]
    for r in readers:
        r.start()
    while proc.poll() is None:
        tree, single = tree_rss_mib(proc.pid)
        peak_tree, peak_proc = max(peak_tree, tree), max(peak_proc, single)
        time.sleep(0.5)
    for r in readers:
        r.join()
    with lock:
        sampler.active -= 1
    result = RunResult(key, proc.returncode, time.perf_counter() - started, peak_tree, peak_proc)
    try:
        result.stats = json.loads(out[0]) if out and out[0].strip() else {}
    except ValueError:
        result.error = (out[0] or "")[-300:]
    if proc.returncode != 0:
        lines = (err[0] if err else "").strip().splitlines()
        result.error = lines[-1] if lines else f"exit {proc.returncode}"
    return result


def notion_windows(log: list[tuple[float, str, str, int]], window: float) -> float:
    """Highest answered-request rate over any `window` seconds of the Notion log."""
    times = sorted(t for t, _m, _r, status in log if status != 429)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best / window


@contextmanager
def backfill_world(
    args: argparse.Namespace, home: Path, *, name: str = "backfill", audio_seconds: float = 24.0
) -> Iterator[tuple[SoundCloudEmulator, NotionEmulator, dict[str, str], list]]:
    """The emulators, ``args.playlists`` playlists of ``args.tracks`` tracks, and the
    environment that points the program at them."""
    with (
        SoundCloudEmulator(
            rate_limit=SOUNDCLOUD_BUDGET, rate_window=WINDOW, audio_seconds=audio_seconds
        ) as sc,
        NotionEmulator(rate=args.rate, burst=args.burst) as notion,
    ):
        seeded = seed_music_catalog(notion)
        if args.notion_latency:
            notion.faults.slow, notion.faults.slow_seconds = 1.0, args.notion_latency
        playlists = [
            sc.add_playlist(f"curator-{i % 7}", f"{name}-{i:03d}", args.tracks)
            for i in range(args.playlists)
        ]
        env = _bench_env(home, sc, notion, seeded, args)
        yield sc, notion, env, playlists


def configure_pools(home: Path, pool_limit: int | None) -> None:
    """Our dagster.yaml in the bench's DAGSTER_HOME; `--pool-limit` sets both pools.

    Without it the pools are what a user gets, set on first use (`LOCAL_POOL_LIMITS`):
    notion_api 2 and soundcloud_api 3, under one limiter per machine each.
    """
    from dagster import DagsterInstance

    from soundcloud_sync.instance import ensure_pool_limits, write_instance_settings

    dagster_home = home / "dagster"
    write_instance_settings(dagster_home, overwrite=True)
    if pool_limit is not None:
        with DagsterInstance.from_config(str(dagster_home)) as instance:
            ensure_pool_limits(instance, {"notion_api": pool_limit, "soundcloud_api": pool_limit})


def backfill(args: argparse.Namespace) -> None:
    if args.with_audio:
        backfill_with_audio(args)
        return
    RESULTS.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="scale-home-", dir=RESULTS))
    configure_pools(home, args.pool_limit)
    total_tracks = args.playlists * args.tracks
    print(
        f"backfill: {args.playlists} playlists x {args.tracks} tracks = {total_tracks} tracks, "
        + (
            "one asset backfill through the UI (runs at once: dagster.yaml's queue), "
            if args.via == "ui"
            else f"{args.concurrency} CLI runs at once, "
        )
        + f"Notion emulator {args.rate:g} req/s "
        f"(latency {args.notion_latency:g} s), SoundCloud emulator {SOUNDCLOUD_BUDGET} req / "
        f"{WINDOW:g} s; pools notion_api/soundcloud_api: "
        + (f"{args.pool_limit}/{args.pool_limit}" if args.pool_limit else "2/3 (the defaults)")
    )
    print(
        "scope: --no-download (playlist_metadata, playlist_tracks, notion_track_pages); "
        "downloads/analysis of this many tracks are out of reach on 2 cores",
        flush=True,
    )
    with backfill_world(args, home) as (sc, notion, env, playlists):
        added = subprocess.run(
            [CLI, "add", *[p.url for p in playlists]], env=env, capture_output=True, text=True
        )
        if added.returncode != 0:
            raise SystemExit(f"registering the playlists failed: {added.stderr.strip()}")
        sc.reset_counts()
        notion.reset_counts()
        sampler = Sampler(sc)
        sampling = threading.Thread(target=sampler.loop, daemon=True)
        sampling.start()
        started = time.perf_counter()
        if args.via == "ui":  # wall time from the backfill's launch, UI start-up excluded
            results, started = run_via_ui(env, playlists, sampler, home, args.verbose)
        else:
            results = run_via_cli(env, playlists, sampler, args)
        wall = time.perf_counter() - started
        sampler.stop.set()
        sampling.join()
        report_backfill(args, sc, notion, sampler, results, wall, home)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


def _print_run(n: int, total: int, r: RunResult) -> None:
    print(
        f"  run {n:>3}/{total} {r.key}: exit {r.code}, {r.wall:.0f} s, "
        f"added {r.stats.get('tracks_added')}, peak {r.peak_tree_mib:.0f} MiB {r.error}",
        flush=True,
    )


def run_via_cli(
    env: dict[str, str], playlists: list, sampler: Sampler, args: argparse.Namespace
) -> list[RunResult]:
    """One `soundcloud-sync sync` process per playlist, `--concurrency` at once."""
    lock = threading.Lock()
    results: list[RunResult] = []
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(run_one, env, p.url, p.key, sampler, lock) for p in playlists]
        for n, future in enumerate(futures, 1):
            r = future.result()
            results.append(r)
            if args.verbose or r.code != 0:
                _print_run(n, len(futures), r)
    return results


BACKFILL_MUTATION = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
REPOSITORY_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    import urllib.request

    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["data"]


def _wait_for_ui(port: int, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soundcloud-sync dev exited with {proc.returncode}")
        try:
            if _graphql(port, REPOSITORY_QUERY)["repositoriesOrError"].get("nodes"):
                return
        except (OSError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"the UI did not load the code location in {timeout:.0f} s")


def _run_pid(instance, run_id: str) -> int | None:
    """The pid of the process executing a run, from its RUN_START event."""
    from dagster import DagsterEventType

    for entry in instance.all_logs(run_id, of_type=DagsterEventType.RUN_START):
        if entry.dagster_event and entry.dagster_event.pid:
            return entry.dagster_event.pid
    return None


def run_via_ui(
    env: dict[str, str], playlists: list, sampler: Sampler, home: Path, verbose: bool
) -> tuple[list[RunResult], float]:
    """What a user does: `soundcloud-sync dev`, then one asset backfill over every
    playlist partition, launched through the UI's own GraphQL API. The daemon creates a
    run per partition and dagster.yaml's run queue decides how many execute at once."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from soundcloud_sync.api import NOTION_ASSETS, catalog_for, playlist_stats
    from soundcloud_sync.config import Settings
    from soundcloud_sync_tests.servers import free_port

    # The sensors would check (and sync, downloads included) the 50 new playlists on
    # their own: switched off for the measurement, as the deployment test does.
    dagster = str(Path(sys.executable).parent / "dagster")
    for name in ("new_tracks_sensor", "playlist_registry_sensor"):
        subprocess.run(
            [dagster, "sensor", "stop", name, "-m", "soundcloud_sync.definitions"],
            env={**env, "DAGSTER_HOME": str(home / "dagster")}, cwd=home, check=True,
            capture_output=True,
        )  # fmt: skip
    port = free_port()
    log = (home / "dev.log").open("w")
    ui = subprocess.Popen(
        [CLI, "dev", "-p", str(port)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    finished = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    peaks: dict[str, tuple[float, float]] = {}
    pids: dict[str, int | None] = {}
    try:
        _wait_for_ui(port, ui)
        params = {
            "partitionNames": [p.key for p in playlists],
            "assetSelection": [{"path": [name]} for name in NOTION_ASSETS],
            "fromFailure": False,
            "title": "scale benchmark",
        }
        launched = _graphql(port, BACKFILL_MUTATION, {"params": params})
        answer = launched["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise SystemExit(f"the backfill was refused: {answer}")
        backfill_id = answer["backfillId"]
        launched_at = time.perf_counter()
        print(f"  backfill {backfill_id} launched through the UI's GraphQL API", flush=True)
        reported: set[str] = set()
        with DagsterInstance.from_config(str(home / "dagster")) as instance:
            while True:
                runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
                active = {r.run_id for r in runs if r.status == DagsterRunStatus.STARTED}
                sampler.active = len(active)
                for run_id in active:
                    pids[run_id] = pids.get(run_id) or _run_pid(instance, run_id)
                    if not pids[run_id]:
                        continue
                    tree, single = tree_rss_mib(pids[run_id])
                    old_tree, old_single = peaks.get(run_id, (0.0, 0.0))
                    peaks[run_id] = (max(old_tree, tree), max(old_single, single))
                done = [r for r in runs if r.status in finished]
                for r in done:
                    if verbose and r.run_id not in reported:
                        reported.add(r.run_id)
                        print(
                            f"  run {len(reported):>3}/{len(playlists)} {r.tags.get('dagster/partition')}: {r.status.value}",
                            flush=True,
                        )
                if len(done) == len(playlists):
                    break
                time.sleep(1.0)
            records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
    finally:
        os.killpg(ui.pid, signal.SIGINT)
        try:
            ui.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
        log.close()
    catalog = catalog_for(Settings(home=home))
    results = []
    for record in records:
        run = record.dagster_run
        key = run.tags.get("dagster/partition", "")
        tree, single = peaks.get(run.run_id, (0.0, 0.0))
        wall = (record.end_time or 0) - (record.start_time or 0)
        result = RunResult(
            key, 0 if run.status == DagsterRunStatus.SUCCESS else 1, wall, tree, single
        )
        result.stats = playlist_stats(catalog, key, NOTION_ASSETS)
        results.append(result)
    return results, launched_at


def report_backfill(
    args: argparse.Namespace,
    sc: SoundCloudEmulator,
    notion: NotionEmulator,
    sampler: Sampler,
    results: list[RunResult],
    wall: float,
    home: Path,
) -> None:
    ok = [r for r in results if r.code == 0]
    added = sum(int(r.stats.get("tracks_added") or 0) for r in ok)
    errors = sum(int(r.stats.get("errors") or 0) for r in ok)
    n_requests = notion.total_requests
    answered = n_requests - notion.statuses[429]
    floor = n_requests / args.rate
    sc_window = sampler.max_in_window(WINDOW)
    trees = [r.peak_tree_mib for r in results]
    singles = [r.peak_process_mib for r in results]
    pages = len(notion.pages)
    print()
    print(f"{'runs succeeded':<44} {len(ok)}/{len(results)}")
    print(f"{'tracks added to Notion (run stats)':<44} {added}   errors {errors}")
    print(f"{'pages in the Notion emulator':<44} {pages}")
    print()
    print(f"{'API':<12} {'requests':>9} {'429s':>6} {'other≥400':>10}")
    sc_other = sum(n for s, n in sc.statuses.items() if s >= 400 and s != 429)
    no_other = sum(n for s, n in notion.statuses.items() if s >= 400 and s != 429)
    print(f"{'SoundCloud':<12} {sc.api_requests:>9} {sc.statuses[429]:>6} {sc_other:>10}")
    print(f"{'Notion':<12} {n_requests:>9} {notion.statuses[429]:>6} {no_other:>10}")
    print()
    print(f"{'wall time':<44} {wall:>9.1f} s")
    print(f"{'Notion floor (requests / ' + format(args.rate, 'g') + ' per s)':<44} {floor:>9.1f} s")
    print(f"{'wall / floor':<44} {wall / floor if floor else float('nan'):>9.3f}")
    print(f"{'Notion rate, whole backfill (answered/wall)':<44} {answered / wall:>9.2f} req/s")
    for w in (10.0, 60.0):
        print(
            f"{f'Notion rate, busiest {w:g} s window':<44} {notion_windows(notion.log, w):>9.2f} req/s"
        )
    print(
        f"{'SoundCloud api-v2, busiest 10-min window':<44} {sc_window:>9} "
        f"(budget {SOUNDCLOUD_BUDGET})"
    )
    print(f"{'runs executing at once (max)':<44} {max(sampler.running, default=0):>9}")
    if trees:
        print(
            f"{'peak RSS of a run, process tree (max/median)':<44} "
            f"{max(trees):>6.0f} / {statistics.median(trees):.0f} MiB"
        )
        print(f"{'peak RSS of one process in a run (max)':<44} {max(singles):>6.0f} MiB")
    per_run = [r.wall for r in ok]
    if per_run:
        print(
            f"{'run wall time (median/max)':<44} {statistics.median(per_run):>6.0f} / {max(per_run):.0f} s"
        )
    print()
    print_step_overlap(home / "dagster")
    timeline = home / "notion_timeline.csv"
    with timeline.open("w") as fh:
        fh.write("time,method,route,status\n")
        for t, m, r, s in sorted(notion.log):  # by arrival; the log is in answer order
            fh.write(f"{t:.3f},{m},{r},{s}\n")
    print(f"{'Notion request timeline':<44} {timeline if args.keep else '(not kept: --keep)'}")


def step_overlap(dagster_home: Path) -> dict[str, tuple[int, float]]:
    """Per step: most runs executing it at once, and its median duration (the pools)."""
    from dagster import DagsterEventType, DagsterInstance

    os.environ["DAGSTER_HOME"] = str(dagster_home.resolve())
    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
    }
    spans: dict[str, list[tuple[float, float]]] = {}
    with DagsterInstance.get() as instance:
        for run in instance.get_runs():
            started: dict[str, float] = {}
            for entry in instance.all_logs(run.run_id, of_type=kinds):
                step = entry.step_key or ""
                if entry.dagster_event.event_type == DagsterEventType.STEP_START:
                    started[step] = entry.timestamp
                elif step in started:
                    spans.setdefault(step, []).append((started.pop(step), entry.timestamp))
    result = {}
    for step, intervals in spans.items():
        edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
        level = peak = 0
        for _, delta in edges:
            level += delta
            peak = max(peak, level)
        result[step] = (peak, statistics.median(b - a for a, b in intervals))
    return result


def print_step_overlap(dagster_home: Path) -> None:
    print(f"{'step (from the Dagster event log)':<44} {'max at once':>11} {'median s':>9}")
    for step, (peak, median) in sorted(step_overlap(dagster_home).items()):
        print(f"  {step:<42} {peak:>11} {median:>9.1f}")


def steps(args: argparse.Namespace) -> None:
    print_step_overlap(Path(args.home) / "dagster")


# -- the backfill with audio, through the daemon -------------------------------------

LOCATIONS = (
    "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
)
JOB_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""


@dataclass
class TreeMeter:
    """CPU and memory of a process tree started by this process (a child subreaper)."""

    root: int
    peak_tree_mib: float = 0.0
    peak_run_mib: float = 0.0  # the largest process executing a run (and its children)
    peak_analysis_mib: float = 0.0  # the machine's analysis process

    def cpu(self) -> float:
        """CPU-seconds of the tree so far: reaped descendants plus the live ones."""
        from bench.cpu import CLOCK_TICKS, children_cpu, descendants

        live = 0.0
        # every live descendant of this process, not only the root's: a process the runs
        # started in its own session (the analysis process) is re-parented here
        for pid in descendants(os.getpid()):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
                live += sum(int(x) for x in f[11:15]) / CLOCK_TICKS
            except (OSError, IndexError, ValueError):
                continue
        return children_cpu() + live

    def sample_memory(self, run_pids: set[int]) -> None:
        """``run_pids``: the processes executing runs (their RUN_START events say)."""
        from bench.cpu import descendants

        total = 0.0
        for pid in descendants(os.getpid()):
            mib = _rss_kib(pid) / 1024
            total += mib
            if is_analysis_process(pid):
                self.peak_analysis_mib = max(self.peak_analysis_mib, mib)
            if pid in run_pids:
                self.peak_run_mib = max(self.peak_run_mib, tree_rss_mib(pid)[0])
        self.peak_tree_mib = max(self.peak_tree_mib, total)


@dataclass
class Phase:
    """One measured stretch of the backfill: wall, busy CPU, requests."""

    name: str
    wall: float
    busy_cpu: float
    runs: int
    succeeded: int
    api_requests: int
    api_429: int
    notion_requests: int
    notion_429: int
    downloaded: int
    audio_minutes: float
    peak_tree_mib: float
    peak_run_mib: float
    peak_analysis_mib: float
    failures: list[str] = field(default_factory=list)
    stream_lookups: int = 0  # api-v2 `format_info` requests: a track's stream URL
    # seconds after the phase began: its first run queued, Notion's first and last request
    timeline: dict[str, float] = field(default_factory=dict)


def _wait_for_location(port: int, proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soundcloud-sync dev exited with {proc.returncode}")
        try:
            nodes = _graphql(port, LOCATIONS)["repositoriesOrError"].get("nodes")
            if nodes:
                return nodes[0]["location"]["name"], nodes[0]["name"]
        except (OSError, KeyError, TypeError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit(f"the UI did not load the code location in {timeout:.0f} s")


def _sync_runs(instance, keys: list[str], since: float) -> list:
    from dagster import RunsFilter

    records = instance.get_run_records(RunsFilter(job_name="sync_playlist"))
    return [
        r for r in records
        if r.create_timestamp.timestamp() >= since and r.dagster_run.tags.get("dagster/partition") in keys
    ]  # fmt: skip


def _measure_phase(
    name: str,
    meter: TreeMeter,
    instance,
    keys: list[str],
    sc: SoundCloudEmulator,
    notion: NotionEmulator,
    idle_cpu_per_s: float,
    start: Callable[[], None],
    audio_seconds: float,
    timeout: float,
) -> Phase:
    """Start the phase, wait until every playlist has a finished run and none is left
    queued or running, and say what it cost."""
    from dagster import DagsterRunStatus

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    sc.reset_counts()
    notion.reset_counts()
    before_downloads = _downloads(instance, keys)
    since = time.time()
    cpu0 = meter.cpu()
    started = time.perf_counter()
    meter.peak_tree_mib = meter.peak_run_mib = meter.peak_analysis_mib = 0.0
    start()
    deadline = time.monotonic() + timeout
    last_print = 0.0
    run_pids: dict[str, int | None] = {}
    while time.monotonic() < deadline:
        runs = _sync_runs(instance, keys, since)
        for r in runs:
            if r.dagster_run.status == DagsterRunStatus.STARTED and not run_pids.get(
                r.dagster_run.run_id
            ):
                run_pids[r.dagster_run.run_id] = _run_pid(instance, r.dagster_run.run_id)
        meter.sample_memory({p for p in run_pids.values() if p})
        finished = {
            r.dagster_run.tags.get("dagster/partition")
            for r in runs
            if r.dagster_run.status in done
        }
        active = [r for r in runs if r.dagster_run.status not in done]
        if finished >= set(keys) and not active:
            break
        if time.monotonic() - last_print > 30:
            last_print = time.monotonic()
            print(f"    {name}: {len(finished)}/{len(keys)} playlists synced, "
                  f"{len(active)} runs queued or running", flush=True)  # fmt: skip
        time.sleep(0.5)
    else:
        raise SystemExit(f"{name}: not finished after {timeout:.0f} s")
    wall = time.perf_counter() - started
    busy = meter.cpu() - cpu0 - idle_cpu_per_s * wall
    runs = _sync_runs(instance, keys, since)
    downloaded = _downloads(instance, keys) - before_downloads
    failures = [
        f"{r.dagster_run.tags.get('dagster/partition')}: {r.dagster_run.status.value}"
        for r in runs if r.dagster_run.status != DagsterRunStatus.SUCCESS
    ]  # fmt: skip
    notion_times = [t for t, *_ in notion.log]
    timeline = {
        "first run queued": min((r.create_timestamp.timestamp() for r in runs), default=since),
        "first Notion request": min(notion_times, default=since),
        "last Notion request": max(notion_times, default=since),
    }
    return Phase(
        name, wall, busy, len(runs), len(runs) - len(failures), sc.api_requests, sc.statuses[429],
        notion.total_requests, notion.statuses[429], downloaded,
        downloaded * audio_seconds / 60, meter.peak_tree_mib, meter.peak_run_mib,
        meter.peak_analysis_mib, failures,
        sc.counts["format_info"], {k: t - since for k, t in timeline.items()},
    )  # fmt: skip


def _downloads(instance, keys: list[str]) -> int:
    """Tracks downloaded so far (the catalog's record), for requests per download."""
    from soundcloud_sync.catalog import Catalog

    home = Path(instance.root_directory).parent
    catalog = Catalog(f"sqlite:///{home / 'catalog.sqlite'}")
    return sum(int(row.get("downloaded") or 0) for row in catalog.status(keys))


def backfill_with_audio(args: argparse.Namespace) -> None:
    """`soundcloud-sync dev` running, then `soundcloud-sync add` of every playlist: the
    sensor requests a first sync per playlist, the daemon's run queue executes them with
    their audio; then an unchanged re-sync of all of them as a UI backfill."""
    from dagster import DagsterInstance

    from bench.cpu import become_subreaper, loadavg, reap_orphans
    from soundcloud_sync_tests.servers import free_port

    if args.quick:
        args.playlists, args.tracks, args.seconds, args.idle = 2, 2, 10.0, 5.0
    become_subreaper()
    RESULTS.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="scale-audio-", dir=RESULTS))
    configure_pools(home, args.pool_limit)
    keys: list[str] = []
    print(
        f"backfill with audio: {args.playlists} playlists x {args.tracks} tracks x "
        f"{args.seconds:g} s, whole chain (AUDIO_FORMATS=aiff), `soundcloud-sync add` while "
        f"`soundcloud-sync dev` runs; Notion emulator {args.rate:g} req/s, SoundCloud "
        f"emulator {SOUNDCLOUD_BUDGET} req / {WINDOW:g} s; {loadavg()}",
        flush=True,
    )
    with backfill_world(args, home, name="audio", audio_seconds=args.seconds) as (
        sc,
        notion,
        env,
        playlists,
    ):
        keys = [p.key for p in playlists]
        for p in playlists:  # the emulator encodes each distinct track once: not our cost
            for tid in p.track_ids:
                t = sc.tracks[tid]
                audio_bytes(t.bpm, t.key, t.seconds)
        subprocess.run(
            [sys.executable, "-m", "soundcloud_sync.audio.warmup"], env=env, check=True,
            capture_output=True,
        )  # fmt: skip  # numba's kernels compiled once, as after any first analysis
        reap_orphans()
        port = free_port()
        log = (home / "dev.log").open("w")
        dev = subprocess.Popen(
            [CLI, "dev", "-p", str(port)], env=env, cwd=home, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        meter = TreeMeter(dev.pid)
        try:
            location = _wait_for_location(port, dev)
            time.sleep(5)  # the daemon's first ticks
            idle_from, idle_cpu = time.perf_counter(), meter.cpu()
            time.sleep(args.idle)
            idle_rate = (meter.cpu() - idle_cpu) / (time.perf_counter() - idle_from)
            print(f"  the UI, daemon and code server idle: {idle_rate:.3f} CPU-s per s "
                  "(taken out of every figure below)", flush=True)  # fmt: skip
            with DagsterInstance.from_config(str(home / "dagster")) as instance:

                def add() -> None:
                    added = subprocess.run(
                        [CLI, "add", *[p.url for p in playlists]], env=env,
                        capture_output=True, text=True,
                    )  # fmt: skip
                    if added.returncode != 0:
                        raise SystemExit(f"add failed: {added.stderr.strip()}")

                first = _measure_phase(
                    "first sync", meter, instance, keys, sc, notion, idle_rate, add,
                    args.seconds, args.timeout,
                )  # fmt: skip

                def backfill() -> None:
                    _launch_job_backfill(port, location, keys)

                again = _measure_phase(
                    "unchanged re-sync", meter, instance, keys, sc, notion, idle_rate,
                    backfill, args.seconds, args.timeout,
                )  # fmt: skip
        finally:
            os.killpg(dev.pid, signal.SIGINT)
            try:
                dev.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(dev.pid, signal.SIGKILL)
            log.close()
            for pid in descendants(os.getpid()):  # the analysis process is in no run's group
                if is_analysis_process(pid):
                    os.kill(pid, signal.SIGTERM)
            reap_orphans(timeout=10)
    report_audio_backfill(args, first, again)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


def _bench_env(home: Path, sc, notion, seeded, args: argparse.Namespace) -> dict[str, str]:
    """The emulated user's environment (bench/resync.py's), at this benchmark's rates."""
    env = emulated_env(home.parent, sc, notion, seeded)
    env.update(
        SOUNDCLOUD_SYNC_HOME=str(home),
        NOTION_REQUESTS_PER_SECOND=str(args.rate),
        SOUNDCLOUD_SYNC_PLAYLISTS_FILE=str(home / "playlists.yaml"),
    )
    if getattr(args, "with_audio", False):
        env["AUDIO_FORMATS"] = "aiff"
        env["NUMBA_CACHE_DIR"] = os.environ.get("NUMBA_CACHE_DIR") or str(home / "numba")
    return env


def _launch_job_backfill(port: int, location: tuple[str, str], keys: list[str]) -> None:
    """A backfill of the `sync_playlist` job over the playlists, as the UI launches it."""
    location_name, repository = location
    params = {
        "selector": {
            "partitionSetName": "sync_playlist_partition_set",
            "repositorySelector": {
                "repositoryLocationName": location_name, "repositoryName": repository,
            },
        },
        "partitionNames": keys,
        "fromFailure": False,
        "title": "scale benchmark: unchanged re-sync",
    }  # fmt: skip
    answer = _graphql(port, JOB_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise SystemExit(f"the backfill was refused: {answer}")


# A DJ's whole library, for the projection.
PROJECT_PLAYLISTS, PROJECT_TRACKS, PROJECT_MINUTES = 300, 50, 5.0


def report_audio_backfill(args: argparse.Namespace, first: Phase, again: Phase) -> None:
    from bench.cpu import loadavg

    cores = os.cpu_count() or 1
    fixed = again.busy_cpu / max(1, again.runs)
    per_minute = (
        (first.busy_cpu - fixed * first.runs) / first.audio_minutes if first.audio_minutes else 0.0
    )
    print()
    print(f"{'':<46} {'first sync':>12} {'re-sync':>12}")

    def row(label: str, a: str, b: str) -> None:
        print(f"{label:<46} {a:>12} {b:>12}")

    row("runs succeeded", f"{first.succeeded}/{first.runs}", f"{again.succeeded}/{again.runs}")
    row("tracks downloaded (audio minutes)", f"{first.downloaded} ({first.audio_minutes:g})",
        f"{again.downloaded}")  # fmt: skip
    row("busy CPU, every process (CPU-s)", f"{first.busy_cpu:.1f}", f"{again.busy_cpu:.1f}")
    row("busy CPU per run (CPU-s)", f"{first.busy_cpu / max(1, first.runs):.1f}",
        f"{again.busy_cpu / max(1, again.runs):.1f}")  # fmt: skip
    per_min = first.busy_cpu / first.audio_minutes if first.audio_minutes else float("nan")
    row("CPU-s per audio minute (whole backfill)", f"{per_min:.2f}", "")
    row("api-v2 requests", str(first.api_requests), str(again.api_requests))
    per_track = first.api_requests / first.downloaded if first.downloaded else float("nan")
    row("api-v2 requests per downloaded track", f"{per_track:.2f}", "")
    stream_per_track = first.stream_lookups / max(1, first.downloaded)
    listing_per_run = (first.api_requests - first.stream_lookups) / max(1, first.runs)
    row("  stream-URL look-ups per downloaded track", f"{stream_per_track:.2f}", "")
    row("  other requests per run (listing, checks)", f"{listing_per_run:.1f}",
        f"{(again.api_requests - again.stream_lookups) / max(1, again.runs):.1f}")  # fmt: skip
    row("429s (api-v2 / Notion)", f"{first.api_429} / {first.notion_429}",
        f"{again.api_429} / {again.notion_429}")  # fmt: skip
    row("Notion requests", str(first.notion_requests), str(again.notion_requests))
    floors, steady = {}, {}
    for phase in (first, again):
        floors[phase.name] = {
            f"CPU (busy CPU / {cores} cores)": phase.busy_cpu / cores,
            f"Notion (requests / {args.rate:g} per s)": phase.notion_requests / args.rate,
            "api-v2 (600 per 10 min)": max(0, phase.api_requests - SOUNDCLOUD_BUDGET)
            * WINDOW
            / SOUNDCLOUD_BUDGET,
        }
    for phase in (first, again):  # not a floor of the issue's: the pace our limiter keeps
        times = soundcloud_limiter(None, SOUNDCLOUD_BUDGET, WINDOW).schedule(phase.api_requests)
        steady[phase.name] = times[-1] - times[0] if times else 0.0
    for name in floors[first.name]:
        row(f"floor: {name} (s)", f"{floors[first.name][name]:.1f}",
            f"{floors[again.name][name]:.1f}")  # fmt: skip
    ratios = []
    for phase in (first, again):
        largest = max(floors[phase.name].values())
        ratios.append(phase.wall / largest if largest else float("nan"))
    for moment in first.timeline:
        row(f"{moment} (s after the start)", f"{first.timeline[moment]:.1f}",
            f"{again.timeline.get(moment, float('nan')):.1f}")  # fmt: skip
    row("wall time (s)", f"{first.wall:.1f}", f"{again.wall:.1f}")
    row("wall / largest floor", f"{ratios[0]:.2f}", f"{ratios[1]:.2f}")
    row("api-v2 at our limiter's pace (s)", f"{steady[first.name]:.1f}",
        f"{steady[again.name]:.1f}")  # fmt: skip
    row("wall / the largest of floors and that pace",
        *(f"{p.wall / max(*floors[p.name].values(), steady[p.name]):.2f}" for p in (first, again)))  # fmt: skip
    row("peak RSS, all processes (MiB)", f"{first.peak_tree_mib:.0f}", f"{again.peak_tree_mib:.0f}")
    row("peak RSS of one run (its processes, MiB)", f"{first.peak_run_mib:.0f}",
        f"{again.peak_run_mib:.0f}")  # fmt: skip
    row("peak RSS of the analysis process (MiB)", f"{first.peak_analysis_mib:.0f}",
        f"{again.peak_analysis_mib:.0f}")  # fmt: skip
    for phase in (first, again):
        for failure in phase.failures:
            print(f"  {phase.name}: run not successful: {failure}")
    print()
    print(f"fixed cost per run (the unchanged re-sync's busy CPU per run): {fixed:.1f} CPU-s; "
          f"per audio minute after it: {per_minute:.2f} CPU-s")  # fmt: skip
    tracks = PROJECT_PLAYLISTS * PROJECT_TRACKS
    minutes = tracks * PROJECT_MINUTES
    cpu = PROJECT_PLAYLISTS * fixed + minutes * per_minute
    notion_per_track = first.notion_requests / max(1, first.downloaded)
    # api-v2: a stream URL per track, and a playlist's listing (2 requests to 50 tracks, a
    # batch per 50 more) instead of this run's per-track figure, which 10-track lists inflate
    api = tracks * stream_per_track + PROJECT_PLAYLISTS * (1 + -(-PROJECT_TRACKS // 50))
    projected = {
        "CPU": cpu / cores,
        "Notion": tracks * notion_per_track / args.rate,
        "api-v2": max(0.0, api - SOUNDCLOUD_BUDGET) * WINDOW / SOUNDCLOUD_BUDGET,
    }
    largest = max(projected, key=projected.__getitem__)
    print(
        f"projection, {PROJECT_PLAYLISTS} playlists x {PROJECT_TRACKS} tracks x "
        f"{PROJECT_MINUTES:g} min ({minutes:,.0f} audio minutes): {cpu:,.0f} CPU-s; floors "
        + ", ".join(f"{k} {v / 3600:.1f} h" for k, v in projected.items())
        + f"; at this run's ratio to the largest ({largest}) about "
        f"{projected[largest] * ratios[0] / 3600:.1f} h"
    )
    print(loadavg())


# -- the sensor --------------------------------------------------------------------------


def sensor(args: argparse.Namespace) -> None:
    from dagster import DagsterInstance, RunRequest, build_sensor_context

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
        SENSOR_INTERVAL_SECONDS,
        checks_per_tick,
        new_tracks_sensor,
    )
    from soundcloud_sync.sources.models import ids_hash

    clock = [time.time()]
    sensors.clock = lambda: clock[0]  # the sensor's clock in simulated time too
    with (
        SoundCloudEmulator(rate_limit=SOUNDCLOUD_BUDGET, rate_window=WINDOW) as sc,
        tempfile.TemporaryDirectory() as tmp,
        DagsterInstance.ephemeral() as instance,
    ):
        sc._clock = lambda: clock[0]  # the emulator's 10-minute window in simulated time
        cache = Path(tmp) / "cache"
        sc.seed_client_id_cache(cache)
        catalog_url = f"sqlite:///{tmp}/catalog.sqlite"
        store = Catalog(catalog_url)
        playlists = [
            sc.add_playlist(f"curator-{i % 11}", f"watched-{i:03d}", args.tracks)
            for i in range(args.playlists)
        ]
        for p in playlists:
            store.remember_playlist_url(p.key, p.url)
            # synced before (the catalog knows its ids), never checked by the sensor
            store.update_playlist(p.key, ids_hash=ids_hash(p.track_ids), last_checked_at=None)
        instance.add_dynamic_partitions(PLAYLISTS, [p.key for p in playlists])
        resources = {
            "catalog": CatalogResource(url=catalog_url),
            "soundcloud": SoundCloudResource(
                api_base=PROXY_API_BASE, proxy=sc.proxy_url, client_id=sc.client_id,
                cache_dir=str(cache), paced=False,  # simulated time: the sensor's own budget
            ),
            "spotify": SpotifyResource(),
            "registry": RegistryResource(),
        }  # fmt: skip
        ticks = int(args.minutes * 60 // SENSOR_INTERVAL_SECONDS)
        changed_at = {
            ticks // 3: playlists[:: max(1, len(playlists) // args.changes)][: args.changes]
        }
        cursor: str | None = None
        per_tick: list[int] = []
        checked: set[str] = set()
        all_checked_at = None
        requests: dict[str, list[str]] = {}
        changed_keys: set[str] = set()
        started = time.perf_counter()
        for tick in range(ticks):
            for p in changed_at.get(tick, []):
                sc.append_tracks(p, 2)
                changed_keys.add(p.key)
            before = sc.api_requests
            context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            result = new_tracks_sensor(context)
            cursor = context.cursor
            per_tick.append(sc.api_requests - before)
            for request in result if isinstance(result, list) else []:
                assert isinstance(request, RunRequest)
                requests.setdefault(request.partition_key, []).append(request.run_key)
            checked.update(
                row["key"]
                for row in store.playlists(p.key for p in playlists)
                if row["last_checked_at"]
            )
            if all_checked_at is None and len(checked) == len(playlists):
                all_checked_at = (tick + 1) * SENSOR_INTERVAL_SECONDS
            clock[0] += SENSOR_INTERVAL_SECONDS
        elapsed = time.perf_counter() - started
    per_window = int(WINDOW // SENSOR_INTERVAL_SECONDS)
    windows = [sum(per_tick[i : i + per_window]) for i in range(0, len(per_tick) - per_window + 1)]
    unexpected = sorted(set(requests) - changed_keys)
    distinct = {k: sorted(set(v)) for k, v in requests.items()}
    print(
        f"sensor: {args.playlists} registered playlists of {args.tracks} tracks, one tick per "
        f"{SENSOR_INTERVAL_SECONDS} s for {args.minutes:g} simulated minutes ({ticks} ticks), "
        f"{checks_per_tick()} checks per tick; {len(changed_keys)} playlists changed at "
        f"minute {ticks // 3 * SENSOR_INTERVAL_SECONDS / 60:g}"
    )
    print()
    print(f"{'api-v2 requests, all ticks':<52} {sum(per_tick):>7}")
    print(f"{'api-v2 requests per tick (min/max)':<52} {min(per_tick):>3} / {max(per_tick)}")
    print(
        f"{'api-v2 requests in any 10 simulated minutes (max)':<52} {max(windows, default=0):>7}"
        f"   (sensor share 300 of ~{SOUNDCLOUD_BUDGET})"
    )
    print(f"{'429s from the emulator':<52} {sc.statuses[429]:>7}")
    print(
        f"{'time until every playlist was checked once':<52} "
        f"{(all_checked_at or float('nan')) / 60:>7.1f} min"
    )
    print(f"{'changed playlists':<52} {len(changed_keys):>7}")
    print(f"{'changed playlists with a run request':<52} {len(set(requests) & changed_keys):>7}")
    print(
        f"{'run requests per changed playlist (max)':<52} "
        f"{max((len(v) for v in requests.values()), default=0):>7}"
        "   (the cursor remembers a requested change until a run syncs it)"
    )
    print(
        f"{'runs launched per changed playlist (max)':<52} "
        f"{max((len(v) for v in distinct.values()), default=0):>7}"
        "   (distinct run keys: the daemon drops a run key it has launched)"
    )
    print(f"{'run requests for unchanged playlists':<52} {len(unexpected):>7}")
    print(f"{'real time for all ticks':<52} {elapsed:>7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backfill", help="N playlists x M tracks, one run per partition")
    b.add_argument("--playlists", type=int, default=5)
    b.add_argument("--tracks", type=int, default=200)
    b.add_argument("--concurrency", type=int, default=3, help="runs at once (run queue limit)")
    b.add_argument("--rate", type=float, default=3.0, help="Notion requests/s (emulator and us)")
    b.add_argument("--burst", type=float, default=3.0, help="the Notion emulator's bucket depth")
    b.add_argument("--notion-latency", type=float, default=0.25, help="seconds per Notion answer")
    b.add_argument(
        "--pool-limit", type=int, default=None,
        help="both pools' limit (default: ours, notion_api 2 and soundcloud_api 3)",
    )  # fmt: skip
    b.add_argument("--keep", action="store_true", help="keep the home under bench/results/")
    b.add_argument("--verbose", action="store_true", help="a line per finished run")
    b.add_argument(
        "--via", choices=["cli", "ui"], default="cli",
        help="cli: a `soundcloud-sync sync` process per playlist, --concurrency at once; "
        "ui: `soundcloud-sync dev` and one asset backfill launched through the UI's GraphQL "
        "API (the daemon and dagster.yaml's run queue decide what runs at once)",
    )  # fmt: skip
    b.add_argument(
        "--with-audio", action="store_true",
        help="the whole chain (download, analysis, AIFF, tags, write-back) through the daemon: "
        "`soundcloud-sync add` while `soundcloud-sync dev` runs, then an unchanged re-sync "
        "launched as a UI backfill; defaults to 20 playlists x 10 tracks x 60 s",
    )  # fmt: skip
    b.add_argument("--seconds", type=float, default=60.0, help="audio per track (--with-audio)")
    b.add_argument("--idle", type=float, default=30.0, help="seconds to measure the idle UI")
    b.add_argument("--timeout", type=float, default=3600.0, help="per phase (--with-audio)")
    # --quick: a seconds-long run; with --with-audio, 2 playlists x 2 tracks x 10 s
    quick_option(b, playlists=2, tracks=5, concurrency=2, rate=50.0, burst=50.0, notion_latency=0.0)
    s = sub.add_parser("sensor", help="new_tracks_sensor ticks with N registered playlists")
    s.add_argument("--playlists", type=int, default=300)
    s.add_argument("--tracks", type=int, default=20)
    s.add_argument("--minutes", type=float, default=30.0, help="simulated minutes")
    s.add_argument("--changes", type=int, default=2, help="playlists changed during the run")
    quick_option(s, playlists=20, tracks=3, minutes=12.0)
    t = sub.add_parser("steps", help="step overlap of a kept backfill home (--keep)")
    t.add_argument("home", help="bench/results/scale-home-…")
    args = parser.parse_args()
    if args.command == "backfill" and args.with_audio:
        given = set(sys.argv)
        args.playlists = args.playlists if "--playlists" in given else 20
        args.tracks = args.tracks if "--tracks" in given else 10
    {"backfill": backfill, "sensor": sensor, "steps": steps}[args.command](args)


if __name__ == "__main__":
    main()
