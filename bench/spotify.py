"""Spotify playlist reading cost, on the local emulator through the real spotipy.

    python bench/spotify.py [--sizes 50,200,1000]

For each playlist size prints the requests Spotify receives (token, playlist,
/items pages) and the wall time for a first read (`SpotifyClient.fetch_playlist`: 1
token + 1 playlist + 1 per 50 entries) and for the check an unchanged playlist costs
(`SpotifyClient.head` in a fresh process: 1 token + 1 playlist), against the rolling
30-second window the emulator applies (180 requests by default here; Spotify does not
publish its number).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from soundcloud_sync.sources import SpotifyClient
from soundcloud_sync_tests.emulators.spotify import SpotifyEmulator


def _client(emu: SpotifyEmulator) -> SpotifyClient:
    return SpotifyClient(
        emu.client_id, emu.client_secret, api_base=emu.api_base, accounts_base=emu.accounts_base
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,1000")
    quick_option(parser, argv, sizes="60")
    args = parser.parse_args(argv)
    print(f"{'entries':>8} {'first read: requests':>21} {'seconds':>8} "
          f"{'unchanged: requests':>20} {'seconds':>8}")  # fmt: skip
    with SpotifyEmulator(rate_limit=10_000) as emu:
        for size in (int(s) for s in args.sizes.split(",")):
            tracks = [emu.add_track(f"T{size}-{i}", "Artist", isrc=f"X{size:04d}{i:06d}")
                      for i in range(size)]  # fmt: skip
            playlist = emu.add_playlist(f"bench {size}", "bench", list(tracks))
            emu.reset_counts()
            start = time.perf_counter()
            read = _client(emu).fetch_playlist(playlist.url)
            first_s, first_n = time.perf_counter() - start, emu.requests
            assert len(read.tracks) == size
            emu.reset_counts()
            start = time.perf_counter()
            _client(emu).head(playlist.url)
            check_s, check_n = time.perf_counter() - start, emu.requests
            print(f"{size:>8} {first_n:>21} {first_s:>8.2f} {check_n:>20} {check_s:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
