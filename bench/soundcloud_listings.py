"""SoundCloud likes, uploads and hand-picked tracks: requests and time to read, on the
local emulator through yt-dlp's network stack.

    python bench/soundcloud_listings.py [--sizes 50,200,1000] [--picks 10,60]

For each number of likes prints the api-v2 requests (profile resolve, likes pages)
and the wall time of a full walk (`SoundCloudClient.fetch_playlist` on
`<user>/likes`: 1 + 1 per 200 entries) and of the check the new-tracks sensor makes (the
newest 50 entries, with the user's id known: 1). For each number of tracks added by hand
prints the requests of their first read (one resolve each) and of every later one (one
batch per 50 known ids).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from soundcloud_sync.sources import SinglesRef, SoundCloudClient
from soundcloud_sync_tests.emulators.soundcloud import SoundCloudEmulator


def _client(emu: SoundCloudEmulator, cache: Path) -> SoundCloudClient:
    return SoundCloudClient(api_base=emu.base_url, cache_dir=cache)


def _timed(emu: SoundCloudEmulator, read: Callable[..., Any], *args: Any) -> tuple[Any, int, float]:
    """What the call returned, the api requests it made, and its seconds."""
    emu.reset_counts()
    start = time.perf_counter()
    result = read(*args)
    return result, emu.api_requests, time.perf_counter() - start


def likes(emu: SoundCloudEmulator, cache: Path, sizes: list[int]) -> None:
    print(f"{'likes':>8} {'walk: requests':>15} {'seconds':>8} {'check: requests':>16} "
          f"{'seconds':>8}")  # fmt: skip
    for size in sizes:
        user = f"fan-{size}"
        for _ in range(size):
            emu.like(user, emu.add_track("bench-artist"))
        url = f"https://soundcloud.com/{user}/likes"
        with _client(emu, cache) as client:
            listing, walk_n, walk_s = _timed(emu, client.fetch_playlist, url)
            assert len(listing.tracks) == size
            _, check_n, check_s = _timed(emu, client.check_playlist, url, listing.soundcloud_id)
        print(f"{size:>8} {walk_n:>15} {walk_s:>8.2f} {check_n:>16} {check_s:>8.2f}")


def singles(emu: SoundCloudEmulator, cache: Path, counts: list[int]) -> None:
    print(f"{'picks':>8} {'first: requests':>16} {'seconds':>8} {'later: requests':>16} "
          f"{'seconds':>8}")  # fmt: skip
    for count in counts:
        user = f"label-{count}"
        picks = [(emu.add_track(user).permalink_url, None) for _ in range(count)]
        ref = SinglesRef(user)
        with _client(emu, cache) as client:
            (_, ids), first_n, first_s = _timed(emu, client.fetch_singles, ref, picks)
            known = [(url, ids[url]) for url, _ in picks]
            _, later_n, later_s = _timed(emu, client.fetch_singles, ref, known)
        print(f"{count:>8} {first_n:>16} {first_s:>8.2f} {later_n:>16} {later_s:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000")
    parser.add_argument("--picks", default="10,60")
    quick_option(parser, argv, sizes="50", picks="3")
    args = parser.parse_args(argv)
    with SoundCloudEmulator(rate_limit=100_000) as emu, tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        emu.seed_client_id_cache(cache)
        likes(emu, cache, [int(s) for s in args.sizes.split(",")])
        singles(emu, cache, [int(s) for s in args.picks.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
