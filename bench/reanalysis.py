"""What measuring again costs: wall and CPU time, and requests, of `soundcloud-sync reanalyze`.

    python bench/reanalysis.py [--tracks 12] [--seconds 60]

One playlist of ``--tracks`` tracks (``--seconds`` of synthesized audio each) is synced
whole on the emulators; then every track is marked as measured by an older analysis
version in the catalog, and three `reanalyze` runs are timed (a fresh CLI process each):
the one that measures every track again, the one after it (all current: nothing to
decode), and `--force`. SoundCloud requests must stay at 0 (no download); Notion writes
are one per page whose values changed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from bench.resync import CLI, emulated_env, timed_sync
from soundcloud_sync.catalog import Catalog
from soundcloud_sync_tests.emulators.notion import NotionEmulator, seed_music_catalog
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_reanalyze(env, url, sc, notion, *extra) -> str:
    sc.reset_counts()
    n0, cpu0, started = len(notion.log), children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [CLI, "reanalyze", url, "--json", *extra], env=env, capture_output=True, text=True
    )
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"reanalyze failed: {proc.stderr.strip()[-500:]}")
    [stats] = json.loads(proc.stdout)
    label = "reanalyze " + " ".join(extra) if extra else "reanalyze"
    return (
        f"| {label} | {stats['measured']} | {stats['kept']} | {wall:.1f} | {cpu:.1f} "
        f"| {sum(sc.counts.values())} | {len(notion.log) - n0} | {stats['notion_updated']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=60.0)
    quick_option(parser, tracks=1, seconds=8.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SoundCloudEmulator(audio_seconds=args.seconds) as sc,
        NotionEmulator(rate=50, burst=50) as notion,
    ):
        seeded = seed_music_catalog(notion)
        playlist = sc.add_playlist("bench-dj", "measured-again", args.tracks)
        env = emulated_env(Path(tmp), sc, notion, seeded)
        timed_sync(env, playlist.url)
        catalog = Catalog(f"sqlite:///{Path(tmp) / 'home' / 'catalog.sqlite'}")
        catalog.update_tracks({sid: {"analysis_version": "1"} for sid in playlist.track_ids})
        audio_min = args.tracks * args.seconds / 60
        print(f"{args.tracks} tracks, {audio_min:.0f} audio minutes, all at an older version")
        print()
        print("| run | measured | kept | wall s | CPU s | SoundCloud requests | Notion requests "
              "| pages written |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for extra in ((), (), ("--force",)):
            print(timed_reanalyze(env, playlist.url, sc, notion, *extra))


if __name__ == "__main__":
    main()
