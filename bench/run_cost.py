"""What one `soundcloud-sync sync URL` costs in CPU-seconds, whole chain, and where it goes.

    python bench/run_cost.py [--tracks 1 5] [--seconds 60] [--repeat 1] [--profile DIR]

The home is made first by a sync without audio (the instance's and the catalog's
databases, made once per home, are no run's cost). For each size, a new playlist of
that many tracks (``--seconds`` of audio each) on the SoundCloud emulator is synced
through the whole chain by the CLI (download, analysis,
AIFF, tags, Notion pages and write-back, exports), then synced again unchanged. The
CPU-seconds are those of every process the command started (bench/cpu.py: the CLI, the
server its steps fork from, the step processes, analysis workers, ffmpeg), user+system,
measured exactly; the per-process breakdown is sampled. The fixed cost per run is the
intercept of CPU against audio minutes (and the unchanged re-sync, which touches no
track, bounds it from below). ``--profile DIR`` also records each Python process with
py-spy (``--subprocesses``) into DIR as speedscope files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cpu import ProcessSampler, become_subreaper, children_cpu, loadavg, reap_orphans
from bench.quick import quick_option
from bench.resync import emulated_env
from soundcloud_sync_tests.emulators.notion import NotionEmulator, seed_music_catalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


def measured(cmd: list[str], env: dict[str, str], profile: Path | None = None) -> dict:
    """Run ``cmd``; its CPU (all descendants), wall, per-process breakdown, exit code."""
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--format",
            "speedscope", "--rate", "50", "-o", str(profile), "--", *cmd,
        ]  # fmt: skip
    before = children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = ProcessSampler([proc.pid]).start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop()
    reap_orphans(keep=set())
    steps = step_pids(env)
    for pid, (label, cpu) in list(sampler.seen.items()):
        if pid == proc.pid:
            sampler.seen[pid] = ("the CLI (runs the steps in its threads)", cpu)
        elif pid in steps:
            sampler.seen[pid] = (steps[pid], cpu)
        elif label.startswith(("python watch_orphans", "tail")):
            sampler.seen[pid] = ("compute log capture (tail, watch_orphans.py)", cpu)
    return {
        "code": proc.returncode,
        "cpu": children_cpu() - before,
        "wall": wall,
        "processes": sampler.by_label(),
        "stdout": out.decode(errors="replace"),
        "stderr": err.decode(errors="replace"),
    }


def without_profiler(stdout: str) -> str:
    """The command's own output: py-spy writes its ``py-spy>`` lines on the same stdout."""
    return "\n".join(ln for ln in stdout.splitlines() if not ln.startswith("py-spy>"))


def step_pids(env: dict[str, str]) -> dict[int, str]:
    """pid -> step key of the last run, from its event log (every event names its pid)."""
    from dagster import DagsterInstance

    home = Path(env["SOUNDCLOUD_SYNC_HOME"]) / "dagster"
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        out: dict[int, str] = {}
        for entry in instance.all_logs(runs[0].run_id) if runs else []:
            event = entry.dagster_event
            started = event is not None and event.event_type_value == "STEP_START"
            if started and event.pid and entry.step_key:
                out.setdefault(event.pid, f"step {entry.step_key}")
        return out


def print_breakdown(result: dict) -> None:
    rows = sorted(result["processes"].items(), key=lambda kv: -kv[1][1])
    seen = sum(cpu for _, cpu in result["processes"].values())
    for label, (count, cpu) in rows:
        print(f"      {label[:60]:<60} {count:>4} proc {cpu:>7.2f} s")
    print(f"      {'(not seen by the sampler: short-lived processes)':<60} "
          f"{'':>9} {max(0.0, result['cpu'] - seen):>7.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per track")
    parser.add_argument("--repeat", type=int, default=1, help="unchanged re-syncs per size")
    parser.add_argument("--formats", default="aiff")
    parser.add_argument("--profile", type=Path, help="py-spy recordings into this folder")
    parser.add_argument("--breakdown", action="store_true", help="CPU per process kind")
    quick_option(parser, tracks=[1, 2], seconds=6.0, repeat=0)
    args = parser.parse_args()
    become_subreaper()
    print(f"run cost: whole-chain `soundcloud-sync sync URL` of playlists of {args.tracks} "
          f"tracks x {args.seconds:g} s audio, formats {args.formats}; {loadavg()}")  # fmt: skip
    points = []
    with (
        tempfile.TemporaryDirectory(prefix="run-cost-") as tmp,
        SoundCloudEmulator(audio_seconds=args.seconds) as sc,
        NotionEmulator(rate=50, burst=50) as notion,
    ):
        folder = Path(tmp)
        env = emulated_env(folder, sc, notion, seed_music_catalog(notion))
        env["AUDIO_FORMATS"] = args.formats
        # each command's own cost: the analysis process it starts goes a second after it
        # and is reaped here, its CPU counted (a backfill shares one: bench/scale.py)
        env["SOUNDCLOUD_SYNC_ANALYSIS_IDLE_SECONDS"] = "1"
        # numba's compiled kernels cached once, as `make install`'s first use leaves them
        env.setdefault("NUMBA_CACHE_DIR", str(folder / "numba"))
        subprocess.run(
            [sys.executable, "-m", "soundcloud_sync.audio.warmup"], env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        # the home as a DJ's is after their first sync: the Dagster instance's and the
        # catalog's databases made once (seconds of CPU no later run pays again)
        warm = sc.add_playlist("run-cost", "warm-home", 1)
        subprocess.run([CLI, "sync", warm.url, "--no-download", "--json"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        reap_orphans()
        print(f"{'tracks':>6} {'audio min':>9} {'first sync CPU-s':>17} {'wall s':>7} "
              f"{'re-sync CPU-s':>14} {'wall s':>7}")  # fmt: skip
        for n, size in enumerate(args.tracks):
            playlist = sc.add_playlist("run-cost", f"size-{n}-{size}", size)
            profile = args.profile / f"first-{size}.json" if args.profile else None
            first = measured([CLI, "sync", playlist.url, "--json"], env, profile)
            if first["code"] != 0:
                raise SystemExit(f"sync failed: {first['stderr'][-800:]}")
            stats = json.loads(without_profiler(first["stdout"]))
            again = []
            for r in range(args.repeat):
                profile = args.profile / f"resync-{size}-{r}.json" if args.profile else None
                again.append(measured([CLI, "sync", playlist.url, "--json"], env, profile))
            minutes = size * args.seconds / 60
            best = min(again, key=lambda x: x["cpu"]) if again else None
            print(
                f"{size:>6} {minutes:>9.1f} {first['cpu']:>17.2f} {first['wall']:>7.1f} "
                + (f"{best['cpu']:>14.2f} {best['wall']:>7.1f}" if best else "")
                + f"   (downloaded {stats.get('downloaded')}, analysed {stats.get('analysed')})",
                flush=True,
            )
            if args.breakdown:
                print("    first sync:")
                print_breakdown(first)
                if best:
                    print("    unchanged re-sync:")
                    print_breakdown(best)
            points.append((minutes, first["cpu"]))
    if len(points) >= 2:
        (x0, y0), (x1, y1) = points[0], points[-1]
        slope = (y1 - y0) / (x1 - x0) if x1 != x0 else float("nan")
        print(f"fixed cost per run (intercept): {y0 - slope * x0:.2f} CPU-s; "
              f"per audio minute after it: {slope:.3f} CPU-s; {loadavg()}")  # fmt: skip


if __name__ == "__main__":
    main()
