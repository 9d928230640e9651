"""`bench/scale.py backfill --with-audio --quick`: the backfill benchmark's whole path
(`soundcloud-sync dev`, `add`, the sensor's runs with their audio, a UI backfill as the
unchanged re-sync) in a minute, so the benchmark a person runs at full size keeps working."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_backfill_with_audio_quick_mode_reports_every_figure(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTION_", "SOUNDCLOUD_"))}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "bench/scale.py", "backfill", "--with-audio", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout

    def cells(label: str) -> list[str]:
        [line] = [ln for ln in out.splitlines() if ln.startswith(label)]
        return line[len(label) :].split()

    assert cells("runs succeeded") == ["2/2", "2/2"]
    assert cells("tracks downloaded (audio minutes)")[:2] == ["4", "(0.666667)"]
    assert float(cells("CPU-s per audio minute (whole backfill)")[0]) > 0
    assert float(cells("api-v2 requests per downloaded track")[0]) >= 1
    assert cells("429s (api-v2 / Notion)") == ["0", "/", "0", "0", "/", "0"]
    for floor in ("CPU (busy CPU / ", "Notion (requests / ", "api-v2 (600 per 10 min)"):
        assert any(ln.startswith(f"floor: {floor}") for ln in out.splitlines()), out
    assert float(cells("wall / largest floor")[0]) > 0
    assert float(cells("peak RSS of one run (its processes, MiB)")[0]) > 0
    assert re.search(r"fixed cost per run .*: [\d.]+ CPU-s; per audio minute after it", out)
    assert re.search(r"projection, 300 playlists x 50 tracks x 5 min .* about [\d.]+ h", out)
