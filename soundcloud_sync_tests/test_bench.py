"""Every benchmark in `bench/` runs, in its seconds-long quick mode (`--quick`, see
`bench/quick.py`), as a user starts it: a change that breaks a benchmark is red here, not
months later when someone wants its figures. A quick run's figures say nothing about
speed; each test checks that the benchmark got through to the figures it prints last."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

# (script and arguments, a line of the output that only a run that got to its end prints)
QUICK_RUNS = [
    (["extraction.py"], r"^\s+20\s+yt-dlp flat \(ids only\)\s+\d+"),
    (["export.py"], r"^run 1: rekordbox\.xml 200 tracks, 4 playlists, .* 4 M3U8 files in"),
    (["notion_sync.py"], r"^track pages in Music Tracks after all runs: 20 \(expected 20\)$"),
    (["soundcloud_listings.py"], r"^\s+3\s+\d+\s+[\d.]+\s+\d+\s+[\d.]+$"),
    (["spotify.py"], r"^\s+60\s+\d+\s+[\d.]+\s+\d+\s+[\d.]+$"),
    (["djay.py"], r"^OK$"),
    (["analysis.py"], r"^\| 0\.8-1\.0 \| .+ \| .+ \|$"),  # accuracy by confidence
    (
        ["analysis.py", "--measured"],
        r"^decide\(\) alone, no genre: \d\.\d{4} CPU-s per audio minute$",
    ),
    (["audio_pipeline.py"], r"^\| eagle import \| [\d.]+ \| 2 items \|$"),
    (["download_requests.py"], r"^api-v2 requests per downloaded track, whole sync: [\d.]+$"),
    (["run_cost.py"], r"^fixed cost per run \(intercept\): \S+ CPU-s; per audio minute"),
    (["resync.py"], r"^\| 1 tracks, whole chain \|"),
    (["reanalysis.py"], r"^\| reanalyze --force \| 1 \| 0 \|"),
    (["scale.py", "sensor"], r"^run requests for unchanged playlists\s+0$"),
    (["scale.py", "backfill"], r"^step \(from the Dagster event log\)"),
    (["synth_styles.py"], r"^all styles: \d+/8 within 4 %$"),
    (["synth_styles.py", "--keys"], r"^dark voices: \d/2 key exact$"),
]


def test_every_benchmark_has_a_quick_run() -> None:
    scripts = {p.name for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text()}
    assert scripts == {args[0] for args, _ in QUICK_RUNS}


@pytest.mark.parametrize(
    ("args", "last_figures"), QUICK_RUNS, ids=[" ".join(a) for a, _ in QUICK_RUNS]
)
def test_benchmark_runs_in_quick_mode(tmp_path: Path, args: list[str], last_figures: str) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NOTION_", "SOUNDCLOUD_", "SPOTIFY_", "EAGLE_"))
        and k != "DAGSTER_HOME"
    }
    env["SOUNDCLOUD_SYNC_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:], "--quick"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(last_figures, done.stdout, re.M), done.stdout[-3000:]
