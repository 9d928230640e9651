"""DJ export benchmark: a 10,000-track library as rekordbox XML and M3U8 playlists.

    python bench/export.py [--tracks 10000] [--playlists 50] [--runs 3]

Fills a fresh SQLite catalog the way syncs do (playlists recorded, then a library
file, tempo, key and beat grid per track; the files exist, empty), then times
`export_rekordbox` (the collection asset and `soundcloud-sync export rekordbox`)
and `export_all_m3u8`. The first export also assigns the TrackIDs. Target (issue 8):
the collection in under 5 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soundcloud_sync.catalog import Catalog
from soundcloud_sync.export import export_all_m3u8, export_rekordbox
from soundcloud_sync.sources.models import Playlist, Track

KEYS = ("A minor", "C major", "F# minor", "D# major")


def fill(catalog: Catalog, library: Path, tracks: int, playlists: int) -> None:
    """`playlists` sets of `tracks / playlists` tracks each, every track with a file."""
    per = tracks // playlists
    for p in range(playlists):
        key = f"bench/sets/set-{p}"
        members = [
            Track(soundcloud_id=p * per + i + 1, position=i + 1, title=f"Track {p}-{i} & co",
                  artist=f"Artist {i % 97}", uploader="bench", genre="House",
                  url=f"https://soundcloud.com/bench/t-{p}-{i}", duration_ms=360_000)
            for i in range(per)
        ]  # fmt: skip
        catalog.register_playlist(key, f"https://soundcloud.com/{key}")
        catalog.record_playlist(
            Playlist(soundcloud_id=p + 1, key=key, url=f"https://soundcloud.com/{key}",
                     title=f"Set {p}", track_count=per, tracks=tuple(members))
        )  # fmt: skip
    library.mkdir(parents=True, exist_ok=True)
    values = {}
    for sid in range(1, per * playlists + 1):
        path = library / f"Artist {sid % 97} - Track {sid} & co.aiff"
        path.touch()
        values[sid] = {"files": {"aiff": str(path)}, "tempo": 120 + sid % 10,
                       "key": KEYS[sid % 4], "duration_s": 360.0,
                       "first_beat_s": 0.05, "first_downbeat_s": 0.05}  # fmt: skip
    catalog.update_tracks(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--playlists", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        catalog = Catalog(f"sqlite:///{home}/catalog.sqlite")
        fill(catalog, home / "library", args.tracks, args.playlists)
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            report = export_rekordbox(catalog, ["aiff"], home / "rekordbox.xml")
            xml_s = time.perf_counter() - started
            started = time.perf_counter()
            export_all_m3u8(catalog, ["aiff"], home / "playlists")
            m3u_s = time.perf_counter() - started
            size = report.path.stat().st_size / 1e6
            print(
                f"run {run}: rekordbox.xml {report.tracks} tracks, {report.playlists} playlists, "
                f"{size:.1f} MB in {xml_s:.2f} s (target < 5 s); "
                f"{report.playlists} M3U8 files in {m3u_s:.2f} s"
            )


if __name__ == "__main__":
    main()
