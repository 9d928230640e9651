"""Loudness: ITU-R BS.1770 integrated LUFS at the file's own sample rate."""

from __future__ import annotations

import numpy as np


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
    n_blocks = int(np.round((n / sr - block) / (block * 0.25))) + 1
    z = _block_energies(weighted, sr, block, n_blocks) * gain**2 / (block * sr)
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


def _block_energies(weighted: np.ndarray, sr: int, block: float, n_blocks: int) -> np.ndarray:
    """Energy (both channels summed) of each gating block: ``block`` seconds every
    quarter block, the last ones cut at the end of the signal.

    When a quarter block is a whole number of samples (every common rate), each block is
    four consecutive quarter-block sums: one pass in float32 squares summed in float64,
    not a float64 running sum over every sample (twice the time, for the same figure).
    """
    n = weighted.shape[1]
    hop = block * 0.25 * sr
    if hop != int(hop):
        power = np.einsum("ij,ij->j", weighted, weighted, dtype=np.float64)
        energy = np.concatenate([[0.0], np.cumsum(power)])
        j = np.arange(n_blocks)
        lower = (block * j * 0.25 * sr).astype(int)
        upper = np.minimum((block * (j * 0.25 + 1) * sr).astype(int), n)
        return energy[upper] - energy[lower]
    step = int(hop)
    squares = np.einsum("ij,ij->j", weighted, weighted)  # float32, both channels
    whole = n // step
    hops = np.zeros(max(n_blocks + 3, whole + 1))
    hops[:whole] = squares[: whole * step].reshape(whole, step).sum(axis=1, dtype=np.float64)
    hops[whole] = squares[whole * step :].sum(dtype=np.float64)
    return (
        hops[:n_blocks] + hops[1 : n_blocks + 1] + hops[2 : n_blocks + 2] + hops[3 : n_blocks + 3]
    )
