"""What every part of the analysis shares: the analysis rate, the STFT's shape, peaks."""

from __future__ import annotations

import numpy as np

ANALYSIS_SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 64
FRAME_RATE = ANALYSIS_SR / HOP  # onset-envelope frames per second


class AnalysisError(RuntimeError):
    """A file could not be decoded or holds too little audio to analyse."""


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
