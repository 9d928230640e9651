"""The beat grid: where the first beat and the first downbeat fall."""

from __future__ import annotations

import numpy as np

from soundcloud_sync.audio.analysis.common import _parabolic

# How far the onset envelope's peak lies after the sound starts (one STFT hop's worth
# of window filling): subtracted from beat times. Measured on the synthesized tests.
ONSET_LAG_S = 0.0


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
