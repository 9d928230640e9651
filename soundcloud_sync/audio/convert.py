"""Conversion to the library formats (aiff, m4a, wav, mp3) with ffmpeg.

Full quality without pretending: the source sample rate is kept (no upsampling),
lossy sources become 16-bit PCM (more bits would hold nothing), lossless ones keep
24 bits when they had them. M4A is ALAC for lossless sources, a stream copy for
AAC sources (no second lossy generation) and 320 kb/s AAC otherwise; MP3 is a
stream copy when the source already is MP3.

ffmpeg writes to a hidden temporary name in the destination folder and the file
is renamed only once ffmpeg has succeeded, so a crash or a kill never leaves a
half-written file under the final name; temporary files left by a crashed run are
removed by the next conversion of the same file (or ``clean_stale_temp_files``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from soundcloud_sync.audio.ffmpeg import ffmpeg_exe

FORMATS = ("aiff", "m4a", "wav", "mp3")
LOSSLESS_CODECS = ("flac", "alac", "wavpack", "ape", "tta", "truehd", "mlp")
TEMP_MARK = ".converting-"
AAC_BITRATE = "320k"
MP3_BITRATE = "320k"


class ConversionError(RuntimeError):
    """ffmpeg could not convert a file (the message names the file and the format)."""


@dataclass(frozen=True)
class SourceInfo:
    codec: str  # ffmpeg's codec name: mp3, aac, opus, flac, pcm_s16le, ...
    sample_rate: int | None
    channels: int | None
    bits: int | None  # for PCM / lossless sources

    @property
    def lossless(self) -> bool:
        return self.codec.startswith("pcm_") or self.codec in LOSSLESS_CODECS


_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: (?P<codec>[\w.-]+)(?P<rest>.*)")


def probe(path: str | os.PathLike[str]) -> SourceInfo:
    """Codec, sample rate, channels and bit depth of the first audio stream (``ffmpeg -i``)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)],
        capture_output=True,
        check=False,
    )
    text = proc.stderr.decode(errors="replace")
    match = _STREAM.search(text)
    if not match:
        last = text.strip().splitlines()[-1] if text.strip() else "no output"
        raise ConversionError(f"no audio stream in {path}: {last}")
    rest = match["rest"]
    rate = re.search(r"(\d+) Hz", rest)
    layout = re.search(r"Hz, ([^,]+)", rest)
    channels = {"mono": 1, "stereo": 2}.get(layout[1].strip()) if layout else None
    if layout and channels is None and (m := re.match(r"(\d+) channels", layout[1].strip())):
        channels = int(m[1])
    bits = re.search(r"\((\d+) bit\)", rest) or re.search(r"\bs(16|24|32)p?\b", rest)
    bit_depth = int(bits[1]) if bits else None
    codec = match["codec"]
    if codec.startswith("pcm_") and (m := re.search(r"(\d+)", codec)):
        bit_depth = int(m[1])
    return SourceInfo(codec, int(rate[1]) if rate else None, channels, bit_depth)


def codec_args(fmt: str, src: SourceInfo) -> list[str]:
    """ffmpeg's output options that write ``fmt`` from a ``src`` source (see above)."""
    wide = src.lossless and (src.bits or 16) > 16
    if fmt == "aiff":
        return ["-c:a", "pcm_s24be" if wide else "pcm_s16be", "-f", "aiff"]
    if fmt == "wav":
        return ["-c:a", "pcm_s24le" if wide else "pcm_s16le", "-f", "wav"]
    if fmt == "m4a":
        if src.lossless:
            return ["-c:a", "alac", "-sample_fmt", "s32p" if wide else "s16p", "-f", "ipod"]
        if src.codec == "aac":
            return ["-c:a", "copy", "-f", "ipod"]
        return ["-c:a", "aac", "-b:a", AAC_BITRATE, "-f", "ipod"]
    if fmt == "mp3":
        if src.codec == "mp3":
            return ["-c:a", "copy", "-f", "mp3"]
        return ["-c:a", "libmp3lame", "-b:a", MP3_BITRATE, "-f", "mp3"]
    raise ValueError(f"unsupported format {fmt!r}; choose from {', '.join(FORMATS)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_name(final: Path) -> Path:
    """Hidden sibling of ``final`` that names the writing process and keeps its suffix
    (taggers tell formats by it): ``.x.aiff.converting-<pid>-<rand>.aiff``."""
    mark = f"{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return final.with_name(f".{final.name}{mark}{final.suffix}")


def clean_stale_temp_files(folder: str | os.PathLike[str], final_name: str | None = None) -> int:
    """Delete temporary files left by conversions whose process is gone; returns how many.

    Without ``final_name`` every file's are swept, except this process's own: its other
    threads may be writing them right now.
    """
    removed = 0
    pattern = f".{final_name}{TEMP_MARK}*" if final_name else f".*{TEMP_MARK}*"
    for tmp in Path(folder).glob(pattern):
        m = re.search(re.escape(TEMP_MARK) + r"(\d+)-", tmp.name)
        writer = int(m[1]) if m else None
        if writer == os.getpid() and final_name is None:
            continue  # this process's: another thread may be writing it
        if writer is not None and writer != os.getpid() and _pid_alive(writer):
            continue  # another live process is converting it
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


def convert(
    src: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    fmt: str,
    basename: str,
    overwrite: bool = False,
    finish: Callable[[Path], None] | None = None,
    prepared: Path | None = None,
) -> Path:
    """Convert ``src`` to ``dest_dir/basename.fmt`` and return that path.

    An existing destination is kept unless ``overwrite`` (re-runs are cheap). The
    caller makes ``basename`` safe (see ``paths.safe_filename``). Tags are not
    copied: ``finish`` (e.g. writing them) runs on the temporary file before it takes
    the final name, so a full disk during either leaves no half-written file.
    ``prepared``: ``src`` already converted to ``fmt`` (staged by the decode that fed
    the analysis, `audio.staged`), moved in instead of decoding ``src`` again.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unsupported format {fmt!r}; choose from {', '.join(FORMATS)}")
    src_path = Path(src)
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{basename}.{fmt}"
    clean_stale_temp_files(folder, final.name)
    if final.exists() and not overwrite:
        return final
    tmp = temp_name(final)
    try:
        if prepared is not None:
            _move_in(prepared, tmp)
        else:
            _ffmpeg_convert(src_path, fmt, tmp)
        if finish is not None:
            finish(tmp)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return final


def _ffmpeg_convert(src_path: Path, fmt: str, tmp: Path) -> None:
    info = probe(src_path)
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(src_path), "-map", "0:a:0", "-map_metadata", "-1", "-vn",
        *codec_args(fmt, info), str(tmp),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = reason[-1] if reason else f"ffmpeg exited with {proc.returncode}"
        raise ConversionError(f"converting {src_path} to {fmt} failed: {detail}")


def _move_in(prepared: Path, tmp: Path) -> None:
    """``prepared`` becomes ``tmp``: a rename, or a copy where they are on two file systems."""
    try:
        os.replace(prepared, tmp)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copyfile(prepared, tmp)
        prepared.unlink()
