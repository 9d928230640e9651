"""Tempo, beat grid, key, duration and loudness of an audio file.

One decode, one STFT. ffmpeg decodes the file once at its own sample rate (stereo
float32 on a pipe; no librosa.load/audioread). Loudness is measured on that signal,
at that rate, with pyloudnorm's filters (ITU-R BS.1770 integrated LUFS; mono sources
count as dual mono, as a player plays them): resampling first read up to 0.5 LU low.
The mono mix is then resampled to 22050 Hz and goes through a single STFT whose power
spectrum feeds the onset envelope (tempo, beat grid) and, with its phase, the
chromagram (key).

Tempo: librosa's estimators answer on a coarse grid (124 BPM comes back as
123.05) and lean towards 120 BPM. We (1) take the autocorrelation peak of the
onset envelope inside the allowed range, interpolated between lags; (2) track beats
at that tempo and fit a straight line through the beat times (sub-frame peak
positions, outliers dropped), which gives ±0.01 BPM on steady music; (3) settle
the octave between T and 2T by folding the onset envelope over one slow beat:
when the off-beat hits as hard as the beat (kick on every half, or kick/snare
alternating as in drum & bass) the real beat is twice as fast, when it is
clearly weaker (off-beat hats, the tempo-doubling trap) it is not; where that is in
doubt, the track's genre decides; (4) check the 3:2 readings: a beat repeats at each
of its multiples, a reading three eighth notes long does not, so ×3/2 wins when its
autocorrelation at 1-4 beats is nearly as strong; (5) fold into the range. The tempo
confidence is that periodicity times the lead over the rival reading times the share
of beats on the fitted line.

Beat grid: the phase where the low-band (kick) onsets, folded over one beat, peak;
the first beat is the first grid line once the music has started, the first downbeat
the beat of the bar (4 beats) on which the harmony changes most.

Key: a chromagram without the notes' upper partials, correlated with the 24 rotations
of the EDMA profiles (Faraldo et al., "Key estimation in electronic dance music", ECIR
2016, as shipped in Essentia), which weight the tonic and fifth the way dance music uses
them. The STFT's phase gives each bin the frequency it really holds, so bass notes land
on their semitone; then, lowest note first, what a note's partials explain above it is
taken out (the third partial is a fifth up, and a plain chromagram read keys a fifth too
high). Confidence: the winner's lead over the runner-up key, less when the two halves of
the track, each read alone, do not name the same key.
Tuning is assumed to be A440 (no tuning estimation: it costs time and dance music
is almost always in concert pitch).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

# Bumped whenever an answer can change: tracks analysed by an older version are redone.
ANALYSIS_VERSION = "3"
DEFAULT_TEMPO_RANGE = (70.0, 180.0)
ANALYSIS_SR = 22050
# How far the onset envelope's peak lies after the sound starts (one STFT hop's worth
# of window filling): subtracted from beat times. Measured on the synthesized tests.
ONSET_LAG_S = 0.0
N_FFT = 2048
HOP = 512
N_MELS = 64

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# EDMA profiles (major, minor), tonic first.
EDMA_MAJOR = np.array(
    [0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
     0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515]
)  # fmt: skip
EDMA_MINOR = np.array(
    [0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
     0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106]
)  # fmt: skip


class AnalysisError(RuntimeError):
    """A file could not be decoded or holds too little audio to analyse."""


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


def default_numba_cache_dir() -> Path:
    """Where librosa's numba kernels are cached unless NUMBA_CACHE_DIR says otherwise."""
    from soundcloud_sync.config import Settings

    return Settings.from_env().numba_cache_dir


