"""One decode per track: the samples the analysis measures and every library format
the track still lacks come out of one ffmpeg process.

Decoding an MP3 costs about as much as writing its AIFF; the analysis decoded each
download, then the conversion decoded it again for each format. Now the analysis step
runs one ffmpeg that reads the download once and writes float32 samples on a pipe (the
analysis's input, exactly what `analysis.decode_native` gives) and, from the same
decoded frames, each missing format to ``<library>/.staged/<download name>.<fmt>`` —
untagged, under a temporary name until ffmpeg has finished, so a kill leaves no
half-written file there. The library step then moves a staged file into place
(`convert`'s ``prepared``, a rename on the library's file system), tags it and gives it
its final name, instead of decoding again. Staging is an optimisation only: where it
cannot be written (a full disk) the analysis decodes alone and the library step
converts, and fails naming the track, as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from soundcloud_sync.audio.convert import (
    FORMATS,
    ConversionError,
    clean_stale_temp_files,
    codec_args,
    probe,
    temp_name,
)
from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

if TYPE_CHECKING:
    import numpy as np

STAGED_FOLDER = ".staged"
_RATE = re.compile(r"Stream #0:\d+.*?: Audio: .*?(\d+) Hz")


def staged_path(
    library_root: str | os.PathLike[str], src: str | os.PathLike[str], fmt: str
) -> Path:
    """Where the decode leaves ``src`` converted to ``fmt`` for the library step."""
    return Path(library_root) / STAGED_FOLDER / f"{Path(src).name}.{fmt}"


def staged_conversion(
    library_root: str | os.PathLike[str], src: str | os.PathLike[str], fmt: str
) -> Path | None:
    """The staged ``fmt`` file of ``src`` when there is one at least as new as ``src``."""
    staged = staged_path(library_root, src, fmt)
    try:
        if staged.stat().st_mtime >= Path(src).stat().st_mtime:
            return staged
    except OSError:
        return None
    return None


def discard_staged(library_root: str | os.PathLike[str], src: str | os.PathLike[str]) -> None:
    """Drop what was staged for ``src`` and not taken (its file existed, or it failed)."""
    for fmt in FORMATS:
        with contextlib.suppress(OSError):
            staged_path(library_root, src, fmt).unlink()


def decode_and_stage(
    src: str | os.PathLike[str],
    library_root: str | os.PathLike[str],
    formats: Sequence[str],
) -> tuple[np.ndarray, int]:
    """Decode ``src`` once: float32 stereo at its own rate, ``((n, 2) array, rate)``,
    and each of ``formats`` staged for the library step from the same decode.

    When the staged files cannot be written (no room, no folder) they are dropped and
    the track is decoded for the analysis alone; a source ffmpeg cannot read raises
    the analysis's own error, as `analysis.decode_native` does.
    """
    from soundcloud_sync.audio.analysis import AnalysisError, decode_native

    formats = list(dict.fromkeys(formats))
    if not formats:
        return decode_native(src)
    folder = Path(library_root) / STAGED_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temp_files(folder, Path(src).name)  # this track's, from an earlier try
        clean_stale_temp_files(folder)  # any track's whose process was killed mid-decode
        info = probe(src)
    except (OSError, ConversionError):
        return decode_native(src)
    temps = {fmt: temp_name(staged_path(library_root, src, fmt)) for fmt in formats}
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-y",
        "-i", str(src),
        # the analysis's samples: as `decode_native` asks for them
        "-vn", "-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "2", "pipe:1",
    ]  # fmt: skip
    for fmt, tmp in temps.items():
        cmd += ["-map", "0:a:0", "-map_metadata", "-1", "-vn", *codec_args(fmt, info), str(tmp)]
    try:
        # the log goes to a file so the samples alone come on the pipe, read in one call
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=errors, check=False)
            errors.seek(0)
            log = errors.read().decode(errors="replace")
        rate = _RATE.search(log)
        if proc.returncode == 0 and rate is not None:
            for fmt, tmp in temps.items():
                os.replace(tmp, staged_path(library_root, src, fmt))
            import numpy as np

            return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2), int(rate[1])
    except OSError:
        pass
    finally:
        _remove(temps.values())
    try:  # staging failed (a full library, say): the analysis decodes on its own
        return decode_native(src)
    except AnalysisError:
        discard_staged(library_root, src)
        raise


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
