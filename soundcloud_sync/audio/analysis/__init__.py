"""Tempo, beat grid, key, duration and loudness of an audio file or of decoded samples.

    analyze_file(path)                       # ffmpeg decode, then analyze_samples
    analyze_samples(samples, sample_rate)    # for a caller that decoded the track already
    analyze_files(paths)                     # a pool of worker processes

One decode, one STFT (``measure``), then the decisions (``decide``; the bench caches
the measurements to tune them). ffmpeg decodes the file once at its own sample rate
(stereo float32 on a pipe; no librosa.load/audioread). Loudness is measured on that
signal, at that rate, with pyloudnorm's filters (ITU-R BS.1770 integrated LUFS; mono
sources count as dual mono, as a player plays them): resampling first read up to 0.5 LU
low. The mono mix is then resampled to 22050 Hz and goes through a single STFT whose
power spectrum feeds the onset envelope and per-band flux (tempo, metrical level, beat
grid) and, with its phase, the pitch power (key).

The parts: ``decode`` (ffmpeg), ``tempo`` (period, 3:2 and 4:3 checks), ``meter``
(T or 2T from the drums), ``grid`` (first beat, first downbeat), ``key``, ``loudness``.

Tempo: librosa's estimators answer on a coarse grid (124 BPM comes back as
123.05) and lean towards 120 BPM. We (1) take the period inside the allowed range
whose onsets repeat most strongly at 1, 2, 3, 4 and 8 beats (the onset envelope's
autocorrelation, to a quarter frame: its single highest peak is often three beats of a
four-beat loop, or three eighth notes); (2) track beats at that tempo and fit a
straight line through the beat times (sub-frame peak positions, outliers dropped, a
line of its own after the tracker's phase jumps; a line more than 3 % off the start is
the tracker wandering, and the start stands), which gives ±0.01 BPM on steady music;
(3) settle the octave between T and 2T from the drums (meter.py): a kick on every fast
beat, a backbeat every two fast beats, or hi-hats in sixteenths of the fast beat make
it 2T; a clear backbeat once every two slow beats makes it T, unless the snare's bands
hit twice a cycle with no kick or bass under them (v11); with no drums to read,
the off-beats' strength against the beat's decides where it is clear (nothing between
the slow beats: T; off-beats as strong as the beats: 2T; the fast beat's own eighths
at least half as strong as it: 2T), else the reading nearer the middle of the range (on a log scale: 112 BPM for 70-180); a genre's usual range
settles it unless a drum hits every fast beat; (4) check the 3:2 and 4:3 readings: a beat repeats
at each of its multiples, a reading three eighth notes long does not, and the harmony
changes (chords, stabs, bass notes) on the beat and the bar, so a rival reading wins
when the autocorrelations of the onsets and of the harmony's change (how much the
pitch classes' shares of the sound move from frame to frame, all twelve summed; v8),
at 1-4 beats and two bars, summed, are stronger by a margin (then the octave is settled again); (5) a
reading whose onsets divide it best into five or seven parts is a run of the beat's
subdivisions, not a beat: the beat is 2, 3, 4, 6 or 8 of them (v10); (6) fold into the range.
The tempo confidence is the onsets' periodicity at 1-4 beats times their lead over the
rival readings times the share of beats on the fitted line.

Beat grid: the phase where the low-band (kick) onsets, folded over one beat, peak;
the first beat is the first grid line once the music has started, the first downbeat
the beat of the bar (4 beats) on which the harmony changes most.

Key: a chromagram without the notes' upper partials, correlated with the 24 rotations
of the EDMA profiles (Faraldo et al., "Key estimation in electronic dance music", ECIR
2016, as shipped in Essentia), which weight the tonic and fifth the way dance music uses
them. The STFT's phase gives each bin the frequency it really holds, so bass notes land
on their semitone; then, lowest note first, what a note's partials explain above it is
taken out (the third partial is a fifth up, and a plain chromagram read keys a fifth too
high); how much of each partial a lower note can explain follows how dark the recording
sounds (v13: taken as for a bright sound, a dark one lost its real fifths and read a
fifth down). Beside the profile's correlation each key needs its own tonic triad to
stand out (v5): a loop leaning on its dominant sounds the fifth more than the tonic, and
the correlation alone named the key a fifth up. Confidence: the winner's lead over the
runner-up key, less when the two halves of the track, each read alone, do not name the
same key.
Tuning is assumed to be A440 (no tuning estimation: it costs time and dance music
is almost always in concert pitch).
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundcloud_sync.audio.analysis.common import (
    ANALYSIS_SR,
    FRAME_RATE,
    HOP,
    N_FFT,
    N_MELS,
    AnalysisError,
)
from soundcloud_sync.audio.analysis.decode import decode, decode_native
from soundcloud_sync.audio.analysis.grid import beat_grid
from soundcloud_sync.audio.analysis.key import (
    estimate_key,
    frame_shares,
    pitch_classes,
    pitch_power,
    without_partials,
)
from soundcloud_sync.audio.analysis.loudness import integrated_lufs
from soundcloud_sync.audio.analysis.tempo import estimate_tempo, genre_tempo_range
from soundcloud_sync.key_notation import NOTE_NAMES, camelot  # shared with the djay reader

__all__ = [
    "ANALYSIS_SR", "ANALYSIS_VERSION", "DEFAULT_TEMPO_RANGE", "NOTE_NAMES", "AnalysisError",
    "AnalysisResult", "AudioFeatures", "analyze_file", "analyze_files", "analyze_samples",
    "camelot", "configure_numba_cache", "decode", "decode_native", "genre_tempo_range",
    "integrated_lufs", "warm_up",
]  # fmt: skip

# Bumped whenever an answer can change: tracks analysed by an older version are redone.
ANALYSIS_VERSION = "13"
DEFAULT_TEMPO_RANGE = (70.0, 180.0)


@dataclass(frozen=True)
class AudioFeatures:
    tempo: float | None  # BPM, 2 decimals; None when no beat was found
    key: str | None  # "A minor", "F# major"
    camelot: str | None  # "8A"
    key_confidence: float  # 0-1
    duration_s: float
    lufs: float | None  # integrated loudness at the file's own rate; None for silence
    tempo_confidence: float = 0.0  # 0-1
    first_beat_s: float | None = None  # seconds from the start of the file
    first_downbeat_s: float | None = None  # the first bar start, seconds
    analysis_version: str = ANALYSIS_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Where numba caches librosa's kernels when no entry point said (see `Settings.apply`,
# which sets NUMBA_CACHE_DIR from the settings): the default home's cache.
DEFAULT_NUMBA_CACHE = Path("./.soundcloud_sync/cache/numba")


def configure_numba_cache(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Point numba's on-disk cache at a writable folder (before librosa is imported).

    Numba reads NUMBA_CACHE_DIR when it is first imported; an already-set variable wins
    over ``cache_dir``, and either over `DEFAULT_NUMBA_CACHE`.
    """
    chosen = Path(os.environ.get("NUMBA_CACHE_DIR") or cache_dir or DEFAULT_NUMBA_CACHE)
    chosen = chosen.expanduser().resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    return chosen


