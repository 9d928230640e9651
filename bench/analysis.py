"""Tempo and key accuracy and CPU cost on music with exact truth: ours vs librosa vs essentia.

    python bench/analysis.py                # the full set (fetched once, see corpus.py)
    python bench/analysis.py --ci           # the four CI clips only
    python bench/analysis.py --rows         # also one line per recording
    python bench/analysis.py --measured     # reuse cached measurements (tuning: decide() CPU only)

The set is ``soundcloud_sync_tests.corpus``: tracker modules and MIDI files from Debian
packages (their files state tempo and key), the style set (scores in eleven styles
rendered by FluidSynth, every key, with and without drums) and the key set (56 scores
played the ways that make a key hard to read: a bass on the fifth, dominant-heavy loops,
relative major/minor loops, modes, pentatonic leads, bright timbres, drum-heavy mixes;
a table per challenge and one for the whole key set). Every track with a stated
truth is scored, whatever the other analyzers say. Recorded soundtracks, which state no
truth, get a table of their own: how often each analyzer agrees with essentia. The style
and key scores are also rendered by two other General MIDI soundfonts (TimGM6mb, and
MuseScore General Lite, which shares FluidR3 Mono's samples) and scored apart, ours only
(``--no-soundfonts`` skips them): the drums sound different, the truth is the same.

Truth: the stated tempo folded into 70-180 BPM by octaves (the style set is written
inside it, counted the way each style's DJs count it); the stated key. Ours runs twice:
without a genre and with the genre a SoundCloud upload of the style would carry (only
the style set has one). Scores: tempo within 4 % (Acc1); Acc2 also accepts ×2, ×½, ×3,
×⅓; ±0.1 BPM; slips: answers 4:3 or 3:2 off (in any octave); key exact; MIREX key score
(1 exact, 0.5 a fifth, 0.3 relative, 0.2 parallel); key errors a fifth above the truth,
a fifth below, relative major/minor. CPU per audio minute is user+system time of the
worker process and its children (ffmpeg decodes in a child), after warm-up.
essentia is AGPL: a bench-only extra (``pip install '.[bench]'``). librosa's and
essentia's answers are cached beside the corpus (they do not change); ``--measured``
caches our measurements (decode, STFT, envelopes, pitches) so a tuning run only
re-decides.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quick import quick_option
from soundcloud_sync.audio.analysis import (
    NOTE_NAMES,
    Measurements,
    decide,
    decode_native,
    measure,
    warm_up,
)
from soundcloud_sync_tests.corpus import ADDED, OTHER_SOUNDFONTS, Recording, cache_dir, recordings

LO, HI = 70.0, 180.0
# Krumhansl-Kessler probe-tone profiles (major, minor), tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# Bump when measure() changes, so --measured does not reuse stale measurements (m4: soxr).
MEASURE_CACHE = "m4"


@dataclass
class Result:
    tempo: float | None
    key: str | None
    cpu: float | None
    confidence: float | None = None  # ours: key confidence
    tempo_confidence: float | None = None  # ours
    decide_cpu: float | None = None  # ours: decide() alone (--measured times only that)


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _measured(path: Path) -> Measurements:
    store = cache_dir() / "measurements" / MEASURE_CACHE / f"{path.parent.name}--{path.stem}.npz"
    if store.exists():
        with np.load(store) as z:
            lufs = float(z["lufs"])
            return Measurements(float(z["duration_s"]), None if np.isnan(lufs) else lufs,
                                z["onset"], z["kick"], z["bands"], z["rises"],
                                z["harmony_change"], z["pitches"])  # fmt: skip
    m = measure(*decode_native(path))
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_name(f"{store.stem}.{os.getpid()}.part.npz")
    np.savez(tmp, **{**m.__dict__, "lufs": np.nan if m.lufs is None else m.lufs})
    os.replace(tmp, store)
    return m


def _ours_job(job: tuple[Recording, bool]) -> tuple[Result, Result]:
    """Ours without a genre and with the recording's genre. One decode and one
    measure() serve both (as analyze_file would do each time); each answer's CPU is the
    shared part plus its own decide()."""
    from threadpoolctl import threadpool_limits

    rec, cached = job
    warm_up()
    with threadpool_limits(limits=1, user_api="blas"):
        cpu0 = _cpu()
        m = _measured(rec.path) if cached else measure(*decode_native(rec.path))
        shared = _cpu() - cpu0
        out = []
        for genre in (None, rec.genre) if rec.genre else (None,):
            cpu0 = _cpu()
            f = decide(m, (LO, HI), genre)
            decided = _cpu() - cpu0
            cpu = None if cached else shared + decided
            out.append(Result(f.tempo, f.key, cpu, f.key_confidence, f.tempo_confidence, decided))
    return out[0], out[-1]


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


REFERENCES: dict[str, Callable[[Path], Result]] = {
    "librosa defaults": librosa_defaults,
    "essentia": essentia_defaults,
}


def _store() -> Path:
    return cache_dir() / "references.json"


def _reference(job: tuple[str, Recording]) -> tuple[str, dict]:
    name, rec = job
    return f"{name}:{rec.path.relative_to(cache_dir())}", REFERENCES[name](rec.path).__dict__


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


def slip(est: float | None, ref: float) -> bool:
    """A 4:3 or 3:2 reading, in any octave."""
    if not est:
        return False
    ratio = est / ref
    while ratio >= 2:
        ratio /= 2
    while ratio < 1:
        ratio *= 2
    return any(abs(ratio - r) <= 0.04 * r for r in (4 / 3, 3 / 2))


def _parse(key: str) -> tuple[int, str]:
    note, mode = key.split()
    return NOTE_NAMES.index(note), mode


def key_error(est: str | None, ref: str) -> str:
    """ "exact", "fifth above", "fifth below", "relative", "parallel" or "other"."""
    if est is None:
        return "other"
    (t, m), (rt, rm) = _parse(est), _parse(ref)
    if (t, m) == (rt, rm):
        return "exact"
    if m == rm and (t - rt) % 12 == 7:
        return "fifth above"
    if m == rm and (t - rt) % 12 == 5:
        return "fifth below"
    if m != rm and (m, (t - rt) % 12) in (("minor", 9), ("major", 3)):
        return "relative"
    if m != rm and t == rt:
        return "parallel"
    return "other"


MIREX = {"exact": 1.0, "fifth above": 0.5, "fifth below": 0.5, "relative": 0.3, "parallel": 0.2}


@dataclass
class Row:
    rec: Recording
    tempo_ref: float | None
    key_ref: str | None
    runs: dict[str, Result] = field(default_factory=dict)


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} % ({n}/{d})" if d else "-"


def summary(rows: list[Row], name: str) -> str:
    rows = [r for r in rows if name in r.runs]  # --cached-references: only those cached
    t = [r for r in rows if r.tempo_ref]
    k = [r for r in rows if r.key_ref]
    est = {id(r): r.runs[name].tempo for r in rows}
    a1 = sum(acc1(est[id(r)], r.tempo_ref) for r in t)
    a2 = sum(acc2(est[id(r)], r.tempo_ref) for r in t)
    p1 = sum(est[id(r)] is not None and abs(est[id(r)] - r.tempo_ref) <= 0.1 for r in t)
    slips = sum(slip(est[id(r)], r.tempo_ref) for r in t)
    errors = [key_error(r.runs[name].key, r.key_ref) for r in k]
    km = f"{np.mean([MIREX.get(e, 0.0) for e in errors]):.3f}" if k else "-"
    cpus = [r.runs[name].cpu for r in rows]
    minutes = sum(_minutes(r.rec) for r in rows)
    cpu = f"{sum(cpus) / minutes:.3f} s" if None not in cpus and minutes else "-"
    return (f"| {name} | {pct(a1, len(t))} | {pct(a2, len(t))} | {pct(p1, len(t))} | {slips} "
            f"| {pct(errors.count('exact'), len(k))} | {km} | {errors.count('fifth above')}"
            f" / {errors.count('fifth below')} / {errors.count('relative')} | {cpu} |")  # fmt: skip


HEADER = (
    "| analyzer | tempo 4 % | Acc2 | ±0.1 BPM | 4:3/3:2 slips | key exact | MIREX "
    "| key errors: 5th above / below / relative | CPU / audio min |\n"
    "|---|---|---|---|---|---|---|---|---|"
)

_durations: dict[Path, float] = {}


def _minutes(rec: Recording) -> float:
    if rec.path not in _durations:
        from soundcloud_sync_tests.corpus import _duration

        _durations[rec.path] = _duration(rec.path) / 60
    return _durations[rec.path]


def agreement(rows: list[Row], names: list[str]) -> None:
    """Recordings without truth: how often each analyzer agrees with essentia."""
    rows = [r for r in rows if all(n in r.runs for n in names)]
    print(f"\n### Recorded soundtracks, no stated truth ({len(rows)}): agreement with essentia"
          "\n\n| analyzer | tempo within 4 % | key |\n|---|---|---|")  # fmt: skip
    for name in names:
        if name == "essentia":
            continue
        t = sum(acc1(r.runs[name].tempo, r.runs["essentia"].tempo or 0) for r in rows)
        k = sum(r.runs[name].key == r.runs["essentia"].key for r in rows)
        print(f"| {name} | {pct(t, len(rows))} | {pct(k, len(rows))} |")


def confidence_bands(rows: list[Row], name: str) -> None:
    k = [r for r in rows if r.key_ref]
    t = [r for r in rows if r.tempo_ref]
    print(f"\n### Accuracy by our confidence ({name})\n\n"
          "| confidence | key exact | tempo within 4 % |\n|---|---|---|")  # fmt: skip
    for lo, hi in ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)):
        band = [r for r in k if lo <= (r.runs[name].confidence or 0) < hi]
        right = sum(r.runs[name].key == r.key_ref for r in band)
        t_band = [r for r in t if lo <= (r.runs[name].tempo_confidence or 0) < hi]
        good = sum(acc1(r.runs[name].tempo, r.tempo_ref) for r in t_band)
        print(f"| {lo:.1f}-{min(hi, 1.0):.1f} | {pct(right, len(band))} "
              f"| {pct(good, len(t_band))} |")  # fmt: skip


def _references(
    recs: list[Recording], names: list[str], workers: int, cached_only: bool
) -> dict[str, dict]:
    store = _store()
    data = json.loads(store.read_text()) if store.exists() else {}
    todo = [(n, r) for r in recs for n in names
            if f"{n}:{r.path.relative_to(cache_dir())}" not in data]  # fmt: skip
    if todo and cached_only:
        print(f"{len(todo)} reference answers not cached yet: those rows score fewer tracks")
    elif todo:
        print(f"computing {len(todo)} reference answers (cached for next time)...", flush=True)
        with ProcessPoolExecutor(workers) as pool:
            for i, (entry, result) in enumerate(pool.map(_reference, todo, chunksize=1)):
                data[entry] = result
                if i % 10 == 9 or i == len(todo) - 1:
                    store.write_text(json.dumps(data, indent=1))
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="the CI clips only")
    parser.add_argument("--rows", action="store_true", help="one line per recording")
    parser.add_argument("--no-essentia", action="store_true", help="skip essentia")
    parser.add_argument("--measured", action="store_true",
                        help="reuse cached measurements: decisions only, no CPU figure")  # fmt: skip
    parser.add_argument("--cached-references", action="store_true",
                        help="score the references only where their answers are cached")  # fmt: skip
    parser.add_argument("--part", choices=("all", "tuning", "held-out"), default="all")
    parser.add_argument("--no-soundfonts", action="store_true",
                        help="skip the style and key sets' renders by other soundfonts")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    quick_option(parser, ci=True)
    args = parser.parse_args()

    # --cached-references scores essentia's cached answers without essentia installed.
    if (not args.no_essentia and not args.cached_references
            and importlib.util.find_spec("essentia") is None):  # fmt: skip
        print("essentia is not installed (pip install '.[bench]'): its column is left out")
        args.no_essentia = True
    recs = recordings(ci=args.ci, soundfonts=not args.no_soundfonts)
    if args.part != "all":
        recs = [r for r in recs if r.held_out == (args.part == "held-out")]
    started = time.perf_counter()
    warm_up()  # forked workers inherit the compiled kernels
    ref_names = ["librosa defaults"] + ([] if args.no_essentia else ["essentia"])
    # The references score the exact-truth set; the other soundfonts' renders are ours.
    main_set = [r for r in recs if r.soundfont is None]
    refs = _references(main_set, ref_names, args.workers, args.cached_references)
    with ProcessPoolExecutor(args.workers) as pool:
        answers = list(pool.map(_ours_job, [(r, args.measured) for r in recs], chunksize=1))
    rows = []
    for rec, (plain, with_genre) in zip(recs, answers, strict=True):
        runs = {"ours, no genre": plain, "ours, with genre": with_genre}
        for n in ref_names:
            entry = f"{n}:{rec.path.relative_to(cache_dir())}"
            if entry in refs:
                runs[n] = Result(**refs[entry])
        ref = (fold(rec.file_bpm) if rec.file_bpm else None), rec.key
        rows.append(Row(rec, *ref, runs))
        if args.rows:
            cells = " ".join(f"{r.tempo and round(r.tempo, 2)}/{r.key}/{r.confidence}"
                             for r in runs.values())  # fmt: skip
            print(f"{'H' if rec.held_out else ' '} {rec.source:52s} truth={ref[0] and round(ref[0], 2)}"
                  f"/{rec.key} {cells}")  # fmt: skip
    names = ["ours, no genre", "ours, with genre", *ref_names]
    exact = [r for r in rows if (r.tempo_ref or r.key_ref) and r.rec.soundfont is None]
    groups = [("exact-truth set", exact),
              ("tuning part", [r for r in exact if not r.rec.held_out]),
              ("held-out part", [r for r in exact if r.rec.held_out]),
              ("style set", [r for r in exact if r.rec.source.startswith("styles/")
                             and not r.rec.style.startswith("key: ")]),
              ("key set", [r for r in exact if r.rec.style.startswith("key: ")])]  # fmt: skip
    added = [r for r in exact if r.rec.source.split("/")[0] in ADDED]
    groups += [("added after v7 (music no threshold was set on)", added),
               ("added after v7, tuning part", [r for r in added if not r.rec.held_out]),
               ("added after v7, held-out part", [r for r in added if r.rec.held_out]),
               ("held-out part as in v7", [r for r in exact if r.rec.held_out
                                            and r.rec.source.split("/")[0] not in ADDED])]  # fmt: skip
    groups += [(f"style: {s}", [r for r in exact if r.rec.style == s])
               for s in dict.fromkeys(r.rec.style for r in exact)]  # fmt: skip
    for font in OTHER_SOUNDFONTS:  # the same scores, rendered by another soundfont
        rendered = [r for r in rows if r.rec.soundfont == font]
        groups += [(f"style and key sets, {font}", rendered),
                   (f"style set, {font}", [r for r in rendered
                                           if not r.rec.style.startswith("key: ")]),
                   (f"key set, {font}", [r for r in rendered
                                         if r.rec.style.startswith("key: ")])]  # fmt: skip
    for title, group in groups:
        if not group:
            continue
        print(f"\n### {title} ({len(group)} recordings, "
              f"{sum(_minutes(r.rec) for r in group):.1f} min)\n\n{HEADER}")  # fmt: skip
        ran = names if group[0].rec.soundfont is None else names[:2]  # only ours there
        for name in ran:
            print(summary(group, name))
    free = [r for r in rows if not (r.tempo_ref or r.key_ref) and r.rec.soundfont is None]
    if free and not args.no_essentia:
        agreement(free, names)
    confidence_bands(exact, "ours, no genre")
    if args.measured:  # the decisions' own cost: what a tuning change can move
        own = [r for r in rows if r.rec.soundfont is None]  # comparable between versions
        decided = sum(r.runs["ours, no genre"].decide_cpu or 0.0 for r in own)
        print(f"\ndecide() alone, no genre: {decided / (sum(_minutes(r.rec) for r in own) or 1):.4f}"
              " CPU-s per audio minute")  # fmt: skip
    print(f"\n({time.perf_counter() - started:.0f} s wall; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