def configure_numba_cache(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Point numba's on-disk cache at a writable folder (before librosa is imported).

    Numba reads NUMBA_CACHE_DIR when it is first imported; an already-set variable wins.
    """
    from soundcloud_sync.config import Settings

    settings = Settings.from_env()
    chosen = settings.numba_cache or Path(cache_dir or settings.numba_cache_dir)
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
            _analyze_signal(np.stack([clicks + noise, clicks + noise], axis=1), ANALYSIS_SR)
        _warmed = True


# --------------------------------------------------------------------------- decode


def decode(path: str | os.PathLike[str], sr: int = ANALYSIS_SR) -> np.ndarray:
    """Decode any file ffmpeg reads to float32 stereo at ``sr``: shape ``(n, 2)``."""
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(path), "-vn", "-map", "0:a:0",
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "2", "-ar", str(sr), "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AnalysisError(f"cannot decode {path}: {message[-1] if message else 'ffmpeg failed'}")
    return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2)


def decode_native(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Decode to float32 stereo at the file's own sample rate: ``((n, 2) array, rate)``."""
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
        "-i", str(path), "-vn", "-map", "0:a:0",
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "2", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False)
    log = proc.stderr.decode(errors="replace")
    rate = re.search(r"Stream #0:\d+.*?: Audio: .*?(\d+) Hz", log)
    if proc.returncode != 0 or rate is None:
        lines = [ln for ln in log.strip().splitlines() if ln.strip()]
        raise AnalysisError(f"cannot decode {path}: {lines[-1] if lines else 'ffmpeg failed'}")
    return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2), int(rate[1])


# --------------------------------------------------------------------------- helpers


def camelot(tonic: int, mode: str) -> str:
    """Camelot code of a key: A minor -> 8A, C major -> 8B."""
    if mode == "minor":
        return f"{((7 * (tonic - 9)) % 12 + 7) % 12 + 1}A"
    return f"{((7 * tonic) % 12 + 7) % 12 + 1}B"


def _parabolic(y: np.ndarray, i: int) -> float:
    """Sub-sample position of the peak at ``i`` (parabola through three points)."""
    if i <= 0 or i >= len(y) - 1:
        return float(i)
    a, b, c = y[i - 1], y[i], y[i + 1]
    denom = a - 2 * b + c
    return float(i) if denom == 0 else float(i + 0.5 * (a - c) / denom)


def _autocorr(x: np.ndarray, max_lag: int) -> np.ndarray:
    x = x - x.mean()
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    spec = np.fft.rfft(x, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: max_lag + 1]
    return ac / (ac[0] or 1.0)


