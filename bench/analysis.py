"""Tempo and key accuracy and CPU cost on real recordings: ours vs librosa vs essentia.

    python bench/analysis.py                # the full set (fetched once, see corpus.py)
    python bench/analysis.py --ci           # the four CI clips only
    python bench/analysis.py --rows         # also one line per recording

The set is ``soundcloud_sync_tests.corpus``: game music from Debian packages, tracker
modules (whose files state their tempo) and recorded Ogg/MP3 soundtracks.

References. Tempo: the tempo a module states, folded into 70-180 BPM by octaves, and
counted as agreed where librosa or essentia lands within 4 % of it (so the metrical level
is confirmed by an analyzer that is not ours); for recordings, essentia's tempo where
librosa agrees within 4 %. Key: where essentia (``KeyExtractor``, its defaults) and
librosa (``chroma_cqt`` with the Krumhansl-Kessler profiles) name the same key. Only
agreed references are scored; ``±0.1 BPM`` only on the modules (exact references).

Scores: Acc1 within 4 %; Acc2 within 4 % of ×1, ×2, ×½, ×3, ×⅓; key exact; MIREX key
score (1 exact, 0.5 a fifth away, 0.3 relative, 0.2 parallel). CPU per audio minute is
this process's user+system time plus its children's (ffmpeg decodes in a child),
after warm-up. essentia is AGPL: a bench-only extra (``pip install '.[bench]'``).
librosa and essentia results are cached beside the corpus (they do not change).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from soundcloud_sync.audio.analysis import NOTE_NAMES, analyze_file, warm_up
from soundcloud_sync_tests.corpus import Recording, cache_dir, recordings

LO, HI = 70.0, 180.0
# Krumhansl-Kessler probe-tone profiles (major, minor), tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class Result:
    tempo: float | None
    key: str | None
    cpu: float
    confidence: float | None = None  # ours: key confidence
    tempo_confidence: float | None = None  # ours


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def ours(path: Path) -> Result:
    cpu0 = _cpu()
    f = analyze_file(path)
    return Result(f.tempo, f.key, _cpu() - cpu0, f.key_confidence, f.tempo_confidence)


def _kk_key(chroma_mean: np.ndarray) -> str:
    scores = []
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(chroma_mean, np.roll(profile, tonic))[0, 1]
            scores.append((r, f"{NOTE_NAMES[tonic]} {mode}"))
    return max(scores)[1]


def librosa_defaults(path: Path) -> Result:
    import librosa

    cpu0 = _cpu()
    y, sr = librosa.load(path)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    key = _kk_key(librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1))
    return Result(float(np.atleast_1d(tempo)[0]), key, _cpu() - cpu0)


def essentia_defaults(path: Path) -> Result:
    import essentia.standard as es

    cpu0 = _cpu()
    audio = es.MonoLoader(filename=str(path), sampleRate=44100)()
    bpm = es.RhythmExtractor2013(method="multifeature")(audio)[0]
    key, scale, _strength = es.KeyExtractor()(audio)
    key = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}.get(key, key)
    return Result(float(bpm), f"{key} {scale}", _cpu() - cpu0)


def _cached(name: str, fn: Callable[[Path], Result], rec: Recording) -> Result:
    store = cache_dir() / "references.json"
    data = json.loads(store.read_text()) if store.exists() else {}
    entry = f"{name}:{rec.path}"
    if entry not in data:
        data[entry] = fn(rec.path).__dict__
        store.write_text(json.dumps(data, indent=1))
    return Result(**data[entry])


# --------------------------------------------------------------------------- scoring


def fold(bpm: float) -> float:
    while bpm >= HI + 0.5:
        bpm /= 2
    while bpm < LO:
        bpm *= 2
    return bpm


def acc1(est: float | None, ref: float) -> bool:
    return est is not None and abs(est - ref) <= 0.04 * ref


def acc2(est: float | None, ref: float) -> bool:
    return any(acc1(est, ref * k) for k in (1, 2, 0.5, 3, 1 / 3))


def _parse(key: str) -> tuple[int, str]:
    note, mode = key.split()
    return NOTE_NAMES.index(note), mode


def mirex(est: str | None, ref: str) -> float:
    if est is None:
        return 0.0
    (t, m), (rt, rm) = _parse(est), _parse(ref)
    if (t, m) == (rt, rm):
        return 1.0
    if m == rm and (t - rt) % 12 in (5, 7):
        return 0.5
    if m != rm and (m, (t - rt) % 12) in (("minor", 9), ("major", 3)):
        return 0.3
    if m != rm and t == rt:
        return 0.2
    return 0.0


@dataclass
class Row:
    rec: Recording
    tempo_ref: float | None
    exact_ref: bool
    key_ref: str | None
    runs: dict[str, Result]


def references(rec: Recording, lib: Result, ess: Result) -> tuple[float | None, bool, str | None]:
    tempo_ref, exact = None, False
    if rec.file_bpm:
        candidate = fold(rec.file_bpm)
        if acc1(lib.tempo, candidate) or acc1(ess.tempo, candidate):
            tempo_ref, exact = candidate, True
    elif ess.tempo and acc1(lib.tempo, ess.tempo):
        tempo_ref = ess.tempo
    key_ref = ess.key if ess.key and ess.key == lib.key else None
    return tempo_ref, exact, key_ref


def summary(rows: list[Row], name: str) -> str:
    t = [r for r in rows if r.tempo_ref]
    e = [r for r in t if r.exact_ref]
    k = [r for r in rows if r.key_ref]

    def pct(n: int, d: int) -> str:
        return f"{100 * n / d:.0f} % ({n}/{d})" if d else "-"

    a1 = sum(acc1(r.runs[name].tempo, r.tempo_ref) for r in t)
    a2 = sum(acc2(r.runs[name].tempo, r.tempo_ref) for r in t)
    p1 = sum(r.runs[name].tempo is not None and abs(r.runs[name].tempo - r.tempo_ref) <= 0.1
             for r in e)  # fmt: skip
    out = sum(r.runs[name].tempo is not None and not LO <= r.runs[name].tempo <= HI for r in rows)
    kx = sum(r.runs[name].key == r.key_ref for r in k)
    km = np.mean([mirex(r.runs[name].key, r.key_ref) for r in k]) if k else float("nan")
    minutes = sum(_minutes(r.rec) for r in rows)
    cpu = sum(r.runs[name].cpu for r in rows) / minutes
    return (f"| {name} | {pct(a1, len(t))} | {pct(a2, len(t))} | {pct(p1, len(e))} | {out} "
            f"| {pct(kx, len(k))} | {km:.2f} | {cpu:.2f} s |")  # fmt: skip


_durations: dict[Path, float] = {}


def _minutes(rec: Recording) -> float:
    if rec.path not in _durations:
        import soundfile

        try:
            _durations[rec.path] = soundfile.info(str(rec.path)).duration / 60
        except RuntimeError:
            from soundcloud_sync_tests.corpus import _duration

            _durations[rec.path] = _duration(rec.path) / 60
    return _durations[rec.path]


HEADER = (
    "| analyzer | tempo Acc1 | tempo Acc2 | ±0.1 BPM (modules) | outside 70-180 | key exact "
    "| key MIREX | CPU / audio min |\n|---|---|---|---|---|---|---|---|"
)


def confidence_bands(rows: list[Row]) -> None:
    k = [r for r in rows if r.key_ref]
    e = [r for r in rows if r.exact_ref]
    print("\nOur accuracy by our confidence:\n\n| confidence | key exact | tempo ±0.1 BPM |")
    print("|---|---|---|")
    for lo, hi in ((0.0, 0.2), (0.2, 0.5), (0.5, 0.7), (0.7, 1.01)):
        band = [r for r in k if lo <= (r.runs["ours"].confidence or 0) < hi]
        right = sum(r.runs["ours"].key == r.key_ref for r in band)
        t_band = [r for r in e if lo <= (r.runs["ours"].tempo_confidence or 0) < hi]
        exact = sum(abs((r.runs["ours"].tempo or 0) - r.tempo_ref) <= 0.1 for r in t_band)
        print(f"| {lo:.1f}-{min(hi, 1.0):.1f} | {right}/{len(band)} | {exact}/{len(t_band)} |")
    # A confidence that means something is high on right answers and low on wrong ones.
    for title, group in (("right", [r for r in k if r.runs["ours"].key == r.key_ref]),
                         ("wrong", [r for r in k if r.runs["ours"].key != r.key_ref])):  # fmt: skip
        values = sorted(r.runs["ours"].confidence or 0.0 for r in group)
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"\nKey confidence when the key is {title} ({len(values)}): {shown or '-'}", end="")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="the CI clips only")
    parser.add_argument("--rows", action="store_true", help="one line per recording")
    parser.add_argument("--no-essentia", action="store_true", help="skip essentia")
    quick_option(parser, ci=True)
    args = parser.parse_args()

    if not args.no_essentia and importlib.util.find_spec("essentia") is None:
        print("essentia is not installed (pip install '.[bench]'): its column is left out")
        args.no_essentia = True
    recs = recordings(ci=args.ci)
    warm_up()
    librosa_defaults(recs[0].path)  # librosa's own kernels compile outside the figures
    rows = []
    started = time.perf_counter()
    for rec in recs:
        runs = {"ours": ours(rec.path)}
        runs["librosa"] = _cached("librosa", librosa_defaults, rec)
        if not args.no_essentia:
            runs["essentia"] = _cached("essentia", essentia_defaults, rec)
        ess = runs.get("essentia", runs["librosa"])
        rows.append(Row(rec, *references(rec, runs["librosa"], ess), runs))
        if args.rows:
            cells = " ".join(f"{n}={r.tempo and round(r.tempo, 2)}/{r.key}"
                             for n, r in runs.items())  # fmt: skip
            print(f"{rec.source:48s} file={rec.file_bpm} ref={rows[-1].tempo_ref}/"
                  f"{rows[-1].key_ref} {cells}", flush=True)  # fmt: skip
    names = ["ours", "librosa"] + ([] if args.no_essentia else ["essentia"])
    groups = [("all", rows), ("tuning part", [r for r in rows if not r.rec.held_out]),
              ("held-out part", [r for r in rows if r.rec.held_out])]  # fmt: skip
    groups += [(f"style: {s}", [r for r in rows if r.rec.style == s])
               for s in dict.fromkeys(r.rec.style for r in rows)]  # fmt: skip
    for title, group in groups:
        if not group:
            continue
        print(f"\n### {title} ({len(group)} recordings, "
              f"{sum(_minutes(r.rec) for r in group):.1f} min)\n\n{HEADER}")  # fmt: skip
        for name in names:
            print(summary(group, name))
    confidence_bands(rows)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