_warm_lock = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Compile (or load from the cache) every numba kernel the analysis uses, once per process.

    One process at a time compiles into a cache folder: two Celery workers on a new
    machine compiling into one empty cache at once both crashed (segfault) a minute in.
    The others wait for the lock, then load what the first one wrote.
    """
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        from filelock import FileLock

        cache = configure_numba_cache()
        rng = np.random.default_rng(0)
        t = np.arange(ANALYSIS_SR * 4) / ANALYSIS_SR
        clicks = (np.sin(2 * np.pi * 60 * t) * np.exp(-((t * 2) % 1.0) * 20)).astype(np.float32)
        noise = 0.01 * rng.standard_normal(t.size).astype(np.float32)
        with FileLock(cache / ".compile.lock"):
            from soundcloud_sync.audio.kernels import import_librosa_beat

            import_librosa_beat()  # its kernels from the cache too (librosa leaves some out)
            decide(measure(np.stack([clicks + noise, clicks + noise], axis=1), ANALYSIS_SR))
        _warmed = True


# --------------------------------------------------------------------------- analysis


def _to_analysis_rate(mono: np.ndarray, sr: int) -> np.ndarray:
    """The mono mix resampled to ANALYSIS_SR by soxr (librosa's default resampler): a
    fifth of scipy's resample_poly's time at 44.1 kHz, a steeper anti-alias filter."""
    import librosa

    if sr == ANALYSIS_SR:
        return mono
    return librosa.resample(mono, orig_sr=sr, target_sr=ANALYSIS_SR, res_type="soxr_hq")


@dataclass
class Measurements:
    """What the signal says, before any decision: the costly half of the analysis.

    Envelopes are one value a frame (FRAME_RATE a second). Kept apart from the decisions
    so the bench can cache them while the decisions are tuned.
    """

    duration_s: float
    lufs: float | None
    onset: np.ndarray  # spectral flux (dB) over all bands: where anything starts
    kick: np.ndarray  # rise of the power below 150 Hz
    bands: np.ndarray  # (len(BANDS), frames) flux (dB) per band, lowest first (see BANDS)
    rises: np.ndarray  # (len(BANDS), frames) rise of the power per band: loud hits weigh
    harmony_change: np.ndarray  # how much the chroma changes at each frame (bar starts)
    pitches: np.ndarray  # (PITCHES, frames) power per semitone from C1, partials and all


# Mel bands (of N_MELS up to 11 kHz) grouped for the drums' flux: below 150 Hz (kick,
# sub bass), 150-300 Hz (snare body, bass), five up to 4 kHz, three above (hats, cymbals).
BANDS = ((0, 3), (3, 6), (6, 12), (12, 20), (20, 28), (28, 36), (36, 46), (46, 52),
         (52, 58), (58, 64))  # fmt: skip


def measure(samples: np.ndarray, sample_rate: int) -> Measurements:
    """One STFT of the mono mix at ANALYSIS_SR and everything read from it; loudness at
    ``sample_rate`` (the file's own). Empty envelopes when there is too little audio."""
    import librosa

    stereo = samples.reshape(len(samples), -1)
    duration = round(len(stereo) / sample_rate, 3)
    lufs = integrated_lufs(stereo, sample_rate)
    # Summed column by column: numpy's mean over a short last axis is ten times slower.
    mono = stereo[:, 0].copy()
    for channel in range(1, stereo.shape[1]):
        mono += stereo[:, channel]
    mono = _to_analysis_rate(mono * np.float32(1 / stereo.shape[1]), sample_rate)
    if len(mono) < N_FFT:
        nothing = np.zeros((len(BANDS), 0))
        return Measurements(duration, lufs, np.zeros(0), np.zeros(0), nothing, nothing,
                            np.zeros(0), np.zeros((0, 0)))  # fmt: skip
    rate = ANALYSIS_SR
    spec = librosa.stft(mono, n_fft=N_FFT, hop_length=HOP, center=True)
    power = spec.real**2 + spec.imag**2
    pitches = pitch_power(spec, rate)
    del spec
    mel_fb = librosa.filters.mel(sr=rate, n_fft=N_FFT, n_mels=N_MELS, fmax=rate / 2)
    mel = mel_fb @ power
    mel_db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    flux = np.maximum(0.0, np.diff(mel_db, axis=1, prepend=mel_db[:, :1]))
    bands = np.stack([flux[a:b].mean(axis=0) for a, b in BANDS]).astype(np.float32)
    band_power = np.stack([mel[a:b].sum(axis=0) for a, b in BANDS])
    rises = np.maximum(0.0, np.diff(band_power, axis=1, prepend=band_power[:, :1]))
    rises = (rises / np.maximum(rises.max(axis=1, keepdims=True), 1e-12)).astype(np.float32)
    # Kick drums: the rise of the power below ~150 Hz places the beat (hats and bass
    # notes on the off-beats rise as much in decibels, far less in power).
    low = mel[: BANDS[0][1]].sum(axis=0)
    kick = np.maximum(0.0, np.diff(low, prepend=low[:1]))
    # The bar starts where the harmony changes most, read on librosa's chroma of the
    # whole spectrum: on the chroma without partials two synthesized bar starts landed
    # three beats late, so the grid keeps the one it was measured with.
    full = librosa.feature.chroma_stft(S=power, sr=rate, n_fft=N_FFT, tuning=0.0, norm=None)
    share, sounding = frame_shares(full)
    change = np.abs(np.diff(share, axis=1, prepend=share[:, :1])).sum(axis=0) * sounding
    return Measurements(duration, lufs, flux.mean(axis=0), kick, bands, rises, change, pitches)


def decide(
    m: Measurements,
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    genre: str | None = None,
) -> AudioFeatures:
    """Tempo, beat grid and key from the measurements (cheap: the bench reruns it)."""
    empty = AudioFeatures(None, None, None, 0.0, m.duration_s, m.lufs)
    if not len(m.onset):
        return empty
    # Each pitch class's share of each frame: the key's evidence, and the tempo's harmony.
    share, sounding = frame_shares(pitch_classes(without_partials(m.pitches)))
    tempo = estimate_tempo(m.onset, FRAME_RATE, tempo_range, prefer=genre_tempo_range(genre),
                           bands=m.bands, rises=m.rises,
                           harmony=np.where(sounding, share, 0.0))  # fmt: skip
    grid = beat_grid(m.kick, m.harmony_change, tempo.period, FRAME_RATE) if tempo else None
    # Square-rooted shares: one loud sustained note (a drone, a held bass) weighs less
    # against the other notes of the scale; this settled a minor key read as its parallel
    # major on the tuning part of the real set.
    key = estimate_key(np.sqrt(share[:, sounding])) if sounding.any() else None
    tonic, mode, confidence = key if key else (0, "", 0.0)
    return AudioFeatures(
        tempo=tempo.bpm if tempo else None,
        key=f"{NOTE_NAMES[tonic]} {mode}" if key else None,
        camelot=camelot(tonic, mode) if key else None,
        key_confidence=confidence,
        duration_s=m.duration_s,
        lufs=m.lufs,
        tempo_confidence=tempo.confidence if tempo else 0.0,
        first_beat_s=grid[0] if grid else None,
        first_downbeat_s=grid[1] if grid else None,
    )


def analyze_samples(
    samples: np.ndarray,
    sample_rate: int,
    *,
    genre: str | None = None,
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
) -> AudioFeatures:
    """Analyse decoded audio: tempo (inside ``tempo_range``) and beat grid, key (+ Camelot,
    confidence), duration, loudness.

    ``samples``: float32 in [-1, 1], shape ``(n,)`` (mono) or ``(n, channels)``, at
    ``sample_rate`` Hz, the file's own rate (loudness is measured there; the rest on the
    mono mix at ANALYSIS_SR). A caller that already decoded a track (to convert it, say)
    hands the samples here instead of decoding twice. ``genre`` (SoundCloud's, free
    text) settles the metrical level only when the music leaves it in doubt.
    """
    from threadpoolctl import threadpool_limits

    lo, hi = tempo_range
    if not 0 < lo < hi:
        raise ValueError(f"tempo range {tempo_range!r}: needs 0 < low < high BPM")
    if samples.ndim not in (1, 2) or len(samples) == 0 or sample_rate <= 0:
        raise AnalysisError(f"no audio to analyse: {samples.shape} samples at {sample_rate} Hz")
    warm_up()  # compiles nothing after the first call in this process
    # One BLAS thread: the matrices are small, and parallelism comes from running
    # several analyses at once; spinning BLAS threads only burn the other core.
    with threadpool_limits(limits=1, user_api="blas"):
        measured = measure(np.asarray(samples, dtype=np.float32), sample_rate)
        return decide(measured, (float(lo), float(hi)), genre)


def analyze_file(
    path: str | os.PathLike[str],
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    genre: str | None = None,
) -> AudioFeatures:
    """Decode a file with ffmpeg at its own rate, then ``analyze_samples``."""
    lo, hi = tempo_range
    if not 0 < lo < hi:
        raise ValueError(f"tempo range {tempo_range!r}: needs 0 < low < high BPM")
    stereo, sr = decode_native(path)
    if len(stereo) == 0:
        raise AnalysisError(f"no audio decoded from {path}")
    return analyze_samples(stereo, sr, genre=genre, tempo_range=tempo_range)


@dataclass(frozen=True)
class AnalysisResult:
    path: str
    features: AudioFeatures | None
    error: str | None = None


def _analyze_one(args: tuple[str, tuple[float, float], str | None]) -> AnalysisResult:
    path, tempo_range, genre = args
    try:
        return AnalysisResult(path, analyze_file(path, tempo_range, genre))
    except AnalysisError as exc:
        return AnalysisResult(path, None, str(exc))


def analyze_files(
    paths: list[str | os.PathLike[str]],
    max_workers: int = 2,
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    start_method: str | None = None,
    genres: list[str | None] | None = None,
) -> list[AnalysisResult]:
    """Analyse many files, ``max_workers`` processes at once; results in input order.

    Warms numba here first, so workers never compile: forked workers (the default on
    Linux) inherit the compiled kernels and start at once; ``start_method="spawn"``
    is safer in a parent with many threads but each worker then spends a few seconds
    importing librosa and loading numba's cache. A file that cannot be analysed gives
    a result with ``error`` set instead of failing the rest.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    genres = genres or [None] * len(paths)
    jobs = [(str(p), tempo_range, g) for p, g in zip(paths, genres, strict=True)]
    warm_up()
    if max_workers <= 1 or len(jobs) <= 1:
        return [_analyze_one(job) for job in jobs]
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(min(max_workers, len(jobs)), mp_context=context) as pool:
        return list(pool.map(_analyze_one, jobs))
