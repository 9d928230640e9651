"""End-to-end time of the audio branch for one playlist, on the local emulators.

    python bench/audio_pipeline.py                   # 50 tracks of 120 s
    python bench/audio_pipeline.py --tracks 50 --seconds 300 --formats aiff,m4a

Stages, as the Dagster assets run them: read the set (SoundCloudClient), download
(yt-dlp, ``--workers`` at once), analyse (``--analysis-workers`` processes after one
numba warm-up), export to the library formats with tags, import into Eagle. Each
stage prints its wall time and counts; no Notion, no Dagster overhead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soundcloud_sync.audio import (
    TrackTags,
    analyze_files,
    download_tracks,
    export_track,
    warm_up,
)
from soundcloud_sync.eagle import EagleClient, track_tags
from soundcloud_sync.sources import SoundCloudClient
from soundcloud_sync_tests.emulators.eagle import EagleEmulator
from soundcloud_sync_tests.emulators.soundcloud import (
    PROXY_API_BASE,
    SoundCloudEmulator,
    audio_bytes,
)


class Stage:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> Stage:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0, help="audio length per track")
    parser.add_argument("--workers", type=int, default=4, help="concurrent downloads")
    parser.add_argument("--analysis-workers", type=int, default=2)
    parser.add_argument("--formats", default="aiff")
    parser.add_argument("--latency", type=float, default=0.02, help="emulated round trip (s)")
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    work = Path(tempfile.mkdtemp(prefix="sc-pipeline-"))
    rows: list[tuple[str, float, str]] = []

    warm_up()
    with SoundCloudEmulator(audio_seconds=args.seconds, latency=args.latency) as emu:
        kinds = {7: "preview", 19: "blocked", 31: "drm", 43: "gone"}
        emu.add_playlist("bench", "fifty", args.tracks, kinds=kinds)
        for spec in {(t.bpm, t.key, t.seconds) for t in emu.tracks.values()}:
            audio_bytes(*spec)  # encode the served audio before the clock starts
        cache = work / "cache"
        emu.seed_client_id_cache(cache)
        with SoundCloudClient(PROXY_API_BASE, proxy=emu.proxy_url, cache_dir=cache) as sc:
            with Stage("read playlist") as s:
                playlist = sc.fetch_playlist("https://soundcloud.com/bench/sets/fifty")
            rows.append((s.name, s.seconds, f"{len(playlist.tracks)} tracks"))

            with Stage("download") as s:
                results = download_tracks(
                    playlist.tracks, work / "downloads", sc.youtube_dl, max_workers=args.workers
                )
            done = [r for r in results if r.ok]
            counts: dict[str, int] = {}
            for r in results:
                counts[r.status.value] = counts.get(r.status.value, 0) + 1
            rows.append((s.name, s.seconds, ", ".join(f"{k} {v}" for k, v in counts.items())))

    with Stage("analyse") as s:
        analysed = analyze_files([r.path for r in done], max_workers=args.analysis_workers)
        features = [a.features for a in analysed]
    rows.append((s.name, s.seconds, f"{len(features)} files, {args.analysis_workers} processes"))

    by_id = {t.soundcloud_id: t for t in playlist.tracks}
    library = work / "library"

    def export(pair) -> dict[str, Path]:
        result, feat = pair
        track = by_id[result.soundcloud_id]
        tags = TrackTags(
            title=track.title, artist=track.artist, album=playlist.title, genre=track.genre,
            tempo=feat.tempo, key=feat.key, camelot=feat.camelot, isrc=track.isrc, url=track.url,
            soundcloud_id=track.soundcloud_id, track_number=track.position,
        )  # fmt: skip
        fields = {"artist": track.artist, "title": track.title, "album": playlist.title}
        return export_track(result.path, library, formats, fields, tags)

    with Stage("export") as s, ThreadPoolExecutor(2) as pool:
        exported = list(pool.map(export, zip(done, features, strict=True)))
    rows.append((s.name, s.seconds, f"{len(exported) * len(formats)} files ({args.formats})"))

    with EagleEmulator() as eagle, EagleClient(eagle.url) as client:
        with Stage("eagle import") as s:
            for (result, feat), files in zip(
                zip(done, features, strict=True), exported, strict=True
            ):
                track = by_id[result.soundcloud_id]
                client.import_file(
                    files[formats[0]], name=track.title or str(track.soundcloud_id),
                    website=track.url or "", folder=playlist.title,
                    tags=track_tags(playlist.title, track.genre, feat.key, feat.camelot, feat.tempo),
                )  # fmt: skip
        rows.append((s.name, s.seconds, f"{len(eagle.state.items)} items"))

    total = sum(seconds for _, seconds, _ in rows)
    print(f"\n{args.tracks} tracks of {args.seconds:.0f} s, {args.workers} download workers\n")
    print("| stage | wall s | result |\n|---|---|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.2f} | {note} |")
    print(f"| **total** | **{total:.2f}** | |")
    print(
        f"\nload average at the end: {os.getloadavg()[0]:.2f} (other work on the machine slows wall time)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
