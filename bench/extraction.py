"""Playlist extraction cost: SoundCloudClient vs plain yt-dlp, on the local emulator.

    python bench/extraction.py [--sizes 50,200,500] [--latency 0.05]

For each playlist size prints the api-v2 requests received by the emulator and the
wall time of ``SoundCloudClient.fetch_playlist`` (1 resolve + 1 batch per 50 tracks),
of plain yt-dlp non-flat ``extract_info(url, download=False)`` (the emulator as an
HTTP proxy, yt-dlp's SoundCloud extractor unchanged but for the http api base), and
of yt-dlp ``extract_flat`` (ids only, no metadata) for reference. The emulator's rate
limit is lifted so yt-dlp is not stopped by 429s; the last column says whether a
single extraction would fit SoundCloud's ~600 requests / 10 minutes. ``--latency``
adds that many seconds to every emulator answer (a real round trip is ~30-100 ms):
on loopback alone yt-dlp's cost is hidden, its requests are sequential.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yt_dlp import YoutubeDL
from yt_dlp.extractor.soundcloud import SoundcloudBaseIE

from bench.quick import quick_option
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync_tests.emulators.soundcloud import (
    PROXY_API_BASE,
    SoundCloudEmulator,
)

BUDGET = 600  # SoundCloud's unpublished api-v2 limit per 10 minutes, as yt-dlp reports it


def _measure(emu: SoundCloudEmulator, run: Callable[[], int]) -> tuple[int, float, int]:
    emu.reset_counts()
    start = time.perf_counter()
    entries = run()
    return emu.api_requests, time.perf_counter() - start, entries


def bench(sizes: list[int], latency: float = 0.0) -> list[tuple[int, str, int, float, int]]:
    rows = []
    cache = Path(tempfile.mkdtemp(prefix="bench-extraction-"))
    with SoundCloudEmulator(rate_limit=10**9, latency=latency) as emu:
        emu.seed_client_id_cache(cache)
        client = SoundCloudClient(api_base=emu.base_url, cache_dir=cache)
        SoundcloudBaseIE._API_V2_BASE = PROXY_API_BASE
        ydl_params = {"proxy": emu.proxy_url, "cachedir": str(cache), "quiet": True,
                      "no_warnings": True, "ignoreerrors": True}  # fmt: skip
        for size in sizes:
            made = emu.add_playlist("bench", f"set-{size}", size)

            def ours(url: str = made.url) -> int:
                return len(client.fetch_playlist(url).tracks)

            def plain(url: str = made.url) -> int:
                with YoutubeDL(ydl_params) as ydl:
                    info = ydl.extract_info(url, download=False)
                return sum(1 for e in info["entries"] if e)

            def flat(url: str = made.url) -> int:
                with YoutubeDL({**ydl_params, "extract_flat": "in_playlist"}) as ydl:
                    info = ydl.extract_info(url, download=False)
                return len(list(info["entries"]))

            for name, run in (
                ("SoundCloudClient.fetch_playlist", ours),
                ("yt-dlp non-flat", plain),
                ("yt-dlp flat (ids only)", flat),
            ):
                requests, seconds, entries = _measure(emu, run)
                rows.append((size, name, requests, seconds, entries))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    quick_option(parser, sizes="20")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = bench(sizes, args.latency)
    print(f"emulator latency per answer: {args.latency * 1000:.0f} ms")
    print(
        f"{'tracks':>6}  {'method':<32} {'api-v2 req':>10} {'wall s':>8} {'entries':>7}  fits 600/10min"
    )
    for size, name, requests, seconds, entries in rows:
        fits = "yes" if requests <= BUDGET else "no"
        print(f"{size:>6}  {name:<32} {requests:>10} {seconds:>8.2f} {entries:>7}  {fits}")


if __name__ == "__main__":
    main()