def _fold_strength(env: np.ndarray, period: float) -> tuple[float, float]:
    """Fold ``env`` over one beat period; strength at the best phase and half a beat later."""
    bins = max(8, round(period))
    idx = np.arange(len(env))
    phase = ((idx % period) / period * bins).astype(int) % bins
    fold = np.bincount(phase, weights=env, minlength=bins) / np.maximum(
        np.bincount(phase, minlength=bins), 1
    )
    fold = np.convolve(np.concatenate([fold[-1:], fold, fold[:1]]), [0.25, 0.5, 0.25], "valid")
    on = int(np.argmax(fold))
    off = (on + bins // 2) % bins
    return float(fold[on]), float(fold[off])


# --------------------------------------------------------------------------- tempo


# Where each genre's beat is counted (SoundCloud genres are free text: matched on words).
# Drum & bass and trap are counted at full speed, R&B at the slow reading; hip-hop
# reaches 140 because SoundCloud files most trap under "Hip-hop & Rap".
GENRE_TEMPI: dict[tuple[str, ...], tuple[float, float]] = {
    ("drum", "bass"): (155.0, 185.0),
    ("dnb",): (155.0, 185.0),
    ("jungle",): (155.0, 185.0),
    ("neurofunk",): (155.0, 185.0),
    ("footwork",): (150.0, 170.0),
    ("trap",): (125.0, 170.0),
    ("dubstep",): (130.0, 150.0),
    ("hip", "hop"): (60.0, 140.0),
    ("hiphop",): (60.0, 140.0),
    ("rap",): (60.0, 140.0),
    ("r&b",): (60.0, 110.0),
    ("rnb",): (60.0, 110.0),
    ("house",): (110.0, 135.0),
    ("techno",): (118.0, 150.0),
    ("trance",): (125.0, 145.0),
}
# Off-beat / beat strength ratios between which the evidence is doubtful and a genre's
# prior may settle the octave; outside it the onsets decide alone.
GENRE_DOUBT = (0.3, 0.9)


def genre_tempo_range(genre: str | None) -> tuple[float, float] | None:
    """The range a genre counts its beat in ("Drum & Bass" -> 155-185), or None."""
    words = set(re.findall(r"[a-z&]+", (genre or "").lower().replace("'n'", "&")))
    for needed, bpm_range in GENRE_TEMPI.items():
        if all(w in words for w in needed):
            return bpm_range
    return None


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float  # 2 decimals, inside the range asked for
    confidence: float  # 0-1: how periodic the onsets are at this beat, and how unrivalled
    period: float  # frames per beat (unrounded), for placing the beat grid


def _ac_at(ac: np.ndarray, lag: float) -> float:
    """Autocorrelation at a fractional lag: the best value within a frame of it."""
    best = 0.0
    for x in (lag - 1.0, lag - 0.5, lag, lag + 0.5, lag + 1.0):
        i = int(np.floor(x))
        if 0 <= i < len(ac) - 1:
            f = x - i
            best = max(best, float(ac[i] * (1 - f) + ac[i + 1] * f))
    return best


def _comb(ac: np.ndarray, period: float, beats: int = 4) -> float:
    """How strongly the onsets repeat at every one of the first ``beats`` beat multiples.

    A real beat repeats at 1, 2, 3 and 4 beats; a reading three eighth notes long (the
    3:2 slip) repeats at 2 of its multiples only, so its comb is weaker; a reading
    2/3 of the real beat matches the real one only at every third multiple.
    """
    return float(np.mean([_ac_at(ac, k * period) for k in range(1, beats + 1)]))


def _refine(onset_env: np.ndarray, period: float, frame_rate: float) -> tuple[float, float]:
    """(period, fraction of beats on the fitted line): beat tracking at ``period``, then
    a straight line through the beat times."""
    import librosa

    _, beats = librosa.beat.beat_track(
        onset_envelope=onset_env,
        sr=round(frame_rate * HOP),
        hop_length=HOP,
        bpm=60 * frame_rate / period,
        tightness=400,
    )
    fitted = _fit_beats(onset_env, beats, period, frame_rate)
    if fitted is None:
        return period, 0.0
    bpm, inliers = fitted
    return 60 * frame_rate / bpm, inliers


def _fits(bpm: float, lo: float, hi: float) -> bool:
    """Inside [lo, hi] BPM, give or take 1 % (measurement noise at the edges)."""
    return lo * 0.99 <= bpm <= hi * 1.01


def _into_range(period: float, frame_rate: float, lo: float, hi: float) -> float:
    """The octave of ``period`` inside [lo, hi] BPM. A reading within 1 % of an edge is
    that edge (180.004 BPM is a 180 BPM track, not a 90 BPM one); a range under an
    octave wide gives the nearest edge."""
    bpm = 60 * frame_rate / period
    if hi < bpm <= hi * 1.01 or lo * 0.99 <= bpm < lo:
        bpm = min(max(bpm, lo), hi)
    while bpm > hi and bpm / 2 >= lo:
        bpm /= 2
    while bpm < lo and bpm * 2 <= hi:
        bpm *= 2
    return 60 * frame_rate / min(max(bpm, lo), hi)


def estimate_tempo(
    onset_env: np.ndarray,
    frame_rate: float,
    bpm_range: tuple[float, float] = (70.0, 180.0),
    offbeat_ratio: float = 0.6,
    three_two_ratio: float = 0.85,
    prefer: tuple[float, float] | None = None,
) -> TempoEstimate | None:
    """Tempo in BPM from an onset envelope; see the module doc. ``prefer``: the range a
    genre usually counts its beat in (see ``genre_tempo_range``)."""
    lo, hi = bpm_range
    if len(onset_env) < 4 * frame_rate or not np.any(onset_env > 0):
        return None
    min_lag = int(np.floor(60 * frame_rate / hi))
    max_lag = int(np.ceil(60 * frame_rate / lo))
    ac = _autocorr(onset_env, 6 * max_lag + 2)
    window = ac[min_lag : max_lag + 1]
    if not len(window) or window.max() <= 0:
        return None
    best = min_lag + int(np.argmax(window))
    period = _parabolic(ac, best)  # frames per beat, to a fraction of a frame

    # Refine first: folding over minutes with an imprecise period smears the beat.
    period, inliers = _refine(onset_env, period, frame_rate)

    # Octave: the slower reading unless its off-beats hit as hard as its beats. A genre
    # prior decides only when the off-beats are neither clearly weak nor clearly equal.
    fast, slow = period, None
    if _fits(60 * frame_rate / (2 * period), lo, hi):
        slow = 2 * period
    elif _fits(60 * frame_rate / (period / 2), lo, hi):
        fast, slow = period / 2, period
    if slow is not None:
        on, off = _fold_strength(onset_env, slow)
        ratio = off / on if on > 0 else 1.0
        period = fast if ratio > offbeat_ratio else slow
        if prefer is not None and GENRE_DOUBT[0] <= ratio <= GENRE_DOUBT[1]:
            liked = [p for p in (fast, slow) if prefer[0] <= 60 * frame_rate / p <= prefer[1]]
            period = liked[0] if len(liked) == 1 else period

    # 3:2: a beat of three eighth notes can win the first peak; the real beat repeats
    # at each of its multiples, so the faster reading wins when its comb is about as
    # strong, the slower one only when clearly stronger.
    strength = _comb(ac, period)
    rival = 0.0
    for factor in (1.5, 2 / 3):
        candidate = period / factor
        if not _fits(60 * frame_rate / candidate, lo, hi):
            continue
        score = _comb(ac, candidate)
        needed = three_two_ratio if factor > 1 else 1 / three_two_ratio
        if score >= needed * strength:
            period, _ = _refine(onset_env, candidate, frame_rate)
            rival, strength = strength, _comb(ac, period)
            break
        rival = max(rival, score)

    period = _into_range(period, frame_rate, lo, hi)
    clarity = min(1.0, max(0.0, strength))
    margin = min(1.0, max(0.0, 2.0 * (1.0 - rival / strength))) if strength > 0 else 0.0
    return TempoEstimate(
        bpm=round(float(60 * frame_rate / period), 2),
        confidence=round(clarity * margin * inliers, 3),
        period=float(period),
    )


def _fit_beats(
    env: np.ndarray, beats: np.ndarray, period: float, frame_rate: float
) -> tuple[float, float] | None:
    """Least-squares line through sub-frame beat times: (BPM from the slope, fraction of
    beats on the line)."""
    if len(beats) < 8:
        return None
    times = []
    for b in beats:
        lo, hi = max(0, b - 2), min(len(env), b + 3)
        i = lo + int(np.argmax(env[lo:hi]))
        times.append(_parabolic(env, i))
    t = np.asarray(times)
    # Beat numbers from successive gaps, so a slightly wrong period cannot drift.
    k = np.concatenate([[0.0], np.cumsum(np.maximum(1.0, np.round(np.diff(t) / period)))])
    keep = np.ones(len(t), dtype=bool)
    for _ in range(3):
        if keep.sum() < 8:
            return None
        slope, intercept = np.polyfit(k[keep], t[keep], 1)
        resid = np.abs(t - (intercept + slope * k))
        new_keep = resid < max(1.0, 3 * np.median(resid[keep]))
        if (new_keep == keep).all():
            break
        keep = new_keep
    if slope <= 0:
        return None
    return float(60 * frame_rate / slope), float(keep.mean())


# --------------------------------------------------------------------------- key


KEY_MARGIN_FOR_CERTAINTY = 0.15
# Pitches the key is read from: MIDI C1 (33 Hz) up to B7 (3951 Hz), one row a semitone.
LOW_PITCH, PITCHES = 24, 84
# A partial of a note is taken to be at most PARTIAL_DECAY times as strong (in amplitude)
# as the partial below it; the first PARTIALS partials of every note are accounted for.
PARTIAL_DECAY = 0.8
PARTIALS = 6
# Folding weighs each pitch by a bell over octaves centred on A4 (440 Hz), 2 octaves wide:
# with equal weights a loud bass line outvoted the chords that tell minor from major.
KEY_CENTRE_HZ = 440.0
KEY_OCTAVES = 2.0


def pitch_power(spec: np.ndarray, sr: int) -> np.ndarray:
    """Power per semitone (LOW_PITCH..+PITCHES) and frame, from a complex STFT.

    Each bin's power goes to the pitch of the frequency its phase says it holds (the
    phase advance from one frame to the next), not to the bin's centre: a bin is 11 Hz
    wide, two semitones at 100 Hz, so bass notes would otherwise smear into their
    neighbours while their partials land sharp.
    """
    n_fft = 2 * (spec.shape[0] - 1)
    highest_hz = 440 * 2 ** ((LOW_PITCH + PITCHES - 0.5 - 69) / 12)
    top = min(spec.shape[0], int(highest_hz * n_fft / sr) + 2)
    s = spec[:top]
    # How far each bin's phase turned since the previous frame, beyond what its centre
    # frequency turns in one hop, is how far off the centre its sound is.
    turn = s * np.conj(np.concatenate([s[:, :1], s[:, :-1]], axis=1))
    bins = np.arange(top, dtype=np.float32)[:, None]
    advance = np.angle(turn) - np.float32(2 * np.pi * HOP / n_fft) * bins
    advance -= np.float32(2 * np.pi) * np.round(advance / np.float32(2 * np.pi))
    freq = (bins + advance * np.float32(n_fft / (2 * np.pi * HOP))) * np.float32(sr / n_fft)
    pitch = np.rint(12 * np.log2(np.maximum(freq, 1.0) / 440.0) + (69 - LOW_PITCH))
    pitch = pitch.astype(np.int64)
    inside = (pitch >= 0) & (pitch < PITCHES)
    frames = s.shape[1]
    row = np.where(inside, pitch, 0) + PITCHES * np.arange(frames)[None, :]
    power = (s.real**2 + s.imag**2) * inside
    return np.bincount(row.ravel(), power.ravel(), PITCHES * frames).reshape(frames, PITCHES).T


def without_partials(pitches: np.ndarray) -> np.ndarray:
    """The pitch power with each note's upper partials taken out, lowest note first.

    The third partial of a note sounds an octave and a fifth above it, so a chroma of
    the whole spectrum counts every note's fifth too and reads keys a fifth too high.
    Whatever a lower pitch can explain as its partial (up to PARTIAL_DECAY per step)
    is removed before the pitches are folded into pitch classes.
    """
    out = pitches.copy()
    partials = [
        (round(12 * np.log2(h)), PARTIAL_DECAY ** (2 * (h - 1))) for h in range(2, PARTIALS + 1)
    ]
    for p in range(len(out)):
        for offset, share in partials:
            if p + offset < len(out):
                out[p + offset] -= np.minimum(out[p + offset], share * out[p])
    return out


def pitch_classes(pitches: np.ndarray) -> np.ndarray:
    """Fold semitone rows (from LOW_PITCH) into 12 pitch classes, C first, the middle
    register weighing most (see KEY_CENTRE_HZ)."""
    octaves = (np.arange(len(pitches)) + LOW_PITCH - 69) / 12 - np.log2(KEY_CENTRE_HZ / 440.0)
    weight = np.exp(-0.5 * (octaves / KEY_OCTAVES) ** 2)
    classes = np.zeros((12, pitches.shape[1]), dtype=pitches.dtype)
    for p in range(len(pitches)):
        classes[(p + LOW_PITCH) % 12] += weight[p] * pitches[p]
    return classes


def _key_scores(profile: np.ndarray) -> list[tuple[float, int, str]]:
    """Correlation of a 12-bin profile with each of the 24 keys, best first."""
    scores = []
    for mode, template in (("major", EDMA_MAJOR), ("minor", EDMA_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(profile, np.roll(template, tonic))[0, 1])
            scores.append((r, tonic, mode))
    return sorted(scores, reverse=True)


def estimate_key(shares: np.ndarray) -> tuple[int, str, float] | None:
    """(tonic pitch class, "major"|"minor", confidence) from per-frame chroma ``(12, n)``.

    The key is the one whose profile best matches the frames' mean. The confidence asks
    two things: how far it leads the runner-up (scaled so a lead of
    KEY_MARGIN_FOR_CERTAINTY or more is 1), and whether each half of the track, read on
    its own, names the same key (each half that does not takes a quarter off): a
    near-tie, or a key only the whole track and not its parts agrees on, is a guess.
    """
    profile = shares.mean(axis=1) if shares.size else np.zeros(12)
    if not np.any(profile > 0):
        return None
    scores = _key_scores(profile)
    (r, tonic, mode), runner_up = scores[0], scores[1][0]
    lead = min(1.0, max(0.0, (r - runner_up) / KEY_MARGIN_FOR_CERTAINTY))
    half = shares.shape[1] // 2
    parts = [shares[:, :half], shares[:, half:]] if half else []
    agree = [_key_scores(x.mean(axis=1))[0][1:] == (tonic, mode) for x in parts]
    stability = 1.0 - 0.25 * sum(not a for a in agree)
    return tonic, mode, round(lead * stability, 3)


# --------------------------------------------------------------------------- loudness


def integrated_lufs(signal: np.ndarray, sr: int) -> float | None:
    """BS.1770-4 integrated loudness (LUFS) of ``(n, channels)`` front-channel audio.

    pyloudnorm's K-weighting filters, with the 400 ms / 75 % overlap gating done in
    vectorised numpy (pyloudnorm's own per-block loop costs ~1 s on a 5-minute track).
    Matches ``pyloudnorm.Meter(sr).integrated_loudness`` to within 0.01 LU.
    None when the signal is silent or shorter than one gating block.
    """
    import pyloudnorm
    from scipy.signal import sosfilt

    channels = np.ascontiguousarray(signal.reshape(len(signal), -1).T, dtype=np.float32)
    block = 0.400
    n = channels.shape[1]
    if n < int(block * sr):
        return None
    # The two K-weighting biquads as second-order sections, in float32 (a 1e-5 relative
    # error in power, 0.0001 LU), summed in float64: a third of float64 lfilter's time.
    stages = list(pyloudnorm.Meter(sr)._filters.values())
    sos = np.array([np.concatenate([st.b, st.a]) for st in stages], dtype=np.float32)
    gain = float(np.prod([st.passband_gain for st in stages]))
    weighted = sosfilt(sos, channels, axis=1)
    power = np.einsum("ij,ij->j", weighted, weighted, dtype=np.float64) * gain**2
    energy = np.concatenate([[0.0], np.cumsum(power)])
    n_blocks = int(np.round((n / sr - block) / (block * 0.25))) + 1
    j = np.arange(n_blocks)
    lower = (block * j * 0.25 * sr).astype(int)
    upper = np.minimum((block * (j * 0.25 + 1) * sr).astype(int), n)
    z = (energy[upper] - energy[lower]) / (block * sr)
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(z)
    gated = z[loudness >= -70.0]
    if not len(gated):
        return None
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    gated = z[(loudness > relative) & (loudness > -70.0)]
    if not len(gated):
        return None
    return round(float(-0.691 + 10 * np.log10(gated.mean())), 2)


# --------------------------------------------------------------------------- analysis


def _to_analysis_rate(mono: np.ndarray, sr: int) -> np.ndarray:
    """Polyphase resampling of the mono mix to ANALYSIS_SR (44.1 kHz: keep every other
    sample after an anti-alias filter)."""
    from math import gcd

    from scipy.signal import resample_poly

    if sr == ANALYSIS_SR:
        return mono
    g = gcd(sr, ANALYSIS_SR)
    return resample_poly(mono, ANALYSIS_SR // g, sr // g).astype(np.float32)


def beat_grid(
    onset_env: np.ndarray, accent: np.ndarray, period: float, frame_rate: float
) -> tuple[float, float] | None:
    """(first beat, first downbeat) in seconds for a steady beat of ``period`` frames.

    The phase is where the onsets, folded over one beat, peak (to a fraction of a
    frame); the first beat is the first grid line where the music has started. The
    downbeat is the beat of the bar (4 beats) on which the harmony changes most.
    """
    n = len(onset_env)
    if period <= 0 or n < 4 * period:
        return None
    bins = max(16, round(2 * period))
    phase_bin = (np.arange(n) % period / period * bins).astype(int) % bins
    fold = np.bincount(phase_bin, weights=onset_env, minlength=bins)
    fold = np.convolve(np.concatenate([fold[-1:], fold, fold[:1]]), [0.25, 0.5, 0.25], "valid")
    peak = int(np.argmax(fold))
    wrapped = np.concatenate([fold[-1:], fold, fold[:1]])
    phase = (_parabolic(wrapped, peak + 1) - 1) / bins * period
    loud = np.flatnonzero(onset_env > 0.2 * np.percentile(onset_env, 99))
    start = float(loud[0]) if len(loud) else 0.0
    first = phase + period * np.ceil((start - phase) / period - 0.25)
    beats = first + period * np.arange(int((n - 1 - first) // period) + 1)
    idx = np.clip(np.round(beats).astype(int), 0, n - 1)
    strength = np.maximum(accent[idx], accent[np.clip(idx + 1, 0, n - 1)])
    per_position = [strength[j::4].mean() if len(strength[j::4]) else 0.0 for j in range(4)]
    downbeat = first + period * int(np.argmax(per_position))
    # Plain floats: numpy scalars reach the catalog, and PostgreSQL's driver refuses them.
    return (
        round(max(0.0, float(first) / frame_rate - ONSET_LAG_S), 3),
        round(max(0.0, float(downbeat) / frame_rate - ONSET_LAG_S), 3),
    )


def _frame_shares(chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each frame's chroma as shares of that frame, which frames sound at all).

    Each sounding frame votes equally (loud drops do not drown the rest); near-silent
    frames (intros, fades, gaps) do not vote at all.
    """
    energy = chroma.sum(axis=0)
    sounding = energy > 1e-3 * (np.percentile(energy, 95) if energy.size else 0)
    return chroma / np.maximum(energy, 1e-12), sounding


def _analyze_signal(
    stereo: np.ndarray,
    sr: int,
    bpm_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    genre: str | None = None,
) -> AudioFeatures:
    """Everything but the decode: loudness at ``sr`` (the file's own rate), the rest on
    the mono mix at ANALYSIS_SR."""
    import librosa

    duration = round(len(stereo) / sr, 3)
    lufs = integrated_lufs(stereo, sr)
    mono = _to_analysis_rate((stereo[:, 0] + stereo[:, 1]) * np.float32(0.5), sr)
    empty = AudioFeatures(None, None, None, 0.0, duration, lufs)
    if len(mono) < N_FFT:
        return empty
    rate = ANALYSIS_SR
    spec = librosa.stft(mono, n_fft=N_FFT, hop_length=HOP, center=True)
    power = spec.real**2 + spec.imag**2
    notes = pitch_classes(without_partials(pitch_power(spec, rate)))
    del spec

    mel_fb = librosa.filters.mel(sr=rate, n_fft=N_FFT, n_mels=N_MELS, fmax=rate / 2)
    mel = mel_fb @ power
    mel_db = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    flux = np.maximum(0.0, np.diff(mel_db, axis=1, prepend=mel_db[:, :1]))
    onset_env = flux.mean(axis=0)
    frame_rate = rate / HOP
    # Kick drums: the rise of the power below ~150 Hz places the beat (hats and bass
    # notes on the off-beats rise as much in decibels, far less in power).
    low = mel[
        : max(1, int(np.searchsorted(librosa.mel_frequencies(N_MELS + 2, fmax=rate / 2), 150.0)))
    ]
    kick_env = np.maximum(0.0, np.diff(low.sum(axis=0), prepend=low[:, :1].sum()))
    tempo = estimate_tempo(onset_env, frame_rate, bpm_range, prefer=genre_tempo_range(genre))

    grid = None
    if tempo is not None:
        # The bar starts where the harmony changes most, read on librosa's chroma of the
        # whole spectrum: on the chroma without partials two synthesized bar starts
        # landed three beats late, so the grid keeps the one it was measured with.
        full = librosa.feature.chroma_stft(S=power, sr=rate, n_fft=N_FFT, tuning=0.0, norm=None)
        share, sounding = _frame_shares(full)
        harmony_change = np.abs(np.diff(share, axis=1, prepend=share[:, :1])).sum(axis=0)
        grid = beat_grid(kick_env, harmony_change * sounding, tempo.period, frame_rate)
    # Square-rooted shares: one loud sustained note (a drone, a held bass) weighs less
    # against the other notes of the scale; this settled a minor key read as its parallel
    # major on the tuning part of the real set.
    share, sounding = _frame_shares(notes)
    key = estimate_key(np.sqrt(share[:, sounding])) if sounding.any() else None
    tonic, mode, confidence = key if key else (0, "", 0.0)
    return AudioFeatures(
        tempo=tempo.bpm if tempo else None,
        key=f"{NOTE_NAMES[tonic]} {mode}" if key else None,
        camelot=camelot(tonic, mode) if key else None,
        key_confidence=confidence,
        duration_s=duration,
        lufs=lufs,
        tempo_confidence=tempo.confidence if tempo else 0.0,
        first_beat_s=grid[0] if grid else None,
        first_downbeat_s=grid[1] if grid else None,
    )


def analyze_file(
    path: str | os.PathLike[str],
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    genre: str | None = None,
) -> AudioFeatures:
    """Analyse one audio file: tempo (inside ``tempo_range``) and beat grid, key (+ Camelot,
    confidence), duration, loudness. ``genre`` (SoundCloud's, free text) settles the
    octave when the onsets leave it in doubt (drum & bass at 170, not 85)."""
    from threadpoolctl import threadpool_limits

    lo, hi = tempo_range
    if not 0 < lo < hi:
        raise ValueError(f"tempo range {tempo_range!r}: needs 0 < low < high BPM")
    warm_up()  # compiles nothing after the first call in this process
    stereo, sr = decode_native(path)
    if len(stereo) == 0:
        raise AnalysisError(f"no audio decoded from {path}")
    # One BLAS thread: the matrices are small, and parallelism comes from running
    # several analyses at once; spinning BLAS threads only burn the other core.
    with threadpool_limits(limits=1, user_api="blas"):
        return _analyze_signal(stereo, sr, (float(lo), float(hi)), genre)


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
