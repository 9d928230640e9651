"""Decoding with ffmpeg straight to float32 samples on a pipe (no librosa.load/audioread)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

import numpy as np

from soundcloud_sync.audio.analysis.common import ANALYSIS_SR, AnalysisError
from soundcloud_sync.audio.ffmpeg import ffmpeg_exe


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
    # The log goes to a file, so only the samples come on a pipe and are read in one
    # call: capture_output's poll loop over two pipes cost a sixth of the decode's CPU.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=errors, check=False)
        errors.seek(0)
        log = errors.read().decode(errors="replace")
    rate = re.search(r"Stream #0:\d+.*?: Audio: .*?(\d+) Hz", log)
    if proc.returncode != 0 or rate is None:
        lines = [ln for ln in log.strip().splitlines() if ln.strip()]
        raise AnalysisError(f"cannot decode {path}: {lines[-1] if lines else 'ffmpeg failed'}")
    return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2), int(rate[1])
