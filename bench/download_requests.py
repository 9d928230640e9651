"""api-v2 requests per downloaded track: a sync with audio, as a user runs it.

    python bench/download_requests.py                       # the demo's 12-track set
    python bench/download_requests.py --playlists 3 --tracks 20 --seconds 20

Starts the SoundCloud emulator (proxy mode: every URL keeps SoundCloud's real shape, so
yt-dlp behaves as it does against soundcloud.com) and runs ``soundcloud-sync sync URL
--json`` once per playlist (Notion off: its steps skip). The first playlist is the
demo's mix (one Go+ preview, one geo-blocked, one deleted, one DRM track added, one
with its original download); the others hold ``--tracks`` plain tracks each. Prints the
emulator's api-v2 requests by endpoint, the CDN requests (media, artwork) apart, the
tracks downloaded, and both ratios: every api-v2 request of the syncs per downloaded
track, and the download step's own (stream-URL look-ups and fallbacks) per downloaded
track, as the step reports them in its metadata (``soundcloud_requests``).
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

from bench.quick import quick_option
from bench.resync import emulated_env
from soundcloud_sync_tests.emulators.soundcloud import (
    API_ENDPOINTS,
    SoundCloudEmulator,
    build_demo,
)

CLI = str(Path(sys.executable).parent / "soundcloud-sync")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--playlists", type=int, default=1, help="playlists synced (first: demo)")
    parser.add_argument("--tracks", type=int, default=10, help="tracks per extra playlist")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio length of a track")
    quick_option(parser, argv, seconds=6.0)
    args = parser.parse_args(argv)

    with (
        tempfile.TemporaryDirectory(prefix="download-requests-") as tmp,
        SoundCloudEmulator(audio_seconds=args.seconds) as emu,
    ):
        demo = build_demo(emu)
        emu.append_tracks(demo, 1, kind="drm")
        urls = [demo.url] + [
            emu.add_playlist(f"digger-{i}", f"crate-{i}", args.tracks).url
            for i in range(1, args.playlists)
        ]
        env = {**emulated_env(Path(tmp), emu), "AUDIO_FORMATS": "aiff"}
        downloaded = listing = step_requests = fallbacks = 0
        start = time.monotonic()
        for url in urls:
            done = subprocess.run(
                [CLI, "sync", url, "--json"], env=env, capture_output=True, text=True
            )
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
            stats = json.loads(done.stdout)
            downloaded += stats.get("downloaded", 0)
            requests = stats.get("soundcloud_requests") or {}  # absent before this release
            listing += requests.get("listing", 0)
            step_requests += requests.get("download", 0)
            fallbacks += stats.get("ytdlp_fallbacks", 0)
        wall = time.monotonic() - start
        counts = dict(emu.counts)

    api = {k: n for k, n in sorted(counts.items()) if k in API_ENDPOINTS}
    cdn = {k: n for k, n in sorted(counts.items()) if k not in API_ENDPOINTS}
    total = sum(api.values())
    print(f"playlists synced: {len(urls)} (wall {wall:.0f} s); tracks downloaded: {downloaded}")
    print(f"api-v2 requests (emulator): {total}  {api}")
    print(f"CDN and web requests (not api-v2): {sum(cdn.values())}  {cdn}")
    if listing or step_requests:  # the steps' own counts (their metadata, --json stats)
        print(f"  listing step: {listing}, download step: {step_requests}, "
              f"yt-dlp fallbacks: {fallbacks}")  # fmt: skip
    if downloaded:
        print(f"api-v2 requests per downloaded track, whole sync: {total / downloaded:.2f}")
        if step_requests:
            print(f"api-v2 requests per downloaded track, download step: "
                  f"{step_requests / downloaded:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
