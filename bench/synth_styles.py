"""The style scores through our own numpy synthesizer: tempo without a genre, per style.

    python bench/synth_styles.py            # 11 styles x 13 tempi x 2 hi-hats: 286 pieces
    python bench/synth_styles.py --quick    # seconds, for a test
    python bench/synth_styles.py --keys     # key of the style and key sets, plain and dark

bench/analysis.py scores the style set rendered by FluidSynth with a General MIDI
soundfont. A set we have never seen may be rendered some other way, and the metrical
level is read from how the drums sound. So the same scores (``styles.compose``) are also
played by the tests' numpy instruments (``synth.render_piece``), with drums, at 13 tempi
spread over each style's range and shifted up 0.7 BPM (off the round numbers the ranges
end on), once with short hi-hats and once with hats that ring for 0.3 s into the
snare's bands. Each 30-s piece is
scored as bench/analysis.py scores tempo: within 4 % of the written tempo, no genre.
Synthesized audio: these figures say where the analysis is fragile, not how accurate it
is on music (that is bench/analysis.py's set).

``--keys`` scores the key instead: the 166 style and key scores (bench/analysis.py's)
played by the same instruments for 30 s, once as they are and once with dark voices
(``render_piece(dark=True)``: partials that fall fast, as on a dark soundfont).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option

if TYPE_CHECKING:
    from soundcloud_sync_tests.styles import Piece

KEYS = ("E minor", "C major", "F# minor", "A# major")
SECONDS = 30.0


def _piece_tempo(job: tuple[str, float, bool]) -> float | None:
    """Our tempo, no genre, of one style score at ``bpm`` with short or ringing hats."""
    from soundcloud_sync_tests.synth import style_tempo

    name, bpm, ringing = job
    tenth = int(bpm * 10)  # key and seed vary with the tempo, reproducibly
    return style_tempo(name, bpm, KEYS[tenth % 4], tenth % 7, SECONDS, ringing_hats=ringing)


def _piece_key(job: tuple[Piece, bool]) -> str | None:
    """Our key of one style or key score, played by plain or dark voices."""
    from soundcloud_sync_tests.synth import piece_key

    piece, dark = job
    return piece_key(piece, SECONDS, dark=dark)


def keys(styles: list[str], pieces: int | None, workers: int) -> int:
    """Print key exact on the style and key scores of ``styles`` (the first ``pieces`` of
    them), plain and dark voices."""
    from soundcloud_sync_tests.styles import key_set, style_set

    scores = [p for p in style_set() + key_set() if p.style in styles][:pieces]
    print(f"{len(scores)} style and key scores of {SECONDS:g} s, our synthesizer; key exact")
    with ProcessPoolExecutor(workers) as pool:
        for dark in (False, True):
            read = pool.map(_piece_key, [(piece, dark) for piece in scores])
            right = sum(ours == piece.key for piece, ours in zip(scores, read, strict=True))
            print(f"{'dark' if dark else 'plain'} voices: {right}/{len(scores)} key exact")
    return 0


def _count(text: str) -> int:
    """A positive whole number, for argparse."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main() -> int:
    from soundcloud_sync_tests.styles import STYLES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tempi", type=int, default=13, help="tempi per style")
    parser.add_argument("--styles", default="", help="comma-separated style names (all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keys", action="store_true",
                        help="score the key of the 166 style and key scores instead, plain "
                             "and dark voices (--styles picks among them; no --tempi)")  # fmt: skip
    parser.add_argument("--pieces", type=_count, default=None,
                        help="--keys: the first N scores only (all)")  # fmt: skip
    quick_option(parser, tempi=2, styles="trap,dnb two-step", pieces=2)
    args = parser.parse_args()
    names = [n for n in args.styles.split(",") if n] or [s.name for s in STYLES]
    unknown = set(names) - {s.name for s in STYLES}
    if unknown:
        parser.error(f"--styles: no style {', '.join(sorted(unknown))}")
    if args.keys:
        return keys(names, args.pieces, args.workers)
    chosen = [s for s in STYLES if s.name in names]
    jobs = [
        (style.name, round(float(bpm) + 0.7, 1), ringing)
        for style in chosen
        for bpm in np.linspace(*style.tempi, args.tempi)
        for ringing in (False, True)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        tempi = list(pool.map(_piece_tempo, jobs))

    print(f"{len(jobs)} pieces of {SECONDS:g} s, our synthesizer, no genre; tempo within 4 %")
    print("| style | short hats | ringing hats |\n|---|---|---|")
    read = dict(zip(jobs, tempi, strict=True))
    right = {job: t is not None and abs(t - job[1]) <= 0.04 * job[1] for job, t in read.items()}
    for style in chosen:
        cells = []
        for ringing in (False, True):
            mine = [ok for (name, _, r), ok in right.items() if name == style.name and r == ringing]
            cells.append(f"{sum(mine)}/{len(mine)}")
        print(f"| {style.name} | {cells[0]} | {cells[1]} |")
    for (name, bpm, ringing), t in read.items():
        if not right[(name, bpm, ringing)]:
            print(f"miss: {name} {bpm:g} ({'ringing' if ringing else 'short'} hats) read {t}")
    print(f"all styles: {sum(right.values())}/{len(jobs)} within 4 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
