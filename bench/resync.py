"""What a sync costs when nothing changed: wall time from CLI start to exit, and requests.

    python bench/resync.py [--tracks 500] [--audio-tracks 20] [--repeat 3]

Two playlists on the emulators: ``--tracks`` tracks synced with ``--no-download``, and a
small one (``--audio-tracks`` tracks of short audio) synced whole (download, analysis,
files, write-back). Each is synced once, then re-synced unchanged ``--repeat`` times;
the figures are the re-syncs' wall time (a fresh ``soundcloud-sync`` process each time,
as a user or a cron job starts it) and the Notion / SoundCloud requests they made.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from soundcloud_sync_tests.emulators.notion import (
    NotionEmulator,
    SeededCatalog,
    seed_music_catalog,
)
from soundcloud_sync_tests.emulators.soundcloud import PROXY_API_BASE, SoundCloudEmulator

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


def emulated_env(
    folder: Path,
    sc: SoundCloudEmulator,
    notion: NotionEmulator | None = None,
    seeded: SeededCatalog | None = None,
) -> dict[str, str]:
    """A user's environment pointed at the emulators, none of the user's own services kept.

    Without `notion` no Notion variable is set, so the Notion steps skip.
    """
    user_services = ("NOTION_", "SOUNDCLOUD_", "SPOTIFY_", "EAGLE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(user_services)}
    env.pop("DAGSTER_HOME", None)
    env.update(
        SOUNDCLOUD_SYNC_HOME=str(folder / "home"),
        SOUNDCLOUD_API_BASE=PROXY_API_BASE,
        SOUNDCLOUD_PROXY=sc.proxy_url,
        SOUNDCLOUD_CLIENT_ID=sc.client_id,
        SOUNDCLOUD_SYNC_PLAYLISTS_FILE=str(folder / "playlists.yaml"),
    )
    if notion is not None and seeded is not None:
        env.update(
            NOTION_TOKEN=notion.token,
            NOTION_BASE_URL=notion.base_url,
            NOTION_TRACKS_DATABASE_ID=seeded.tracks_database_id,
            NOTION_PLAYLISTS_DATABASE_ID=seeded.playlists_database_id,
            NOTION_REQUESTS_PER_SECOND="50",
        )
    return env


def timed_sync(env: dict[str, str], url: str, *extra: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [CLI, "sync", url, "--json", *extra], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"sync {url} failed: {proc.stderr.strip()[-500:]}")
    return wall


def measure(env, url, label, extra, repeat, sc, notion) -> None:
    first = timed_sync(env, url, *extra)
    walls, notion_requests, api_requests = [], [], []
    for _ in range(repeat):
        n0, s0 = len(notion.log), sc.api_requests
        walls.append(timed_sync(env, url, *extra))
        notion_requests.append(len(notion.log) - n0)
        api_requests.append(sc.api_requests - s0)
    print(
        f"| {label} | {first:.1f} | {statistics.median(walls):.1f} | {max(walls):.1f} "
        f"| {max(notion_requests)} | {max(api_requests)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=500)
    parser.add_argument("--audio-tracks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    quick_option(parser, tracks=20, audio_tracks=1, repeat=1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SoundCloudEmulator(audio_seconds=20) as sc,
        NotionEmulator(rate=50, burst=50) as notion,
    ):
        seeded = seed_music_catalog(notion)
        big = sc.add_playlist("bench-dj", "big-unchanged", args.tracks)
        small = sc.add_playlist("bench-dj", "small-unchanged", args.audio_tracks)
        env = emulated_env(Path(tmp), sc, notion, seeded)
        print(
            "| playlist | first sync s | unchanged re-sync s (median) | max | Notion requests | api-v2 requests |"
        )
        print("|---|---|---|---|---|---|")
        measure(
            env,
            big.url,
            f"{args.tracks} tracks, --no-download",
            ["--no-download"],
            args.repeat,
            sc,
            notion,
        )
        measure(
            env, small.url, f"{args.audio_tracks} tracks, whole chain", [], args.repeat, sc, notion
        )


if __name__ == "__main__":
    main()
