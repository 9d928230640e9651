"""Notion sync benchmark against the emulator's rate limit (3 requests/s by default).

    python bench/notion_sync.py [--tracks 500] [--rate 3] [--latency 0.25] [--existing 0]

Prints, for a first sync of a playlist into Music Tracks and for the re-syncs:
Notion requests, 429s received, wall time, the floor (requests / rate) and the
ratio wall / floor. Targets: first sync within 10% of the floor and at
most 520 requests; an unchanged re-sync at most 3 requests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from soundcloud_sync.notion import (
    KnownPage,
    NotionCatalogSync,
    NotionGateway,
    SharedRateLimiter,
    TrackResult,
)
from soundcloud_sync_tests.emulators.notion import NotionEmulator, seed_music_catalog
from soundcloud_sync_tests.fixtures_notion import make_playlist, make_track_rows


def measure(label: str, emu: NotionEmulator, rate: float, fn) -> object:
    emu.reset_counts()
    started = time.perf_counter()
    report = fn()
    wall = time.perf_counter() - started
    requests = emu.total_requests
    floor = requests / rate
    ratio = wall / floor if floor else float("nan")
    print(
        f"{label:<34} {requests:>8} {emu.statuses[429]:>5} {wall:>9.1f} {floor:>9.1f} {ratio:>7.3f}"
        f"   created={report.created} updated={report.updated} skipped={report.skipped}"
        f" errors={report.errors}"
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=3.0, help="Notion requests/s (both sides)")
    parser.add_argument("--burst", type=float, default=3.0, help="the emulator's bucket depth")
    parser.add_argument("--latency", type=float, default=0.25, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--existing", type=int, default=0, help="unrelated pages already in Music Tracks"
    )
    parser.add_argument(
        "--second",
        action="store_true",
        help="also a first sync of a second playlist of new tracks (warm state: cached "
        "data source ids, database size known)",
    )
    quick_option(parser, tracks=20, rate=200.0, burst=50.0, latency=0.0)
    args = parser.parse_args()

    with (
        NotionEmulator(rate=args.rate, burst=args.burst) as emu,
        tempfile.TemporaryDirectory() as home,
    ):
        catalog = seed_music_catalog(emu)
        for row in make_track_rows(args.existing, start_id=10_000_000, prefix="Old"):
            emu.add_page(
                catalog.tracks_data_source_id,
                {"Title": row["title"], "SoundCloud ID": row["soundcloud_id"]},
            )
        emu.faults.slow, emu.faults.slow_seconds = (1.0, args.latency) if args.latency else (0, 0)

        def new_sync() -> NotionCatalogSync:
            gateway = NotionGateway(
                emu.token,
                base_url=emu.base_url,
                state_dir=home,
                limiter=SharedRateLimiter(args.rate, home),
            )
            return NotionCatalogSync(
                gateway,
                tracks_database_id=catalog.tracks_database_id,
                playlists_database_id=catalog.playlists_database_id,
            )

        rows = make_track_rows(args.tracks)
        playlist = make_playlist(track_count=len(rows))
        seen: dict[int, TrackResult] = {}
        print(
            f"{args.tracks} tracks, Notion emulator at {args.rate:g} req/s (burst {args.burst:g}), "
            f"{args.latency:g} s per answer, {args.concurrency} workers, "
            f"{args.existing} pages already in Music Tracks"
        )
        print(f"{'run':<34} {'requests':>8} {'429s':>5} {'wall s':>9} {'floor s':>9} {'ratio':>7}")
        first = measure(
            "first sync",
            emu,
            args.rate,
            lambda: new_sync().upsert_playlist(
                playlist,
                rows,
                max_concurrent=args.concurrency,
                on_page=lambda r: seen.__setitem__(r.recording_id, r),
            ),
        )
        known = {rid: KnownPage(r.page_id, r.hash, r.linked) for rid, r in seen.items()}
        measure(
            "re-sync, catalog knows every page",
            emu,
            args.rate,
            lambda: new_sync().upsert_playlist(
                playlist, rows, known=known, playlist_page_id=first.playlist_page_id
            ),
        )
        measure(
            "re-sync, no catalog (bulk lookup)",
            emu,
            args.rate,
            lambda: new_sync().upsert_playlist(playlist, rows, max_concurrent=args.concurrency),
        )
        expected = args.tracks
        if args.second:
            other = make_track_rows(args.tracks, start_id=50_000_000)
            measure(
                "first sync, second playlist (warm)",
                emu,
                args.rate,
                lambda: new_sync().upsert_playlist(
                    make_playlist("dj-night/sets/second", len(other)),
                    other,
                    max_concurrent=args.concurrency,
                ),
            )
            expected += args.tracks
        pages = len(emu.pages_in(catalog.tracks_data_source_id)) - args.existing
        print(f"track pages in Music Tracks after all runs: {pages} (expected {expected})")


if __name__ == "__main__":
    main()
